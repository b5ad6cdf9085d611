import { useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import type { Schemas } from "@/api/client";
import { Empty, Failure, Loading } from "@/components/layout/state";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { NodeMetrics } from "@/features/nodes/metrics";
import { nodesQuery } from "@/features/runs/queries";
import { ago } from "@/lib/format";
import { cn } from "@/lib/utils";

type Node = Schemas["NodeView"];

const DOT = { green: "bg-ok", yellow: "bg-warn", red: "bg-bad" } as const;

/** What git says of a node, read loosely: the document is the user's. */
function declared(node: Node): { os?: string; tags: string[] } {
  const spec = (node.spec ?? {}) as { os?: unknown; tags?: unknown };
  return {
    os: typeof spec.os === "string" ? spec.os : undefined,
    tags: Array.isArray(spec.tags) ? spec.tags.filter((t): t is string => typeof t === "string") : [],
  };
}

export function NodesPanel() {
  const nodes = useQuery(nodesQuery);
  return (
    <Card>
      <CardHeader>
        <CardTitle>Nodes</CardTitle>
      </CardHeader>
      <CardContent className="p-0">
        {nodes.isPending && <Loading what="nodes" />}
        {nodes.error && <Failure error={nodes.error} />}
        {nodes.data?.nodes.length === 0 && <Empty>No nodes yet: declare one in git, or enroll one.</Empty>}
        <ul className="divide-y">
          {nodes.data?.nodes.map((node) => {
            const health = node.health;
            const { os, tags } = declared(node);
            return (
              <li key={node.name} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2" data-testid="node">
                <span
                  className={cn("size-2.5 shrink-0 rounded-full", health ? DOT[health.health] : "bg-muted-foreground")}
                  aria-hidden
                />
                <Link to="/nodes/$name" params={{ name: node.name }} className="font-medium hover:underline">
                  {node.name}
                </Link>
                <span className="sr-only">{health?.health ?? "unknown"}</span>
                <span className="text-sm text-muted-foreground">{health?.reason ?? "not looked at yet"}</span>
                <span className="ml-auto flex flex-wrap items-center gap-2 text-xs text-muted-foreground">
                  {os && <span>{os}</span>}
                  {tags.map((t) => (
                    <span key={t} className="rounded bg-muted px-1.5 py-0.5">
                      {t}
                    </span>
                  ))}
                  <span>seen {ago(health?.last_seen)}</span>
                  {health?.version && <span>v{health.version}</span>}
                </span>
                <span className="w-full sm:w-48">
                  <NodeMetrics name={node.name} spark />
                </span>
              </li>
            );
          })}
        </ul>
      </CardContent>
    </Card>
  );
}
