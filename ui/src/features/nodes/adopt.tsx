import { useQuery } from "@tanstack/react-query";
import { GitCommitHorizontal } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { EditDialog } from "@/features/config/edit-dialog";
import { adoptedSpec, nodeForm } from "@/features/config/forms/node";
import { nodesQuery } from "@/features/runs/queries";

/** Nodes that enrolled but git does not declare (drift until it does): each adopted by a commit of its Node document. */
export function AdoptNodes() {
  const nodes = useQuery(nodesQuery);
  const strays = nodes.data?.nodes.filter((n) => !n.declared && n.enrolled) ?? [];
  if (strays.length === 0) return null;
  return (
    <Card>
      <CardHeader>
        <CardTitle>Enrolled, not in git</CardTitle>
        <CardDescription>Adopting one commits a Node document for it, with the OS its runner reported and no tags.</CardDescription>
      </CardHeader>
      <CardContent className="p-0">
        <ul className="divide-y">
          {strays.map((n) => (
            <li key={n.name} className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2 text-sm" data-testid="stray-node">
              <span className="font-medium">{n.name}</span>
              <span className="text-muted-foreground">
                {n.enrolled?.os ?? "OS not reported"} · {n.enrolled?.address}
              </span>
              <EditDialog
                kind="nodes"
                name={n.name}
                title={`node ${n.name}`}
                model={nodeForm}
                spec={adoptedSpec(n.enrolled?.os)}
                creating
                message={`Adopt node ${n.name}`}
                trigger={
                  <Button size="sm" variant="outline" className="ml-auto">
                    <GitCommitHorizontal aria-hidden /> Adopt into git
                  </Button>
                }
              />
            </li>
          ))}
        </ul>
      </CardContent>
    </Card>
  );
}
