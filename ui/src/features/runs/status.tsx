import type { Schemas } from "@/api/client";
import { Badge } from "@/components/ui/badge";

export type RunStatus = Schemas["RunStatus"];

const TONE: Record<RunStatus, "ok" | "bad" | "warn" | "info" | "neutral"> = {
  queued: "neutral",
  dispatched: "info",
  running: "info",
  awaiting_approval: "warn",
  succeeded: "ok",
  failed: "bad",
  timed_out: "bad",
  cancelled: "neutral",
  lost: "bad",
};

export const OPEN: RunStatus[] = ["queued", "dispatched", "running", "awaiting_approval"];

export function StatusBadge({ status }: { status: RunStatus }) {
  return <Badge tone={TONE[status]}>{status.replace("_", " ")}</Badge>;
}
