import { cleanup, getDefaultNormalizer, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { DiffView, diffLines, PlanView } from "./review";

afterEach(cleanup);

// Diff lines are matched as they are: their leading spaces are the YAML's indentation.
const exact = { normalizer: getDefaultNormalizer({ trim: false, collapseWhitespace: false }) };

const diff = `--- a/schedules.yaml
+++ b/schedules.yaml
@@ -3,4 +3,4 @@
 spec:
-  cron: "0 3 * * *"
+  cron: "30 4 * * *"
   agents: [lister]
\\ No newline at end of file
`;

describe("diffLines", () => {
  it("tells file headers, hunks, additions, removals and context apart", () => {
    expect(diffLines(diff).map((l) => l.kind)).toEqual(["file", "file", "hunk", "context", "del", "add", "context", "note"]);
  });
});

describe("DiffView", () => {
  it("colours added lines ok and removed lines bad, each line its own row", () => {
    const { container } = render(<DiffView diff={diff} />);
    const added = screen.getByText('+  cron: "30 4 * * *"', exact);
    const removed = screen.getByText('-  cron: "0 3 * * *"', exact);
    expect(added.className).toContain("text-ok");
    expect(added.dataset.kind).toBe("add");
    expect(removed.className).toContain("text-bad");
    expect(removed.dataset.kind).toBe("del");
    expect(container.querySelectorAll("[data-kind]")).toHaveLength(8);
  });
  it("keeps markup in the file as text", () => {
    const { container } = render(<DiffView diff={'+  description: "<img src=x onerror=alert(1)><b>bold</b>"\n'} />);
    expect(container.querySelector("img, b, script")).toBeNull();
    expect(screen.getByText('+  description: "<img src=x onerror=alert(1)><b>bold</b>"', exact)).toBeTruthy();
  });
  it("says when nothing changes", () => {
    render(<DiffView diff="" />);
    expect(screen.getByText("Nothing changes in the file.")).toBeTruthy();
  });
});

describe("PlanView", () => {
  it("shows each step and each field old -> new, unset ones as (unset)", () => {
    render(
      <PlanView
        plan={[
          { action: "change", kind: "Schedule", name: "nightly", file: "schedules.yaml", line: 1, fields: [{ path: "spec.cron", old: "0 3 * * *", new: "30 4 * * *" }, { path: "spec.jitter", old: "5m" }] },
          { action: "remove", kind: "Trigger", name: "old-hook" },
        ]}
      />,
    );
    expect(screen.getByText("spec.cron:", { exact: false }).textContent).toBe('spec.cron: "0 3 * * *" -> "30 4 * * *"');
    expect(screen.getByText("spec.jitter:", { exact: false }).textContent).toBe('spec.jitter: "5m" -> (unset)');
    expect(screen.getByText("Trigger old-hook")).toBeTruthy();
  });
});
