import { useMutation, useQuery } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { Send } from "lucide-react";
import { useState } from "react";
import type { Schemas } from "@/api/client";
import { api, unwrap } from "@/api/query";
import { Pager, usePages } from "@/components/layout/pager";
import { Empty, Failure, Loading } from "@/components/layout/state";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { canOperate, identityQuery } from "@/features/auth/session";
import { NEW_RULE, NewObjectDialog } from "@/features/config/new-object";
import { ObjectActions } from "@/features/config/object-actions";
import { channelForm } from "@/features/config/forms/channel";
import { rawForm } from "@/features/config/forms/raw";
import { channelSpec, ruleSpec } from "@/features/config/forms/views";
import { strings } from "@/features/config/spec";
import { syncQuery } from "@/features/overview/sync-banner";
import { ago } from "@/lib/format";

type Status = Schemas["DeliveryStatus"];
const TONE = { sent: "ok", queued: "warn", sending: "info", failed: "bad", suppressed: "neutral" } as const;
const HEALTH = { ok: "ok", failing: "bad", unused: "neutral" } as const;
const select = "h-9 rounded-md border border-input bg-background px-2 text-sm";

/** `/notifications`: each channel's health with "send test", the rules, and the messages sent, waiting, failed or throttled; channels and rules edited by commits. */
export function NotificationsPage() {
  return (
    <div className="flex flex-col gap-4">
      <Channels />
      <Rules />
      <Messages />
    </div>
  );
}

function Channels() {
  const channels = useQuery({
    queryKey: ["notifications", "channels"],
    queryFn: () => unwrap(api.GET("/api/v1/notifications/channels")),
    refetchInterval: 10_000,
  });
  const who = useQuery(identityQuery);
  const [result, setResult] = useState<Schemas["TestResult"] | null>(null);
  const test = useMutation({
    mutationFn: (name: string) => unwrap(api.POST("/api/v1/notifications/channels/{name}/test", { params: { path: { name } } })),
    onSuccess: setResult,
  });
  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-center justify-between gap-2">
        <CardTitle>Channels</CardTitle>
        {canOperate(who.data) && <NewObjectDialog kind="notification-channels" noun="channel" model={channelForm} taken={channels.data?.channels.map((c) => c.name)} />}
      </CardHeader>
      <CardContent className="p-0">
        {channels.isPending && <Loading what="channels" />}
        {channels.error && <Failure error={channels.error} />}
        {test.error && <Failure error={test.error} />}
        {result && (
          <p className={result.sent ? "px-4 py-2 text-sm text-ok" : "px-4 py-2 text-sm text-bad"} role="status">
            {result.sent ? `A test message went to ${result.channel}.` : `${result.channel} did not take the test message: ${result.error}`}
          </p>
        )}
        {channels.data?.channels.length === 0 && <Empty>No channels: declare a NotificationChannel (gotify or webhook) in git.</Empty>}
        <ul className="divide-y">
          {channels.data?.channels.map((c) => (
            <li key={c.name} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2 text-sm" data-testid="channel">
              <span className="font-medium">{c.name}</span>
              <Badge tone={HEALTH[c.health]}>{c.health}</Badge>
              <span className="text-muted-foreground">
                {c.kind} · <span className="font-mono text-xs">{c.url}</span>
              </span>
              <span className="text-muted-foreground">
                last sent {ago(c.last_sent_at)}
                {c.queued > 0 && `, ${c.queued} waiting`}
                {c.failed_24h > 0 && `, ${c.failed_24h} given up today`}
              </span>
              {canOperate(who.data) && (
                <span className="ml-auto flex flex-wrap gap-2">
                  <Button size="sm" variant="outline" disabled={test.isPending} onClick={() => test.mutate(c.name)}>
                    <Send aria-hidden /> Send test
                  </Button>
                  <ObjectActions kind="notification-channels" name={c.name} noun="channel" model={channelForm} spec={channelSpec(c)} revision={c.revision} />
                </span>
              )}
              {c.health === "failing" && c.last_error && <p className="w-full text-xs text-bad">{c.last_error}</p>}
            </li>
          ))}
        </ul>
      </CardContent>
    </Card>
  );
}

/** The NotificationRules, each with its spec as git has it: edited as JSON, by commits. */
function Rules() {
  const rules = useQuery({
    queryKey: ["notifications", "rules"],
    queryFn: () => unwrap(api.GET("/api/v1/notifications/rules")),
    refetchInterval: 30_000,
  });
  // How the sync took each rule (a rule the config refuses shows why).
  const sync = useQuery(syncQuery);
  const who = useQuery(identityQuery);
  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-center justify-between gap-2">
        <CardTitle>Rules</CardTitle>
        {canOperate(who.data) && (
          <NewObjectDialog
            kind="notification-rules"
            noun="rule"
            model={rawForm}
            start={{ json: NEW_RULE }}
            taken={rules.data?.rules.map((r) => r.name)}
            description="The rule's spec as JSON: the events it sends and the channels they go to, and any filter, condition, priority, throttle or wait."
          />
        )}
      </CardHeader>
      <CardContent className="p-0">
        {rules.isPending && <Loading what="rules" />}
        {rules.error && <Failure error={rules.error} />}
        {rules.data?.rules.length === 0 && <Empty>No rules: declare a NotificationRule in git to send events to channels.</Empty>}
        <ul className="divide-y">
          {rules.data?.rules.map((r) => {
            const spec = ruleSpec(r);
            const events = strings(spec.events);
            const channels = strings(spec.channels);
            const status = sync.data?.objects.find((o) => o.kind === "NotificationRule" && o.name === r.name);
            return (
              <li key={r.name} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2 text-sm" data-testid="rule">
                <span className="font-medium">{r.name}</span>
                {status && status.status !== "Synced" && <Badge tone={status.status === "Error" ? "bad" : "warn"}>{status.status}</Badge>}
                {(events.length > 0 || channels.length > 0) && (
                  <span className="text-muted-foreground">
                    {events.join(", ") || "no event"} → {channels.join(", ") || "no channel"}
                  </span>
                )}
                <span className="font-mono text-xs text-muted-foreground">{r.declared_at}</span>
                {canOperate(who.data) && (
                  <span className="ml-auto flex gap-2">
                    <ObjectActions kind="notification-rules" name={r.name} noun="rule" model={rawForm} spec={spec} revision={r.revision} description="The rule's spec as JSON (events, channels, and any filter, condition, priority, throttle or wait); the preview shows what changes in git." />
                  </span>
                )}
                {status?.message && <p className="w-full text-xs text-muted-foreground">{status.message}</p>}
              </li>
            );
          })}
        </ul>
      </CardContent>
    </Card>
  );
}

/** A link to the page a message is about, when it is one of the dashboard's own. */
function Target({ url, title }: { url: string | null | undefined; title: string }) {
  const path = url ? new URL(url, location.origin).pathname : "";
  const run = /^\/runs\/([^/]+)$/.exec(path)?.[1];
  if (run)
    return (
      <Link to="/runs/$id" params={{ id: decodeURIComponent(run) }} className="hover:underline">
        {title}
      </Link>
    );
  return <span>{title}</span>;
}

function Messages() {
  const [status, setStatus] = useState("");
  const paging = usePages<number>();
  const before = paging.before;
  const list = useQuery({
    queryKey: ["notifications", { status, before }],
    queryFn: () =>
      unwrap(api.GET("/api/v1/notifications", { params: { query: { status: (status || undefined) as Status | undefined, before, limit: 50 } } })),
    refetchInterval: before ? false : 5000,
  });
  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-center gap-2">
        <CardTitle>Messages</CardTitle>
        <select aria-label="Status" className={select} value={status} onChange={(e) => (setStatus(e.target.value), paging.reset())}>
          <option value="">every status</option>
          {(["sent", "queued", "failed", "suppressed"] satisfies Status[]).map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </CardHeader>
      <CardContent className="p-0">
        {list.isPending && <Loading what="messages" />}
        {list.error && <Failure error={list.error} />}
        {list.data?.items.length === 0 && <Empty>No messages yet: a NotificationRule sends them when its events happen.</Empty>}
        <ul className="divide-y text-sm">
          {list.data?.items.map((d) => (
            <li key={d.id} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2" data-testid="delivery">
              <Badge tone={TONE[d.status]}>{d.status}</Badge>
              <Target url={d.url} title={d.title} />
              <span className="text-muted-foreground">
                {d.rule} → {d.channel}
              </span>
              <span className="ml-auto text-muted-foreground" title={d.created_at}>
                {ago(d.created_at)}
                {d.attempts > 1 && ` · ${d.attempts} tries`}
              </span>
              {(d.last_error || d.note) && <p className={d.last_error ? "w-full text-xs text-bad" : "w-full text-xs text-muted-foreground"}>{d.last_error ?? d.note}</p>}
            </li>
          ))}
        </ul>
        <Pager paging={paging} next={list.data?.next == null ? null : Number(list.data.next)} />
      </CardContent>
    </Card>
  );
}
