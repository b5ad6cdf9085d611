import { useQuery } from "@tanstack/react-query";
import { Failure, Loading } from "@/components/layout/state";
import { Alert } from "@/components/ui/alert";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { syncQuery } from "@/features/overview/sync-banner";

const KINDS = ["NotificationChannel", "NotificationRule", "Trigger"];

/** `/notifications`: what git declares; delivery is not built into the server yet, and the page says so. */
export function NotificationsPage() {
  const sync = useQuery(syncQuery);
  if (sync.isPending) return <Loading what="notifications" />;
  if (sync.error) return <Failure error={sync.error} />;
  const declared = sync.data.objects.filter((o) => KINDS.includes(o.kind));
  return (
    <div className="flex flex-col gap-4">
      <Alert>
        <p className="font-medium">This server validates notification channels, rules and triggers, but does not send or run them yet.</p>
        <p className="mt-1 text-muted-foreground">
          Gotify and webhook delivery, rules with conditions and webhook-triggered agents come with the next version;
          until then, nothing below sends a message or starts a run.
        </p>
      </Alert>
      <Card>
        <CardHeader>
          <CardTitle>Declared in git</CardTitle>
        </CardHeader>
        <CardContent className="p-0">
          <ul className="divide-y text-sm">
            {declared.map((o) => (
              <li key={`${o.kind}/${o.name}`} className="flex flex-wrap gap-x-3 px-4 py-1.5">
                <span className="text-muted-foreground">{o.kind}</span>
                <span className="font-medium">{o.name}</span>
                <span className="font-mono text-xs text-muted-foreground">
                  {o.file}:{o.line}
                </span>
              </li>
            ))}
            {declared.length === 0 && <li className="px-4 py-2 text-muted-foreground">None declared.</li>}
          </ul>
        </CardContent>
      </Card>
    </div>
  );
}
