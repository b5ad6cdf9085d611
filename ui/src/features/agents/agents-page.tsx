import { useQueries, useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { Pencil, RotateCw } from "lucide-react";
import { useMemo, useState } from "react";
import type { Schemas } from "@/api/client";
import { TimeChart, type Series } from "@/components/charts/time-chart";
import { Button } from "@/components/ui/button";
import { canOperate, identityQuery } from "@/features/auth/session";
import { EditDialog } from "@/features/config/edit-dialog";
import { agentForm } from "@/features/config/forms/agent";
import { useRunAgain } from "@/features/runs/start-run";
import { StatusBadge, type RunStatus } from "@/features/runs/status";
import { api, unwrap } from "@/api/query";
import { Pager, usePages } from "@/components/layout/pager";
import { Empty, Failure, Loading } from "@/components/layout/state";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { agentsQuery } from "@/features/runs/queries";
import { RunsTable } from "@/features/runs/runs-table";
import { duration, usd } from "@/lib/format";

type RunTrigger = Schemas["RunTrigger"];
type AgentSpec = { description?: string; mode?: string; prompt?: string; script?: string; tools?: unknown };

export function AgentsPage() {
  const agents = useQuery(agentsQuery);
  // Each agent's record (30-day statistics and newest runs), served from the server's cache.
  const records = useQueries({
    queries: (agents.data?.agents ?? []).map((a) => ({
      queryKey: ["agents", a.name],
      queryFn: () => unwrap(api.GET("/api/v1/agents/{name}", { params: { path: { name: a.name } } })),
    })),
  });
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
          {agents.data?.agents.map((a, i) => {
            const spec = a.spec as AgentSpec;
            const record = records[i]?.data;
            const last = [...(record?.last_runs ?? [])].sort((x, y) => y.created_at.localeCompare(x.created_at))[0];
            const rate = record?.stats.success_rate;
            return (
              <li key={a.name} className="flex flex-wrap items-baseline gap-x-3 px-4 py-2">
                <Link to="/agents/$name" params={{ name: a.name }} className="font-medium hover:underline">
                  {a.name}
                </Link>
                <span className="text-xs text-muted-foreground">{spec.mode ?? "read-only"}</span>
                <span className="text-xs text-muted-foreground">{a.schedules.length > 0 ? `on ${a.schedules.join(", ")}` : "no schedule"}</span>
                <span className="text-sm text-muted-foreground">{spec.description}</span>
                <span className="ml-auto flex items-baseline gap-3 text-sm">
                  {rate != null && <span className="tabular-nums text-muted-foreground">{Math.round(rate * 100)}% of {record?.stats.runs} ok</span>}
                  {last ? (
                    <Link to="/runs/$id" params={{ id: last.id }}>
                      <span className="sr-only">last run: </span>
                      <StatusBadge status={last.status} />
                      <span className="sr-only"> on {last.node}</span>
                    </Link>
                  ) : (
                    <span className="text-muted-foreground">never ran</span>
                  )}
                </span>
              </li>
            );
          })}
        </ul>
      </CardContent>
    </Card>
  );
}

/** `/agents/{name}`: what it is told and may do, how its runs went, its history (filtered, paged), charts. */
export function AgentPage({ name }: { name: string }) {
  const agent = useQuery({
    queryKey: ["agents", name],
    queryFn: () => unwrap(api.GET("/api/v1/agents/{name}", { params: { path: { name } } })),
  });
  const who = useQuery(identityQuery);
  if (agent.isPending) return <Loading what={`agent ${name}`} />;
  if (agent.error) return <Failure error={agent.error} />;
  const a = agent.data;
  const spec = a.spec as AgentSpec;
  const rate = a.stats.success_rate;
  return (
    <div className="flex flex-col gap-4">
      <Card>
        <CardHeader className="flex-row flex-wrap items-start gap-x-3 gap-y-2">
          <div className="flex min-w-0 flex-1 flex-col gap-1">
            <CardTitle>{a.name}</CardTitle>
            <p className="text-sm text-muted-foreground">{spec.description}</p>
          </div>
          {canOperate(who.data) && (
            <EditDialog
              kind="agents"
              name={a.name}
              title={`agent ${a.name}`}
              model={agentForm}
              spec={a.spec}
              revision={a.revision}
              trigger={
                <Button size="sm" variant="outline">
                  <Pencil aria-hidden /> Edit settings
                </Button>
              }
            />
          )}
        </CardHeader>
        <CardContent className="flex flex-col gap-2 text-sm">
          <p>
            {spec.mode ?? "read-only"} · last 30 days: {a.stats.runs} runs
            {rate != null && `, ${Math.round(rate * 100)}% succeeded`}, mean {duration(a.stats.mean_duration_ms)},{" "}
            {usd(a.stats.cost_30d_usd)}
          </p>
          {a.last_runs.length > 0 && (
            <p className="flex flex-wrap gap-x-3 text-muted-foreground">
              last run:
              {a.last_runs.map((r) => (
                <Link key={r.id} to="/runs/$id" params={{ id: r.id }} className="hover:underline">
                  {r.node} {r.status}
                </Link>
              ))}
            </p>
          )}
          <p className="text-muted-foreground">
            may run on {a.nodes.length > 0 ? a.nodes.join(", ") : "no node (none allows it or offers what it requires)"}
            {" · "}
            {a.schedules.length > 0 ? <>scheduled by {a.schedules.join(", ")}</> : "no schedule runs it"}
          </p>
          {spec.prompt && <pre className="whitespace-pre-wrap rounded-md bg-muted p-3 text-xs">{spec.prompt}</pre>}
          {spec.script && <p className="font-mono text-xs">script: {spec.script}</p>}
          {spec.tools != null && (
            <pre className="whitespace-pre-wrap rounded-md bg-muted p-3 text-xs">{JSON.stringify(spec.tools, null, 2)}</pre>
          )}
        </CardContent>
      </Card>
      <AgentHistory name={name} placed={a.nodes} />
    </div>
  );
}

const select = "h-9 rounded-md border border-input bg-background px-2 text-sm";
const STATUSES = ["succeeded", "failed", "timed_out", "cancelled", "lost", "running", "queued"] as const;

/** The agent's runs: filtered by node, status and trigger, paged, charted, each runnable again. */
function AgentHistory({ name, placed }: { name: string; placed: string[] }) {
  const [node, setNode] = useState("");
  const [status, setStatus] = useState("");
  const [trigger, setTrigger] = useState("");
  const paging = usePages<string>();
  const before = paging.before;
  const who = useQuery(identityQuery);
  const runs = useQuery({
    queryKey: ["runs", { agent: name, node, status, trigger, before }],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/runs", {
          params: {
            query: {
              agent: name,
              node: node || undefined,
              status: (status || undefined) as RunStatus | undefined,
              trigger: (trigger || undefined) as RunTrigger | undefined,
              before,
              limit: 100,
            },
          },
        }),
      ),
    refetchInterval: before ? false : 5000,
  });
  const again = useRunAgain();
  const shown = runs.data?.items ?? [];
  const nodes = [...new Set([...placed, ...shown.map((r) => r.node)])];
  const reset = (set: (v: string) => void) => (e: { target: { value: string } }) => (set(e.target.value), paging.reset());
  return (
    <>
      <Card>
        <CardHeader className="flex-row flex-wrap items-center gap-2">
          <CardTitle>Runs</CardTitle>
          <select aria-label="Node" className={select} value={node} onChange={reset(setNode)}>
            <option value="">every node</option>
            {[...new Set([node, ...nodes])].filter(Boolean).map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
          <select aria-label="Status" className={select} value={status} onChange={reset(setStatus)}>
            <option value="">every status</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
          <select aria-label="Trigger" className={select} value={trigger} onChange={reset(setTrigger)}>
            <option value="">every trigger</option>
            <option>manual</option>
            <option>schedule</option>
            <option>trigger</option>
          </select>
          {canOperate(who.data) && shown[0] && (
            <Button size="sm" className="ml-auto" disabled={again.isPending} onClick={() => again.mutate(shown[0]!.id)}>
              <RotateCw aria-hidden /> Run again on {shown[0].node}
            </Button>
          )}
        </CardHeader>
        <CardContent className="p-0">
          {runs.error && <Failure error={runs.error} />}
          {again.error && <Failure error={again.error} />}
          {runs.data && shown.length === 0 && <Empty>No runs match.</Empty>}
          {shown.length > 0 && <RunsTable runs={shown} />}
          <Pager paging={paging} next={runs.data?.next} />
        </CardContent>
      </Card>
      <AgentCharts runs={shown} />
    </>
  );
}

/** Duration and cost of the runs shown, and each numeric field of their reports, over time. */
function AgentCharts({ runs }: { runs: Schemas["RunView"][] }) {
  const charts = useMemo(() => {
    const done = runs.filter((r) => r.finished_at).reverse();
    const times = done.map((r) => Date.parse(r.created_at) / 1000);
    const fields = new Set<string>();
    for (const r of done)
      if (r.report && typeof r.report === "object" && !Array.isArray(r.report))
        for (const [k, v] of Object.entries(r.report)) if (typeof v === "number") fields.add(k);
    const field = (k: string) => done.map((r) => ((r.report as Record<string, unknown> | null)?.[k] as number | undefined) ?? null);
    return {
      times,
      // Seconds and dollars differ by orders of magnitude: a chart each.
      duration: [{ label: "duration", values: done.map((r) => (r.duration_ms ?? 0) / 1000), color: "#2563eb", format: (v) => duration(v * 1000) }] satisfies Series[],
      cost: [{ label: "cost", values: done.map((r) => r.cost_usd), color: "#d97706", format: usd }] satisfies Series[],
      report: [...fields].map((k, i) => ({ label: k, values: field(k), color: ["#16a34a", "#9333ea", "#dc2626"][i % 3]! })),
    };
  }, [runs]);
  if (charts.times.length < 2) return null;
  return (
    <Card>
      <CardHeader>
        <CardTitle>Over time</CardTitle>
      </CardHeader>
      <CardContent className="flex flex-col gap-4">
        <TimeChart times={charts.times} series={charts.duration} height={120} label="Duration of these runs over time" />
        <TimeChart times={charts.times} series={charts.cost} height={120} label="Cost of these runs over time" />
        {charts.report.length > 0 && (
          <TimeChart times={charts.times} series={charts.report} label={`Report fields over time: ${charts.report.map((s) => s.label).join(", ")}`} />
        )}
      </CardContent>
    </Card>
  );
}
