//! Node keys: the secret an enrolled node's runner and the server share,
//! used both ways (the server calls the runner with it, the runner sends
//! it with its heartbeats). A key is `carn_<id>_<mac>`, the mac derived
//! from the id with the server's master key, so the database keeps only
//! its hash and any replica can present it.
//!
//! Keys move `next` → `current` → `previous` → `revoked`; the steps of a
//! rotation are here, the handover with the runner in `nodes::keys`.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::db::{Store, StoreError};
use crate::trust::audit::{self, Action, Actor};
use crate::trust::secrets::MasterKey;
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

/// Step 1 of a rotation: a `next` key for `node`; returns its id and the key.
pub async fn add_next(store: &Store, key: &MasterKey, node: &str) -> Result<(String, String), StoreError> {
    Ok(insert(store.pool(), key, node, KeyState::Next).await?)
}

/// Undoes [`add_next`] when the runner did not take the key.
pub async fn discard(store: &Store, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM node_keys WHERE id = $1 AND state = 'next'").bind(id).execute(store.pool()).await?;
    Ok(())
}

/// Step 2: the `next` key `id` becomes `current` and the current one
/// `previous`, with the audit entry, in one transaction.
pub async fn promote(store: &Store, node: &str, id: &str, actor: &Actor) -> Result<(), StoreError> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("UPDATE node_keys SET state = 'previous' WHERE node = $1 AND state = 'current'")
        .bind(node)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE node_keys SET state = 'current' WHERE id = $1").bind(id).execute(&mut *tx).await?;
    audit::record(&mut *tx, actor, Action::NodeKeyRotated, Some(node), serde_json::json!({"key_id": id})).await?;
    tx.commit().await?;
    Ok(())
}

/// Ids of `node`'s `previous` keys: a rotation the runner has not finished.
pub async fn previous_ids(store: &Store, node: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT id FROM node_keys WHERE node = $1 AND state = 'previous'")
        .bind(node)
        .fetch_all(store.pool())
        .await?)
}

/// Step 3: keys the runner dropped are revoked.
pub async fn retire(store: &Store, ids: &[String]) -> Result<(), StoreError> {
    sqlx::query("UPDATE node_keys SET state = 'revoked', revoked_at = now() WHERE id = ANY($1)")
        .bind(ids)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Revokes every key of `node` and ends its enrollment, with the audit
/// entry, in one transaction; returns the ids that were live.
pub async fn revoke_all(store: &Store, node: &str, actor: &Actor) -> Result<Vec<String>, StoreError> {
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
    Ok(ids)
}
