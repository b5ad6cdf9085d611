import { describe, expect, it } from "vitest";
import { buildSpec } from "./form";
import { agentForm } from "./forms/agent";
import { channelForm } from "./forms/channel";
import { adoptedSpec, nodeForm, osOf } from "./forms/node";
import { parseSpec, rawForm } from "./forms/raw";
import { scheduleForm } from "./forms/schedule";
import { channelSpec, triggerSpec } from "./forms/views";
import { channelView } from "./test-api";
import { changedFields, rebaseValues, setPath, type Spec, unseenRemovals, withKept } from "./spec";

/** The spec a form sends after `change` to the values read from `spec`. */
function edited<V extends object>(model: Parameters<typeof buildSpec<V>>[0], spec: Spec | null, change: Partial<V>, name = "x"): Spec {
  const before = model.read(spec, name);
  return buildSpec(model, spec, before, { ...before, ...change }, name);
}

describe("setPath", () => {
  it("makes the mappings on the way, and removes the ones a removal empties", () => {
    const spec: Spec = { mode: "read-only" };
    setPath(spec, "retries.max", 2);
    expect(spec).toEqual({ mode: "read-only", retries: { max: 2 } });
    setPath(spec, "retries.max", undefined);
    expect(spec).toEqual({ mode: "read-only" });
    setPath(spec, "budget.usd", undefined);
    expect(spec).toEqual({ mode: "read-only" });
  });
});

describe("schedule form", () => {
  const nightly: Spec = {
    description: "Nightly checks",
    cron: "0 3 * * *",
    agents: ["lister"],
    nodes: { tags: ["lab"] },
    notify: { onFailure: { channels: ["phone"], priority: "high" } },
  };
  it("sends the spec as it came with only the changed value: unknown fields, defaults left out, selectors it cannot edit", () => {
    expect(edited(scheduleForm, nightly, { cron: "30 4 * * *" })).toEqual({ ...nightly, cron: "30 4 * * *" });
  });
  it("sends the spec unchanged when nothing changed", () => {
    expect(edited(scheduleForm, nightly, {})).toEqual(nightly);
  });
  it("pauses in git with enabled: false, and switches cron for every", () => {
    expect(edited(scheduleForm, nightly, { enabled: false }).enabled).toBe(false);
    const every = edited(scheduleForm, nightly, { when: "every", every: "6h" });
    expect(every.cron).toBeUndefined();
    expect(every.every).toBe("6h");
  });
  it("writes nodes as all or a list of names", () => {
    expect(edited(scheduleForm, nightly, { nodes: { mode: "all" } }).nodes).toBe("all");
    expect(edited(scheduleForm, nightly, { nodes: { mode: "list", names: ["nas", "pi"] } }).nodes).toEqual(["nas", "pi"]);
  });
  it("removes a cleared optional field, and puts back a default only when chosen", () => {
    const spec = { ...nightly, jitter: "5m" };
    expect("jitter" in edited(scheduleForm, spec, { jitter: " " })).toBe(false);
    expect(edited(scheduleForm, spec, { overlap: "queue" }).overlap).toBe("queue");
  });
});

describe("agent form", () => {
  const agent: Spec = { prompt: "Check.\n", mode: "read-only", tools: { allow: ["Read", "Bash(ls *)"] }, budget: { turns: 10 }, gather: ["zpool status -x"] };
  it("writes numbers as numbers, rules one per line, and keeps what it does not show", () => {
    const spec = edited(agentForm, agent, { retriesMax: "2", budgetUsd: "0.5", deny: "Bash(rm *)\n\n  Write \n" });
    expect(spec).toEqual({ ...agent, retries: { max: 2 }, budget: { turns: 10, usd: 0.5 }, tools: { allow: ["Read", "Bash(ls *)"], deny: ["Bash(rm *)", "Write"] } });
  });
  it("sends what does not read as a number as typed, for the server to point at", () => {
    expect(edited(agentForm, agent, { budgetTurns: "ten" }).budget).toEqual({ turns: "ten" });
  });
  it("removes emptied rules and limits whole", () => {
    const spec = edited(agentForm, agent, { allow: "", budgetTurns: "" });
    expect(spec.tools).toBeUndefined();
    expect(spec.budget).toBeUndefined();
  });
});

const channel = (spec: unknown) => channelView(spec);

describe("channel form", () => {
  it("starts from the channel's spec as git has it", () => {
    const spec = { description: "My phone", gotify: { url: "http://gotify.lan", token: { env: "GOTIFY_TOKEN" } } };
    expect(channelSpec(channel(spec))).toEqual(spec);
  });
  it("sends a typed token as {secret, value}, named <channel>-token unless renamed", () => {
    const spec = channelSpec(channel({ gotify: { url: "http://gotify.lan", token: { env: "GOTIFY_TOKEN" } } }));
    expect(edited(channelForm, spec, { tokenValue: "A1b2" }, "phone")).toEqual({ gotify: { url: "http://gotify.lan", token: { secret: "phone-token", value: "A1b2" } } });
    expect(edited(channelForm, spec, { tokenSecret: "gotify", tokenValue: "A1b2" }, "phone").gotify).toEqual({ url: "http://gotify.lan", token: { secret: "gotify", value: "A1b2" } });
  });
  it("stores a typed token under the secret the spec already names", () => {
    const spec = channelSpec(channel({ gotify: { url: "http://gotify.lan", token: { secret: "phone-gotify" } } }));
    expect(edited(channelForm, spec, { tokenValue: "A1b2" }, "phone").gotify).toEqual({ url: "http://gotify.lan", token: { secret: "phone-gotify", value: "A1b2" } });
  });
  it("refers to the secret the form names when a Gotify spec has no token and none is typed", () => {
    const spec = { gotify: { url: "http://gotify.lan" } };
    expect(edited(channelForm, spec, { description: "Me" }, "phone")).toEqual({ description: "Me", gotify: { url: "http://gotify.lan", token: { secret: "phone-token" } } });
  });
  it("keeps the token reference as it is when none is typed", () => {
    const env = channelSpec(channel({ gotify: { url: "http://gotify.lan", token: { env: "GOTIFY_TOKEN" } } }));
    expect(edited(channelForm, env, { url: "https://gotify.lan" }, "phone")).toEqual({ gotify: { url: "https://gotify.lan", token: { env: "GOTIFY_TOKEN" } } });
    const secret = channelSpec(channel({ gotify: { url: "http://gotify.lan", token: { secret: "phone-gotify" } } }));
    expect(edited(channelForm, secret, { description: "Me" }, "phone")).toEqual({ description: "Me", gotify: { url: "http://gotify.lan", token: { secret: "phone-gotify" } } });
  });
  it("sends back what the form does not show: a webhook's headers and signing secret", () => {
    const hook = { webhook: { url: "http://a", headers: { Authorization: { env: "H" } }, secret: { secret: "hook-signing" } } };
    expect(edited(channelForm, channelSpec(channel(hook)), { url: "http://b" }, "hook")).toEqual({ webhook: { ...hook.webhook, url: "http://b" } });
  });
  it("moves to a webhook, the Gotify settings gone", () => {
    expect(edited(channelForm, { gotify: { url: "http://g", token: { secret: "t" } } }, { type: "webhook", url: "https://hook" }, "phone")).toEqual({ webhook: { url: "https://hook" } });
  });
});

describe("node form", () => {
  it("adopts an enrolled node with the OS its runner reported and no tags", () => {
    expect(osOf("Ubuntu 24.04.1 LTS")).toBe("ubuntu");
    expect(osOf("TrueNAS-SCALE-24.10")).toBe("truenas");
    expect(osOf("Fedora Linux 41")).toBe("linux");
    expect(osOf(null)).toBe("linux");
    expect(edited(nodeForm, adoptedSpec("Debian GNU/Linux 12"), {})).toEqual({ os: "debian", tags: [] });
  });
  it("edits tags and the allowed agents, keeping the address and token", () => {
    const node = { address: "http://nas:8100", token: { env: "T" }, os: "unraid", tags: ["storage"] };
    expect(edited(nodeForm, node, { tags: "storage, media", agents: { mode: "list", names: ["lister"] } })).toEqual({ ...node, tags: ["storage", "media"], agents: ["lister"] });
    expect(edited(nodeForm, { ...node, agents: ["x"] }, { agents: { mode: "any" } })).toEqual(node);
  });
});

describe("raw form", () => {
  it("sends the JSON as the whole spec, and says where JSON is broken", () => {
    expect(edited(rawForm, { events: ["run.failed"], channels: ["phone"] }, { json: '{"events": ["run.lost"], "channels": ["phone"]}' })).toEqual({ events: ["run.lost"], channels: ["phone"] });
    expect(() => parseSpec("{events: }")).toThrow(/not JSON/);
    expect(() => parseSpec("[1]")).toThrow(/JSON object/);
  });
  it("rebuilds a trigger's spec from its view, nulls left out", () => {
    const t = { name: "disk-alert", agents: ["lister"], nodes: ["local"], secret: { env: "S" }, condition: null, cooldown: "10m", description: null, file: "notify.yaml", line: 6, revision: "r", targets: [], url: "http://x/api/v1/hooks/disk-alert" };
    expect(triggerSpec(t as unknown as Parameters<typeof triggerSpec>[0])).toEqual({ secret: { env: "S" }, agents: ["lister"], nodes: ["local"], cooldown: "10m" });
  });
});

describe("after a conflict", () => {
  it("lists what each side changed since the base, field by field", () => {
    const base = { cron: "0 3 * * *", agents: ["a", "b"], notify: { onFailure: { channels: ["phone"] } } };
    const theirs = { cron: "0 3 * * *", agents: ["a", "c"], jitter: "2m", notify: {} };
    expect(changedFields(base, theirs)).toEqual([
      { path: "agents[1]", old: "b", new: "c" },
      { path: "jitter", old: undefined, new: "2m" },
      { path: "notify.onFailure", old: { channels: ["phone"] }, new: undefined },
    ]);
    expect(changedFields(base, base)).toEqual([]);
  });
  it("makes the user's changes again on the values read afresh", () => {
    const before = scheduleForm.read({ cron: "0 3 * * *", agents: ["a"], nodes: "all" }, "n");
    const mine = { ...before, cron: "30 4 * * *" };
    const theirs = scheduleForm.read({ cron: "0 3 * * *", agents: ["a", "b"], nodes: "all", jitter: "1m" }, "n");
    expect(rebaseValues(before, mine, theirs)).toEqual({ ...theirs, cron: "30 4 * * *" });
  });
});

describe("fields the form does not show", () => {
  const plan = [
    {
      action: "change" as const,
      kind: "NotificationChannel",
      name: "hook",
      file: "notify.yaml",
      line: 1,
      fields: [
        { path: "spec.webhook.url", old: "http://a", new: "http://b" },
        { path: "spec.webhook.headers", old: { Authorization: { env: "H" } } },
        { path: "spec.gotify", old: { url: "http://g" } },
      ],
    },
  ];
  const managed = Object.values(channelForm.fields).flat() as string[];
  it("are the removals outside every path the form shows", () => {
    expect(unseenRemovals(plan, "NotificationChannel", "hook", managed).map((f) => f.path)).toEqual(["spec.webhook.headers"]);
    expect(unseenRemovals(plan, "NotificationChannel", "other", managed)).toEqual([]);
    expect(unseenRemovals(plan, "NotificationChannel", "hook", []).map((f) => f.path)).toEqual(["spec.webhook.headers", "spec.gotify"]);
  });
  it("go back with their old values when kept", () => {
    const kept = unseenRemovals(plan, "NotificationChannel", "hook", managed);
    expect(withKept({ webhook: { url: "http://b" } }, kept)).toEqual({ webhook: { url: "http://b", headers: { Authorization: { env: "H" } } } });
  });
});
