// A Node's description, OS, tags and the agents it allows; its address,
// token, capabilities and sandbox stay as written. Also what adopting an
// enrolled node writes: its OS as its runner reported it, no tags.
import { useQuery } from "@tanstack/react-query";
import { Input } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/native-select";
import { agentsQuery } from "@/features/runs/queries";
import { CheckList, RadioChoice } from "../choices";
import { Field, type FormModel, type FormProps } from "../form";
import { optional, setPath, type Spec, strings, text, words } from "../spec";

export const OSES = ["linux", "ubuntu", "debian", "unraid", "truenas", "proxmox"] as const;

/** The OS the config language knows for what a runner reported (`Ubuntu 24.04`, `TrueNAS-SCALE`); `linux` for anything else. */
export function osOf(reported: string | null | undefined): string {
  const r = (reported ?? "").toLowerCase();
  return OSES.find((os) => os !== "linux" && r.includes(os)) ?? "linux";
}

/** The spec adopting an enrolled node writes. */
export const adoptedSpec = (reportedOs: string | null | undefined): Spec => ({ os: osOf(reportedOs), tags: [] });

export type NodeValues = {
  description: string;
  os: string;
  /** Space- or comma-separated. */
  tags: string;
  /** Every agent whose `requires` it meets, or only these. */
  agents: { mode: "any" } | { mode: "list"; names: string[] };
};

export const nodeForm: FormModel<NodeValues> = {
  read: (spec) => ({
    description: text(spec?.description),
    os: text(spec?.os),
    tags: strings(spec?.tags).join(" "),
    agents: Array.isArray(spec?.agents) ? { mode: "list", names: strings(spec.agents) } : { mode: "any" },
  }),
  write: {
    description: (s, v) => setPath(s, "description", optional(v)),
    os: (s, v) => setPath(s, "os", optional(v)),
    tags: (s, v) => setPath(s, "tags", words(v)),
    agents: (s, v) => setPath(s, "agents", v.mode === "list" ? v.names : undefined),
  },
  fields: { description: ["spec.description"], os: ["spec.os"], tags: ["spec.tags"], agents: ["spec.agents"] },
  Form: NodeForm,
};

function NodeForm({ values: v, set, errors }: FormProps<NodeValues>) {
  const agents = useQuery(agentsQuery);
  return (
    <div className="grid gap-4 sm:grid-cols-2">
      <Field label="Description" hint="what this machine is" errors={errors.description} className="sm:col-span-2">
        {(c) => <Input {...c} value={v.description} onChange={(e) => set({ description: e.target.value })} />}
      </Field>
      <Field label="Operating system" errors={errors.os}>
        {(c) => (
          <NativeSelect {...c} value={v.os} onChange={(e) => set({ os: e.target.value })}>
            {[...new Set([...OSES, v.os])].filter(Boolean).map((os) => (
              <option key={os}>{os}</option>
            ))}
          </NativeSelect>
        )}
      </Field>
      <Field label="Tags" hint="separated by spaces; schedules and triggers select nodes by them" errors={errors.tags}>
        {(c) => <Input {...c} value={v.tags} onChange={(e) => set({ tags: e.target.value })} autoComplete="off" spellCheck={false} />}
      </Field>
      <div className="flex flex-col gap-2 sm:col-span-2">
        <RadioChoice
          legend="Agents allowed here"
          value={v.agents.mode}
          errors={errors.agents}
          onChange={(mode) => set({ agents: mode === "any" ? { mode } : { mode, names: [] } })}
          options={[
            { value: "any", label: "every agent whose requirements it meets" },
            { value: "list", label: "only these" },
          ]}
        />
        {v.agents.mode === "list" && (
          <CheckList legend="Which agents" options={agents.data?.agents.map((a) => a.name) ?? []} selected={v.agents.names} onChange={(names) => set({ agents: { mode: "list", names } })} />
        )}
      </div>
    </div>
  );
}
