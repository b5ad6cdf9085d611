//! Trusting nodes: enrollment tokens (admins), enrolling with one (the
//! install script), node keys (list, rotate, revoke; admins) and the
//! runner's heartbeat, which also tells it which of its keys still count.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::error::JsonBody;
use super::{ApiError, AppState};
use crate::auth::{Caller, ClientIp, Principal};
use crate::enrollment::{self, EnrollError, EnrollRequest};
use crate::node_keys::{self, RotateError};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnrollmentToken {
    /// The node it is for (its name in git); leave out to let the node pick its name.
    #[schema(pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    pub node: Option<String>,
    /// Minutes it stays valid: 60 unless said, at most 10080 (7 days).
    #[schema(minimum = 1, maximum = 10080)]
    #[serde(default, deserialize_with = "crate::api::whole")]
    pub expires_in_minutes: Option<u32>,
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
    responses((status = 201, description = "the token's record with `token` (shown only now) and the install `command`"),
    (status = 400, description = "a bad node name or lifetime")))]
pub async fn create_token(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<NewEnrollmentToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if let Some(n) = &b.node {
        n.parse::<car_schemas::values::Name>()
            .map_err(|_| invalid(format!("{n:?} is not a node name"), "use lowercase letters, digits and '-'"))?;
    }
    let ttl = match b.expires_in_minutes {
        None => enrollment::DEFAULT_TTL,
        Some(m @ 1..=10080) => chrono::TimeDelta::minutes(i64::from(m)),
        Some(m) => return Err(invalid(format!("expires_in_minutes={m} is not from 1 to 10080"), "e.g. 60")),
    };
    let (token, secret) = enrollment::create_token(&s.store, b.node.as_deref(), ttl, &c.actor()).await?;
    let url = server_url(&s, &headers);
    let name = b.node.as_deref().map(|n| format!(" --name {n}")).unwrap_or_default();
    let command = format!("curl -sSL {url}/install | bash -s -- --token {secret}{name}");
    let mut made = json!(token);
    made["token"] = json!(secret);
    made["command"] = json!(command);
    Ok((StatusCode::CREATED, Json(made)))
}

/// Enrollment tokens, newest first (never the tokens themselves).
#[utoipa::path(get, path = "/api/v1/enrollment-tokens", tag = "nodes",
    responses((status = 200, description = "{enrollment_tokens: [...]}")))]
pub async fn tokens(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"enrollment_tokens": enrollment::tokens(&s.store).await?})))
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
    responses((status = 201, description = "{node, key}: the node's key, shown only now"),
    (status = 400, description = "a bad name or address"),
    (status = 403, description = "the token is unknown, used, expired, revoked or for another node")))]
pub async fn enroll(
    State(s): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    JsonBody(b): JsonBody<EnrollRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
            s.nodes.schedule(node.name.clone());
            Ok((StatusCode::CREATED, Json(json!({"node": node, "key": key}))))
        }
        Err(EnrollError::Refused { message, hint }) => {
            tracing::warn!(node = %b.name, ip = ?ip, reason = %message, "refused an enrollment");
            let actor = crate::audit::Actor::new("node", b.name.clone(), ip.map(|i| i.to_string()));
            crate::audit::record(
                s.store.pool(),
                &actor,
                "node.enroll_refused",
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
    let declared = s.store.object("Node", name).await?.is_some();
    if declared || enrollment::enrolled(&s.store, name).await?.is_some() {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no node {name:?} is declared or enrolled"), "GET /api/v1/nodes lists them"))
    }
}

/// A node's keys and its enrollment.
#[utoipa::path(get, path = "/api/v1/nodes/{name}/keys", tag = "nodes", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "{enrolled, keys: [...]}"), (status = 404, description = "no such node")))]
pub async fn keys(State(s): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    known_node(&s, &name).await?;
    let enrolled = enrollment::enrolled(&s.store, &name).await?;
    Ok(Json(json!({"node": name, "enrolled": enrolled, "keys": node_keys::list(&s.store, &name).await?})))
}

/// Gives a node a new key without downtime: the runner takes the new key
/// while the old one still works, then drops the old one.
#[utoipa::path(post, path = "/api/v1/nodes/{name}/keys/rotate", tag = "nodes", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "{key}: the new current key's record"),
    (status = 404, description = "no such node"), (status = 409, description = "the node has no key"),
    (status = 502, description = "the runner did not take the new key; nothing changed")))]
pub async fn rotate(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    known_node(&s, &name).await?;
    match node_keys::rotate(&s.store, &s.secrets, &s.runs.http, &name, &c.actor()).await {
        Ok(key) => Ok(Json(json!({"key": key}))),
        Err(e @ RotateError::NotEnrolled(_)) => {
            Err(ApiError::new(StatusCode::CONFLICT, "not_enrolled", e.to_string(), "enroll the node first"))
        }
        Err(RotateError::Runner(e)) => Err(super::runs::bad_gateway(e)),
        Err(RotateError::Store(e)) => Err(e.into()),
    }
}

/// Revokes every key of a node: the server refuses them at once and the
/// runner is told to forget them. The node must enroll again.
#[utoipa::path(post, path = "/api/v1/nodes/{name}/keys/revoke", tag = "nodes", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "{revoked: number of keys}"), (status = 404, description = "no such node")))]
pub async fn revoke(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    known_node(&s, &name).await?;
    let revoked = node_keys::revoke(&s.store, &s.secrets, &s.runs.http, &name, &c.actor()).await?;
    s.nodes.schedule(name.clone());
    Ok(Json(json!({"node": name, "revoked": revoked})))
}

/// A node's runner says it is there (it started, or its state changed):
/// the server looks at it now. The answer lists the ids of the node keys
/// that still count, so the runner drops any other.
#[utoipa::path(post, path = "/api/v1/nodes/{name}/heartbeat", tag = "nodes", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    security(("node_key" = [])),
    responses((status = 202, description = "{queued, keys: [ids]}"), (status = 404, description = "not declared or enrolled")))]
pub async fn heartbeat(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    known_node(&s, &name).await?;
    s.nodes.schedule(name.clone());
    let keys = match c.principal {
        Principal::Node { key_id: Some(_), .. } => json!(node_keys::valid_ids(&s.store, &name).await?),
        _ => Value::Null,
    };
    Ok((StatusCode::ACCEPTED, Json(json!({"queued": true, "keys": keys}))))
}
