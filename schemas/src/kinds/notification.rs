//! `NotificationChannel` (where messages go) and `NotificationRule` (which
//! events send them, how loudly).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::de::{Spanned, recover, recover_each};
use crate::values::{Condition, Duration, Name, Priority, SecretRef, TextOrSecret};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationChannelSpec {
    /// Who reads this channel.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"Phones, through the Gotify app")]
    pub description: Option<String>,
    /// A Gotify server. Give `gotify` or `webhook`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"url": "http://gotify.lan:8080", "token": {"env": "GOTIFY_TOKEN"}}))]
    pub gotify: Option<GotifyChannel>,
    /// An HTTP endpoint that receives a JSON POST. Give `gotify` or `webhook`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"url": "https://hooks.example.org/car", "secret": {"env": "HOOK_SECRET"}}))]
    pub webhook: Option<WebhookChannel>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GotifyChannel {
    /// The Gotify server's base URL.
    #[schemars(example = &"http://gotify.lan:8080")]
    pub url: Spanned<String>,
    /// The Gotify application token.
    #[schemars(example = serde_json::json!({"env": "GOTIFY_TOKEN"}))]
    pub token: SecretRef,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    /// Where to POST.
    #[schemars(example = &"https://hooks.example.org/car")]
    pub url: Spanned<String>,
    /// Extra HTTP headers; secret values as references.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"Authorization": {"env": "HOOK_AUTH"}}))]
    pub headers: BTreeMap<String, Spanned<TextOrSecret>>,
    /// Key for an `X-Signature-256: sha256=<HMAC of the body>` header.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"env": "HOOK_SECRET"}))]
    pub secret: Option<SecretRef>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationRuleSpec {
    /// What this rule is for.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"Tell me when anything fails")]
    pub description: Option<String>,
    /// The events that fire the rule.
    #[schemars(length(min = 1), example = serde_json::json!(["run.failed", "node.disconnected"]))]
    #[serde(deserialize_with = "recover_each")]
    pub events: Vec<Spanned<Event>>,
    /// Only for these agents, nodes or schedules (each left out = any).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"agents": ["zfs-health"]}))]
    pub filter: Option<RuleFilter>,
    /// A CEL condition on the event; runs expose `run.status`, `run.agent`,
    /// `run.node`, `run.summary`, `run.report`, `run.cost_usd`; every event
    /// exposes `event.type` and `event.data`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"run.report.degraded == true")]
    pub condition: Option<Spanned<Condition>>,
    /// How loudly (default normal).
    #[serde(default, deserialize_with = "recover")]
    #[schemars(example = &"high")]
    pub priority: Priority,
    /// NotificationChannel names.
    #[schemars(length(min = 1), example = serde_json::json!(["gotify"]))]
    #[serde(deserialize_with = "recover_each")]
    pub channels: Vec<Spanned<Name>>,
    /// At most one message per this long for the same event, agent and node.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"30m")]
    pub throttle: Option<Spanned<Duration>>,
    /// Page only if the alert still holds after this long (a node still
    /// away, a disk still full, a schedule still failing); one that clears
    /// meanwhile sends nothing. For events that clear: node, resource, run
    /// failure, sync and drift alerts.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"5m")]
    pub wait: Option<Spanned<Duration>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleFilter {
    /// Agent names.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "recover_each")]
    #[schemars(example = serde_json::json!(["zfs-health"]))]
    pub agents: Vec<Spanned<Name>>,
    /// Node names.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "recover_each")]
    #[schemars(example = serde_json::json!(["truenas"]))]
    pub nodes: Vec<Spanned<Name>>,
    /// Schedule names.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "recover_each")]
    #[schemars(example = serde_json::json!(["storage-watch"]))]
    pub schedules: Vec<Spanned<Name>>,
}

/// Events a rule can listen to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
pub enum Event {
    #[serde(rename = "run.started")]
    RunStarted,
    #[serde(rename = "run.succeeded")]
    RunSucceeded,
    #[serde(rename = "run.failed")]
    RunFailed,
    #[serde(rename = "run.timed_out")]
    RunTimedOut,
    #[serde(rename = "run.cancelled")]
    RunCancelled,
    #[serde(rename = "run.lost")]
    RunLost,
    #[serde(rename = "approval.requested")]
    ApprovalRequested,
    #[serde(rename = "approval.resolved")]
    ApprovalResolved,
    #[serde(rename = "node.disconnected")]
    NodeDisconnected,
    #[serde(rename = "node.connected")]
    NodeConnected,
    #[serde(rename = "node.resource_warning")]
    NodeResourceWarning,
    #[serde(rename = "sync.failed")]
    SyncFailed,
    #[serde(rename = "sync.succeeded")]
    SyncSucceeded,
    #[serde(rename = "drift.detected")]
    DriftDetected,
    #[serde(rename = "budget.exceeded")]
    BudgetExceeded,
}

impl Event {
    /// Events about one run, whose condition may use `run`.
    pub fn is_run_event(self) -> bool {
        matches!(
            self,
            Event::RunStarted
                | Event::RunSucceeded
                | Event::RunFailed
                | Event::RunTimedOut
                | Event::RunCancelled
                | Event::RunLost
                | Event::ApprovalRequested
                | Event::ApprovalResolved
        )
    }
}
