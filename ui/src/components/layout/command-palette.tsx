// Ctrl-K (or ⌘K): jump to any page, agent or node, or start an agent on a
// node, by typing a few letters. Arrow keys choose, Enter goes.
import { useQuery } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { Dialog } from "radix-ui";
import { useEffect, useMemo, useState } from "react";
import { Failure } from "@/components/layout/state";
import { canOperate, identityQuery } from "@/features/auth/session";
import { agentsQuery, nodesQuery } from "@/features/runs/queries";
import { useStartRun } from "@/features/runs/start-run";
import { cn } from "@/lib/utils";

type Item = { label: string; hint: string; go: () => unknown };

const PAGES = [
  ["Overview", "/"],
  ["Agents", "/agents"],
  ["Nodes", "/nodes"],
  ["Schedules", "/schedules"],
  ["Sync and drift", "/sync"],
  ["Notifications", "/notifications"],
  ["Settings", "/settings"],
] as const;

export function CommandPalette() {
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const navigate = useNavigate();
  const who = useQuery(identityQuery);
  const agents = useQuery({ ...agentsQuery, enabled: open });
  const nodes = useQuery({ ...nodesQuery, enabled: open });
  const start = useStartRun();

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key.toLowerCase() === "k" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        setOpen((o) => !o);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const items = useMemo(() => {
    const close = (to: () => unknown) => () => (setOpen(false), to());
    const all: Item[] = PAGES.map(([label, to]) => ({ label, hint: "page", go: close(() => navigate({ to })) }));
    const agentList = agents.data?.agents ?? [];
    const agentNames = agentList.map((a) => a.name);
    const nodeNames = nodes.data?.nodes.map((n) => n.name) ?? [];
    for (const name of agentNames) all.push({ label: name, hint: "agent", go: close(() => navigate({ to: "/agents/$name", params: { name } })) });
    for (const name of nodeNames) all.push({ label: name, hint: "node", go: close(() => navigate({ to: "/nodes/$name", params: { name } })) });
    if (canOperate(who.data))
      for (const { name: agent, nodes: placed } of agentList)
        for (const node of placed) all.push({ label: `Run ${agent} on ${node}`, hint: "start", go: () => start.mutate({ agent, node }, { onSuccess: () => setOpen(false) }) });
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    return all.filter((i) => words.every((w) => `${i.label} ${i.hint}`.toLowerCase().includes(w))).slice(0, 50);
  }, [agents.data, nodes.data, who.data, query, navigate, start]);

  return (
    <Dialog.Root open={open} onOpenChange={(o) => (setOpen(o), setQuery(""), setActive(0), start.reset())}>
      <Dialog.Portal>
        <Dialog.Overlay className="fixed inset-0 z-40 bg-black/40" />
        <Dialog.Content className="fixed left-1/2 top-[15vh] z-50 w-[min(36rem,calc(100vw-2rem))] -translate-x-1/2 rounded-lg border bg-card shadow-lg">
          <Dialog.Title className="sr-only">Command palette</Dialog.Title>
          <Dialog.Description className="sr-only">Type to filter; arrow keys choose; Enter goes.</Dialog.Description>
          <input
            autoFocus
            aria-label="Go to, or start an agent"
            placeholder="Go to a page, agent or node; or run an agent…"
            className="w-full border-b bg-transparent px-4 py-3 text-sm outline-none"
            value={query}
            onChange={(e) => (setQuery(e.target.value), setActive(0))}
            onKeyDown={(e) => {
              if (e.key === "ArrowDown") (e.preventDefault(), setActive((a) => Math.min(a + 1, items.length - 1)));
              if (e.key === "ArrowUp") (e.preventDefault(), setActive((a) => Math.max(a - 1, 0)));
              if (e.key === "Enter") items[active]?.go();
            }}
          />
          <ul className="max-h-80 overflow-auto py-1" role="listbox" aria-label="Matches">
            {items.map((item, i) => (
              <li
                key={`${item.hint}:${item.label}`}
                role="option"
                aria-selected={i === active}
                className={cn("flex cursor-pointer justify-between px-4 py-1.5 text-sm", i === active && "bg-muted")}
                onMouseEnter={() => setActive(i)}
                onClick={() => item.go()}
              >
                <span>{item.label}</span>
                <span className="text-xs text-muted-foreground">{item.hint}</span>
              </li>
            ))}
            {items.length === 0 && <li className="px-4 py-2 text-sm text-muted-foreground">Nothing matches.</li>}
          </ul>
          {start.error && <Failure error={start.error} />}
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
