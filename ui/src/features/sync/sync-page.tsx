import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { RefreshCw } from "lucide-react";
import { api, unwrap } from "@/api/query";
import { Empty, Failure, Loading } from "@/components/layout/state";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { canOperate, identityQuery } from "@/features/auth/session";
import { syncQuery } from "@/features/overview/sync-banner";
import { ago } from "@/lib/format";
import { DriftList } from "./drift-list";
import { ProposedChanges } from "./proposed-changes";
import { fileLink } from "./source-link";

/** `/sync`: the revision, its errors where they are, the edits proposed as pull requests, every object's status, the history, and drift. */
export function SyncPage() {
  const sync = useQuery(syncQuery);
  const drift = useQuery({ queryKey: ["drift"], queryFn: () => unwrap(api.GET("/api/v1/drift")), refetchInterval: 10_000 });
  const who = useQuery(identityQuery);
  const queryClient = useQueryClient();
  const refresh = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/sync/refresh")),
    onSuccess: () => setTimeout(() => void queryClient.invalidateQueries({ queryKey: ["sync"] }), 1000),
  });
  if (sync.isPending) return <Loading what="the sync status" />;
  if (sync.error) return <Failure error={sync.error} />;
  const s = sync.data;
  return (
    <div className="flex flex-col gap-4">
      <Card>
        <CardHeader className="flex-row flex-wrap items-center gap-3">
          <CardTitle>Sync</CardTitle>
          <Badge tone={s.status === "Synced" ? "ok" : s.status === "Error" ? "bad" : "neutral"}>{s.status}</Badge>
          <span className="font-mono text-xs">{s.revision?.slice(0, 12)}</span>
          <span className="text-sm text-muted-foreground">{s.source}</span>
          {canOperate(who.data) && (
            <Button size="sm" variant="outline" className="ml-auto" disabled={refresh.isPending} onClick={() => refresh.mutate()}>
              <RefreshCw aria-hidden /> Refresh now
            </Button>
          )}
        </CardHeader>
        <CardContent className="flex flex-col gap-1 text-sm">
          {s.head.message && (
            <p>
              {s.head.message.split("\n")[0]}{" "}
              <span className="text-muted-foreground">
                {s.head.author && `by ${s.head.author}`} {s.head.committed_at && ago(s.head.committed_at)}
              </span>
            </p>
          )}
          <p className="text-muted-foreground">
            Live: <span className="font-mono">{s.last_applied.revision?.slice(0, 12) ?? "nothing yet"}</span>
            {s.last_applied.at && `, applied ${ago(s.last_applied.at)}`}
          </p>
          {refresh.error && <Failure error={refresh.error} />}
        </CardContent>
      </Card>
      {(s.errors.length > 0 || s.warnings.length > 0) && (
        <Card>
          <CardHeader>
            <CardTitle>Problems in this revision</CardTitle>
          </CardHeader>
          <CardContent>
            <ul className="flex flex-col gap-2 font-mono text-xs" data-testid="sync-errors">
              {[...s.errors, ...s.warnings].map((d, i) => {
                const where = `${d.file ?? ""}${d.line != null ? `:${d.line}:${d.column ?? 1}` : ""}`;
                const link = d.file ? fileLink(s.source, s.revision, d.file, d.line) : null;
                return (
                <li key={i}>
                  <span className={d.severity === "warning" ? "font-semibold" : "font-semibold text-bad"}>{d.severity ?? "error"}</span>{" "}
                  {link ? (
                    <a href={link} target="_blank" rel="noreferrer" className="underline underline-offset-2">
                      {where}
                    </a>
                  ) : (
                    where
                  )}
                  : {d.message}
                  {d.hint && <span className="block text-muted-foreground">hint: {d.hint}</span>}
                </li>
                );
              })}
            </ul>
          </CardContent>
        </Card>
      )}
      <ProposedChanges />
      <Card>
        <CardHeader>
          <CardTitle>Objects</CardTitle>
        </CardHeader>
        <CardContent className="overflow-x-auto p-0">
          {s.objects.length === 0 ? (
            <Empty>No objects in this revision.</Empty>
          ) : (
            <table className="w-full text-sm">
              <tbody className="divide-y">
                {s.objects.map((o) => (
                  <tr key={`${o.kind}/${o.name}`}>
                    <td className="px-4 py-1.5">{o.kind}</td>
                    <td className="px-2 py-1.5 font-medium">{o.name}</td>
                    <td className="px-2 py-1.5">{o.status}</td>
                    <td className="px-2 py-1.5 font-mono text-xs text-muted-foreground">
                      {o.file}:{o.line}
                    </td>
                    <td className="px-4 py-1.5 text-muted-foreground">{o.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>Drift</CardTitle>
        </CardHeader>
        <CardContent className="p-0">
          {drift.error && <Failure error={drift.error} />}
          {drift.data?.items.length === 0 && <Empty>Everything is as git says.</Empty>}
          {drift.data && <DriftList items={drift.data.items} />}
        </CardContent>
      </Card>
      <Card>
        <CardHeader>
          <CardTitle>History</CardTitle>
        </CardHeader>
        <CardContent className="p-0">
          <ul className="divide-y text-sm">
            {s.history.map((h) => (
              <li key={`${h.revision}-${h.started_at}`} className="flex flex-wrap gap-x-3 px-4 py-1.5">
                <span className="font-mono text-xs">{h.revision.slice(0, 12)}</span>
                <span>{h.outcome}</span>
                <span className="text-muted-foreground">
                  +{h.added} ~{h.changed} −{h.removed}
                </span>
                <span className="truncate text-muted-foreground">{h.message?.split("\n")[0]}</span>
                <span className="ml-auto text-muted-foreground">{ago(h.finished_at)}</span>
              </li>
            ))}
          </ul>
        </CardContent>
      </Card>
    </div>
  );
}
