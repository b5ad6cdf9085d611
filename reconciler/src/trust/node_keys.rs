//! Node keys: the secret an enrolled node's runner and the server share,
//! used both ways (the server calls the runner with it, the runner sends
//! it with its heartbeats). A key is `carn_<id>_<mac>`, the mac derived
//! from the id with the server's master key, so the database keeps only
//! its hash and any replica can present it.
//!
//! Rotation without downtime: a `next` key is handed to the runner while
//! the `current` one still works (the runner accepts both), then becomes
//! `current`, and the old one `previous`; once the runner is told to drop
//! it, it is `revoked`. Should that last call fail, the node reconcile
//! finishes the job later ([`settle`]); the runner also drops keys its
//! heartbeats no longer list. Revoking cuts a node off at once: the server
//! refuses its keys from then on and tells the runner to forget them.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::db::{Store, StoreError};
use crate::nodes::client::{Endpoint, RunnerError};
use crate::trust::audit::{self, Action, Actor};
use crate::trust::secrets::{MasterKey, Secrets};
use crate::trust::tokens;

/// A node key as the API shows it: never the key itself.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct NodeKey {
    /// Its id (the `<id>` of `carn_<id>_<mac>`).
    pub id: String,
    /// The node it belongs to.
    pub node: String,
    /// Where it is in its life.
    #[sqlx(try_from = "String")]
    pub state: KeyState,
    pub created_at: DateTime<Utc>,
    /// When the runner last presented it (noted at most once a minute); null: never.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; null: it was not.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A node key's place in rotation (see the module's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Handed to the runner during a rotation, not yet the one the server uses.
    Next,
    /// The key the server and runner use.
    Current,
    /// Replaced in a rotation; the runner may still hold it until told to drop it.
    Previous,
    /// Refused from now on.
    Revoked,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Previous => "previous",
            KeyState::Revoked => "revoked",
        }
    }
}

impl TryFrom<String> for KeyState {
    type Error = String;
    fn try_from(s: String) -> Result<KeyState, String> {
        [KeyState::Next, KeyState::Current, KeyState::Previous, KeyState::Revoked]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown node key state {s:?}"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("node {0} has no key to rotate (hint: enroll it with the install script)")]
    NotEnrolled(String),
    #[error("the runner did not take the new key, so nothing changed: {0}")]
    Runner(RunnerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RotateError {
    fn from(e: sqlx::Error) -> Self {
        RotateError::Store(e.into())
    }
}

const COLUMNS: &str = "id, node, state, created_at, last_used_at, revoked_at";

/// The key with this id.
pub fn derive(key: &MasterKey, id: &str) -> String {
    let mac = key.derive("node key", id);
    format!("{}{id}_{}", tokens::NODE_KEY, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac))
}

/// The id a presented key claims.
fn id_of(secret: &str) -> Option<&str> {
    let (id, _) = secret.strip_prefix(tokens::NODE_KEY)?.split_once('_')?;
    Some(id)
}

/// Makes a key for `node` in `state`; returns its id and the key.
async fn insert<'e>(
    db: impl sqlx::PgExecutor<'e>,
    key: &MasterKey,
    node: &str,
    state: KeyState,
) -> Result<(String, String), sqlx::Error> {
    let id = hex::encode(rand::random::<[u8; 8]>());
    let secret = derive(key, &id);
    sqlx::query("INSERT INTO node_keys (id, node, key_hash, state) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(node)
        .bind(tokens::hash(&secret))
        .bind(state.as_str())
        .execute(db)
        .await?;
    Ok((id, secret))
}

/// Revokes every key of `node` and makes a new current one (enrollment, in its transaction).
pub async fn replace_all(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    key: &MasterKey,
    node: &str,
) -> Result<(String, String), sqlx::Error> {
    sqlx::query("UPDATE node_keys SET state = 'revoked', revoked_at = now() WHERE node = $1 AND state <> 'revoked'")
        .bind(node)
        .execute(&mut **tx)
        .await?;
    insert(&mut **tx, key, node, KeyState::Current).await
}

/// The key a request presents, whatever its state (noting its use when valid).
pub async fn verify(store: &Store, key: &MasterKey, secret: &str) -> Result<Option<NodeKey>, StoreError> {
    let Some(id) = id_of(secret) else { return Ok(None) };
    #[derive(sqlx::FromRow)]
    struct Stored {
        key_hash: Vec<u8>,
        #[sqlx(flatten)]
        key: NodeKey,
    }
    let row = sqlx::query_as::<_, Stored>(&format!("SELECT key_hash, {COLUMNS} FROM node_keys WHERE id = $1"))
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    let Some(Stored { key_hash: hash, key: found }) = row else { return Ok(None) };
    // The hash, and the derivation: a key from another master key never passes.
    let genuine = bool::from(hash.ct_eq(&tokens::hash(secret)))
        && bool::from(derive(key, id).as_bytes().ct_eq(secret.as_bytes()));
    if !genuine {
        return Ok(None);
    }
    if found.state != KeyState::Revoked && crate::trust::users::stale(found.last_used_at) {
        sqlx::query(
            "UPDATE node_keys SET last_used_at = now() WHERE id = $1 \
             AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        )
        .bind(id)
        .execute(store.pool())
        .await?;
    }
    Ok(Some(found))
}

/// The key the server presents to `node`'s runner.
pub async fn current(store: &Store, key: &MasterKey, node: &str) -> Result<Option<String>, StoreError> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM node_keys WHERE node = $1 AND state = 'current'")
        .bind(node)
        .fetch_optional(store.pool())
        .await?;
    Ok(id.map(|id| derive(key, &id)))
}

/// Ids of the keys the runner may still accept (for its heartbeats).
pub async fn valid_ids(store: &Store, node: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT id FROM node_keys WHERE node = $1 AND state <> 'revoked' ORDER BY created_at")
        .bind(node)
        .fetch_all(store.pool())
        .await?)
}

pub async fn list(store: &Store, node: &str) -> Result<Vec<NodeKey>, StoreError> {
    Ok(sqlx::query_as::<_, NodeKey>(&format!(
        "SELECT {COLUMNS} FROM node_keys WHERE node = $1 ORDER BY created_at DESC"
    ))
    .bind(node)
    .fetch_all(store.pool())
    .await?)
}

/// Gives `node` a new key without a moment where neither side accepts the other.
pub async fn rotate(
    store: &Store,
    secrets: &Secrets,
    http: &reqwest::Client,
    node: &str,
    actor: &Actor,
) -> Result<NodeKey, RotateError> {
    let key = secrets.key();
    let old = current(store, key, node).await?.ok_or_else(|| RotateError::NotEnrolled(node.into()))?;
    let endpoint = Endpoint::of(store, secrets, node).await.map_err(RotateError::Runner)?.with_token(old.clone());
    let (id, new) = insert(store.pool(), key, node, KeyState::Next).await?;
    secrets.refresh().await;
    // 1. The runner accepts both.
    if let Err(e) = endpoint.put_keys(http, &[old.clone(), new.clone()]).await {
        sqlx::query("DELETE FROM node_keys WHERE id = $1").bind(&id).execute(store.pool()).await?;
        return Err(RotateError::Runner(e));
    }
    // 2. The server switches.
    let mut tx = store.pool().begin().await?;
    sqlx::query("UPDATE node_keys SET state = 'previous' WHERE node = $1 AND state = 'current'")
        .bind(node)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE node_keys SET state = 'current' WHERE id = $1").bind(&id).execute(&mut *tx).await?;
    audit::record(&mut *tx, actor, Action::NodeKeyRotated, Some(node), serde_json::json!({"key_id": id})).await?;
    tx.commit().await?;
    // 3. The runner drops the old one (or the next settle does it).
    if let Err(e) = settle(store, secrets, http, node).await {
        tracing::warn!(node, error = %e, "the runner keeps the old key for now; the node reconcile retires it");
    }
    Ok(list(store, node).await?.into_iter().find(|k| k.id == id).expect("the key just made"))
}

/// Tells the runner to keep only the current key and retires `previous`
/// ones once it did. Nothing to do for a node that is not mid-rotation.
pub async fn settle(store: &Store, secrets: &Secrets, http: &reqwest::Client, node: &str) -> Result<(), RotateError> {
    let previous: Vec<String> = sqlx::query_scalar("SELECT id FROM node_keys WHERE node = $1 AND state = 'previous'")
        .bind(node)
        .fetch_all(store.pool())
        .await?;
    if previous.is_empty() {
        return Ok(());
    }
    let Some(now) = current(store, secrets.key(), node).await? else { return Ok(()) };
    let endpoint = Endpoint::of(store, secrets, node).await.map_err(RotateError::Runner)?.with_token(now.clone());
    endpoint.put_keys(http, &[now]).await.map_err(RotateError::Runner)?;
    sqlx::query("UPDATE node_keys SET state = 'revoked', revoked_at = now() WHERE id = ANY($1)")
        .bind(&previous)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Revokes every key of `node`: the server refuses them from now on, and
/// its runner is told to forget them (when it answers). The node must
/// enroll again. Returns how many keys were live.
pub async fn revoke(
    store: &Store,
    secrets: &Secrets,
    http: &reqwest::Client,
    node: &str,
    actor: &Actor,
) -> Result<usize, StoreError> {
    let endpoint = Endpoint::of(store, secrets, node).await.ok();
    let presented = current(store, secrets.key(), node).await?;
    let mut tx = store.pool().begin().await?;
    let ids: Vec<String> = sqlx::query_scalar(
        "UPDATE node_keys SET state = 'revoked', revoked_at = now() WHERE node = $1 AND state <> 'revoked' RETURNING id",
    )
    .bind(node)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM node_enrollments WHERE name = $1").bind(node).execute(&mut *tx).await?;
    sqlx::query("UPDATE node_observations SET enrolled = false WHERE name = $1").bind(node).execute(&mut *tx).await?;
    audit::record(&mut *tx, actor, Action::NodeKeyRevoked, Some(node), serde_json::json!({"key_ids": ids})).await?;
    tx.commit().await?;
    if let (Some(endpoint), Some(key)) = (endpoint, presented) {
        match endpoint.with_token(key).put_keys(http, &[]).await {
            Ok(_) => tracing::info!(node, "the runner dropped its revoked keys"),
            Err(e) => {
                tracing::warn!(node, error = %e, "the runner was not told; it drops the keys at its next heartbeat")
            }
        }
    }
    Ok(ids.len())
}
