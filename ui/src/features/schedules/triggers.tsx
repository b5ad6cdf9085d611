import { useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { Copy } from "lucide-react";
import { api, unwrap } from "@/api/query";
import { Empty, Failure, Loading } from "@/components/layout/state";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { canOperate, identityQuery } from "@/features/auth/session";
import { NEW_TRIGGER, NewObjectDialog } from "@/features/config/new-object";
import { ObjectActions } from "@/features/config/object-actions";
import { rawForm } from "@/features/config/forms/raw";
import { triggerSpec } from "@/features/config/forms/views";
import { ago } from "@/lib/format";

const TONE = { started: "ok", condition_false: "neutral", cooling_down: "neutral", nothing_to_start: "warn", refused: "bad", invalid: "bad" } as const;

/** Webhook triggers: the URL to give the sender, what they start, and how the last call went; edited and deleted by commits. */
export function Triggers() {
  const triggers = useQuery({ queryKey: ["triggers"], queryFn: () => unwrap(api.GET("/api/v1/triggers")), refetchInterval: 10_000 });
  const who = useQuery(identityQuery);
  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-center justify-between gap-2">
        <CardTitle>Triggers</CardTitle>
        {canOperate(who.data) && (
          <NewObjectDialog
            kind="triggers"
            noun="trigger"
            model={rawForm}
            start={{ json: NEW_TRIGGER }}
            taken={triggers.data?.triggers.map((t) => t.name)}
            description="The trigger's spec as JSON: the secret its callers sign with (an environment variable or a stored secret), the agents it starts and on which nodes, and any condition or cooldown."
          />
        )}
      </CardHeader>
      <CardContent className="p-0">
        {triggers.isPending && <Loading what="triggers" />}
        {triggers.error && <Failure error={triggers.error} />}
        {triggers.data?.triggers.length === 0 && <Empty>No triggers: declare a Trigger in git to start agents from Alertmanager, Uptime Kuma or Grafana.</Empty>}
        <ul className="divide-y">
          {triggers.data?.triggers.map((t) => (
            <li key={t.name} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2 text-sm" data-testid="trigger">
              <span className="font-medium">{t.name}</span>
              <span className="text-muted-foreground">
                starts {t.agents.join(", ")}
                {t.cooldown && ` · cooldown ${t.cooldown}`}
                {t.condition && (
                  <>
                    {" "}
                    · when <code className="rounded bg-muted px-1 text-xs">{t.condition}</code>
                  </>
                )}
              </span>
              <span className="flex min-w-0 items-center gap-1">
                <code className="truncate rounded bg-muted px-1.5 py-0.5 text-xs">{t.url}</code>
                <Button size="icon" variant="ghost" aria-label={`Copy the URL of ${t.name}`} onClick={() => navigator.clipboard.writeText(t.url)}>
                  <Copy aria-hidden />
                </Button>
              </span>
              <span className="ml-auto flex flex-wrap items-center gap-2 text-muted-foreground">
                {t.last_call ? (
                  <>
                    last call {ago(t.last_call.at)} <Badge tone={TONE[t.last_call.outcome]}>{t.last_call.outcome.replace("_", " ")}</Badge>
                    {t.last_call.run_ids.map((id) => (
                      <Link key={id} to="/runs/$id" params={{ id }} className="font-mono text-xs hover:underline">
                        {id.slice(-8)}
                      </Link>
                    ))}
                  </>
                ) : (
                  "never called"
                )}
              </span>
              {canOperate(who.data) && (
                <span className="flex gap-2">
                  <ObjectActions kind="triggers" name={t.name} noun="trigger" model={rawForm} spec={triggerSpec(t)} revision={t.revision} />
                </span>
              )}
              {t.last_call?.reason && t.last_call.outcome !== "started" && <p className="w-full text-xs text-muted-foreground">{t.last_call.reason}</p>}
            </li>
          ))}
        </ul>
      </CardContent>
    </Card>
  );
}
