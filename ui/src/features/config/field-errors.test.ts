import { describe, expect, it } from "vitest";
import { fieldOf, type FieldError, placeErrors } from "./field-errors";
import { agentForm } from "./forms/agent";
import { channelForm } from "./forms/channel";
import { scheduleForm } from "./forms/schedule";

const error = (field: string | null, message = "wrong"): FieldError => ({ field, file: "schedules.yaml", line: 4, column: 9, message });

describe("placeErrors", () => {
  it("puts an error at the field whose spec path holds it, list items included", () => {
    const placed = placeErrors([error("spec.cron", "bad cron"), error("spec.agents[1]", "no agent ghost")], scheduleForm.fields);
    expect(placed.byField.cron?.map((e) => e.message)).toEqual(["bad cron"]);
    expect(placed.byField.agents?.map((e) => e.message)).toEqual(["no agent ghost"]);
    expect(placed.rest).toEqual([]);
  });
  it("keeps errors without a field, or of a field no input shows, for the list", () => {
    const placed = placeErrors([error(null, "another file"), error("spec.notify.onFailure.channels[0]", "no channel"), error("spec", "give cron or every")], scheduleForm.fields);
    expect(placed.byField).toEqual({});
    expect(placed.rest.map((e) => e.message)).toEqual(["another file", "no channel", "give cron or every"]);
  });
  it("prefers the longest path: a nested field's own input over its parent's", () => {
    expect(fieldOf("spec.retries.backoff", agentForm.fields)).toBe("retriesBackoff");
    expect(fieldOf("spec.retries.max", agentForm.fields)).toBe("retriesMax");
    expect(fieldOf("spec.retries", agentForm.fields)).toBe("retriesMax");
    expect(fieldOf("spec.tools.deny[2]", agentForm.fields)).toBe("deny");
  });
  it("does not mistake a sibling with a longer name for a child", () => {
    expect(fieldOf("spec.cronx", scheduleForm.fields)).toBeUndefined();
    expect(fieldOf("spec.gotify.token.secret", channelForm.fields)).toBe("tokenSecret");
    expect(fieldOf("spec.webhook.url", channelForm.fields)).toBe("url");
  });
});
