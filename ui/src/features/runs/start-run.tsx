import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { Play } from "lucide-react";
import { useState } from "react";
import type { Schemas } from "@/api/client";
import { api, unwrap } from "@/api/query";
import { Failure } from "@/components/layout/state";
import { Button } from "@/components/ui/button";
import { agentsQuery } from "./queries";

const select =
  "h-9 rounded-md border border-input bg-background px-2 text-sm focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring";

/** Queues a run with `queue`, then opens the run's page (the run lists show it too). */
function useQueueRun<T>(queue: (what: T) => Promise<Schemas["RunView"]>) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: queue,
    onSuccess: async (run) => {
      await queryClient.invalidateQueries({ queryKey: ["runs"] });
      await navigate({ to: "/runs/$id", params: { id: run.id } });
    },
  });
}

/** Starts an agent on a node. */
export function useStartRun() {
  return useQueueRun((body: { agent: string; node: string }) => unwrap(api.POST("/api/v1/runs", { body })));
}

/** Runs a run again: its agent on its node with its context (a trigger's payload, a schedule's slot). */
export function useRunAgain() {
  return useQueueRun((id: string) => unwrap(api.POST("/api/v1/runs/{id}/again", { params: { path: { id } } })));
}

/** Run an agent at once on a node that may run it; a read-write agent asks to confirm first. */
export function StartRun() {
  const agents = useQuery(agentsQuery);
  const [agent, setAgent] = useState("");
  const [picked, setPicked] = useState("");
  const [confirming, setConfirming] = useState(false);
  const start = useStartRun();
  const chosen = agents.data?.agents.find((a) => a.name === agent);
  const writes = (chosen?.spec as { mode?: unknown } | undefined)?.mode === "read-write";
  const nodes = chosen?.nodes ?? [];
  // The only node that may run it is the choice; a node the new agent may not use is none.
  const node = nodes.length === 1 ? nodes[0]! : nodes.includes(picked) ? picked : "";

  return (
    <form
      className="flex flex-wrap items-center gap-2"
      onSubmit={(e) => {
        e.preventDefault();
        if (writes && !confirming) return setConfirming(true);
        setConfirming(false);
        start.mutate({ agent, node });
      }}
    >
      <select aria-label="Agent" className={select} value={agent} onChange={(e) => (setAgent(e.target.value), setConfirming(false))} required>
        <option value="">Agent…</option>
        {agents.data?.agents.map((a) => (
          <option key={a.name} disabled={a.nodes.length === 0}>
            {a.name}
          </option>
        ))}
      </select>
      <select
        aria-label="Node"
        className={select}
        value={node}
        onChange={(e) => (setPicked(e.target.value), setConfirming(false))}
        disabled={!chosen}
        required
      >
        <option value="">{chosen && nodes.length === 0 ? "no node may run it" : "Node…"}</option>
        {nodes.map((n) => (
          <option key={n}>{n}</option>
        ))}
      </select>
      <Button type="submit" disabled={start.isPending} variant={confirming ? "destructive" : "default"}>
        <Play aria-hidden />
        {confirming ? `Run read-write ${agent} on ${node}?` : "Run"}
      </Button>
      {start.error && <Failure error={start.error} />}
    </form>
  );
}
