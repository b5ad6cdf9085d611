// Where the server's errors of an edit show: next to the form field whose
// spec path holds the error's `field` (`spec.agents[1]` belongs to the
// field of `spec.agents`), or, for the rest (another file, a field the
// form does not show, no field at all), in a list with file:line.
import type { Schemas } from "@/api/client";

export type FieldError = Schemas["FieldError"];

/** Each form field's spec paths: `{ agents: ["spec.agents"], retries: ["spec.retries"] }`. */
export type FieldPaths<K extends string> = Partial<Record<K, string[]>>;

export type PlacedErrors<K extends string> = {
  /** The errors each field shows. */
  byField: Partial<Record<K, FieldError[]>>;
  /** The errors no field shows. */
  rest: FieldError[];
};

/** `path` is `prefix` or lies inside it (`spec.agents[1]`, `spec.retries.max`). */
export function within(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
}

/** The field an error path belongs to: the one with the longest spec path that holds it. */
export function fieldOf<K extends string>(path: string | null | undefined, fields: FieldPaths<K>): K | undefined {
  if (!path) return undefined;
  let best: { key: K; length: number } | undefined;
  for (const [key, paths] of Object.entries(fields) as [K, string[] | undefined][]) {
    for (const p of paths ?? []) if (within(path, p) && (!best || p.length > best.length)) best = { key, length: p.length };
  }
  return best?.key;
}

export function placeErrors<K extends string>(errors: FieldError[], fields: FieldPaths<K>): PlacedErrors<K> {
  const placed: PlacedErrors<K> = { byField: {}, rest: [] };
  for (const e of errors) {
    const key = fieldOf(e.field, fields);
    if (key === undefined) placed.rest.push(e);
    else (placed.byField[key] ??= []).push(e);
  }
  return placed;
}

/** `file:line:column`, as editors jump to it. */
export const where = (e: Pick<FieldError, "file" | "line" | "column">) => `${e.file}:${e.line}:${e.column}`;
