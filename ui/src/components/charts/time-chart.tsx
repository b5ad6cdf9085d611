// Time series as charts, on uPlot (a small, fast chart library: ~20 KB,
// canvas, thousands of points without slowing the page). A sparkline is the
// same chart without axes or legend.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/** A line: its values at the chart's times, and how the legend writes one (default: one decimal). */
export type Series = { label: string; values: (number | null)[]; color: string; format?: (v: number) => string };

export function TimeChart({
  times,
  series,
  height = 160,
  spark = false,
  label,
  xRange,
  yRange,
}: {
  /** Seconds since the epoch, ascending. */
  times: number[];
  series: Series[];
  height?: number;
  spark?: boolean;
  /** What the chart shows, for screen readers. */
  label: string;
  /** The time span to show (seconds since the epoch), else the data's own. */
  xRange?: [number, number];
  /** The value span to show (0–100 for percentages), else the data's own. */
  yRange?: [number, number];
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || times.length === 0) return;
    const opts: uPlot.Options = {
      width: el.clientWidth || 300,
      height,
      legend: { show: !spark },
      cursor: { show: !spark },
      axes: spark
        ? [{ show: false }, { show: false }]
        : [{ stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.15)" } }, { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.15)" } }],
      scales: {
        x: { time: true, ...(xRange && { range: (): uPlot.Range.MinMax => xRange }) },
        y: yRange ? { range: (): uPlot.Range.MinMax => yRange } : {},
      },
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, value: (_: uPlot, v: number | null) => (v == null ? "–" : (s.format ?? ((n: number) => n.toFixed(1)))(v)) }))],
    };
    const plot = new uPlot(opts, [times, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series, height, spark, xRange, yRange]);
  if (times.length === 0) return <p className="text-xs text-muted-foreground">No data yet.</p>;
  return <div ref={box} role="img" aria-label={label} className="w-full text-muted-foreground" />;
}
