// How times, durations and money read in the dashboard.

/** "12s ago", "5m ago", "3h ago", "2d ago"; "just now" under a second. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 1) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** 850 → "850ms", 61000 → "1m 1s", 3_700_000 → "1h 1m". */
export function duration(ms: number | null | undefined): string {
  if (ms == null) return "–";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** How long until a time: "in 4m 12s", "in 2h 5m"; "now" once it has come. */
export function until(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "–";
  const ms = Date.parse(iso) - now;
  return ms < 1000 ? "now" : `in ${duration(ms)}`;
}

/** US dollars: "$0.0214" under a dollar (token costs are small), else "$12.40". */
export function usd(n: number | null | undefined): string {
  if (n == null) return "–";
  return n < 1 ? `$${n.toFixed(4)}` : `$${n.toFixed(2)}`;
}

/** The time of day of an event, to the millisecond: "14:03:07.123". */
export function clock(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
