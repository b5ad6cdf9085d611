// Live updates: one WebSocket per tab to /api/v1/live, which says what
// happened as it happens (a run started or ended, an approval, a node gone
// or back, a sync); each event has the queries it touches load again, so
// open pages change at once. The pages still look on a slow timer, for
// when the socket is down.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";

/** The query keys (their first part) an event of `type` makes stale; every query for `lagged`. */
export function staleAfter(type: string): string[] | "all" {
  if (type === "lagged") return "all";
  const [family] = type.split(".");
  switch (family) {
    case "run":
      return ["runs", "agents", "schedules", "budget", "usage", "notifications"];
    case "approval":
      return ["approvals", "runs", "notifications"];
    case "node":
      return ["nodes", "drift", "metrics", "notifications"];
    case "sync":
      // "config": a merged pull request shows as a sync; the proposed changes reload with it.
      return ["sync", "agents", "nodes", "schedules", "triggers", "drift", "notifications", "config"];
    case "drift":
      return ["drift", "notifications"];
    case "budget":
      return ["budget", "runs", "notifications"];
    default:
      return [];
  }
}

export function useLiveUpdates() {
  const queryClient = useQueryClient();
  useEffect(() => {
    let socket: WebSocket | null = null;
    let stopped = false;
    let failures = 0;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      socket = new WebSocket(`${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/api/v1/live`);
      socket.onopen = () => (failures = 0);
      socket.onmessage = (m: MessageEvent<string>) => {
        const stale = staleAfter((JSON.parse(m.data) as { type: string }).type);
        if (stale === "all") return void queryClient.invalidateQueries();
        for (const key of stale) void queryClient.invalidateQueries({ queryKey: [key] });
      };
      socket.onclose = () => {
        if (stopped) return;
        failures += 1;
        retry = setTimeout(connect, Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)));
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      socket?.close();
    };
  }, [queryClient]);
}
