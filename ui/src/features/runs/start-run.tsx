import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { Play } from "lucide-react";
import { useState } from "react";
import { api, unwrap } from "@/api/query";
import { Failure } from "@/components/layout/state";
import { Button } from "@/components/ui/button";
import { agentsQuery } from "./queries";

const select =
  "h-9 rounded-md border border-input bg-background px-2 text-sm focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring";

/** Starts an agent on a node, then opens the run's page (the run lists show it too). */
export function useStartRun() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: { agent: string; node: string }) => unwrap(api.POST("/api/v1/runs", { body })),
    onSuccess: async (run) => {
      await queryClient.invalidateQueries({ queryKey: ["runs"] });
      await navigate({ to: "/runs/$id", params: { id: run.id } });
    },
  });
}

/** Run an agent on a node at once; a read-write agent asks to confirm first. */
export function StartRun({ nodes }: { nodes: string[] }) {
  const agents = useQuery(agentsQuery);
  const [agent, setAgent] = useState("");
  const [node, setNode] = useState("");
  const [confirming, setConfirming] = useState(false);
  const start = useStartRun();
  const chosen = agents.data?.agents.find((a) => a.name === agent);
  const writes = (chosen?.spec as { mode?: unknown } | undefined)?.mode === "read-write";

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
          <option key={a.name}>{a.name}</option>
        ))}
      </select>
      <select aria-label="Node" className={select} value={node} onChange={(e) => (setNode(e.target.value), setConfirming(false))} required>
        <option value="">Node…</option>
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
