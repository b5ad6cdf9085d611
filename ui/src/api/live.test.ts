import { describe, expect, it } from "vitest";
import { staleAfter } from "./live";

describe("live updates", () => {
  it("reload what an event touches, and everything after falling behind", () => {
    expect(staleAfter("run.succeeded")).toContain("runs");
    expect(staleAfter("approval.requested")).toEqual(["approvals", "runs", "notifications"]);
    expect(staleAfter("node.disconnected")).toContain("nodes");
    expect(staleAfter("lagged")).toBe("all");
    expect(staleAfter("something.new")).toEqual([]);
  });
});
