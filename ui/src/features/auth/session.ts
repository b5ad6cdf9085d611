// Who is logged in: `GET /api/v1/auth/me`, cached; a 401 means "log in".
import { queryOptions } from "@tanstack/react-query";
import { api, unwrap } from "@/api/query";
import type { Schemas } from "@/api/client";

export type Identity = Schemas["Identity"];

export const identityQuery = queryOptions({
  queryKey: ["identity"],
  queryFn: () => unwrap(api.GET("/api/v1/auth/me")),
  staleTime: 60_000,
  retry: false,
});

/** Whether the caller may start runs, decide approvals and change things. */
export function canOperate(who: Identity | undefined): boolean {
  return !!who && who.kind !== "node" && (who.role === "operator" || who.role === "admin");
}
