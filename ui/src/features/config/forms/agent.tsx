// An Agent's settings: its mode, limits (timeout, retries, budget), its
// prompt and its tool rules, one rule per line. `gather`, `report`,
// `requires`, `model` and anything else written stay as they are.
import { Input } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/native-select";
import { Textarea } from "@/components/ui/textarea";
import { Field, type FormModel, type FormProps } from "../form";
import { getPath, lines, numeric, optional, setPath, strings, text } from "../spec";

export type AgentValues = {
  description: string;
  mode: string;
  timeout: string;
  retriesMax: string;
  retriesBackoff: string;
  budgetUsd: string;
  budgetTurns: string;
  prompt: string;
  allow: string;
  deny: string;
  approve: string;
};

const rules = (spec: unknown, list: string) => strings(getPath(spec, `tools.${list}`)).join("\n");
const writeRules = (list: string) => (s: Record<string, unknown>, v: string) => setPath(s, `tools.${list}`, lines(v).length ? lines(v) : undefined);

export const agentForm: FormModel<AgentValues> = {
  read: (spec) => ({
    description: text(spec?.description),
    mode: text(spec?.mode) || "read-only",
    timeout: text(spec?.timeout),
    retriesMax: text(getPath(spec, "retries.max")),
    retriesBackoff: text(getPath(spec, "retries.backoff")),
    budgetUsd: text(getPath(spec, "budget.usd")),
    budgetTurns: text(getPath(spec, "budget.turns")),
    prompt: text(spec?.prompt),
    allow: rules(spec, "allow"),
    deny: rules(spec, "deny"),
    approve: rules(spec, "approve"),
  }),
  write: {
    description: (s, v) => setPath(s, "description", optional(v)),
    mode: (s, v) => setPath(s, "mode", v),
    timeout: (s, v) => setPath(s, "timeout", optional(v)),
    retriesMax: (s, v) => setPath(s, "retries.max", numeric(v)),
    retriesBackoff: (s, v) => setPath(s, "retries.backoff", optional(v)),
    budgetUsd: (s, v) => setPath(s, "budget.usd", numeric(v)),
    budgetTurns: (s, v) => setPath(s, "budget.turns", numeric(v)),
    // The prompt as typed (its line breaks are the user's); empty removes it.
    prompt: (s, v) => setPath(s, "prompt", v.trim() ? v : undefined),
    allow: writeRules("allow"),
    deny: writeRules("deny"),
    approve: writeRules("approve"),
  },
  fields: {
    description: ["spec.description"],
    mode: ["spec.mode"],
    timeout: ["spec.timeout"],
    // `retries` itself (max missing) shows at its first field.
    retriesMax: ["spec.retries", "spec.retries.max"],
    retriesBackoff: ["spec.retries.backoff"],
    budgetUsd: ["spec.budget", "spec.budget.usd"],
    budgetTurns: ["spec.budget.turns"],
    prompt: ["spec.prompt"],
    allow: ["spec.tools.allow", "spec.tools"],
    deny: ["spec.tools.deny"],
    approve: ["spec.tools.approve"],
  },
  Form: AgentForm,
};

function AgentForm({ values: v, set, errors, spec }: FormProps<AgentValues>) {
  // An agent runs a prompt or a script, not both: a script's agent has no prompt to edit here.
  const script = text(spec?.script);
  const rulesHint = "one rule per line, e.g. Read or Bash(zpool status *)";
  return (
    <div className="grid gap-4 sm:grid-cols-2">
      <Field label="Description" errors={errors.description} className="sm:col-span-2">
        {(c) => <Input {...c} value={v.description} onChange={(e) => set({ description: e.target.value })} />}
      </Field>
      <Field label="Mode" hint="read-write agents may change the machine within their rules" errors={errors.mode}>
        {(c) => (
          <NativeSelect {...c} value={v.mode} onChange={(e) => set({ mode: e.target.value })}>
            <option value="read-only">read-only</option>
            <option value="read-write">read-write</option>
          </NativeSelect>
        )}
      </Field>
      <Field label="Timeout" hint="e.g. 15m; empty: 10m" errors={errors.timeout}>
        {(c) => <Input {...c} className="font-mono" value={v.timeout} onChange={(e) => set({ timeout: e.target.value })} autoComplete="off" />}
      </Field>
      <Field label="Retries" hint="attempts after the first, 0-10" errors={errors.retriesMax}>
        {(c) => <Input {...c} inputMode="numeric" value={v.retriesMax} onChange={(e) => set({ retriesMax: e.target.value })} autoComplete="off" />}
      </Field>
      <Field label="Retry backoff" hint="wait before the first retry, e.g. 1m; empty: 30s" errors={errors.retriesBackoff}>
        {(c) => <Input {...c} className="font-mono" value={v.retriesBackoff} onChange={(e) => set({ retriesBackoff: e.target.value })} autoComplete="off" />}
      </Field>
      <Field label="Budget per run (USD)" hint="0.01-100" errors={errors.budgetUsd}>
        {(c) => <Input {...c} inputMode="decimal" value={v.budgetUsd} onChange={(e) => set({ budgetUsd: e.target.value })} autoComplete="off" />}
      </Field>
      <Field label="Budget per run (turns)" hint="1-500" errors={errors.budgetTurns}>
        {(c) => <Input {...c} inputMode="numeric" value={v.budgetTurns} onChange={(e) => set({ budgetTurns: e.target.value })} autoComplete="off" />}
      </Field>
      {script && !v.prompt ? (
        <p className="text-sm text-muted-foreground sm:col-span-2">
          Runs the script <span className="font-mono">{script}</span> instead of a prompt (edit it in git).
        </p>
      ) : (
        <Field label="Prompt" errors={errors.prompt} className="sm:col-span-2">
          {(c) => <Textarea {...c} rows={6} value={v.prompt} onChange={(e) => set({ prompt: e.target.value })} />}
        </Field>
      )}
      <Field label="Tools: allow" hint={rulesHint} errors={errors.allow} className="sm:col-span-2">
        {(c) => <Textarea {...c} rows={3} className="font-mono text-xs" value={v.allow} onChange={(e) => set({ allow: e.target.value })} spellCheck={false} />}
      </Field>
      <Field label="Tools: approve" hint="held until a human approves (read-write agents)" errors={errors.approve}>
        {(c) => <Textarea {...c} rows={3} className="font-mono text-xs" value={v.approve} onChange={(e) => set({ approve: e.target.value })} spellCheck={false} />}
      </Field>
      <Field label="Tools: deny" hint="always refused; deny wins" errors={errors.deny}>
        {(c) => <Textarea {...c} rows={3} className="font-mono text-xs" value={v.deny} onChange={(e) => set({ deny: e.target.value })} spellCheck={false} />}
      </Field>
    </div>
  );
}
