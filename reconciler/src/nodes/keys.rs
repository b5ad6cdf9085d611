//! Handing a node's runner its keys: rotation without downtime and
//! revocation. The keys themselves are stored by `trust::node_keys`.
//!
//! Rotation: a `next` key is handed to the runner while the `current` one
//! still works (the runner accepts both), then becomes `current`, and the
//! old one `previous`; once the runner is told to drop it, it is `revoked`.
//! Should that last call fail, the node reconcile finishes the job later
//! ([`settle`]); the runner also drops keys its heartbeats no longer list.
//! Revoking cuts a node off at once: the server refuses its keys from then
//! on and tells the runner to forget them.

use crate::db::StoreError;
use crate::nodes::client::{RunnerError, Runners};
use crate::trust::audit::Actor;
use crate::trust::node_keys::{self, NodeKey};

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("node {0} has no key to rotate (hint: enroll it with the install script)")]
    NotEnrolled(String),
    #[error("the runner did not take the new key, so nothing changed: {0}")]
    Runner(RunnerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Gives `node` a new key without a moment where neither side accepts the other.
pub async fn rotate(runners: &Runners, node: &str, actor: &Actor) -> Result<NodeKey, RotateError> {
    let (store, secrets) = (runners.store(), runners.secrets());
    let key = secrets.key();
    let old = node_keys::current(store, key, node).await?.ok_or_else(|| RotateError::NotEnrolled(node.into()))?;
    let endpoint = runners.endpoint(node).await.map_err(RotateError::Runner)?.with_token(old.clone());
    let (id, new) = node_keys::add_next(store, key, node).await?;
    secrets.refresh().await;
    // 1. The runner accepts both.
    if let Err(e) = endpoint.put_keys(&[old, new]).await {
        node_keys::discard(store, &id).await?;
        return Err(RotateError::Runner(e));
    }
    // 2. The server switches.
    node_keys::promote(store, node, &id, actor).await?;
    // 3. The runner drops the old one (or the next settle does it).
    if let Err(e) = settle(runners, node).await {
        tracing::warn!(node, error = %e, "the runner keeps the old key for now; the node reconcile retires it");
    }
    Ok(node_keys::list(store, node).await?.into_iter().find(|k| k.id == id).expect("the key just made"))
}

/// Tells the runner to keep only the current key and retires `previous`
/// ones once it did. Nothing to do for a node that is not mid-rotation.
pub async fn settle(runners: &Runners, node: &str) -> Result<(), RotateError> {
    let (store, secrets) = (runners.store(), runners.secrets());
    let previous = node_keys::previous_ids(store, node).await?;
    if previous.is_empty() {
        return Ok(());
    }
    let Some(now) = node_keys::current(store, secrets.key(), node).await? else { return Ok(()) };
    let endpoint = runners.endpoint(node).await.map_err(RotateError::Runner)?.with_token(now.clone());
    endpoint.put_keys(&[now]).await.map_err(RotateError::Runner)?;
    node_keys::retire(store, &previous).await?;
    Ok(())
}

/// Revokes every key of `node`: the server refuses them from now on, and
/// its runner is told to forget them (when it answers). The node must
/// enroll again. Returns how many keys were live.
pub async fn revoke(runners: &Runners, node: &str, actor: &Actor) -> Result<usize, StoreError> {
    let (store, secrets) = (runners.store(), runners.secrets());
    let endpoint = runners.endpoint(node).await.ok();
    let presented = node_keys::current(store, secrets.key(), node).await?;
    let ids = node_keys::revoke_all(store, node, actor).await?;
    if let (Some(endpoint), Some(key)) = (endpoint, presented) {
        match endpoint.with_token(key).put_keys(&[]).await {
            Ok(_) => tracing::info!(node, "the runner dropped its revoked keys"),
            Err(e) => {
                tracing::warn!(node, error = %e, "the runner was not told; it drops the keys at its next heartbeat")
            }
        }
    }
    Ok(ids.len())
}
