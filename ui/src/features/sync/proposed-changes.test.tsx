import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Schemas } from "@/api/client";
import type { paths } from "@/api/schema";
import { ProposedChanges } from "./proposed-changes";

// `GET /api/v1/config/changes`, answered here.
const server = vi.hoisted(() => ({ changes: [] as unknown[], requests: [] as string[] }));

vi.mock("@/api/query", async (importOriginal) => {
  const real = await importOriginal<typeof import("@/api/query")>();
  const { default: createClient } = await import("openapi-fetch");
  const api = createClient<paths>({
    baseUrl: "http://car.test",
    fetch: async (req: Request) => {
      const path = new URL(req.url).pathname;
      server.requests.push(`${req.method} ${path}`);
      const [status, body] = path === "/api/v1/config/changes" ? [200, { changes: server.changes }] : [404, { error: { code: "test", message: "not here", hint: "" } }];
      return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    },
  });
  return { ...real, api };
});

beforeEach(() => {
  server.changes = [];
  server.requests.length = 0;
});
afterEach(cleanup);

const change = (over: Partial<Schemas["ProposedChange"]>): Schemas["ProposedChange"] => ({
  id: 1,
  kind: "Schedule",
  name: "nightly",
  title: "Run nightly after the backups",
  branch: "car/schedule-nightly-1",
  commit: "0123456789abcdef0123456789abcdef01234567",
  forge: "github",
  number: 12,
  url: "https://github.com/me/config/pull/12",
  state: "open",
  created_by: "ann",
  created_at: new Date(Date.now() - 5 * 60_000).toISOString(),
  updated_at: new Date(Date.now() - 5 * 60_000).toISOString(),
  ...over,
});

function show() {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={queryClient}>
      <ProposedChanges />
    </QueryClientProvider>,
  );
}

describe("ProposedChanges", () => {
  it("shows open pull requests first, with who, when, the branch and a link that opens in a new tab", async () => {
    server.changes = [
      change({}),
      change({ id: 2, kind: "Agent", name: "lister", title: "Allow ls", state: "merged", number: 9, url: "https://github.com/me/config/pull/9" }),
      change({ id: 3, kind: "NotificationRule", name: "failures", title: "Quieter", state: "closed", forge: "gitea", number: 4, url: "https://gitea.lan/me/config/pulls/4" }),
    ];
    show();
    const open = await screen.findByTestId("change-open");
    expect(server.requests).toEqual(["GET /api/v1/config/changes"]);
    expect(open.textContent).toContain("Run nightly after the backups");
    expect(open.textContent).toContain("Schedule nightly");
    expect(open.textContent).toContain("branch car/schedule-nightly-1");
    expect(open.textContent).toContain("by ann 5m ago");
    const link = within(open).getByRole("link", { name: /github #12/ });
    expect(link.getAttribute("href")).toBe("https://github.com/me/config/pull/12");
    expect(link.getAttribute("target")).toBe("_blank");
    expect(link.getAttribute("rel")).toBe("noopener noreferrer");
    expect(within(open).queryByText("open")).toBeNull();

    const done = screen.getAllByTestId("change-done");
    expect(done.map((d) => d.textContent)).toEqual([expect.stringContaining("Allow ls"), expect.stringContaining("Quieter")]);
    expect(within(done[0]!).getByText("merged").className).toContain("rounded-full");
    expect(within(done[1]!).getByText("closed").className).toContain("rounded-full");
    expect(done[0]!.className).toContain("text-muted-foreground");
    const merged = within(done[0]!).getByRole("link", { name: /github #9/ });
    expect(merged.getAttribute("target")).toBe("_blank");
    expect(merged.getAttribute("rel")).toBe("noopener noreferrer");
    expect(within(screen.getByRole("region", { name: "Merged or closed" })).getAllByTestId("change-done")).toHaveLength(2);
    // The open ones come before the rest in the page.
    expect(open.compareDocumentPosition(done[0]!) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
  });

  it("says what appears here when there is nothing", async () => {
    show();
    expect(await screen.findByText("No proposed changes: edits made in pull-request mode appear here until they are merged.")).toBeTruthy();
    expect(screen.queryByTestId("change-open")).toBeNull();
  });

  it("says nothing waits when every change is merged or closed", async () => {
    server.changes = [change({ state: "merged" })];
    show();
    expect(await screen.findByText("No pull request is waiting to be merged.")).toBeTruthy();
    expect(screen.getAllByTestId("change-done")).toHaveLength(1);
  });

  it("links only to web addresses", async () => {
    server.changes = [change({ url: "javascript:alert(1)" })];
    show();
    const open = await screen.findByTestId("change-open");
    expect(within(open).queryByRole("link")).toBeNull();
    expect(open.textContent).toContain("github #12");
  });
});
