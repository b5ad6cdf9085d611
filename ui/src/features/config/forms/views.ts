// The specs the edit dialog starts from, for views that list an object
// rather than serve its spec as such. A trigger's view has every field of
// its spec (the secret as its reference): its spec is rebuilt from them. A
// channel's view carries its spec as written in git (secrets only as
// `{env}`/`{secret}` references).
import type { Schemas } from "@/api/client";
import { isObject, type Spec } from "../spec";

/** Without the keys whose value is null or undefined (a key left out and a null mean the same in a spec). */
function defined(o: Record<string, unknown>): Spec {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

export function triggerSpec(t: Schemas["TriggerView"]): Spec {
  return defined({
    description: t.description,
    secret: t.secret,
    condition: t.condition,
    agents: t.agents,
    nodes: t.nodes,
    cooldown: t.cooldown,
  });
}

/** A channel's spec as git has it. */
export function channelSpec(c: Schemas["ChannelView"]): Spec {
  return isObject(c.spec) ? c.spec : {};
}

/** A notification rule's spec as git has it. */
export function ruleSpec(r: Schemas["RuleView"]): Spec {
  return isObject(r.spec) ? r.spec : {};
}
