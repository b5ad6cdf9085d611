// How each run event reads as one line of the run view: plain text only
// (React renders it as text, so nothing an agent prints becomes markup).
import type { RunEvent } from "@/api/client";

export type Line = {
  seq: number;
  ts: string;
  type: RunEvent["type"];
  /** The line itself. */
  text: string;
  /** More to unfold (a tool's output, a command's full input). */
  more?: string;
  /** A tool call the policy denied, or a tool that failed. */
  failed: boolean;
};

const short = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/** The first line inline; the whole text to unfold only when there is more. */
function split(output: string | null | undefined): { head: string; more?: string } {
  if (!output) return { head: "" };
  const end = output.indexOf("\n");
  if (end < 0 || end === output.length - 1) return { head: output.trimEnd() };
  return { head: output.slice(0, end), more: output };
}

/** What a tool call is about, in one string: its command, path, pattern or URL, else its input as JSON. */
export function commandOf(input: unknown): string {
  if (input && typeof input === "object") {
    const i = input as Record<string, unknown>;
    for (const k of ["command", "file_path", "path", "pattern", "url"]) if (typeof i[k] === "string") return i[k] as string;
  }
  return short(input);
}

export function lineOf(e: RunEvent): Line {
  const base = { seq: e.seq, ts: e.ts, type: e.type, failed: false };
  switch (e.type) {
    case "run.started":
      return { ...base, text: `started ${e.data.agent} on ${e.data.node} (${e.data.mode}, ${e.data.sandbox})` };
    case "gather.output": {
      const { head, more } = split(e.data.output);
      return {
        ...base,
        text: `$ ${e.data.command ?? e.data.name}${e.data.exit_code ? `  (exit ${e.data.exit_code})` : ""}${head && `: ${head}`}`,
        more,
        failed: !!e.data.exit_code,
      };
    }
    case "assistant.text":
      return { ...base, text: e.data.text };
    case "tool.call": {
      const rule = e.data.rule ? ` by ${e.data.rule}` : "";
      return {
        ...base,
        text: `${e.data.tool}: ${commandOf(e.data.input)}  → ${e.data.decision}${rule}`,
        // Why an allowed call was allowed is its rule; why not matters.
        more: e.data.decision === "allow" ? undefined : (e.data.reason ?? undefined),
        failed: e.data.decision === "deny",
      };
    }
    case "tool.result": {
      const { head, more } = split(e.data.output);
      return {
        ...base,
        text: `result${e.data.is_error ? " (error)" : ""}${e.data.exit_code ? `, exit ${e.data.exit_code}` : ""}${head && `: ${head}`}`,
        more,
        failed: !!e.data.is_error,
      };
    }
    case "approval.requested":
      return { ...base, text: `waiting for approval: ${e.data.tool}: ${commandOf(e.data.input)}`, more: e.data.reason ?? undefined };
    case "approval.resolved":
      return { ...base, text: `approval ${e.data.decision}${e.data.comment ? `: ${e.data.comment}` : ""}` };
    case "rate_limited":
      return { ...base, text: `rate limited (attempt ${e.data.attempt}), retrying`, failed: true };
    case "log":
      return { ...base, text: e.data.line, failed: e.data.stream === "stderr" };
    case "log.truncated":
      return { ...base, text: e.data.message };
    case "usage":
      return { ...base, text: `usage: ${e.data.input_tokens} in, ${e.data.output_tokens} out, $${e.data.cost_usd.toFixed(4)}` };
    case "run.finished":
      return {
        ...base,
        text: `finished: ${e.data.status}${e.data.summary ? ` — ${e.data.summary}` : ""}${e.data.error ? ` — ${e.data.error.message}` : ""}`,
        failed: e.data.status !== "succeeded",
      };
  }
}
