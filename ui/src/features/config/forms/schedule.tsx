// A Schedule's settings: when (cron or every, time zone, jitter), what
// (agents) and where (nodes), whether git enables it, and what to do on
// overlap and after downtime. `notify` and anything else written stays
// as it is.
import { useQuery } from "@tanstack/react-query";
import { Input } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/native-select";
import { Switch } from "@/components/ui/switch";
import { Textarea } from "@/components/ui/textarea";
import { agentsQuery, nodesQuery } from "@/features/runs/queries";
import { CheckList, RadioChoice } from "../choices";
import { Field, type FormModel, type FormProps } from "../form";
import { optional, setPath, strings, text } from "../spec";

/** Which nodes: every one, these by name, or a selector the form does not edit (`{tags: […]}`), kept as written. */
export type NodeChoice = { mode: "all" } | { mode: "list"; names: string[] } | { mode: "other"; written: unknown };

export type ScheduleValues = {
  description: string;
  when: "cron" | "every";
  cron: string;
  every: string;
  timezone: string;
  jitter: string;
  agents: string[];
  nodes: NodeChoice;
  enabled: boolean;
  /** "" leaves it out: the default. */
  overlap: string;
  misfire: string;
};

export function readNodes(v: unknown): NodeChoice {
  if (v === "all" || v === undefined) return { mode: "all" };
  if (Array.isArray(v)) return { mode: "list", names: strings(v) };
  return { mode: "other", written: v };
}

function writeNodes(n: NodeChoice): unknown {
  return n.mode === "all" ? "all" : n.mode === "list" ? n.names : n.written;
}

export const scheduleForm: FormModel<ScheduleValues> = {
  read: (spec) => ({
    description: text(spec?.description),
    when: spec?.every != null && spec.cron == null ? "every" : "cron",
    cron: text(spec?.cron),
    every: text(spec?.every),
    timezone: text(spec?.timezone),
    jitter: text(spec?.jitter),
    agents: strings(spec?.agents),
    nodes: readNodes(spec?.nodes),
    enabled: spec?.enabled !== false,
    overlap: text(spec?.overlap),
    misfire: text(spec?.misfire),
  }),
  write: {
    description: (s, v) => setPath(s, "description", optional(v)),
    // Cron or every: the one chosen is written, the other goes.
    when: (s, v, all) => {
      setPath(s, v === "cron" ? "every" : "cron", undefined);
      setPath(s, v, optional(v === "cron" ? all.cron : all.every));
    },
    cron: (s, v, all) => all.when === "cron" && setPath(s, "cron", optional(v)),
    every: (s, v, all) => all.when === "every" && setPath(s, "every", optional(v)),
    timezone: (s, v) => setPath(s, "timezone", optional(v)),
    jitter: (s, v) => setPath(s, "jitter", optional(v)),
    agents: (s, v) => setPath(s, "agents", v),
    nodes: (s, v) => setPath(s, "nodes", writeNodes(v)),
    // On is the default: a spec without the key (a new schedule) stays without it.
    enabled: (s, v) => setPath(s, "enabled", v ? (s.enabled === undefined ? undefined : true) : false),
    overlap: (s, v) => setPath(s, "overlap", v || undefined),
    misfire: (s, v) => setPath(s, "misfire", v || undefined),
  },
  fields: {
    description: ["spec.description"],
    cron: ["spec.cron"],
    every: ["spec.every"],
    timezone: ["spec.timezone"],
    jitter: ["spec.jitter"],
    agents: ["spec.agents"],
    nodes: ["spec.nodes"],
    enabled: ["spec.enabled"],
    overlap: ["spec.overlap"],
    misfire: ["spec.misfire"],
  },
  Form: ScheduleForm,
};

function ScheduleForm({ values: v, set, errors }: FormProps<ScheduleValues>) {
  const agents = useQuery(agentsQuery);
  const nodes = useQuery({ ...nodesQuery, refetchInterval: false });
  const declared = nodes.data?.nodes.filter((n) => n.declared).map((n) => n.name) ?? [];
  return (
    <div className="grid gap-4 sm:grid-cols-2">
      <Field label="Description" errors={errors.description} className="sm:col-span-2">
        {(c) => <Textarea {...c} rows={2} className="min-h-0" value={v.description} onChange={(e) => set({ description: e.target.value })} />}
      </Field>
      <div className="sm:col-span-2">
        <RadioChoice
          legend="Runs"
          value={v.when}
          onChange={(when) => set({ when })}
          options={[
            { value: "cron", label: "on a cron schedule" },
            { value: "every", label: "every so long" },
          ]}
        />
      </div>
      {v.when === "cron" ? (
        <Field label="Cron" hint="minute hour day month weekday, e.g. 0 3 * * *, or @daily" errors={errors.cron}>
          {(c) => <Input {...c} className="font-mono" value={v.cron} onChange={(e) => set({ cron: e.target.value })} autoComplete="off" />}
        </Field>
      ) : (
        <Field label="Every" hint="e.g. 6h, 30m, 1h30m" errors={errors.every}>
          {(c) => <Input {...c} className="font-mono" value={v.every} onChange={(e) => set({ every: e.target.value })} autoComplete="off" />}
        </Field>
      )}
      <Field label="Time zone" hint="IANA name; empty: UTC" errors={errors.timezone}>
        {(c) => <Input {...c} value={v.timezone} placeholder="UTC" onChange={(e) => set({ timezone: e.target.value })} autoComplete="off" />}
      </Field>
      <Field label="Jitter" hint="a random delay up to this long, e.g. 5m" errors={errors.jitter}>
        {(c) => <Input {...c} className="font-mono" value={v.jitter} onChange={(e) => set({ jitter: e.target.value })} autoComplete="off" />}
      </Field>
      <div className="sm:col-span-2">
        <CheckList legend="Agents" options={agents.data?.agents.map((a) => a.name) ?? []} selected={v.agents} onChange={(names) => set({ agents: names })} errors={errors.agents} />
      </div>
      <div className="flex flex-col gap-2 sm:col-span-2">
        <RadioChoice
          legend="Nodes"
          value={v.nodes.mode}
          errors={errors.nodes}
          onChange={(mode) => set({ nodes: mode === "all" ? { mode } : mode === "list" ? { mode, names: v.nodes.mode === "list" ? v.nodes.names : [] } : v.nodes })}
          options={[
            { value: "all", label: "all nodes" },
            { value: "list", label: "these nodes" },
            ...(v.nodes.mode === "other" ? [{ value: "other" as const, label: "as written in git" }] : []),
          ]}
        />
        {v.nodes.mode === "list" && (
          <CheckList legend="Which nodes" options={declared} selected={v.nodes.names} onChange={(names) => set({ nodes: { mode: "list", names } })} />
        )}
        {v.nodes.mode === "other" && <p className="font-mono text-xs text-muted-foreground">{JSON.stringify(v.nodes.written)}</p>}
      </div>
      <Field label="Overlap" hint="when the previous run is still going" errors={errors.overlap}>
        {(c) => (
          <NativeSelect {...c} value={v.overlap} onChange={(e) => set({ overlap: e.target.value })}>
            <option value="">default (skip)</option>
            <option value="skip">skip this run</option>
            <option value="queue">queue it</option>
            <option value="allow">allow both</option>
          </NativeSelect>
        )}
      </Field>
      <Field label="After downtime" hint="misfire: times missed while the server was down" errors={errors.misfire}>
        {(c) => (
          <NativeSelect {...c} value={v.misfire} onChange={(e) => set({ misfire: e.target.value })}>
            <option value="">default (run once)</option>
            <option value="run-once">run once</option>
            <option value="skip">skip</option>
          </NativeSelect>
        )}
      </Field>
      <Field
        label="Enabled in git"
        hint="Off writes enabled: false to git: paused for everyone until a commit turns it on. (“Pause here” on the schedules page pauses it on this server only, outside git.)"
        errors={errors.enabled}
        className="sm:col-span-2"
      >
        {(c) => (
          <span className="flex items-center gap-2 text-sm">
            <Switch {...c} checked={v.enabled} onCheckedChange={(enabled) => set({ enabled })} />
            {v.enabled ? "fires on its schedule" : "paused in git"}
          </span>
        )}
      </Field>
    </div>
  );
}
