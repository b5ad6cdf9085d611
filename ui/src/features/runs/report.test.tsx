import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { Report } from "./report";

afterEach(cleanup);

describe("Report", () => {
  it("shows an object's fields as rows and a list of objects as a table", () => {
    render(<Report report={{ healthy: false, pools: [{ name: "tank", used_percent: 93 }, { name: "fast", used_percent: 41 }] }} />);
    expect(screen.getByText("healthy").nextSibling?.textContent).toBe("false");
    expect(screen.getByText("used_percent").tagName).toBe("TH");
    expect(screen.getByText("93")).toBeTruthy();
    expect(screen.getByText("fast")).toBeTruthy();
  });
  it("keeps markup an agent reported as text", () => {
    const { container } = render(<Report report={{ note: "<img src=x onerror=alert(1)>" }} />);
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByText("<img src=x onerror=alert(1)>")).toBeTruthy();
  });
});
