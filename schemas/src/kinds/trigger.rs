//! `Trigger`: a webhook endpoint `/api/v1/hooks/{name}` that starts agents.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::de::{Spanned, recover, recover_each};
use crate::kinds::schedule::NodeSelector;
use crate::values::{Condition, Duration, Name, SecretRef};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    /// What calls this hook, and why.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"Uptime Kuma calls this when a monitor goes down")]
    pub description: Option<String>,
    /// The shared secret: callers send `Authorization: Bearer <secret>` or
    /// `X-Signature-256: sha256=<HMAC-SHA256 of the body>`.
    #[schemars(example = serde_json::json!({"env": "EMERGENCY_HOOK_SECRET"}))]
    pub secret: SecretRef,
    /// A CEL condition on the JSON body (`payload`) and the request headers
    /// (`headers`, lower-case names); the agents start only when it is true.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"payload.alert == \"critical\"")]
    pub condition: Option<Spanned<Condition>>,
    /// The agents to start.
    #[schemars(length(min = 1), example = serde_json::json!(["service-monitor"]))]
    #[serde(deserialize_with = "recover_each")]
    pub agents: Vec<Spanned<Name>>,
    /// Where to run them: `all`, a list of node names, or `{tags: [...]}`.
    #[schemars(example = &"all")]
    pub nodes: NodeSelector,
    /// Ignore further calls for this long after one started agents.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"10m")]
    pub cooldown: Option<Spanned<Duration>>,
}
