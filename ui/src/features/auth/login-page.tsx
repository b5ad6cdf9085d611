import { useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { useState, type FormEvent } from "react";
import { api, unwrap } from "@/api/query";
import { Failure } from "@/components/layout/state";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { identityQuery } from "./session";

/** `/login`, and `/setup` (the first admin, with the one-time token the server printed after `#token=`). */
export function LoginPage({ setup = false, next = "/" }: { setup?: boolean; next?: string }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const username = String(form.get("username") ?? "");
    const password = String(form.get("password") ?? "");
    setBusy(true);
    setError(null);
    try {
      if (setup) {
        const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
        await unwrap(api.POST("/api/v1/auth/setup", { body: { username, password, token } }));
      } else {
        await unwrap(api.POST("/api/v1/auth/login", { body: { username, password } }));
      }
      await queryClient.invalidateQueries(identityQuery);
      // Only a path on this site: never a link elsewhere.
      await navigate({ to: next.startsWith("/") && !next.startsWith("//") ? next : "/" });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <Card className="w-full max-w-sm">
        <CardHeader>
          <CardTitle>{setup ? "Create the first admin" : "Claude Agent Runner"}</CardTitle>
          <CardDescription>{setup ? "This link works once." : "Log in to see your agents."}</CardDescription>
        </CardHeader>
        <CardContent>
          <form onSubmit={submit} className="flex flex-col gap-3">
            <div className="flex flex-col gap-1.5">
              <Label htmlFor="username">User name</Label>
              <Input id="username" name="username" autoComplete="username" required autoFocus />
            </div>
            <div className="flex flex-col gap-1.5">
              <Label htmlFor="password">Password</Label>
              <Input
                id="password"
                name="password"
                type="password"
                minLength={setup ? 8 : undefined}
                autoComplete={setup ? "new-password" : "current-password"}
                required
              />
            </div>
            <Button type="submit" disabled={busy}>
              {setup ? "Create" : "Log in"}
            </Button>
            {error != null && <Failure error={error} />}
          </form>
        </CardContent>
      </Card>
    </main>
  );
}
