import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, Outlet, useNavigate } from "@tanstack/react-router";
import { Bell, Bot, CalendarClock, GitBranch, LayoutDashboard, LogOut, Moon, Server, Settings, Sun } from "lucide-react";
import { useState } from "react";
import { useLiveUpdates } from "@/api/live";
import { api, unwrap } from "@/api/query";
import { Button } from "@/components/ui/button";
import { identityQuery } from "@/features/auth/session";
import { CommandPalette } from "./command-palette";

const NAV = [
  { to: "/", label: "Overview", icon: LayoutDashboard },
  { to: "/agents", label: "Agents", icon: Bot },
  { to: "/nodes", label: "Nodes", icon: Server },
  { to: "/schedules", label: "Schedules", icon: CalendarClock },
  { to: "/sync", label: "Sync", icon: GitBranch },
  { to: "/notifications", label: "Notifications", icon: Bell },
  { to: "/settings", label: "Settings", icon: Settings },
] as const;

function ThemeToggle() {
  const [dark, setDark] = useState(() => document.documentElement.classList.contains("dark"));
  return (
    <Button
      variant="ghost"
      size="icon"
      aria-label={dark ? "Light theme" : "Dark theme"}
      onClick={() => {
        document.documentElement.classList.toggle("dark", !dark);
        localStorage.setItem("theme", dark ? "light" : "dark");
        setDark(!dark);
      }}
    >
      {dark ? <Sun aria-hidden /> : <Moon aria-hidden />}
    </Button>
  );
}

/** Every page after login: the navigation, who is logged in, the page. */
export function AppShell() {
  const who = useQuery(identityQuery);
  useLiveUpdates();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const logout = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/auth/logout")),
    onSettled: async () => {
      queryClient.clear();
      await navigate({ to: "/login" });
    },
  });
  return (
    <div className="min-h-screen">
      <header className="sticky top-0 z-10 border-b bg-background/95 backdrop-blur">
        <nav className="mx-auto flex max-w-6xl items-center gap-1 px-3 py-2" aria-label="Main">
          <Link to="/" className="mr-3 flex items-center gap-2 font-semibold">
            <img src="/favicon.svg" alt="" className="size-6" />
            <span className="hidden sm:inline">Agent Runner</span>
          </Link>
          {NAV.map(({ to, label, icon: Icon }) => (
            <Link
              key={to}
              to={to}
              activeOptions={{ exact: to === "/" }}
              className="flex items-center gap-1.5 rounded-md px-2 py-1.5 text-sm text-muted-foreground hover:bg-muted hover:text-foreground data-[status=active]:bg-muted data-[status=active]:text-foreground"
            >
              <Icon className="size-4" aria-hidden />
              <span className="hidden md:inline">{label}</span>
              <span className="sr-only md:hidden">{label}</span>
            </Link>
          ))}
          <span className="ml-auto flex items-center gap-1">
            {who.data && who.data.kind !== "node" && (
              <span className="hidden text-sm text-muted-foreground sm:inline" data-testid="who">
                {who.data.name} ({who.data.role})
              </span>
            )}
            <kbd className="hidden rounded border px-1.5 text-xs text-muted-foreground lg:inline" title="Go to, or start an agent">
              Ctrl K
            </kbd>
            <ThemeToggle />
            <Button variant="ghost" size="icon" aria-label="Log out" onClick={() => logout.mutate()}>
              <LogOut aria-hidden />
            </Button>
          </span>
        </nav>
      </header>
      <main className="mx-auto max-w-6xl p-3 sm:p-4">
        <Outlet />
      </main>
      <CommandPalette />
    </div>
  );
}
