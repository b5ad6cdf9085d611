import { useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { api, unwrap } from "@/api/query";
import { Failure } from "@/components/layout/state";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { commandOf } from "@/features/runs/event-text";
import { ago, until } from "@/lib/format";
import { useNow } from "@/lib/use-now";

/** Tool calls held for a person, oldest first, each a link to its run (where it is decided). */
export function ApprovalsPanel() {
  const pending = useQuery({
    queryKey: ["approvals", "pending"],
    queryFn: () => unwrap(api.GET("/api/v1/approvals", { params: { query: { status: "pending" } } })),
    refetchInterval: 15_000, // and at once on live updates
  });
  const now = useNow();
  if (pending.error) return <Failure error={pending.error} />;
  const list = pending.data?.approvals ?? [];
  if (list.length === 0) return null;
  return (
    <Card className="border-warn">
      <CardHeader>
        <CardTitle>Waiting for approval ({list.length})</CardTitle>
      </CardHeader>
      <CardContent className="p-0">
        <ul className="divide-y text-sm">
          {[...list].reverse().map((a) => {
            return (
              <li key={a.id} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2">
                <Link to="/runs/$id" params={{ id: a.run_id }} className="font-medium hover:underline">
                  {a.agent} on {a.node}
                </Link>
                <code className="rounded bg-muted px-1.5 py-0.5 text-xs">
                  {a.tool}: {commandOf(a.input)}
                </code>
                <span className="ml-auto tabular-nums text-muted-foreground">
                  asked {ago(a.requested_at, now)}
                  {a.expires_at && <>, denied {until(a.expires_at, now)} unless answered</>}
                </span>
              </li>
            );
          })}
        </ul>
      </CardContent>
    </Card>
  );
}
