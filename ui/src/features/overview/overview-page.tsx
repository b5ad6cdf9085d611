import { useQuery } from "@tanstack/react-query";
import { Empty, Failure, Loading } from "@/components/layout/state";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { canOperate, identityQuery } from "@/features/auth/session";
import { recentRunsQuery } from "@/features/runs/queries";
import { RunsTable } from "@/features/runs/runs-table";
import { StartRun } from "@/features/runs/start-run";
import { ApprovalsPanel } from "./approvals-panel";
import { NodesPanel } from "./nodes-panel";
import { Spend } from "./spend";
import { SyncBanner } from "./sync-banner";

export function OverviewPage() {
  const who = useQuery(identityQuery);
  const runs = useQuery(recentRunsQuery);
  return (
    <div className="flex flex-col gap-4">
      <SyncBanner />
      <ApprovalsPanel />
      <NodesPanel />
      <Card>
        <CardHeader className="flex-row flex-wrap items-center justify-between gap-2">
          <CardTitle>Recent runs</CardTitle>
          <Spend />
          {canOperate(who.data) && <StartRun />}
        </CardHeader>
        <CardContent className="p-0">
          {runs.isPending && <Loading what="runs" />}
          {runs.error && <Failure error={runs.error} />}
          {runs.data?.items.length === 0 && <Empty>No runs yet: start one above, or wait for a schedule.</Empty>}
          {runs.data && runs.data.items.length > 0 && <RunsTable runs={runs.data.items} />}
        </CardContent>
      </Card>
    </div>
  );
}
