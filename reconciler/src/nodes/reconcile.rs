//! Node reconcile: asks each declared node's runner how it is
//! (`GET /v1/health`: version, OS, capabilities) and records what it saw;
//! a node mid key rotation gets its old key retired.
//! Drift is computed from these observations; a dead, slow or lying runner
//! costs one bounded request and a backoff, never a stuck server.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use crate::db::StoreError;
use crate::nodes::client::{RunnerErrorKind, Runners};
use crate::nodes::repo::{NodeObservation, NodeRepo};
use crate::tasks::reconcile::Action;

/// How often a healthy node is looked at again.
pub const HEALTHY_INTERVAL: Duration = Duration::from_secs(30);
/// How long a runner may take to answer.
pub const PROBE_TIMEOUT: Duration = crate::nodes::client::CALL_TIMEOUT;

pub struct NodeContext {
    pub runners: Runners,
    pub repo: NodeRepo,
    /// How long a node may not answer before it is announced as gone.
    pub away_grace: Duration,
    /// When a node's CPU, memory or disk is worth a warning.
    pub resource_limits: crate::nodes::metrics::ResourceLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Why the node is unhealthy; the message names it.
    #[error("{0}")]
    Unhealthy(String),
}

pub async fn reconcile(name: String, ctx: &NodeContext) -> Result<Action, NodeError> {
    if !ctx.runners.live().now().nodes.contains_key(&name) {
        return Ok(Action::AwaitChange);
    }
    let endpoint = match ctx.runners.endpoint(&name).await {
        Ok(e) => e,
        Err(e) if e.kind == RunnerErrorKind::Unenrolled => {
            observe(ctx, &name, None, Some("no address in git: waiting for the node to enroll".into())).await?;
            return Ok(Action::Requeue(HEALTHY_INTERVAL * 10));
        }
        Err(e) => return fail(ctx, &name, e.message).await,
    };
    match endpoint.health().await {
        Ok(health) if health.is_object() => {
            observe(ctx, &name, Some(&health), None).await?;
            if let Some(sample) = crate::nodes::metrics::Sample::from_health(&health["metrics"]) {
                let now = Utc::now();
                ctx.repo.record_metrics(&name, now, sample).await?;
                let limits = match ctx.runners.live().now().nodes.get(&name) {
                    Some(n) => ctx.resource_limits.for_node(&n.spec),
                    None => ctx.resource_limits,
                };
                ctx.repo.check_resources(&name, now, &limits).await?;
            }
            // A rotation whose last step did not reach the runner is finished now.
            if let Err(e) = crate::nodes::keys::settle(&ctx.runners, &name).await {
                tracing::warn!(node = %name, error = %e, "cannot retire the node's previous key yet");
            }
            Ok(Action::Requeue(HEALTHY_INTERVAL))
        }
        Ok(_) => {
            fail(ctx, &name, format!("node {name}: {}/v1/health answered, but not with health JSON", endpoint.url))
                .await
        }
        Err(e) => fail(ctx, &name, e.message).await,
    }
}

async fn fail(ctx: &NodeContext, name: &str, message: String) -> Result<Action, NodeError> {
    observe(ctx, name, None, Some(message.clone())).await?;
    Err(NodeError::Unhealthy(message))
}

async fn observe(
    ctx: &NodeContext,
    name: &str,
    health: Option<&Value>,
    error: Option<String>,
) -> Result<(), StoreError> {
    let text = |k: &str| health.and_then(|h| h.get(k)).and_then(Value::as_str).map(String::from);
    ctx.repo
        .observe(
            &NodeObservation {
                name: name.into(),
                reachable: health.is_some(),
                version: text("version"),
                os: text("os"),
                capabilities: health.map(capabilities).unwrap_or_default(),
                last_seen: health.map(|_| Utc::now()),
                last_error: error,
                sandbox: text("sandbox"),
                ..NodeObservation::default()
            },
            ctx.away_grace,
        )
        .await
}

/// Capabilities as a list of names, whether the runner sends a list or a
/// map of name to truthy value (or to details).
fn capabilities(health: &Value) -> Vec<String> {
    let mut caps: Vec<String> = match health.get("capabilities") {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
        Some(Value::Object(o)) => {
            o.iter().filter(|(_, v)| !matches!(v, Value::Bool(false) | Value::Null)).map(|(k, _)| k.clone()).collect()
        }
        _ => Vec::new(),
    };
    caps.sort();
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_come_as_lists_or_maps() {
        assert_eq!(capabilities(&serde_json::json!({"capabilities": ["zfs", "docker"]})), ["docker", "zfs"]);
        assert_eq!(
            capabilities(
                &serde_json::json!({"capabilities": {"docker": {"version": "27"}, "zfs": false, "smart": true}})
            ),
            ["docker", "smart"]
        );
        assert!(capabilities(&serde_json::json!({})).is_empty());
    }
}
