import { describe, expect, it } from "vitest";
import { ago, duration, until, usd } from "./format";

describe("format", () => {
  it("says how long ago in the largest whole unit", () => {
    const now = Date.parse("2026-12-06T12:00:00Z");
    expect(ago("2026-12-06T11:59:50Z", now)).toBe("10s ago");
    expect(ago("2026-12-06T11:00:00Z", now)).toBe("1h ago");
    expect(ago("2026-12-03T12:00:00Z", now)).toBe("3d ago");
    expect(ago(null, now)).toBe("never");
  });
  it("writes durations and dollars for people", () => {
    expect(duration(850)).toBe("850ms");
    expect(duration(61_000)).toBe("1m 1s");
    expect(duration(3_700_000)).toBe("1h 1m");
    expect(duration(null)).toBe("–");
    expect(usd(0.02141)).toBe("$0.0214");
    expect(usd(12.4)).toBe("$12.40");
  });
  it("counts down to a time, and says now once it has come", () => {
    const now = Date.parse("2026-12-06T12:00:00Z");
    expect(until("2026-12-06T12:04:12Z", now)).toBe("in 4m 12s");
    expect(until("2026-12-06T11:59:00Z", now)).toBe("now");
    expect(until(null, now)).toBe("–");
  });
});
