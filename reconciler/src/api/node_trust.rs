//! Trusting nodes: enrollment tokens (admins), enrolling with one (the
//! install script), node keys (list, rotate, revoke; admins) and the
//! runner's heartbeat, which also tells it which of its keys still count.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::error::JsonBody;
use super::{ApiError, AppState};
use crate::nodes::client::RunnerErrorKind;
use crate::nodes::keys::{self, RotateError};
use crate::trust::access::{Caller, ClientIp, Principal};
use crate::trust::audit::Action;
use crate::trust::enrollment::{self, EnrollError, EnrollRequest, Enrolled, EnrollmentToken};
use crate::trust::node_keys::{self, NodeKey};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnrollmentToken {
    /// The node it is for (its name in git); leave out to let the node pick its name.
    #[schema(pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    pub node: Option<String>,
    /// Minutes it stays valid: 60 unless said, at most 10080 (7 days).
    #[schema(minimum = 1, maximum = 10080)]
    #[serde(default, deserialize_with = "car_schemas::de::whole")]
    pub expires_in_minutes: Option<u32>,
}

/// An enrollment token just made: its record, the token (shown only now)
/// and the command that installs a runner with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewEnrollmentTokenAnswer {
    /// The one-time token (`care_…`), shown only now.
    pub token: String,
    /// Run this on the node: it installs the runner and enrolls it.
    pub command: String,
    #[serde(flatten)]
    pub record: EnrollmentToken,
}

/// Enrollment tokens, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentTokenList {
    /// The latest 200.
    pub enrollment_tokens: Vec<EnrollmentToken>,
}

/// A node just enrolled, with its key.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolledNode {
    pub node: Enrolled,
    /// The node key (`carn_…`), shown only now: the runner keeps it.
    pub key: String,
}

/// A node's keys and its enrollment.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeKeys {
    /// The node's name.
    pub node: String,
    /// Its enrollment; null: declared in git with a token, not enrolled.
    pub enrolled: Option<Enrolled>,
    /// Its keys, newest first, revoked ones included.
    pub keys: Vec<NodeKey>,
}

/// The node's new current key, after a rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedKey {
    pub key: NodeKey,
}

/// A node's keys revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedKeys {
    /// The node's name.
    pub node: String,
    /// How many keys were live and are now revoked.
    pub revoked: usize,
}

/// A heartbeat taken in.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeartbeatAnswer {
    /// The server looks at the node now.
    pub queued: bool,
    /// Ids of the node's keys that still count: the runner drops any other.
    /// Null when the runner called with its token from git, not a node key.
    pub keys: Option<Vec<String>>,
}

fn invalid(message: String, hint: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid", message, hint)
}

/// How nodes reach this server: PUBLIC_URL, else the host the request came to, at the API port.
pub fn server_url(s: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &s.settings.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let bare = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    format!("http://{bare}:{}", s.settings.api_port)
}

/// Makes a one-time enrollment token and the command that installs a runner with it.
#[utoipa::path(post, path = "/api/v1/enrollment-tokens", tag = "nodes", request_body = NewEnrollmentToken,
    responses((status = 201, description = "the token's record with the token (shown only now) and the install command",
        body = NewEnrollmentTokenAnswer),
    (status = 400, description = "a bad node name or lifetime")))]
pub async fn create_token(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<NewEnrollmentToken>,
) -> Result<(StatusCode, Json<NewEnrollmentTokenAnswer>), ApiError> {
    if let Some(n) = &b.node {
        n.parse::<car_schemas::values::Name>()
            .map_err(|_| invalid(format!("{n:?} is not a node name"), "use lowercase letters, digits and '-'"))?;
    }
    let ttl = match b.expires_in_minutes {
        None => enrollment::DEFAULT_TTL,
        Some(m @ 1..=10080) => chrono::TimeDelta::minutes(i64::from(m)),
        Some(m) => return Err(invalid(format!("expires_in_minutes={m} is not from 1 to 10080"), "e.g. 60")),
    };
    let (record, secret) = enrollment::create_token(&s.store, b.node.as_deref(), ttl, &c.actor()).await?;
    let url = server_url(&s, &headers);
    let name = b.node.as_deref().map(|n| format!(" --name {n}")).unwrap_or_default();
    let command = format!("curl -sSL {url}/install | bash -s -- --token {secret}{name}");
    Ok((StatusCode::CREATED, Json(NewEnrollmentTokenAnswer { record, token: secret, command })))
}

/// Enrollment tokens, newest first (never the tokens themselves).
#[utoipa::path(get, path = "/api/v1/enrollment-tokens", tag = "nodes",
    responses((status = 200, description = "the latest enrollment tokens", body = EnrollmentTokenList)))]
pub async fn tokens(State(s): State<AppState>) -> Result<Json<EnrollmentTokenList>, ApiError> {
    Ok(Json(EnrollmentTokenList { enrollment_tokens: enrollment::tokens(&s.store).await? }))
}

/// Revokes an unused enrollment token.
#[utoipa::path(delete, path = "/api/v1/enrollment-tokens/{id}", tag = "nodes", params(("id" = String, Path)),
    responses((status = 204, description = "revoked"), (status = 404, description = "no such unused token")))]
pub async fn revoke_token(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if enrollment::revoke_token(&s.store, &id, &c.actor()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            format!("no unused enrollment token {id:?}"),
            "GET /api/v1/enrollment-tokens lists them",
        ))
    }
}

/// A node enrolls with a one-time token (the install script does this
/// through `car-runner enroll`) and gets its node key. The token is the
/// authentication: it works once, before it expires.
#[utoipa::path(post, path = "/api/v1/nodes/enroll", tag = "nodes", request_body = EnrollRequest, security(()),
    responses((status = 201, description = "enrolled: the node and its key, shown only now", body = EnrolledNode),
    (status = 400, description = "a bad name or address"),
    (status = 403, description = "the token is unknown, used, expired, revoked or for another node")))]
pub async fn enroll(
    State(s): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    JsonBody(b): JsonBody<EnrollRequest>,
) -> Result<(StatusCode, Json<EnrolledNode>), ApiError> {
    let long = |t: &Option<String>, n: usize| t.as_ref().is_some_and(|t| t.chars().count() > n);
    if b.token.len() > 200 || b.name.len() > 63 || long(&b.address, 2000) || long(&b.os, 100) || long(&b.version, 100) {
        return Err(invalid("the request is too long".into(), "check what was sent"));
    }
    for (field, text) in [("os", &b.os), ("version", &b.version)] {
        if let Some(t) = text {
            super::error::storable(field, t)?;
        }
    }
    match enrollment::enroll(&s.store, &s.secrets, &b, ip).await {
        Ok((node, key)) => {
            s.probes.schedule(node.name.clone());
            Ok((StatusCode::CREATED, Json(EnrolledNode { node, key })))
        }
        Err(EnrollError::Refused { message, hint }) => {
            tracing::warn!(node = %b.name, ip = ?ip, reason = %message, "refused an enrollment");
            let actor = crate::trust::audit::Actor::new(
                crate::trust::audit::ActorKind::Node,
                b.name.clone(),
                ip.map(|i| i.to_string()),
            );
            crate::trust::audit::record(
                s.store.pool(),
                &actor,
                Action::NodeEnrollRefused,
                Some(&b.name),
                json!({"reason": message}),
            )
            .await?;
            Err(ApiError::new(StatusCode::FORBIDDEN, "enrollment_refused", message, hint))
        }
        Err(EnrollError::Store(e)) => Err(e.into()),
    }
}

async fn known_node(s: &AppState, name: &str) -> Result<(), ApiError> {
    let declared = s.live.now().nodes.contains_key(name);
    if declared || enrollment::enrolled(&s.store, name).await?.is_some() {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no node {name:?} is declared or enrolled"), "GET /api/v1/nodes lists them"))
    }
}

/// A node's keys and its enrollment.
#[utoipa::path(get, path = "/api/v1/nodes/{name}/keys", tag = "nodes", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "the node's keys and enrollment", body = NodeKeys),
    (status = 404, description = "no such node")))]
pub async fn keys(State(s): State<AppState>, Path(name): Path<String>) -> Result<Json<NodeKeys>, ApiError> {
    known_node(&s, &name).await?;
    let enrolled = enrollment::enrolled(&s.store, &name).await?;
    let keys = node_keys::list(&s.store, &name).await?;
    Ok(Json(NodeKeys { node: name, enrolled, keys }))
}

/// Gives a node a new key without downtime: the runner takes the new key
/// while the old one still works, then drops the old one. The runner must
/// be up: a node whose runner cannot be reached keeps its key.
#[utoipa::path(post, path = "/api/v1/nodes/{name}/keys/rotate", tag = "nodes", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "the new current key's record", body = RotatedKey),
    (status = 404, description = "no such node"),
    (status = 409, description = "the node has no key, or its runner cannot be reached now; nothing changed"),
    (status = 502, description = "the runner answered but did not take the new key; nothing changed")))]
pub async fn rotate(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<RotatedKey>, ApiError> {
    known_node(&s, &name).await?;
    match keys::rotate(&s.runners, &name, &c.actor()).await {
        Ok(key) => Ok(Json(RotatedKey { key })),
        Err(e @ RotateError::NotEnrolled(_)) => {
            Err(ApiError::new(StatusCode::CONFLICT, "not_enrolled", e.to_string(), "enroll the node first"))
        }
        // A runner that is down is the node's state, not a failure of this server.
        Err(RotateError::Runner(e))
            if matches!(
                e.kind,
                RunnerErrorKind::Unreachable | RunnerErrorKind::Unenrolled | RunnerErrorKind::Config
            ) =>
        {
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "runner_unreachable",
                format!("the key was not rotated (nothing changed): {}", e.message),
                format!("start node {name}'s runner (GET /api/v1/nodes/{name} shows its health), then rotate again"),
            ))
        }
        Err(RotateError::Runner(e)) => Err(super::runs::bad_gateway(e)),
        Err(RotateError::Store(e)) => Err(e.into()),
    }
}

/// Revokes every key of a node: the server refuses them at once and the
/// runner is told to forget them. The node must enroll again.
#[utoipa::path(post, path = "/api/v1/nodes/{name}/keys/revoke", tag = "nodes", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "how many keys were revoked", body = RevokedKeys),
    (status = 404, description = "no such node")))]
pub async fn revoke(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<RevokedKeys>, ApiError> {
    known_node(&s, &name).await?;
    let revoked = keys::revoke(&s.runners, &name, &c.actor()).await?;
    s.probes.schedule(name.clone());
    Ok(Json(RevokedKeys { node: name, revoked }))
}

/// A node's runner says it is there (it started, or its state changed):
/// the server looks at it now. The answer lists the ids of the node keys
/// that still count, so the runner drops any other.
#[utoipa::path(post, path = "/api/v1/nodes/{name}/heartbeat", tag = "nodes", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    security(("node_key" = [])),
    responses((status = 202, description = "the server looks at the node now", body = HeartbeatAnswer),
    (status = 404, description = "not declared or enrolled")))]
pub async fn heartbeat(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<HeartbeatAnswer>), ApiError> {
    known_node(&s, &name).await?;
    s.probes.schedule(name.clone());
    let keys = match c.principal {
        Principal::Node { key_id: Some(_), .. } => Some(node_keys::valid_ids(&s.store, &name).await?),
        _ => None,
    };
    Ok((StatusCode::ACCEPTED, Json(HeartbeatAnswer { queued: true, keys })))
}
