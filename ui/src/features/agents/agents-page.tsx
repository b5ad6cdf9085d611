import { useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { api, unwrap } from "@/api/query";
import { Empty, Failure, Loading } from "@/components/layout/state";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { agentsQuery } from "@/features/runs/queries";
import { RunsTable } from "@/features/runs/runs-table";
import { duration, usd } from "@/lib/format";

type AgentSpec = { description?: string; mode?: string; prompt?: string; script?: string; tools?: unknown };

export function AgentsPage() {
  const agents = useQuery(agentsQuery);
  return (
    <Card>
      <CardHeader>
        <CardTitle>Agents</CardTitle>
      </CardHeader>
      <CardContent className="p-0">
        {agents.isPending && <Loading what="agents" />}
        {agents.error && <Failure error={agents.error} />}
        {agents.data?.agents.length === 0 && <Empty>No agents: declare one in git.</Empty>}
        <ul className="divide-y">
          {agents.data?.agents.map((a) => {
            const spec = a.spec as AgentSpec;
            return (
              <li key={a.name} className="flex flex-wrap items-baseline gap-x-3 px-4 py-2">
                <Link to="/agents/$name" params={{ name: a.name }} className="font-medium hover:underline">
                  {a.name}
                </Link>
                <span className="text-xs text-muted-foreground">{spec.mode ?? "read-only"}</span>
                <span className="text-sm text-muted-foreground">{spec.description}</span>
              </li>
            );
          })}
        </ul>
      </CardContent>
    </Card>
  );
}

/** `/agents/{name}`: what it is told and may do, how its runs went, its history. */
export function AgentPage({ name }: { name: string }) {
  const agent = useQuery({
    queryKey: ["agents", name],
    queryFn: () => unwrap(api.GET("/api/v1/agents/{name}", { params: { path: { name } } })),
  });
  const runs = useQuery({
    queryKey: ["runs", { agent: name }],
    queryFn: () => unwrap(api.GET("/api/v1/runs", { params: { query: { agent: name, limit: 50 } } })),
    refetchInterval: 5000,
  });
  if (agent.isPending) return <Loading what={`agent ${name}`} />;
  if (agent.error) return <Failure error={agent.error} />;
  const a = agent.data;
  const spec = a.spec as AgentSpec;
  const rate = a.stats.success_rate;
  return (
    <div className="flex flex-col gap-4">
      <Card>
        <CardHeader>
          <CardTitle>{a.name}</CardTitle>
          <p className="text-sm text-muted-foreground">{spec.description}</p>
        </CardHeader>
        <CardContent className="flex flex-col gap-2 text-sm">
          <p>
            {spec.mode ?? "read-only"} · last 30 days: {a.stats.runs} runs
            {rate != null && `, ${Math.round(rate * 100)}% succeeded`}, mean {duration(a.stats.mean_duration_ms)},{" "}
            {usd(a.stats.cost_30d_usd)}
          </p>
          {spec.prompt && <pre className="whitespace-pre-wrap rounded-md bg-muted p-3 text-xs">{spec.prompt}</pre>}
          {spec.script && <p className="font-mono text-xs">script: {spec.script}</p>}
          {spec.tools != null && (
            <pre className="whitespace-pre-wrap rounded-md bg-muted p-3 text-xs">{JSON.stringify(spec.tools, null, 2)}</pre>
          )}
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>Runs</CardTitle>
        </CardHeader>
        <CardContent className="p-0">
          {runs.error && <Failure error={runs.error} />}
          {runs.data && <RunsTable runs={runs.data.items} />}
        </CardContent>
      </Card>
    </div>
  );
}
