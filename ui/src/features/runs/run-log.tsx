// The run's events as lines: virtualized (a 100,000-line run stays smooth),
// following the end until the reader scrolls up, with a "jump to live"
// button, and a filter by text, event type and failures that applies to
// lines as they arrive.
import { useVirtualizer } from "@tanstack/react-virtual";
import { ArrowDown } from "lucide-react";
import { useLayoutEffect, useMemo, useRef, useState } from "react";
import type { RunEvent } from "@/api/client";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { clock } from "@/lib/format";
import { cn } from "@/lib/utils";
import { lineOf, type Line } from "./event-text";

const TYPES = ["assistant.text", "tool.call", "tool.result", "gather.output", "log", "approval.requested"] as const;

export function RunLog({ events }: { events: RunEvent[] }) {
  const [text, setText] = useState("");
  const [type, setType] = useState("");
  const [failedOnly, setFailedOnly] = useState(false);
  const lines = useRef<Line[]>([]);
  // Lines are made once per event, as they arrive.
  for (let i = lines.current.length; i < events.length; i++) lines.current.push(lineOf(events[i]!));
  if (events.length < lines.current.length) lines.current = events.map(lineOf);
  const count = events.length;
  const shown = useMemo(() => {
    const needle = text.toLowerCase();
    if (!needle && !type && !failedOnly) return lines.current;
    return lines.current.filter(
      (l) =>
        (!type || l.type === type) &&
        (!failedOnly || l.failed) &&
        (!needle || l.text.toLowerCase().includes(needle) || l.more?.toLowerCase().includes(needle)),
    );
  }, [text, type, failedOnly, count]); // eslint-disable-line react-hooks/exhaustive-deps -- lines grow in place

  const scroller = useRef<HTMLDivElement>(null);
  const [following, setFollowing] = useState(true);
  const rows = useVirtualizer({
    count: shown.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 22,
    overscan: 20,
  });
  // Following: stay at the end as lines come (one scroll, after React's commit, before paint).
  useLayoutEffect(() => {
    const el = scroller.current;
    if (following && el) el.scrollTop = el.scrollHeight;
  });

  return (
    <div className="flex min-h-0 flex-1 flex-col gap-2">
      <div className="flex flex-wrap items-center gap-2">
        <Input
          aria-label="Search the log"
          placeholder="Search the log"
          className="max-w-xs"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <select
          aria-label="Event type"
          className="h-9 rounded-md border border-input bg-background px-2 text-sm"
          value={type}
          onChange={(e) => setType(e.target.value)}
        >
          <option value="">All events</option>
          {TYPES.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
        <label className="flex items-center gap-1.5 text-sm">
          <input type="checkbox" checked={failedOnly} onChange={(e) => setFailedOnly(e.target.checked)} />
          Failures only
        </label>
        <span className="ml-auto text-xs text-muted-foreground">
          {shown.length === count ? `${count} lines` : `${shown.length} of ${count} lines`}
        </span>
      </div>
      <div className="relative min-h-0 flex-1">
        <div
          ref={scroller}
          className="h-full overflow-auto rounded-md border bg-card font-mono text-xs"
          data-testid="run-log"
          onScroll={(e) => {
            const el = e.currentTarget;
            setFollowing(el.scrollHeight - el.scrollTop - el.clientHeight < 40);
          }}
        >
          <div style={{ height: rows.getTotalSize(), position: "relative" }}>
            {rows.getVirtualItems().map((row) => {
              const line = shown[row.index]!;
              return (
                <div
                  key={line.seq}
                  data-index={row.index}
                  ref={rows.measureElement}
                  className={cn("absolute left-0 w-full px-3 py-0.5", line.failed && "bg-bad/10")}
                  style={{ transform: `translateY(${row.start}px)` }}
                  data-testid="log-line"
                  data-type={line.type}
                >
                  <span className="mr-2 select-none text-muted-foreground">{clock(line.ts)}</span>
                  <span className="mr-2 select-none text-muted-foreground">{line.type}</span>
                  <span className="whitespace-pre-wrap break-words">{line.text}</span>
                  {line.more && (
                    <details className="ml-4">
                      <summary className="cursor-pointer select-none text-muted-foreground">more</summary>
                      <pre className="whitespace-pre-wrap break-words">{line.more}</pre>
                    </details>
                  )}
                </div>
              );
            })}
          </div>
        </div>
        {!following && (
          <Button size="sm" className="absolute bottom-3 right-3 shadow" onClick={() => setFollowing(true)}>
            <ArrowDown aria-hidden /> Jump to live
          </Button>
        )}
      </div>
    </div>
  );
}
