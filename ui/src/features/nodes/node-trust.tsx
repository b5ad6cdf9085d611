// A node's keys (rotate, revoke) and enrolling a new node (a one-time token
// and the one-liner that installs and enrolls its runner). Admins only.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Copy, KeyRound, ShieldOff } from "lucide-react";
import { useState } from "react";
import type { Schemas } from "@/api/client";
import { api, unwrap } from "@/api/query";
import { Failure } from "@/components/layout/state";
import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { ago } from "@/lib/format";

export function NodeKeys({ name }: { name: string }) {
  const queryClient = useQueryClient();
  const keys = useQuery({
    queryKey: ["node-keys", name],
    queryFn: () => unwrap(api.GET("/api/v1/nodes/{name}/keys", { params: { path: { name } } })),
  });
  const [sure, setSure] = useState(false);
  const done = () => queryClient.invalidateQueries({ queryKey: ["node-keys", name] });
  const rotate = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/nodes/{name}/keys/rotate", { params: { path: { name } } })),
    onSuccess: done,
  });
  const revoke = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/nodes/{name}/keys/revoke", { params: { path: { name } } })),
    onSuccess: () => (setSure(false), done()),
  });
  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-center gap-2">
        <CardTitle>Node keys</CardTitle>
        <span className="ml-auto flex gap-2">
          <Button size="sm" variant="outline" disabled={rotate.isPending} onClick={() => rotate.mutate()}>
            <KeyRound aria-hidden /> Rotate
          </Button>
          <Button size="sm" variant={sure ? "destructive" : "outline"} disabled={revoke.isPending} onClick={() => (sure ? revoke.mutate() : setSure(true))}>
            <ShieldOff aria-hidden /> {sure ? "Revoke every key: the runner stops answering" : "Revoke"}
          </Button>
        </span>
      </CardHeader>
      <CardContent className="text-sm">
        {(keys.error || rotate.error || revoke.error) && <Failure error={keys.error ?? rotate.error ?? revoke.error} />}
        {keys.data?.keys.length === 0 && (
          <p className="text-muted-foreground">No node keys: this node's runner uses the token git names, or has not enrolled.</p>
        )}
        <ul className="divide-y">
          {keys.data?.keys.map((k) => (
            <li key={k.id} className="flex flex-wrap gap-x-3 py-1.5">
              <code className="text-xs">{k.id}</code>
              <span>{k.state}</span>
              <span className="text-muted-foreground">made {ago(k.created_at)}</span>
              <span className="text-muted-foreground">used {ago(k.last_used_at)}</span>
            </li>
          ))}
        </ul>
      </CardContent>
    </Card>
  );
}

export function EnrollNode() {
  const [node, setNode] = useState("");
  const [made, setMade] = useState<Schemas["NewEnrollmentTokenAnswer"] | null>(null);
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/enrollment-tokens", { body: { node: node || null } })),
    onSuccess: setMade,
  });
  return (
    <Card>
      <CardHeader>
        <CardTitle>Enroll a node</CardTitle>
      </CardHeader>
      <CardContent className="flex flex-col gap-3 text-sm">
        <form className="flex flex-wrap gap-2" onSubmit={(e) => (e.preventDefault(), create.mutate())}>
          <input
            aria-label="Node name (optional)"
            placeholder="Node name (optional: the host's name)"
            className="h-9 rounded-md border border-input bg-background px-3"
            value={node}
            onChange={(e) => setNode(e.target.value)}
          />
          <Button type="submit" disabled={create.isPending}>
            Create enrollment token
          </Button>
        </form>
        {create.error && <Failure error={create.error} />}
        {made && (
          <Alert tone="ok">
            <p className="font-medium">Run this on the node (as root); the token works once.</p>
            <p className="mt-1 flex items-start gap-2">
              <code className="break-all rounded bg-muted px-1.5 py-0.5 text-xs" data-testid="enroll-command">
                {made.command}
              </code>
              <Button size="icon" variant="ghost" aria-label="Copy the command" onClick={() => navigator.clipboard.writeText(made.command)}>
                <Copy aria-hidden />
              </Button>
            </p>
          </Alert>
        )}
      </CardContent>
    </Card>
  );
}
