import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Pause, Play } from "lucide-react";
import { api, unwrap } from "@/api/query";
import { Empty, Failure, Loading } from "@/components/layout/state";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { canOperate, identityQuery } from "@/features/auth/session";

type ScheduleSpec = { agent?: string; cron?: string; every?: string; nodes?: unknown };

function when(iso: string | null | undefined): string {
  if (!iso) return "–";
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
  if (s < 60) return `in ${Math.max(s, 0)}s`;
  if (s < 3600) return `in ${Math.floor(s / 60)}m`;
  if (s < 86400) return `in ${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return new Date(iso).toLocaleString();
}

/** `/schedules`: what fires when, paused or not; pause and resume (outside git, shown as drift). */
export function SchedulesPage() {
  const schedules = useQuery({ queryKey: ["schedules"], queryFn: () => unwrap(api.GET("/api/v1/schedules")), refetchInterval: 10_000 });
  const who = useQuery(identityQuery);
  const queryClient = useQueryClient();
  const toggle = useMutation({
    mutationFn: ({ name, paused }: { name: string; paused: boolean }) =>
      paused
        ? unwrap(api.POST("/api/v1/schedules/{name}/resume", { params: { path: { name } } }))
        : unwrap(api.POST("/api/v1/schedules/{name}/pause", { params: { path: { name } }, body: { reason: "paused in the dashboard" } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["schedules"] }),
  });
  return (
    <Card>
      <CardHeader>
        <CardTitle>Schedules</CardTitle>
      </CardHeader>
      <CardContent className="p-0">
        {schedules.isPending && <Loading what="schedules" />}
        {schedules.error && <Failure error={schedules.error} />}
        {toggle.error && <Failure error={toggle.error} />}
        {schedules.data?.schedules.length === 0 && <Empty>No schedules: declare one in git.</Empty>}
        <ul className="divide-y">
          {schedules.data?.schedules.map((s) => {
            const spec = s.spec as ScheduleSpec;
            return (
              <li key={s.name} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2 text-sm">
                <span className="font-medium">{s.name}</span>
                <span className="text-muted-foreground">
                  {spec.agent} · {spec.cron ?? (spec.every && `every ${spec.every}`)}
                </span>
                {s.paused && <Badge tone="warn">paused{s.paused_reason && `: ${s.paused_reason}`}</Badge>}
                <span className="ml-auto text-muted-foreground">next {when(s.next_fire)}</span>
                {canOperate(who.data) && (
                  <Button size="sm" variant="outline" disabled={toggle.isPending} onClick={() => toggle.mutate({ name: s.name, paused: s.paused })}>
                    {s.paused ? <Play aria-hidden /> : <Pause aria-hidden />}
                    {s.paused ? "Resume" : "Pause"}
                  </Button>
                )}
              </li>
            );
          })}
        </ul>
      </CardContent>
    </Card>
  );
}
