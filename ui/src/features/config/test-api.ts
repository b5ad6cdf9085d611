// For the write-back tests: the API the dashboard talks to, answered in the
// test. Each edit request (`/api/v1/config/…`) is recorded in `server.requests`
// and answered from `server.answers` in order; the lists a form reads
// (agents, nodes, the sync's revision) answer fixed fixtures. A test file
// installs it with
//   vi.mock("@/api/query", async (original) => (await import("./test-api")).withFakeApi(await original()));
// (this module must not import "@/api/query" itself: that is what it replaces).
import createClient from "openapi-fetch";
import type { Schemas } from "@/api/client";
import type { paths } from "@/api/schema";

export type Answer = [status: number, body: unknown];

export const server = {
  requests: [] as { method: string; path: string; body: unknown }[],
  answers: [] as Answer[],
};

export function resetServer() {
  server.requests.length = 0;
  server.answers.length = 0;
}

/** The real `@/api/query` module with its client answered by [`server`]. */
export function withFakeApi<M extends object>(real: M): M {
  const api = createClient<paths>({
    baseUrl: "http://car.test",
    fetch: async (req: Request) => {
      const path = new URL(req.url).pathname;
      const text = await req.text();
      let answer: Answer = [200, {}];
      if (path === "/api/v1/agents") answer = [200, { agents: [{ name: "lister", nodes: [], schedules: [], spec: {}, file: "a.yaml", line: 1, kind: "Agent", revision: "r", applied_at: "2026-01-01T00:00:00Z" }] }];
      else if (path === "/api/v1/nodes") answer = [200, { nodes: [] }];
      else if (path === "/api/v1/sync") answer = [200, { revision: "rev-head", objects: [] }];
      else if (path.startsWith("/api/v1/config/")) {
        server.requests.push({ method: req.method, path, body: text ? JSON.parse(text) : undefined });
        answer = server.answers.shift() ?? [500, { error: { code: "test", message: "no answer left", hint: "" } }];
      }
      return new Response(JSON.stringify(answer[1]), { status: answer[0], headers: { "Content-Type": "application/json" } });
    },
  });
  return { ...real, api };
}

// Radix measures its checkboxes and switches; jsdom has no ResizeObserver.
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
} as unknown as typeof ResizeObserver;

/** A channel as `GET /api/v1/notifications/channels` lists it, with its spec as git has it. */
export const channelView = (spec: unknown, revision = "rev-1"): Schemas["ChannelView"] => ({
  name: "phone",
  kind: "gotify",
  url: "http://gotify.lan",
  declared_at: "notify.yaml:1",
  health: "ok",
  channel: "phone",
  queued: 0,
  failed_24h: 0,
  spec,
  revision,
});
