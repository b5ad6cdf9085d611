import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { api, unwrap } from "@/api/query";
import { TimeChart, type Series } from "@/components/charts/time-chart";
import { Failure } from "@/components/layout/state";

const COLORS = { cpu: "#d97706", memory: "#2563eb", disk: "#16a34a" };
const UNIT = { m: 60, h: 3600, d: 86400 } as const;

/** "6h" → 21600 seconds (the API's ranges: minutes, hours, days). */
function seconds(range: string): number {
  const m = /^(\d+)([mhd])$/.exec(range);
  return m ? Number(m[1]) * UNIT[m[2] as keyof typeof UNIT] : 6 * 3600;
}

const percent = (v: number) => `${v.toFixed(1)}%`;

/** A node's CPU, memory and disk over `range` (1h, 6h, 2d, 30d): a sparkline or a chart with axes. */
export function NodeMetrics({ name, range = "6h", spark = false }: { name: string; range?: string; spark?: boolean }) {
  const metrics = useQuery({
    queryKey: ["metrics", name, range],
    queryFn: () => unwrap(api.GET("/api/v1/nodes/{name}/metrics", { params: { path: { name }, query: { range } } })),
    refetchInterval: 60_000,
  });
  const data = useMemo(() => {
    const points = metrics.data?.points ?? [];
    const times = points.map((p) => Date.parse(p.bucket) / 1000);
    const series: Series[] = [
      { label: "CPU", values: points.map((p) => p.cpu_percent), color: COLORS.cpu, format: percent },
      { label: "memory", values: points.map((p) => p.memory_percent), color: COLORS.memory, format: percent },
      { label: "disk", values: points.map((p) => p.disk_percent), color: COLORS.disk, format: percent },
    ];
    const now = Date.now() / 1000;
    return { times, series, xRange: [now - seconds(range), now] as [number, number] };
  }, [metrics.data, range]);
  if (metrics.error) return spark ? null : <Failure error={metrics.error} />;
  const last = metrics.data?.points.at(-1);
  const label = last
    ? `${name}: CPU ${last.cpu_percent.toFixed(0)}%, memory ${last.memory_percent.toFixed(0)}%, disk ${last.disk_percent.toFixed(0)}% over ${range}`
    : `${name}: no metrics yet`;
  return (
    <TimeChart
      times={data.times}
      series={data.series}
      spark={spark}
      height={spark ? 28 : 180}
      label={label}
      xRange={data.xRange}
      yRange={[0, 100]}
    />
  );
}
