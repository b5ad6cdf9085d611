import { useQuery } from "@tanstack/react-query";
import { Pencil } from "lucide-react";
import { api, unwrap } from "@/api/query";
import { Failure, Loading } from "@/components/layout/state";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { canOperate, identityQuery } from "@/features/auth/session";
import { EditDialog } from "@/features/config/edit-dialog";
import { nodeForm } from "@/features/config/forms/node";
import { NodesPanel } from "@/features/overview/nodes-panel";
import { RunsTable } from "@/features/runs/runs-table";
import { ago } from "@/lib/format";
import { DriftList } from "@/features/sync/drift-list";
import { AdoptNodes } from "./adopt";
import { NodeMetrics } from "./metrics";
import { EnrollNode, NodeKeys } from "./node-trust";

const useAdmin = () => {
  const who = useQuery(identityQuery);
  return who.data?.kind !== "node" && who.data?.role === "admin";
};

export function NodesPage() {
  const admin = useAdmin();
  const who = useQuery(identityQuery);
  return (
    <div className="flex flex-col gap-4">
      <NodesPanel />
      {canOperate(who.data) && <AdoptNodes />}
      {admin && <EnrollNode />}
    </div>
  );
}

/** `/nodes/{name}`: health and why, what its runner reports, drift with the fix, its runs. */
export function NodePage({ name }: { name: string }) {
  const node = useQuery({
    queryKey: ["nodes", name],
    queryFn: () => unwrap(api.GET("/api/v1/nodes/{name}", { params: { path: { name } } })),
    refetchInterval: 5000,
  });
  const admin = useAdmin();
  const who = useQuery(identityQuery);
  const runs = useQuery({
    queryKey: ["runs", { node: name }],
    queryFn: () => unwrap(api.GET("/api/v1/runs", { params: { query: { node: name, limit: 50 } } })),
    refetchInterval: 5000,
  });
  if (node.isPending) return <Loading what={`node ${name}`} />;
  if (node.error) return <Failure error={node.error} />;
  const n = node.data;
  const seen = n.observed;
  return (
    <div className="flex flex-col gap-4">
      <Card>
        <CardHeader className="flex-row flex-wrap items-center gap-3">
          <CardTitle>{n.name}</CardTitle>
          {n.health && (
            <Badge tone={n.health.health === "green" ? "ok" : n.health.health === "yellow" ? "warn" : "bad"}>
              {n.health.health}
            </Badge>
          )}
          <span className="text-sm text-muted-foreground">{n.health?.reason}</span>
          {canOperate(who.data) && (
            <EditDialog
              kind="nodes"
              name={n.name}
              title={`node ${n.name}`}
              model={nodeForm}
              spec={n.spec}
              revision={n.revision}
              trigger={
                <Button size="sm" variant="outline" className="ml-auto">
                  <Pencil aria-hidden /> Edit
                </Button>
              }
            />
          )}
        </CardHeader>
        <CardContent className="grid gap-1 text-sm sm:grid-cols-2">
          <p>Connection: {n.connection.replace("_", " ")}</p>
          <p>Last seen: {ago(seen?.last_seen)}</p>
          <p>OS: {seen?.os ?? "unknown"}</p>
          <p>Runner: {seen?.version ?? "unknown"}</p>
          <p>Sandbox: {seen?.sandbox ?? "unknown"}</p>
          <p className="font-mono text-xs text-muted-foreground">
            {n.file}:{n.line}
          </p>
          {seen?.last_error && <p className="text-bad sm:col-span-2">{seen.last_error}</p>}
          {seen && seen.capabilities.length > 0 && (
            <p className="flex flex-wrap gap-1 sm:col-span-2">
              {seen.capabilities.map((c) => (
                <span key={c} className="rounded bg-muted px-1.5 py-0.5 text-xs">
                  {c}
                </span>
              ))}
            </p>
          )}
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>CPU, memory and disk, last 6 hours</CardTitle>
        </CardHeader>
        <CardContent>
          <NodeMetrics name={n.name} />
        </CardContent>
      </Card>
      {n.drift.length > 0 && (
        <Card>
          <CardHeader>
            <CardTitle>Drift</CardTitle>
          </CardHeader>
          <CardContent className="p-0">
            <DriftList items={n.drift} named={false} />
          </CardContent>
        </Card>
      )}
      {admin && <NodeKeys name={name} />}
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
