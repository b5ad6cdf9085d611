import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "@/api/query";
import { cn } from "@/lib/utils";
import { usd } from "@/lib/format";

/** Spent against a limit: "$1.20 of $5.00" with a bar; just the spend when there is no limit. */
function Against({ label, spent, limit }: { label: string; spent: number; limit: number | null | undefined }) {
  const share = limit ? Math.min(spent / limit, 1) : null;
  return (
    <span className="inline-flex items-center gap-1.5">
      {label} <span className="font-medium tabular-nums text-foreground">{usd(spent)}</span>
      {limit != null && (
        <>
          of <span className="tabular-nums">{usd(limit)}</span>
          <span
            role="meter"
            aria-label={`${label} against the budget`}
            aria-valuemin={0}
            aria-valuemax={limit}
            aria-valuenow={spent}
            className="inline-block h-1.5 w-16 overflow-hidden rounded-full bg-muted"
          >
            <span className={cn("block h-full", share! >= 1 ? "bg-bad" : share! >= 0.8 ? "bg-warn" : "bg-ok")} style={{ width: `${share! * 100}%` }} />
          </span>
        </>
      )}
    </span>
  );
}

/** What the model cost today (UTC) and this month, against the server's budget, and why model runs wait if they do. */
export function Spend() {
  const budget = useQuery({ queryKey: ["budget"], queryFn: () => unwrap(api.GET("/api/v1/budget")), refetchInterval: 30_000 });
  const b = budget.data;
  if (!b) return null;
  return (
    <span className="flex flex-wrap items-center gap-x-3 text-sm text-muted-foreground" data-testid="spend">
      <Against label="Spent today" spent={b.spent_today_usd} limit={b.daily_limit_usd} />
      <Against label="this month" spent={b.spent_this_month_usd} limit={b.monthly_limit_usd} />
      {b.held && <span className="font-medium text-foreground">{b.held}</span>}
    </span>
  );
}
