import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "@/api/query";
import { usd } from "@/lib/format";

function useSpentSince(from: string) {
  return useQuery({
    queryKey: ["usage", from],
    queryFn: () => unwrap(api.GET("/api/v1/usage", { params: { query: { from, group_by: "day" } } })),
    refetchInterval: 30_000,
  });
}

/** What the model cost today (UTC) and this month, from the usage report. */
export function Spend() {
  const today = new Date();
  const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate())).toISOString();
  const month = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1)).toISOString();
  const d = useSpentSince(day);
  const m = useSpentSince(month);
  return (
    <span className="text-sm text-muted-foreground" data-testid="spend">
      Spent today <span className="font-medium text-foreground tabular-nums">{usd(d.data?.total.cost_usd)}</span>, this month{" "}
      <span className="font-medium text-foreground tabular-nums">{usd(m.data?.total.cost_usd)}</span>
    </span>
  );
}
