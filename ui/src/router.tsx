// The dashboard's pages. Routes are thin: each names its path and hands
// over to a feature's page. Everything but /login and /setup needs a
// session; without one the page goes to /login and comes back after.
import type { QueryClient } from "@tanstack/react-query";
import {
  createRootRouteWithContext,
  createRoute,
  createRouter,
  Link,
  Outlet,
  redirect,
} from "@tanstack/react-router";
import { lazy } from "react";
import { ApiFailure } from "@/api/query";
import { AppShell } from "@/components/layout/app-shell";
import { Loading } from "@/components/layout/state";
import { LoginPage } from "@/features/auth/login-page";
import { identityQuery } from "@/features/auth/session";
import { OverviewPage } from "@/features/overview/overview-page";
import { RunPage } from "@/features/runs/run-page";

// The overview and the run view come with the first load; the other pages
// load when first opened (the first load stays small: BENCHMARKS.md).
const page = <K extends string>(load: () => Promise<Record<K, React.ComponentType<never>>>, name: K) =>
  lazy(() => load().then((m) => ({ default: m[name] as React.ComponentType<Record<string, unknown>> })));
const AgentsPage = page(() => import("@/features/agents/agents-page"), "AgentsPage");
const AgentPage = page(() => import("@/features/agents/agents-page"), "AgentPage");
const NodesPage = page(() => import("@/features/nodes/nodes-page"), "NodesPage");
const NodePage = page(() => import("@/features/nodes/nodes-page"), "NodePage");
const NotificationsPage = page(() => import("@/features/notifications/notifications-page"), "NotificationsPage");
const SchedulesPage = page(() => import("@/features/schedules/schedules-page"), "SchedulesPage");
const SettingsPage = page(() => import("@/features/settings/settings-page"), "SettingsPage");
const SyncPage = page(() => import("@/features/sync/sync-page"), "SyncPage");

const root = createRootRouteWithContext<{ queryClient: QueryClient }>()({
  component: Outlet,
  notFoundComponent: () => (
    <main className="p-8 text-center">
      <p className="mb-2">There is no such page.</p>
      <Link to="/" className="text-primary underline-offset-4 hover:underline">
        Back to the overview
      </Link>
    </main>
  ),
});

const login = createRoute({
  getParentRoute: () => root,
  path: "/login",
  validateSearch: (s: Record<string, unknown>): { next?: string } => (typeof s.next === "string" ? { next: s.next } : {}),
  component: function Login() {
    const { next } = login.useSearch();
    return <LoginPage next={next} />;
  },
});

const setup = createRoute({ getParentRoute: () => root, path: "/setup", component: () => <LoginPage setup /> });

const app = createRoute({
  getParentRoute: () => root,
  id: "app",
  component: AppShell,
  beforeLoad: async ({ context, location }) => {
    try {
      await context.queryClient.ensureQueryData(identityQuery);
    } catch (e) {
      if (e instanceof ApiFailure && e.status === 401) throw redirect({ to: "/login", search: { next: location.href } });
      throw e;
    }
  },
});

const overview = createRoute({ getParentRoute: () => app, path: "/", component: OverviewPage });
const run = createRoute({
  getParentRoute: () => app,
  path: "/runs/$id",
  component: function Run() {
    const { id } = run.useParams();
    return <RunPage key={id} id={id} />;
  },
});
const agents = createRoute({ getParentRoute: () => app, path: "/agents", component: AgentsPage });
const agent = createRoute({
  getParentRoute: () => app,
  path: "/agents/$name",
  component: function Agent() {
    return <AgentPage name={agent.useParams().name} />;
  },
});
const nodes = createRoute({ getParentRoute: () => app, path: "/nodes", component: NodesPage });
const node = createRoute({
  getParentRoute: () => app,
  path: "/nodes/$name",
  component: function Node() {
    return <NodePage name={node.useParams().name} />;
  },
});
const sync = createRoute({ getParentRoute: () => app, path: "/sync", component: SyncPage });
const schedules = createRoute({ getParentRoute: () => app, path: "/schedules", component: SchedulesPage });
const notifications = createRoute({ getParentRoute: () => app, path: "/notifications", component: NotificationsPage });
const settings = createRoute({ getParentRoute: () => app, path: "/settings", component: SettingsPage });

const routeTree = root.addChildren([login, setup, app.addChildren([overview, run, agents, agent, nodes, node, sync, schedules, notifications, settings])]);

export function makeRouter(queryClient: QueryClient) {
  return createRouter({
    routeTree,
    context: { queryClient },
    defaultPreload: "intent",
    defaultPendingComponent: () => <Loading what="the page" />,
  });
}

declare module "@tanstack/react-router" {
  interface Register {
    router: ReturnType<typeof makeRouter>;
  }
}
