import { describe, expect, it } from "vitest";
import { nameProblem, NAME_PATTERN } from "./names";

describe("nameProblem", () => {
  it("accepts what the server accepts", () => {
    for (const name of ["a", "7", "nightly", "disk-check", "zfs-scrub-2", "a1-b2-c3", "x".repeat(63)]) {
      expect(nameProblem(name), name).toBeNull();
      expect(NAME_PATTERN.test(name)).toBe(true);
    }
  });

  it("refuses what the server refuses, with why", () => {
    for (const name of ["Nightly", "disk_check", "disk check", "-disk", "disk-", "disk.check", "dísk", "x".repeat(64), " nightly", "nightly\n"]) {
      expect(nameProblem(name), JSON.stringify(name)).not.toBeNull();
    }
    expect(nameProblem("")).toBe("A name is required.");
    expect(nameProblem("x".repeat(64))).toBe("At most 63 characters.");
    expect(nameProblem("Disk")).toMatch(/Lowercase letters, digits and '-'/);
  });

  it("refuses a name already taken", () => {
    expect(nameProblem("nightly", ["nightly", "weekly"])).toBe("nightly already exists: edit it instead.");
    expect(nameProblem("hourly", ["nightly", "weekly"])).toBeNull();
  });
});
