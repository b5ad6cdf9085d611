//! Heartbeats: every 30 s (and at start) the runner tells its server it is
//! there (`POST /api/v1/nodes/{node}/heartbeat`, with its node key or
//! `RUNNER_TOKEN`), so the server looks at it at once after a restart. The
//! answer lists the node keys that still count; the runner forgets the
//! others, and forgets the key it sent when the server refuses it — so a
//! revoked key stops working here even when the server could not reach the
//! runner to say so.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::keys::KeyRing;

pub const EVERY: Duration = Duration::from_secs(30);

/// One heartbeat with `key`; the server's answer, or why there is none.
pub async fn beat_with(http: &reqwest::Client, server: &str, node: &str, key: &str) -> Result<Value, Refusal> {
    let url = format!("{server}/api/v1/nodes/{node}/heartbeat");
    let resp = http
        .post(&url)
        .bearer_auth(key)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| Refusal::Unreachable(format!("{url}: {e}")))?;
    match resp.status().as_u16() {
        200..=299 => Ok(resp.json().await.unwrap_or(Value::Null)),
        401 => Err(Refusal::KeyRefused),
        code => {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            Err(Refusal::Other(format!("{url} answered {code}: {}", body["error"]["message"].as_str().unwrap_or(""))))
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum Refusal {
    Unreachable(String),
    /// 401: the server does not take this key (revoked, or from another server).
    KeyRefused,
    Other(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unreachable(m) | Refusal::Other(m) => f.write_str(m),
            Refusal::KeyRefused => f.write_str("the server refused this runner's key"),
        }
    }
}

/// Beats forever.
pub async fn run(keys: Arc<KeyRing>, server: String, node: String) {
    let http = reqwest::Client::new();
    loop {
        if let Some(key) = keys.presented() {
            beat(&http, &keys, &server, &node, &key).await;
        }
        tokio::time::sleep(EVERY).await;
    }
}

async fn beat(http: &reqwest::Client, keys: &KeyRing, server: &str, node: &str, key: &str) {
    let managed = crate::keys::key_id(key).is_some();
    match beat_with(http, server, node, key).await {
        Ok(answer) => {
            if let Some(ids) = answer["keys"].as_array() {
                let ids: Vec<String> = ids.iter().filter_map(|i| i.as_str().map(String::from)).collect();
                match keys.retain_ids(&ids) {
                    Ok(true) => tracing::info!("dropped node keys the server no longer lists"),
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e, "cannot update the keys file"),
                }
            }
        }
        Err(Refusal::KeyRefused) if managed => {
            tracing::warn!("the server refused this runner's node key (revoked?): dropping it; enroll the node again");
            if let Err(e) = keys.drop_key(key) {
                tracing::error!(error = %e, "cannot update the keys file");
            }
        }
        Err(why) => tracing::warn!(reason = %why, "heartbeat not taken"),
    }
}
