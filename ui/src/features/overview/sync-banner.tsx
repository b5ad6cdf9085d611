import { useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { api, unwrap } from "@/api/query";
import { Failure } from "@/components/layout/state";
import { Alert } from "@/components/ui/alert";
import { ago } from "@/lib/format";

export const syncQuery = { queryKey: ["sync"], queryFn: () => unwrap(api.GET("/api/v1/sync")), refetchInterval: 5000 };

/** The revision live now, and whether the head of the config branch applied (with its first error). */
export function SyncBanner() {
  const sync = useQuery(syncQuery);
  if (sync.error) return <Failure error={sync.error} />;
  if (!sync.data) return null;
  const { status, errors, last_applied, head } = sync.data;
  const first = errors[0];
  return (
    <Alert tone={status === "Error" ? "bad" : status === "Synced" ? "ok" : "info"} className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
      <span className="font-medium">{status}</span>
      <span className="font-mono text-xs">{last_applied.revision?.slice(0, 12) ?? "nothing applied yet"}</span>
      {head.message && <span className="truncate text-muted-foreground">{head.message.split("\n")[0]}</span>}
      {last_applied.at && <span className="text-muted-foreground">applied {ago(last_applied.at)}</span>}
      {first && (
        <span className="w-full font-mono text-xs">
          {first.file}
          {first.line != null && `:${first.line}:${first.column ?? 1}`}: {first.message}
          {first.hint && <span className="text-muted-foreground"> (hint: {first.hint})</span>}
        </span>
      )}
      <Link to="/sync" className="ml-auto text-primary underline-offset-4 hover:underline">
        Sync and drift
      </Link>
    </Alert>
  );
}
