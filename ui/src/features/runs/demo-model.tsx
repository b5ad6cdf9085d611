// A run the server gave to its scripted demo model, because it has no
// Anthropic credentials: its context says `demo_model: true`. The run view
// says so at the top, with how to get the real model; run lists mark it.
import { FlaskConical } from "lucide-react";
import { Badge } from "@/components/ui/badge";

/** Whether the run used the scripted demo model (only `demo_model: true` in its context says so). */
export function usedDemoModel(run: { context?: unknown }): boolean {
  const context = run.context;
  return context !== null && typeof context === "object" && (context as Record<string, unknown>).demo_model === true;
}

/** The banner at the top of the run view, for a run that used the demo model. */
export function DemoModelBanner({ run }: { run: { context?: unknown } }) {
  if (!usedDemoModel(run)) return null;
  return (
    <div role="note" aria-label="Demo model" className="flex items-start gap-3 rounded-lg border border-warn/60 bg-warn/15 px-4 py-3 text-sm" data-testid="demo-model-banner">
      <FlaskConical className="mt-0.5 size-4 shrink-0" aria-hidden />
      <p>
        <span className="font-semibold">Demo model</span> — this run used the scripted demo model, not Claude. Set <code className="font-mono text-xs">ANTHROPIC_API_KEY</code> or{" "}
        <code className="font-mono text-xs">CLAUDE_CODE_OAUTH_TOKEN</code> where car-server runs (or store the secret <code className="font-mono text-xs">anthropic-api-key</code>) to
        use the real model.
      </p>
    </div>
  );
}

/** The mark on such a run in a list. */
export function DemoBadge({ className }: { className?: string }) {
  return (
    <Badge tone="warn" className={className} title="This run used the scripted demo model, not Claude">
      demo
    </Badge>
  );
}
