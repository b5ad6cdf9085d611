// Edits that become git commits: `POST /api/v1/config/{kind}/{name}/preview`
// answers the diff and the plan, `PUT` commits, `DELETE` removes. A commit
// goes onto the config branch or, in pull-request mode, onto a branch of its
// own with a pull request (`GET /api/v1/config/changes` lists those); the
// `mode` is sent only when the user chose one, else the server's default
// applies. Besides a
// result, the server answers 422 with every error of the edit (each with
// the form field it belongs to) and 409 with both versions when the object
// changed upstream; those come back as outcomes for the dialog to show,
// anything else as an ApiFailure.
import { type QueryClient, queryOptions } from "@tanstack/react-query";
import type { Schemas } from "@/api/client";
import { api, unwrap } from "@/api/query";
import { syncQuery } from "@/features/overview/sync-banner";
import type { FieldError } from "./field-errors";
import type { Spec } from "./spec";

/** The kinds as the write path names them. */
export type ConfigKind = "nodes" | "agents" | "schedules" | "notification-channels" | "notification-rules" | "triggers";

export type EditResult = Schemas["EditResult"];
export type Conflict = Schemas["Conflict"];
export type PlanStep = Schemas["PlanStep"];
/** Onto the config branch, or a pull request. */
export type WriteMode = Schemas["WriteMode"];

export type EditOutcome =
  | { outcome: "ok"; result: EditResult }
  | { outcome: "invalid"; message: string; errors: FieldError[] }
  | { outcome: "conflict"; message: string; conflict: Conflict };

/** An edit: the new spec (`null` deletes), the revision the user saw, why, and (when chosen) where the commit goes. */
export type Edit = { kind: ConfigKind; name: string; spec: Spec | null; base_revision: string; message?: string; mode?: WriteMode };

/** The kind as documents and plans name it. */
export const KIND_OF: Record<ConfigKind, Schemas["Kind"]> = {
  nodes: "Node",
  agents: "Agent",
  schedules: "Schedule",
  "notification-channels": "NotificationChannel",
  "notification-rules": "NotificationRule",
  triggers: "Trigger",
};

/** The queries whose answers an edit of `kind` changes once the sync applies it (live updates reload them too). */
export const KEYS_OF: Record<ConfigKind, string[]> = {
  nodes: ["nodes"],
  agents: ["agents"],
  schedules: ["schedules"],
  "notification-channels": ["notifications"],
  "notification-rules": ["notifications"],
  triggers: ["triggers"],
};

async function outcome(
  call: Promise<{ data?: EditResult; error?: unknown; response: Response }>,
): Promise<EditOutcome> {
  const answer = await call.catch(() => null);
  // The server cannot be reached: unwrap says so the way every page does.
  if (!answer) return unwrap(call) as Promise<never>;
  const { data, error, response } = answer;
  if (response.ok && data) return { outcome: "ok", result: data };
  const body = (error ?? {}) as Partial<Schemas["InvalidEdit"] & Schemas["EditConflict"]>;
  const message = body.error?.message ?? `the server answered ${response.status}`;
  if (response.status === 422 && Array.isArray(body.errors)) return { outcome: "invalid", message, errors: body.errors };
  if (response.status === 409 && body.conflict) return { outcome: "conflict", message, conflict: body.conflict };
  return unwrap(Promise.resolve(answer)) as Promise<never>;
}

const where = (e: Edit) => ({ params: { path: { kind: e.kind, name: e.name } } });
// The API types a spec as an open object; ours is one.
const body = (spec: Spec) => spec as Record<string, never>;

/** What the edit would do: the diff, the plan and the warnings. Writes nothing. */
export function preview(e: Edit): Promise<EditOutcome> {
  return outcome(
    api.POST("/api/v1/config/{kind}/{name}/preview", {
      ...where(e),
      body: { spec: e.spec && body(e.spec), base_revision: e.base_revision, message: e.message || null },
    }),
  );
}

/**
 * Commits the edit (or the deletion, for a `null` spec) as the user: onto the
 * config branch, which the next sync applies, or as a pull request. No `mode`
 * is sent unless one was chosen.
 */
export function commit(e: Edit): Promise<EditOutcome> {
  const message = e.message || null;
  const mode = e.mode ? { mode: e.mode } : {};
  return outcome(
    e.spec
      ? api.PUT("/api/v1/config/{kind}/{name}", { ...where(e), body: { spec: body(e.spec), base_revision: e.base_revision, message, ...mode } })
      : api.DELETE("/api/v1/config/{kind}/{name}", { ...where(e), body: { base_revision: e.base_revision, message, ...mode } }),
  );
}

/** The edits proposed as pull requests: the open ones, then the latest merged or closed. */
export const changesQuery = queryOptions({
  queryKey: ["config", "changes"],
  queryFn: () => unwrap(api.GET("/api/v1/config/changes")),
  // A pull request is merged or closed on the forge, not here.
  refetchInterval: 30_000,
});

/** The head revision of the config branch, fetched afresh: what an edit without an object's own revision is made against. */
export async function headRevision(queryClient: QueryClient): Promise<string> {
  const sync = await queryClient.fetchQuery({ ...syncQuery, staleTime: 0 });
  if (!sync.revision) throw new Error("the config repository has not been read yet; wait for the first sync");
  return sync.revision;
}
