import { describe, expect, it } from "vitest";
import type { RunEvent, RunStreamMessage } from "@/api/client";
import { take } from "./use-run-stream";

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
});
