import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { Check, Download, RotateCw, Square, X } from "lucide-react";
import { useEffect, useState } from "react";
import type { Schemas } from "@/api/client";
import { api, unwrap } from "@/api/query";
import { Failure, Loading } from "@/components/layout/state";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { canOperate, identityQuery } from "@/features/auth/session";
import { ago, duration, until, usd } from "@/lib/format";
import { useNow } from "@/lib/use-now";
import { DemoModelBanner } from "./demo-model";
import { commandOf } from "./event-text";
import { runQuery } from "./queries";
import { Report } from "./report";
import { RunLog } from "./run-log";
import { useRunAgain } from "./start-run";
import { OPEN, StatusBadge } from "./status";
import { useRunStream } from "./use-run-stream";

export function RunPage({ id }: { id: string }) {
  const run = useQuery({ ...runQuery(id), refetchInterval: (q) => (q.state.data && !OPEN.includes(q.state.data.status) ? false : 2000) });
  const stream = useRunStream(id);
  const queryClient = useQueryClient();
  const last = stream.events.at(-1)?.type;
  // The record moves with the stream: a held call, a decision, the end.
  useEffect(() => {
    if (last === "approval.requested" || last === "approval.resolved" || last === "run.finished")
      void queryClient.invalidateQueries({ queryKey: ["runs", id] });
  }, [last, id, queryClient]);

  if (run.isPending) return <Loading what="the run" />;
  if (run.error) return <Failure error={run.error} />;
  const r = run.data;
  return (
    <div className="flex h-[calc(100dvh-6rem)] flex-col gap-3">
      <DemoModelBanner run={r} />
      <RunHeader run={r} live={stream.state} />
      {r.approvals
        .filter((a) => a.status === "pending")
        .map((a) => (
          <ApprovalCard key={a.id} approval={a} />
        ))}
      <RunLog events={stream.events} />
    </div>
  );
}

function RunHeader({ run, live }: { run: Schemas["RunDetail"]; live: string }) {
  const who = useQuery(identityQuery);
  const cancel = useMutation({ mutationFn: () => unwrap(api.POST("/api/v1/runs/{id}/cancel", { params: { path: { id: run.id } } })) });
  const again = useRunAgain();
  const open = OPEN.includes(run.status);
  return (
    <Card>
      <CardContent className="flex flex-wrap items-center gap-x-4 gap-y-2 p-4">
        <h1 className="text-lg font-semibold">
          <Link to="/agents/$name" params={{ name: run.agent }} className="hover:underline">
            {run.agent}
          </Link>{" "}
          <span className="text-muted-foreground">on</span>{" "}
          <Link to="/nodes/$name" params={{ name: run.node }} className="hover:underline">
            {run.node}
          </Link>
        </h1>
        <StatusBadge status={run.status} />
        {open && <Badge tone={live === "live" ? "info" : "warn"}>{live}</Badge>}
        <span className="text-sm text-muted-foreground">
          {run.trigger}
          {run.started_by && ` by ${run.started_by}`} · {ago(run.created_at)} · took {duration(run.duration_ms)}
        </span>
        <span className="text-sm tabular-nums text-muted-foreground">
          {run.input_tokens + run.cache_read_input_tokens + run.cache_creation_input_tokens} in / {run.output_tokens} out ·{" "}
          {usd(run.cost_usd)}
        </span>
        {run.attempts.length > 1 && (
          <span className="flex gap-1 text-sm">
            attempts:
            {run.attempts.map((a) => (
              <Link key={a.id} to="/runs/$id" params={{ id: a.id }} className="underline-offset-4 hover:underline">
                #{a.attempt} {a.status}
              </Link>
            ))}
          </span>
        )}
        <span className="ml-auto flex gap-2">
          <Button variant="outline" size="sm" asChild>
            <a href={`/api/v1/runs/${encodeURIComponent(run.id)}/log`} download={`${run.id}.log`}>
              <Download aria-hidden /> Download log
            </a>
          </Button>
          {open && canOperate(who.data) && (
            <Button variant="outline" size="sm" disabled={cancel.isPending || cancel.isSuccess} onClick={() => cancel.mutate()}>
              <Square aria-hidden /> Cancel
            </Button>
          )}
          {!open && canOperate(who.data) && (
            <Button variant="outline" size="sm" disabled={again.isPending} onClick={() => again.mutate(run.id)}>
              <RotateCw aria-hidden /> Run again
            </Button>
          )}
        </span>
        {again.error && <Failure error={again.error} />}
        {run.error && <p className="w-full text-sm text-bad">{String((run.error as { message?: unknown }).message ?? "")}</p>}
        {run.summary && <p className="w-full text-sm">{run.summary}</p>}
        {run.report != null && (
          <details className="w-full" open>
            <summary className="cursor-pointer text-sm font-medium">Report</summary>
            <div className="overflow-x-auto pt-2">
              <Report report={run.report} />
            </div>
          </details>
        )}
        {cancel.error && <Failure error={cancel.error} />}
      </CardContent>
    </Card>
  );
}

function ApprovalCard({ approval }: { approval: Schemas["Approval"] }) {
  const who = useQuery(identityQuery);
  const queryClient = useQueryClient();
  const [comment, setComment] = useState("");
  const decide = useMutation({
    mutationFn: (decision: "approve" | "deny") =>
      unwrap(api.POST("/api/v1/approvals/{id}", { params: { path: { id: approval.id } }, body: { decision, comment: comment || null } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["runs", approval.run_id] }),
  });
  return (
    <Card className="border-warn">
      <CardContent className="flex flex-wrap items-center gap-2 p-4" data-testid="approval">
        <span className="font-medium">Held for approval:</span>
        <code className="rounded bg-muted px-1.5 py-0.5 text-sm">
          {approval.tool}: {commandOf(approval.input)}
        </code>
        {approval.reason && <span className="text-sm text-muted-foreground">{approval.reason}</span>}
        {approval.expires_at && <Countdown to={approval.expires_at} />}
        {canOperate(who.data) ? (
          <span className="ml-auto flex flex-wrap gap-2">
            <Input aria-label="Comment" placeholder="Comment (optional)" className="h-8 w-48" value={comment} onChange={(e) => setComment(e.target.value)} />
            <Button size="sm" disabled={decide.isPending} onClick={() => decide.mutate("approve")}>
              <Check aria-hidden /> Approve
            </Button>
            <Button size="sm" variant="destructive" disabled={decide.isPending} onClick={() => decide.mutate("deny")}>
              <X aria-hidden /> Deny
            </Button>
          </span>
        ) : (
          <span className="ml-auto text-sm text-muted-foreground">an operator decides</span>
        )}
        {decide.error && <Failure error={decide.error} />}
      </CardContent>
    </Card>
  );
}

/** "denied in 58m 12s unless answered", ticking each second. */
function Countdown({ to }: { to: string }) {
  const now = useNow();
  return <span className="text-sm tabular-nums text-muted-foreground">denied {until(to, now)} unless answered</span>;
}
