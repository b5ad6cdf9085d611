//! Node enrollment: an admin makes a one-time, expiring enrollment token;
//! the install script on the node hands it to `POST /api/v1/nodes/enroll`
//! (through `car-runner enroll`) with the node's name and where its runner
//! listens; the server spends the token, records the node as enrolled and
//! issues its node key. Enrolling a node again replaces its keys. An
//! enrolled node that git does not declare shows as drift.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Store, StoreError};
use crate::trust::audit::{self, Action, Actor, ActorKind};
use crate::trust::secrets::Secrets;
use crate::trust::tokens;

/// Default lifetime of an enrollment token.
pub const DEFAULT_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// An enrollment token as the API shows it: never the token.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EnrollmentToken {
    /// Its id (`enr_…`), to revoke it by.
    pub id: String,
    /// The node it is for; null: any name.
    pub node: Option<String>,
    /// Who made it: a user's name, or `<kind>:<name>` for other actors.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// After this it no longer works.
    pub expires_at: DateTime<Utc>,
    /// When a node enrolled with it; null: unused.
    pub used_at: Option<DateTime<Utc>>,
    /// The node that enrolled with it.
    pub used_by: Option<String>,
    /// When it was revoked; null: it was not.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A node enrolled through the install script.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Enrolled {
    /// The node's name.
    pub name: String,
    /// Where the server reaches its runner, e.g. `http://nas.lan:8100`.
    pub address: String,
    /// The operating system the node reported.
    pub os: Option<String>,
    /// The runner's version when it enrolled.
    pub version: Option<String>,
    /// When it (last) enrolled.
    pub enrolled_at: DateTime<Utc>,
}

/// What a node sends to enroll.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The enrollment token (`care_…`).
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    /// The node's name, as git declares it (or will).
    #[schema(pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    pub name: String,
    /// Where the server reaches its runner, e.g. `http://nas.lan:8100`;
    /// default: the address the request came from, at `port`.
    #[schema(max_length = 2000, pattern = "^https?://[A-Za-z0-9.:\\[\\]-]+(/[!-~]*)?$")]
    pub address: Option<String>,
    /// The runner's port, for the default address (8100).
    #[schema(minimum = 1, maximum = 65535)]
    #[serde(default, deserialize_with = "car_schemas::de::whole")]
    pub port: Option<u16>,
    #[schema(max_length = 100, pattern = "^[^\\u0000]*$")]
    pub os: Option<String>,
    #[schema(max_length = 100, pattern = "^[^\\u0000]*$")]
    pub version: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("{message}")]
    Refused { message: String, hint: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for EnrollError {
    fn from(e: sqlx::Error) -> Self {
        EnrollError::Store(e.into())
    }
}

fn refused(message: String, hint: &str) -> EnrollError {
    EnrollError::Refused { message, hint: hint.into() }
}

const COLUMNS: &str = "id, node, created_by, created_at, expires_at, used_at, used_by, revoked_at";
const ENROLLED_COLUMNS: &str = "name, address, os, version, enrolled_at";

pub async fn create_token(
    store: &Store,
    node: Option<&str>,
    ttl: chrono::TimeDelta,
    actor: &Actor,
) -> Result<(EnrollmentToken, String), StoreError> {
    let secret = tokens::generate(tokens::ENROLLMENT);
    let id = tokens::id("enr_");
    let mut tx = store.pool().begin().await?;
    let token = sqlx::query_as::<_, EnrollmentToken>(&format!(
        "INSERT INTO enrollment_tokens (id, token_hash, node, created_by, expires_at) \
         VALUES ($1, $2, $3, $4, now() + $5::interval) RETURNING {COLUMNS}"
    ))
    .bind(&id)
    .bind(tokens::hash(&secret))
    .bind(node)
    .bind(actor.label())
    .bind(format!("{} seconds", ttl.num_seconds()))
    .fetch_one(&mut *tx)
    .await?;
    let detail = serde_json::json!({"node": node, "expires_at": token.expires_at});
    audit::record(&mut *tx, actor, Action::EnrollmentTokenCreated, Some(&id), detail).await?;
    tx.commit().await?;
    Ok((token, secret))
}

pub async fn tokens(store: &Store) -> Result<Vec<EnrollmentToken>, StoreError> {
    Ok(sqlx::query_as::<_, EnrollmentToken>(&format!(
        "SELECT {COLUMNS} FROM enrollment_tokens ORDER BY created_at DESC LIMIT 200"
    ))
    .fetch_all(store.pool())
    .await?)
}

/// Revokes an unused token; false when there is no such unused token.
pub async fn revoke_token(store: &Store, id: &str, actor: &Actor) -> Result<bool, StoreError> {
    let mut tx = store.pool().begin().await?;
    let done = sqlx::query(
        "UPDATE enrollment_tokens SET revoked_at = now() WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if done {
        audit::record(&mut *tx, actor, Action::EnrollmentTokenRevoked, Some(id), serde_json::json!({})).await?;
    }
    tx.commit().await?;
    Ok(done)
}

pub async fn enrolled(store: &Store, name: &str) -> Result<Option<Enrolled>, StoreError> {
    Ok(sqlx::query_as::<_, Enrolled>(&format!("SELECT {ENROLLED_COLUMNS} FROM node_enrollments WHERE name = $1"))
        .bind(name)
        .fetch_optional(store.pool())
        .await?)
}

pub async fn all_enrolled(store: &Store) -> Result<Vec<Enrolled>, StoreError> {
    Ok(sqlx::query_as::<_, Enrolled>(&format!("SELECT {ENROLLED_COLUMNS} FROM node_enrollments ORDER BY name"))
        .fetch_all(store.pool())
        .await?)
}

/// Spends the token and enrolls the node; returns the node as recorded and its key.
pub async fn enroll(
    store: &Store,
    secrets: &Secrets,
    req: &EnrollRequest,
    ip: Option<IpAddr>,
) -> Result<(Enrolled, String), EnrollError> {
    let name: car_schemas::values::Name = req.name.parse().map_err(|_| {
        refused(
            format!("{:?} is not a node name", req.name),
            "use lowercase letters, digits and '-', as in git's metadata.name (e.g. --name tower)",
        )
    })?;
    let address = match (&req.address, ip) {
        (Some(a), _) => a.trim_end_matches('/').to_string(),
        (None, Some(ip)) => {
            let host = if ip.is_ipv6() { format!("[{ip}]") } else { ip.to_string() };
            format!("http://{host}:{}", req.port.unwrap_or(8100))
        }
        (None, None) => return Err(refused("the node's address is unknown".into(), "pass --address http://host:8100")),
    };
    let parsed =
        url::Url::parse(&address).ok().filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if parsed.is_none() {
        return Err(refused(format!("{address:?} is not an http(s) URL"), "pass --address http://host:8100"));
    }
    let mut tx = store.pool().begin().await?;
    let token = sqlx::query_as::<_, EnrollmentToken>(&format!(
        "SELECT {COLUMNS} FROM enrollment_tokens WHERE token_hash = $1 FOR UPDATE"
    ))
    .bind(tokens::hash(&req.token))
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        refused(
            "unknown enrollment token".into(),
            "make a new one in the dashboard or with POST /api/v1/enrollment-tokens",
        )
    })?;
    let again = "make a new enrollment token (they work once and expire)";
    if let Some(at) = token.used_at {
        let by = token.used_by.as_deref().unwrap_or("a node");
        return Err(refused(format!("this enrollment token was used already, by {by} at {at}"), again));
    }
    if token.revoked_at.is_some() {
        return Err(refused("this enrollment token was revoked".into(), again));
    }
    if token.expires_at <= Utc::now() {
        return Err(refused(format!("this enrollment token expired at {}", token.expires_at), again));
    }
    if let Some(wanted) = token.node.as_deref().filter(|n| *n != name.as_str()) {
        return Err(refused(
            format!("this enrollment token is for node {wanted}, not {name}"),
            &format!("pass --name {wanted}, or make a token for {name}"),
        ));
    }
    sqlx::query("UPDATE enrollment_tokens SET used_at = now(), used_by = $2 WHERE id = $1")
        .bind(&token.id)
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?;
    let enrolled = sqlx::query_as::<_, Enrolled>(&format!(
        "INSERT INTO node_enrollments (name, address, os, version, token_id) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name) DO UPDATE SET address = $2, os = $3, version = $4, token_id = $5, enrolled_at = now() \
         RETURNING {ENROLLED_COLUMNS}"
    ))
    .bind(name.as_str())
    .bind(&address)
    .bind(&req.os)
    .bind(&req.version)
    .bind(&token.id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO node_observations (name, enrolled, last_seen) VALUES ($1, true, now()) \
         ON CONFLICT (name) DO UPDATE SET enrolled = true, last_seen = now()",
    )
    .bind(name.as_str())
    .execute(&mut *tx)
    .await?;
    let (key_id, key) = crate::trust::node_keys::replace_all(&mut tx, secrets.key(), name.as_str()).await?;
    let actor = Actor::new(ActorKind::Node, name.as_str(), ip.map(|i| i.to_string()));
    let detail = serde_json::json!({"token_id": token.id, "address": address, "key_id": key_id});
    audit::record(&mut *tx, &actor, Action::NodeEnrolled, Some(name.as_str()), detail).await?;
    tx.commit().await?;
    secrets.refresh().await;
    tracing::info!(node = %name, %address, "node enrolled");
    Ok((enrolled, key))
}
