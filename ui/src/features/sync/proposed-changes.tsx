// Edits made in pull-request mode: each waits on the forge as a pull (merge)
// request until someone merges it (then the sync applies it) or closes it.
// The open ones come first, each with a link to its pull request; the
// merged and closed ones follow, muted.
import { useQuery } from "@tanstack/react-query";
import { ExternalLink } from "lucide-react";
import type { Schemas } from "@/api/client";
import { Empty, Failure, Loading } from "@/components/layout/state";
import { Badge } from "@/components/ui/badge";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { changesQuery } from "@/features/config/write-back";
import { ago } from "@/lib/format";
import { cn } from "@/lib/utils";
import { webUrl } from "./source-link";

type Change = Schemas["ProposedChange"];

/** The card on `/sync`. */
export function ProposedChanges() {
  const changes = useQuery(changesQuery);
  return (
    <Card>
      <CardHeader>
        <CardTitle>Proposed changes</CardTitle>
      </CardHeader>
      <CardContent className="p-0">
        {changes.isPending && <Loading what="the proposed changes" />}
        {changes.error && <Failure error={changes.error} />}
        {changes.data && <ChangeList changes={changes.data.changes} />}
      </CardContent>
    </Card>
  );
}

const STATE_TONE: Record<string, "ok" | "neutral" | "info"> = { open: "info", merged: "ok", closed: "neutral" };

export function ChangeList({ changes }: { changes: Change[] }) {
  if (changes.length === 0) return <Empty>No proposed changes: edits made in pull-request mode appear here until they are merged.</Empty>;
  const open = changes.filter((c) => c.state === "open");
  const rest = changes.filter((c) => c.state !== "open");
  return (
    <div className="flex flex-col">
      {open.length === 0 ? (
        <Empty>No pull request is waiting to be merged.</Empty>
      ) : (
        <ul className="divide-y" aria-label="Open pull requests">
          {open.map((c) => (
            <li key={c.id} className="flex flex-col gap-1 px-4 py-2 text-sm" data-testid="change-open">
              <p className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
                <span className="font-medium">{c.title}</span>
                <PullRequestLink change={c} />
              </p>
              <p className="flex flex-wrap gap-x-3 gap-y-1 text-muted-foreground">
                <span>
                  {c.kind} <span className="text-foreground">{c.name}</span>
                </span>
                <span>
                  branch <span className="font-mono text-xs">{c.branch}</span>
                </span>
                <span>
                  by {c.created_by}{" "}
                  <time dateTime={c.created_at} title={c.created_at}>
                    {ago(c.created_at)}
                  </time>
                </span>
              </p>
            </li>
          ))}
        </ul>
      )}
      {rest.length > 0 && (
        <section className="border-t" aria-label="Merged or closed">
          <h3 className="px-4 pt-3 pb-1 text-xs font-medium text-muted-foreground">Merged or closed</h3>
          <ul className="divide-y">
            {rest.map((c) => (
              <li key={c.id} className="flex flex-wrap items-baseline gap-x-3 gap-y-1 px-4 py-1.5 text-sm text-muted-foreground" data-testid="change-done">
                <Badge tone={STATE_TONE[c.state] ?? "neutral"}>{c.state}</Badge>
                <span>{c.title}</span>
                <span className="text-xs">
                  {c.kind} {c.name}
                </span>
                <PullRequestLink change={c} muted />
                <span className="ml-auto text-xs">
                  by {c.created_by}, {c.state}{" "}
                  <time dateTime={c.updated_at} title={c.updated_at}>
                    {ago(c.updated_at)}
                  </time>
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

/** "github #12", opening the pull request in a new tab. */
function PullRequestLink({ change: c, muted }: { change: Change; muted?: boolean }) {
  const href = webUrl(c.url);
  if (!href)
    return (
      <span className="text-xs text-muted-foreground">
        {c.forge} #{c.number}
      </span>
    );
  return (
    <a
      href={href}
      target="_blank"
      rel="noopener noreferrer"
      className={cn("inline-flex items-center gap-1 text-xs underline-offset-2 hover:underline", muted ? "text-muted-foreground" : "text-primary")}
    >
      {c.forge} #{c.number}
      <ExternalLink className="size-3" aria-hidden />
      <span className="sr-only"> (opens in a new tab)</span>
    </a>
  );
}
