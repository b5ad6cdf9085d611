import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { DemoModelBanner, usedDemoModel } from "./demo-model";

afterEach(cleanup);

describe("DemoModelBanner", () => {
  it("says the run used the demo model and how to get the real one when context.demo_model is true", () => {
    render(<DemoModelBanner run={{ context: { demo_model: true, trigger: "manual" } }} />);
    const banner = screen.getByTestId("demo-model-banner");
    expect(banner.textContent).toBe(
      "Demo model — this run used the scripted demo model, not Claude. Set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN where car-server runs (or store the secret anthropic-api-key) to use the real model.",
    );
    expect(screen.getByRole("note", { name: "Demo model" })).toBe(banner);
  });

  it.each([
    ["absent", { trigger: "manual" }],
    ["false", { demo_model: false }],
    ["a string", { demo_model: "true" }],
    ["a number", { demo_model: 1 }],
    ["no context", undefined],
    ["a null context", null],
  ])("shows nothing when demo_model is %s", (_, context) => {
    const { container } = render(<DemoModelBanner run={{ context }} />);
    expect(container.innerHTML).toBe("");
    expect(screen.queryByTestId("demo-model-banner")).toBeNull();
  });
});

describe("usedDemoModel", () => {
  it("is true only for demo_model: true", () => {
    expect(usedDemoModel({ context: { demo_model: true } })).toBe(true);
    expect(usedDemoModel({ context: { demo_model: false } })).toBe(false);
    expect(usedDemoModel({ context: {} })).toBe(false);
    expect(usedDemoModel({ context: [true] })).toBe(false);
  });
});
