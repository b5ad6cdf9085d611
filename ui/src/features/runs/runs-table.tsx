import { Link } from "@tanstack/react-router";
import type { Schemas } from "@/api/client";
import { ago, duration, usd } from "@/lib/format";
import { DemoBadge, usedDemoModel } from "./demo-model";
import { StatusBadge } from "./status";

/** Runs, newest first: status, agent on node (marked when it used the demo model), what started it, when, how long, what it cost. */
export function RunsTable({ runs }: { runs: Schemas["RunView"][] }) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-sm">
        <thead className="text-left text-xs text-muted-foreground">
          <tr>
            <th className="px-4 py-2 font-medium">Status</th>
            <th className="px-2 py-2 font-medium">Agent</th>
            <th className="px-2 py-2 font-medium">Node</th>
            <th className="hidden px-2 py-2 font-medium sm:table-cell">Started by</th>
            <th className="px-2 py-2 font-medium">When</th>
            <th className="hidden px-2 py-2 text-right font-medium sm:table-cell">Took</th>
            <th className="hidden px-4 py-2 text-right font-medium md:table-cell">Cost</th>
          </tr>
        </thead>
        <tbody className="divide-y">
          {runs.map((r) => (
            <tr key={r.id} className="hover:bg-muted/50" data-testid="run-row">
              <td className="px-4 py-2">
                <Link to="/runs/$id" params={{ id: r.id }}>
                  <StatusBadge status={r.status} />
                  <span className="sr-only"> run {r.id}</span>
                </Link>
              </td>
              <td className="px-2 py-2">
                <Link to="/runs/$id" params={{ id: r.id }} className="font-medium hover:underline">
                  {r.agent}
                </Link>
                {usedDemoModel(r) && <DemoBadge className="ml-2" />}
              </td>
              <td className="px-2 py-2">{r.node}</td>
              <td className="hidden px-2 py-2 text-muted-foreground sm:table-cell">
                {r.trigger}
                {r.started_by && ` · ${r.started_by}`}
              </td>
              <td className="px-2 py-2 text-muted-foreground">{ago(r.created_at)}</td>
              <td className="hidden px-2 py-2 text-right tabular-nums sm:table-cell">{duration(r.duration_ms)}</td>
              <td className="hidden px-4 py-2 text-right tabular-nums md:table-cell">{usd(r.cost_usd)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
