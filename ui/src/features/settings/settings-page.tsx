import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Copy, Trash2 } from "lucide-react";
import { useState, type FormEvent } from "react";
import type { Schemas } from "@/api/client";
import { api, unwrap } from "@/api/query";
import { Pager, usePages } from "@/components/layout/pager";
import { Empty, Failure, Loading } from "@/components/layout/state";
import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { identityQuery } from "@/features/auth/session";
import { ago, usd } from "@/lib/format";

const select = "h-9 rounded-md border border-input bg-background px-2 text-sm";
type Role = Schemas["Role"];

/** The role a new key or user gets; viewer unless chosen. */
function RoleSelect({ label }: { label: string }) {
  return (
    <select name="role" aria-label={label} className={select} defaultValue="viewer">
      {(["viewer", "operator", "admin"] satisfies Role[]).map((r) => (
        <option key={r}>{r}</option>
      ))}
    </select>
  );
}

/** `/settings`: API keys, users and secrets (admins), usage by agent, node or day, the audit log. */
export function SettingsPage() {
  const who = useQuery(identityQuery);
  const admin = who.data?.kind !== "node" && who.data?.role === "admin";
  return (
    <div className="flex flex-col gap-4">
      <ApiKeys />
      {admin && <Users />}
      {admin && <Secrets />}
      <Usage />
      {admin && <Audit />}
    </div>
  );
}

function ApiKeys() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: () => unwrap(api.GET("/api/v1/api-keys")) });
  const [made, setMade] = useState<Schemas["NewApiKey"] | null>(null);
  const create = useMutation({
    mutationFn: (body: Schemas["NewKey"]) => unwrap(api.POST("/api/v1/api-keys", { body })),
    onSuccess: (key) => (setMade(key), queryClient.invalidateQueries({ queryKey: ["api-keys"] })),
  });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/v1/api-keys/{id}", { params: { path: { id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["api-keys"] }),
  });
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    create.mutate({ name: String(f.get("name")), role: String(f.get("role")) as Role });
  }
  return (
    <Card>
      <CardHeader>
        <CardTitle>API keys</CardTitle>
      </CardHeader>
      <CardContent className="flex flex-col gap-3">
        <form onSubmit={submit} className="flex flex-wrap gap-2">
          <Input name="name" aria-label="Key name" placeholder="What it is for" required className="max-w-xs" />
          <RoleSelect label="Role" />
          <Button type="submit" disabled={create.isPending}>
            Create key
          </Button>
        </form>
        {made && (
          <Alert tone="ok">
            <p className="font-medium">Copy the key now: it is not shown again.</p>
            <p className="mt-1 flex items-center gap-2">
              <code className="break-all rounded bg-muted px-1.5 py-0.5 text-xs" data-testid="new-key">
                {made.key}
              </code>
              <Button size="icon" variant="ghost" aria-label="Copy the key" onClick={() => navigator.clipboard.writeText(made.key)}>
                <Copy aria-hidden />
              </Button>
            </p>
            <p className="mt-1 text-muted-foreground">{made.hint}</p>
          </Alert>
        )}
        {(create.error || revoke.error) && <Failure error={create.error ?? revoke.error} />}
        {keys.error && <Failure error={keys.error} />}
        <ul className="divide-y text-sm">
          {keys.data?.api_keys.map((k) => (
            <li key={k.id} className="flex flex-wrap items-center gap-x-3 py-1.5">
              <span className="font-medium">{k.name}</span>
              <code className="text-xs">{k.prefix}…</code>
              <span className="text-muted-foreground">{k.role}</span>
              <span className="text-muted-foreground">
                {k.revoked_at ? `revoked ${ago(k.revoked_at)}` : `used ${ago(k.last_used_at)}`}
              </span>
              {!k.revoked_at && (
                <Button size="sm" variant="ghost" className="ml-auto" aria-label={`Revoke ${k.name}`} onClick={() => revoke.mutate(k.id)}>
                  <Trash2 aria-hidden /> Revoke
                </Button>
              )}
            </li>
          ))}
        </ul>
      </CardContent>
    </Card>
  );
}

function Users() {
  const queryClient = useQueryClient();
  const users = useQuery({ queryKey: ["users"], queryFn: () => unwrap(api.GET("/api/v1/users")) });
  const create = useMutation({
    mutationFn: (body: Schemas["NewUser"]) => unwrap(api.POST("/api/v1/users", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["users"] }),
  });
  const remove = useMutation({
    mutationFn: (username: string) => unwrap(api.DELETE("/api/v1/users/{username}", { params: { path: { username } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["users"] }),
  });
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    create.mutate({ username: String(f.get("username")), password: String(f.get("password")), role: String(f.get("role")) as Role });
    e.currentTarget.reset();
  }
  return (
    <Card>
      <CardHeader>
        <CardTitle>Users</CardTitle>
      </CardHeader>
      <CardContent className="flex flex-col gap-3">
        <form onSubmit={submit} className="flex flex-wrap gap-2">
          <Input name="username" aria-label="User name" placeholder="User name" required className="max-w-48" autoComplete="off" />
          <Input name="password" aria-label="Their password" type="password" placeholder="Password (8 or more)" minLength={8} required className="max-w-48" autoComplete="new-password" />
          <RoleSelect label="Their role" />
          <Button type="submit" disabled={create.isPending}>
            Add user
          </Button>
        </form>
        {(create.error || remove.error) && <Failure error={create.error ?? remove.error} />}
        <ul className="divide-y text-sm">
          {users.data?.users.map((u) => (
            <li key={u.username} className="flex flex-wrap items-center gap-x-3 py-1.5">
              <span className="font-medium">{u.username}</span>
              <span className="text-muted-foreground">{u.role}</span>
              <span className="text-muted-foreground">last login {ago(u.last_login_at)}</span>
              <Button size="sm" variant="ghost" className="ml-auto" aria-label={`Remove ${u.username}`} onClick={() => remove.mutate(u.username)}>
                <Trash2 aria-hidden /> Remove
              </Button>
            </li>
          ))}
        </ul>
      </CardContent>
    </Card>
  );
}

/** The secret store: names and when they changed, never values; set (write-only) and delete. */
function Secrets() {
  const queryClient = useQueryClient();
  const secrets = useQuery({ queryKey: ["secrets"], queryFn: () => unwrap(api.GET("/api/v1/secrets")) });
  const done = () => queryClient.invalidateQueries({ queryKey: ["secrets"] });
  const put = useMutation({
    mutationFn: ({ name, value }: { name: string; value: string }) =>
      unwrap(api.PUT("/api/v1/secrets/{name}", { params: { path: { name } }, body: { value } })),
    onSuccess: done,
  });
  const remove = useMutation({
    mutationFn: (name: string) => unwrap(api.DELETE("/api/v1/secrets/{name}", { params: { path: { name } } })),
    onSuccess: done,
  });
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    put.mutate({ name: String(f.get("name")), value: String(f.get("value")) });
    e.currentTarget.reset();
  }
  return (
    <Card>
      <CardHeader>
        <CardTitle>Secrets</CardTitle>
      </CardHeader>
      <CardContent className="flex flex-col gap-3">
        <form onSubmit={submit} className="flex flex-wrap gap-2">
          <Input name="name" aria-label="Secret name" placeholder="Name (as git refers to it)" required className="max-w-56" autoComplete="off" />
          <Input name="value" aria-label="Secret value" type="password" placeholder="Value" required className="max-w-56" autoComplete="off" />
          <Button type="submit" disabled={put.isPending}>
            Set secret
          </Button>
        </form>
        {(put.error || remove.error || secrets.error) && <Failure error={put.error ?? remove.error ?? secrets.error} />}
        <ul className="divide-y text-sm">
          {secrets.data?.secrets.map((x) => (
            <li key={x.name} className="flex flex-wrap items-center gap-x-3 py-1.5">
              <span className="font-mono">{x.name}</span>
              <span className="text-muted-foreground">
                set {ago(x.updated_at)} by {x.updated_by}
              </span>
              <Button size="sm" variant="ghost" className="ml-auto" aria-label={`Delete ${x.name}`} onClick={() => remove.mutate(x.name)}>
                <Trash2 aria-hidden /> Delete
              </Button>
            </li>
          ))}
        </ul>
      </CardContent>
    </Card>
  );
}

function Usage() {
  const [by, setBy] = useState<"agent" | "node" | "day">("agent");
  const usage = useQuery({
    queryKey: ["usage", "30d", by],
    queryFn: () => unwrap(api.GET("/api/v1/usage", { params: { query: { group_by: by } } })),
  });
  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-center gap-3">
        <CardTitle>Usage, last 30 days</CardTitle>
        <select aria-label="Group by" className={select} value={by} onChange={(e) => setBy(e.target.value as typeof by)}>
          <option value="agent">by agent</option>
          <option value="node">by node</option>
          <option value="day">by day</option>
        </select>
      </CardHeader>
      <CardContent className="overflow-x-auto p-0">
        {usage.isPending && <Loading what="usage" />}
        {usage.error && <Failure error={usage.error} />}
        {usage.data?.groups.length === 0 && <Empty>No runs in the last 30 days.</Empty>}
        {usage.data && usage.data.groups.length > 0 && (
          <table className="w-full text-sm">
            <thead className="text-left text-xs text-muted-foreground">
              <tr>
                <th className="px-4 py-1.5 font-medium">{by}</th>
                <th className="px-2 py-1.5 text-right font-medium">Runs</th>
                <th className="px-2 py-1.5 text-right font-medium">Tokens in</th>
                <th className="px-2 py-1.5 text-right font-medium">Tokens out</th>
                <th className="px-4 py-1.5 text-right font-medium">Cost</th>
              </tr>
            </thead>
            <tbody className="divide-y tabular-nums">
              {[...usage.data.groups, { ...usage.data.total, key: "total" }].map((g) => (
                <tr key={g.key} className={g.key === "total" ? "font-medium" : undefined}>
                  <td className="px-4 py-1.5">{g.key}</td>
                  <td className="px-2 py-1.5 text-right">{g.runs}</td>
                  <td className="px-2 py-1.5 text-right">{g.input_tokens + g.cache_read_input_tokens + g.cache_creation_input_tokens}</td>
                  <td className="px-2 py-1.5 text-right">{g.output_tokens}</td>
                  <td className="px-4 py-1.5 text-right">{usd(g.cost_usd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </CardContent>
    </Card>
  );
}

type AuditFilter = { actor?: string; action?: string; target?: string; from?: string };

/** Who did what: filtered by actor, action (`auth.*` for a family), target and start date; paged. */
function Audit() {
  const [filter, setFilter] = useState<AuditFilter>({});
  const paging = usePages<number>();
  const before = paging.before;
  const audit = useQuery({
    queryKey: ["audit", filter, before],
    queryFn: () => unwrap(api.GET("/api/v1/audit", { params: { query: { ...filter, before, limit: 100 } } })),
  });
  const apply = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const text = (k: string) => String(f.get(k) ?? "").trim() || undefined;
    const day = text("from");
    setFilter({ actor: text("actor"), action: text("action"), target: text("target"), from: day && new Date(day).toISOString() });
    paging.reset();
  };
  return (
    <Card>
      <CardHeader>
        <CardTitle>Audit log</CardTitle>
        <form className="flex flex-wrap gap-2" onSubmit={apply} aria-label="Filter the audit log">
          <Input name="actor" aria-label="Actor" placeholder="actor (user, key, node)" className="h-9 w-44" />
          <Input name="action" aria-label="Action" placeholder="action, e.g. auth.*" className="h-9 w-40" />
          <Input name="target" aria-label="Target" placeholder="target (run id, node…)" className="h-9 w-44" />
          <Input name="from" type="date" aria-label="From" className="h-9 w-40" />
          <Button type="submit" size="sm" variant="outline">
            Filter
          </Button>
        </form>
      </CardHeader>
      <CardContent className="p-0">
        {audit.error && <Failure error={audit.error} />}
        {audit.data?.items.length === 0 && <Empty>No entries match.</Empty>}
        <ul className="divide-y text-sm">
          {audit.data?.items.map((e) => (
            <li key={e.id} className="flex flex-wrap gap-x-3 px-4 py-1.5">
              <span className="text-muted-foreground" title={e.at}>
                {ago(e.at)}
              </span>
              <span className="font-medium">{e.actor}</span>
              <span>{e.action}</span>
              {e.target && <span className="font-mono text-xs">{e.target}</span>}
              {e.ip && <span className="ml-auto text-muted-foreground">{e.ip}</span>}
            </li>
          ))}
        </ul>
        <Pager paging={paging} next={audit.data?.next == null ? null : Number(audit.data.next)} />
      </CardContent>
    </Card>
  );
}
