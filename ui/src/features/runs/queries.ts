import { queryOptions } from "@tanstack/react-query";
import { api, unwrap } from "@/api/query";

export const recentRunsQuery = queryOptions({
  queryKey: ["runs", "recent"],
  queryFn: () => unwrap(api.GET("/api/v1/runs", { params: { query: { limit: 50 } } })),
  // Live updates reload it as runs start and end; the timer is for when they are down.
  refetchInterval: 15_000,
});

export const runQuery = (id: string) =>
  queryOptions({
    queryKey: ["runs", id],
    queryFn: () => unwrap(api.GET("/api/v1/runs/{id}", { params: { path: { id } } })),
  });

export const nodesQuery = queryOptions({
  queryKey: ["nodes"],
  queryFn: () => unwrap(api.GET("/api/v1/nodes")),
  refetchInterval: 5000,
});

export const agentsQuery = queryOptions({
  queryKey: ["agents"],
  queryFn: () => unwrap(api.GET("/api/v1/agents")),
  staleTime: 30_000,
});
