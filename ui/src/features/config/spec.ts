// A form's values and the spec they become. The spec sent is the whole
// spec as git has it, with only the values the user changed put in (the
// server moves only the values that differ, and a key left out is a key
// removed): fields the form does not show, and fields the user did not
// touch, go back exactly as they came.
import type { Schemas } from "@/api/client";

/** An object's `spec`, as written in git. */
export type Spec = Record<string, unknown>;

/** How each value of a form is put into the spec: `undefined` removes the key. */
export type Writers<V> = { [K in keyof V]: (spec: Spec, value: V[K], values: V) => void };

export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Same JSON value (form values are strings, numbers, booleans and arrays or objects of them). */
export const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The value at a dotted path (`retries.max`), or undefined. */
export function getPath(spec: unknown, path: string): unknown {
  let at = spec;
  for (const key of path.split(".")) {
    if (!isObject(at)) return undefined;
    at = at[key];
  }
  return at;
}

/**
 * Sets the value at a dotted path, making the mappings on the way; `undefined`
 * removes the key, and the mappings its removal leaves empty (an empty
 * `retries: {}` would be a value of its own).
 */
export function setPath(spec: Spec, path: string, value: unknown): void {
  const keys = path.split(".");
  const chain: Spec[] = [spec];
  for (const key of keys.slice(0, -1)) {
    const at = chain[chain.length - 1]!;
    if (!isObject(at[key])) {
      if (value === undefined) return;
      at[key] = {};
    }
    chain.push(at[key] as Spec);
  }
  const last = keys[keys.length - 1]!;
  if (value !== undefined) {
    chain[chain.length - 1]![last] = value;
    return;
  }
  delete chain[chain.length - 1]![last];
  for (let i = chain.length - 1; i > 0 && Object.keys(chain[i]!).length === 0; i--) delete chain[i - 1]![keys[i - 1]!];
}

/** The spec to send: `current` with each value that differs between `before` and `after` written in. */
export function writeChanged<V extends object>(current: Spec | null, before: V, after: V, writers: Writers<V>): Spec {
  const spec = JSON.parse(JSON.stringify(current ?? {})) as Spec;
  for (const key of Object.keys(writers) as (keyof V)[]) {
    if (!same(before[key], after[key])) writers[key](spec, after[key], after);
  }
  return spec;
}

/**
 * The user's changes (from `before` to `after`) made again on values read
 * afresh (`now`): what "reload and edit again" starts from after a conflict.
 */
export function rebaseValues<V extends object>(before: V, after: V, now: V): V {
  const out = { ...now };
  for (const key of Object.keys(after) as (keyof V)[]) if (!same(before[key], after[key])) out[key] = after[key];
  return out;
}

// Reading values loosely (the document is the user's) and writing them back.

/** A text field's value: strings as they are, numbers as digits, anything else empty. */
export const text = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" ? String(v) : "");

/** The strings of a list. */
export const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** A one-line field: trimmed, and left out when empty. */
export const optional = (s: string): string | undefined => s.trim() || undefined;

/** A number field: a number when it reads as one, else what was typed (the server says what is wrong, at the field). */
export function numeric(s: string): number | string | undefined {
  const t = s.trim();
  if (t === "") return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

/** One entry per line (tool rules): trimmed, blank lines dropped. */
export const lines = (s: string): string[] =>
  s
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);

/** Names separated by commas or spaces (tags). */
export const words = (s: string): string[] => s.split(/[\s,]+/).filter(Boolean);

/**
 * A secret typed into a form: the server stores `value` as the secret `name`
 * and writes only `{secret: name}` to git. Without a value, a reference to
 * the secret already stored under that name.
 */
export function secretRef(name: string, value: string): { secret: string; value?: string } {
  return value ? { secret: name.trim(), value } : { secret: name.trim() };
}

type FieldChange = Schemas["FieldChange"];
type PlanStep = Schemas["PlanStep"];

/** Whether a spec path (`spec.webhook.headers`) is one the form shows, or holds one it shows. */
function shown(path: string, managed: string[]): boolean {
  const within = (inner: string, outer: string) => inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
  return managed.some((m) => within(path, m) || within(m, path));
}

/**
 * Fields an edit would remove that the form does not show: the user did not
 * see them go, so the dialog points them out, and the user can keep them
 * (their `old` values go back).
 */
export function unseenRemovals(plan: PlanStep[], kind: string, name: string, managed: string[]): FieldChange[] {
  return plan
    .filter((s) => s.action === "change" && s.kind === kind && s.name === name)
    .flatMap((s) => (s.action === "change" ? s.fields : []))
    .filter((f) => f.path.startsWith("spec.") && f.new === undefined && f.old !== undefined && !shown(f.path, managed));
}

/** `spec` with the kept fields put back (each `spec.a.b` path set to its old value, unless the spec sets it). */
export function withKept(spec: Spec, kept: FieldChange[]): Spec {
  const out = JSON.parse(JSON.stringify(spec)) as Spec;
  for (const f of kept) {
    const path = f.path.slice("spec.".length);
    if (getPath(out, path) === undefined) setPath(out, path, f.old);
  }
  return out;
}

/** The fields that differ between two specs, by path (`cron`, `tools.allow[1]`): how the server's plan lists them. */
export function changedFields(old: unknown, now: unknown, path = ""): FieldChange[] {
  if (same(old, now)) return [];
  const child = (k: string) => (path ? `${path}.${k}` : k);
  if (isObject(old) && isObject(now)) {
    const keys = [...new Set([...Object.keys(old), ...Object.keys(now)])].sort();
    return keys.flatMap((k) => changedFields(old[k], now[k], child(k)));
  }
  if (Array.isArray(old) && Array.isArray(now) && old.length === now.length) return old.flatMap((x, i) => changedFields(x, now[i], `${path}[${i}]`));
  return [{ path, old: old ?? undefined, new: now ?? undefined }];
}
