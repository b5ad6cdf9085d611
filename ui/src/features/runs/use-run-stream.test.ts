import { describe, expect, it } from "vitest";
import type { RunEvent, RunStreamMessage } from "@/api/client";
import { readLines, take } from "./use-run-stream";

const log = (seq: number): RunStreamMessage =>
  ({ seq, ts: "2026-12-06T12:00:00Z", type: "log", data: { line: `line ${seq}`, stream: "stdout" } }) as RunStreamMessage;

describe("take", () => {
  it("keeps events in order once, whatever a reconnect replays", () => {
    const events: RunEvent[] = [];
    for (const seq of [1, 2, 3, 2, 3, 4]) expect(take(events, log(seq))).toBe("ok");
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });
  it("asks to reconnect on a gap marker or a skipped seq, and keeps nothing out of order", () => {
    const events: RunEvent[] = [];
    take(events, log(1));
    expect(take(events, log(5))).toBe("gap");
    expect(take(events, { type: "gap", data: { from: 2, to: 4, hint: "" } } as unknown as RunStreamMessage)).toBe("gap");
    expect(events.map((e) => e.seq)).toEqual([1]);
  });
  it("reads NDJSON however its chunks split the lines", async () => {
    const text = [1, 2, 3].map((seq) => JSON.stringify(log(seq))).join("\n") + "\n";
    const cuts = [0, 17, 18, 95, text.length];
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 1; i < cuts.length; i++) c.enqueue(new TextEncoder().encode(text.slice(cuts[i - 1], cuts[i])));
        c.close();
      },
    });
    const events: RunEvent[] = [];
    await readLines(body, (m) => take(events, m), () => false);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
  });
});
