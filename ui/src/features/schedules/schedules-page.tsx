import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "@tanstack/react-router";
import { GitCommitHorizontal, Pause, Play } from "lucide-react";
import { api, unwrap } from "@/api/query";
import { Empty, Failure, Loading } from "@/components/layout/state";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { canOperate, identityQuery } from "@/features/auth/session";
import { EditDialog } from "@/features/config/edit-dialog";
import { NewObjectDialog } from "@/features/config/new-object";
import { ObjectActions } from "@/features/config/object-actions";
import { scheduleForm, type ScheduleValues } from "@/features/config/forms/schedule";
import { StatusBadge } from "@/features/runs/status";
import { ago, until } from "@/lib/format";
import { useNow } from "@/lib/use-now";
import { Triggers } from "./triggers";

/** A new schedule: nightly at 03:00 on every node; the agents are the user's to pick. */
const NEW_SCHEDULE = { cron: "0 3 * * *", agents: [], nodes: { mode: "all" } } satisfies Partial<ScheduleValues>;

type ScheduleSpec = { agents?: string[]; cron?: string; every?: string; nodes?: unknown; enabled?: boolean };

/** "in 4m 12s" within a day, the date and time beyond. */
function when(iso: string | null | undefined, now: number): string {
  if (!iso) return "–";
  return Date.parse(iso) - now < 86_400_000 ? until(iso, now) : new Date(iso).toLocaleString();
}

/**
 * `/schedules`: what fires when, paused or not, how it last went; pause and
 * resume here (outside git, shown as drift) or in git (a commit of
 * `enabled`); edit and delete (commits); the webhook triggers.
 */
export function SchedulesPage() {
  const schedules = useQuery({ queryKey: ["schedules"], queryFn: () => unwrap(api.GET("/api/v1/schedules")), refetchInterval: 10_000 });
  const who = useQuery(identityQuery);
  const queryClient = useQueryClient();
  const now = useNow();
  const toggle = useMutation({
    mutationFn: ({ name, paused }: { name: string; paused: boolean }) =>
      paused
        ? unwrap(api.POST("/api/v1/schedules/{name}/resume", { params: { path: { name } } }))
        : unwrap(api.POST("/api/v1/schedules/{name}/pause", { params: { path: { name } }, body: { reason: "paused in the dashboard" } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["schedules"] }),
  });
  return (
    <div className="flex flex-col gap-4">
      <Card>
        <CardHeader className="flex-row flex-wrap items-center justify-between gap-2">
          <CardTitle>Schedules</CardTitle>
          {canOperate(who.data) && (
            <NewObjectDialog kind="schedules" noun="schedule" model={scheduleForm} start={NEW_SCHEDULE} taken={schedules.data?.schedules.map((s) => s.name)} />
          )}
        </CardHeader>
        <CardContent className="p-0">
          {schedules.isPending && <Loading what="schedules" />}
          {schedules.error && <Failure error={schedules.error} />}
          {toggle.error && <Failure error={toggle.error} />}
          {schedules.data?.schedules.length === 0 && <Empty>No schedules: declare one in git.</Empty>}
          <ul className="divide-y">
            {schedules.data?.schedules.map((s) => {
              const spec = s.spec as ScheduleSpec;
              const enabled = spec.enabled !== false;
              return (
                <li key={s.name} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2 text-sm" data-testid="schedule">
                  <span className="font-medium">{s.name}</span>
                  <span className="text-muted-foreground">
                    {spec.agents?.join(", ")} · {spec.cron ?? (spec.every && `every ${spec.every}`)}
                  </span>
                  {!enabled && <Badge tone="warn">disabled in git</Badge>}
                  {s.paused && <Badge tone="warn">paused here{s.paused_reason && `: ${s.paused_reason}`}</Badge>}
                  <span className="ml-auto flex items-center gap-2 text-muted-foreground">
                    {s.last_run ? (
                      <Link to="/runs/$id" params={{ id: s.last_run.id }} className="flex items-center gap-1 hover:underline">
                        last {ago(s.last_run.created_at, now)} on {s.last_run.node} <StatusBadge status={s.last_run.status} />
                      </Link>
                    ) : (
                      "never fired"
                    )}
                  </span>
                  <span className="tabular-nums text-muted-foreground">next {when(s.next_fire, now)}</span>
                  {canOperate(who.data) && (
                    <span className="flex w-full flex-wrap gap-2 sm:w-auto">
                      <Button
                        size="sm"
                        variant="outline"
                        disabled={toggle.isPending}
                        title="Here only, not in git: shown as drift until resumed"
                        onClick={() => toggle.mutate({ name: s.name, paused: s.paused })}
                      >
                        {s.paused ? <Play aria-hidden /> : <Pause aria-hidden />}
                        {s.paused ? "Resume here" : "Pause here"}
                      </Button>
                      <EditDialog
                        kind="schedules"
                        name={s.name}
                        title={`schedule ${s.name}`}
                        model={scheduleForm}
                        spec={s.spec}
                        revision={s.revision}
                        start={{ enabled: !enabled }}
                        message={`${enabled ? "Pause" : "Resume"} schedule ${s.name}`}
                        description={`A commit setting enabled: ${!enabled} in git, for everyone, until another commit changes it.`}
                        trigger={
                          <Button size="sm" variant="outline" title="A commit to the config repository">
                            <GitCommitHorizontal aria-hidden />
                            {enabled ? "Pause in git" : "Resume in git"}
                          </Button>
                        }
                      />
                      <ObjectActions kind="schedules" name={s.name} noun="schedule" model={scheduleForm} spec={s.spec} revision={s.revision} />
                    </span>
                  )}
                </li>
              );
            })}
          </ul>
        </CardContent>
      </Card>
      <Triggers />
    </div>
  );
}
