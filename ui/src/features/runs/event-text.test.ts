import { describe, expect, it } from "vitest";
import type { RunEvent } from "@/api/client";
import { lineOf } from "./event-text";

const at = { seq: 3, ts: "2026-12-06T12:00:00Z" };

describe("lineOf", () => {
  it("shows a call with its decision and rule, and why only when it was not allowed", () => {
    const allowed = lineOf({ ...at, type: "tool.call", data: { tool: "Bash", input: { command: "ls /" }, decision: "allow", rule: "Bash(ls *)", reason: "reads", tool_use_id: "t1" } } as RunEvent);
    expect(allowed.text).toBe("Bash: ls /  → allow by Bash(ls *)");
    expect(allowed.more).toBeUndefined();
    const denied = lineOf({ ...at, type: "tool.call", data: { tool: "Bash", input: { command: "rm -rf /" }, decision: "deny", rule: "Bash(rm *)", reason: "deletes", tool_use_id: "t2" } } as RunEvent);
    expect(denied.failed).toBe(true);
    expect(denied.more).toBe("deletes");
  });
  it("puts a one-line result inline and folds a longer one", () => {
    const one = lineOf({ ...at, type: "tool.result", data: { tool_use_id: "t1", output: "step-04-seen\n", is_error: false } } as RunEvent);
    expect(one.text).toBe("result: step-04-seen");
    expect(one.more).toBeUndefined();
    const many = lineOf({ ...at, type: "tool.result", data: { tool_use_id: "t1", output: "bin\nboot\netc\n", is_error: true } } as RunEvent);
    expect(many.text).toBe("result (error): bin");
    expect(many.more).toBe("bin\nboot\netc\n");
    expect(many.failed).toBe(true);
  });
});
