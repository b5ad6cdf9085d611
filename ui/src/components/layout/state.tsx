// Loading, empty and error states, the same on every page.
import { LoaderCircle } from "lucide-react";
import type { ReactNode } from "react";
import { Alert } from "@/components/ui/alert";
import { ApiFailure } from "@/api/query";

export function Loading({ what }: { what: string }) {
  return (
    <p className="flex items-center gap-2 p-4 text-sm text-muted-foreground" role="status">
      <LoaderCircle className="size-4 animate-spin" aria-hidden /> Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="p-4 text-sm text-muted-foreground">{children}</p>;
}

/** What went wrong, in the server's words, with its hint. */
export function Failure({ error }: { error: unknown }) {
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof ApiFailure ? error.hint : "";
  return (
    <Alert tone="bad" className="m-2 w-auto">
      <p className="font-medium">{message}</p>
      {hint && <p className="mt-1 text-muted-foreground">{hint}</p>}
    </Alert>
  );
}
