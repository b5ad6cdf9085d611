// What an edit does, shown before it is committed: the unified diff of the
// file (text only: the file is the user's, and a value in it is never
// markup) and the plan, each step and each field old -> new.
import type { Schemas } from "@/api/client";
import { Badge } from "@/components/ui/badge";
import { cn } from "@/lib/utils";
import { type FieldError, where } from "./field-errors";
import type { PlanStep } from "./write-back";

export type DiffLineKind = "file" | "hunk" | "add" | "del" | "context" | "note";
export type DiffLine = { kind: DiffLineKind; text: string };

/** The lines of a unified diff, each with what it is. */
export function diffLines(diff: string): DiffLine[] {
  const rows = diff.replace(/\n$/, "").split("\n");
  return rows.map((text) => {
    if (text.startsWith("+++ ") || text.startsWith("--- ") || text.startsWith("diff ") || text.startsWith("index ")) return { kind: "file", text };
    if (text.startsWith("@@")) return { kind: "hunk", text };
    if (text.startsWith("+")) return { kind: "add", text };
    if (text.startsWith("-")) return { kind: "del", text };
    if (text.startsWith("\\")) return { kind: "note", text };
    return { kind: "context", text };
  });
}

export const LINE_CLASS: Record<DiffLineKind, string> = {
  file: "font-semibold text-muted-foreground",
  hunk: "bg-muted text-muted-foreground",
  add: "bg-ok/10 text-ok",
  del: "bg-bad/10 text-bad",
  context: "",
  note: "italic text-muted-foreground",
};

export function DiffView({ diff }: { diff: string }) {
  if (!diff) return <p className="text-sm text-muted-foreground">Nothing changes in the file.</p>;
  return (
    // Focusable, so the keyboard can scroll it.
    <pre tabIndex={0} aria-label="Diff" className="max-h-80 overflow-auto rounded-md border bg-background py-2 font-mono text-xs leading-5" data-testid="edit-diff">
      {diffLines(diff).map((l, i) => (
        <span key={i} data-kind={l.kind} className={cn("block min-w-max px-3 whitespace-pre", LINE_CLASS[l.kind])}>
          {l.text || " "}
        </span>
      ))}
    </pre>
  );
}

/** A value in the plan: JSON, or "(unset)". */
export const shown = (v: unknown) => (v === undefined ? "(unset)" : JSON.stringify(v));

const ACTION = { add: ["+", "ok", "add"], change: ["~", "info", "change"], remove: ["-", "bad", "remove"] } as const;

export function PlanView({ plan }: { plan: PlanStep[] }) {
  if (plan.length === 0) return <p className="text-sm text-muted-foreground">The sync will change nothing live.</p>;
  return (
    <ul className="flex flex-col gap-2 text-sm" data-testid="edit-plan">
      {plan.map((s) => {
        const [sign, tone, label] = ACTION[s.action];
        return (
          <li key={`${s.action}/${s.kind}/${s.name}`} className="min-w-0">
            <p className="flex flex-wrap items-center gap-2">
              <Badge tone={tone}>
                <span aria-hidden>{sign}</span> {label}
              </Badge>
              <span className="font-medium">
                {s.kind} {s.name}
              </span>
              {s.action !== "remove" && (
                <span className="font-mono text-xs text-muted-foreground">
                  {s.file}:{s.line}
                </span>
              )}
            </p>
            {s.action === "change" && s.fields.length > 0 && (
              <ul className="mt-1 flex flex-col gap-0.5 pl-4 font-mono text-xs">
                {s.fields.map((f: Schemas["FieldChange"]) => (
                  <li key={f.path} className="break-all">
                    {f.path}: <span className="text-bad">{shown(f.old)}</span> <span aria-label="becomes">-&gt;</span>{" "}
                    <span className="text-ok">{shown(f.new)}</span>
                  </li>
                ))}
              </ul>
            )}
          </li>
        );
      })}
    </ul>
  );
}

/** Errors (or warnings) with where they are written and how to fix them. */
export function ProblemList({ problems, tone = "bad" }: { problems: FieldError[]; tone?: "bad" | "warn" }) {
  return (
    <ul className="flex flex-col gap-1 text-sm" data-testid={tone === "bad" ? "edit-errors" : "edit-warnings"}>
      {problems.map((e, i) => (
        <li key={i} className="break-words">
          <span className="font-mono text-xs">{where(e)}</span>
          {e.field && <span className="font-mono text-xs text-muted-foreground"> ({e.field})</span>}:{" "}
          <span className={tone === "bad" ? "text-bad" : undefined}>{e.message}</span>
          {e.hint && <span className="text-muted-foreground"> (hint: {e.hint})</span>}
        </li>
      ))}
    </ul>
  );
}
