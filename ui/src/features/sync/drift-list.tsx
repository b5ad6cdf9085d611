import type { Schemas } from "@/api/client";

/** Differences from git, each with what to do about it. */
export function DriftList({ items, named = true }: { items: Schemas["DriftItem"][]; named?: boolean }) {
  return (
    <ul className="divide-y text-sm">
      {items.map((d, i) => (
        <li key={i} className="px-4 py-2">
          {named && <span className="font-medium">{d.object}: </span>}
          {d.message}
          <span className="block text-muted-foreground">fix: {d.fix}</span>
        </li>
      ))}
    </ul>
  );
}
