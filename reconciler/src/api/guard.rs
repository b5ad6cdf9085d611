//! The middleware in front of every group of routes (set per group in
//! [`super::groups`] with the [`Access`] the group needs): it works out the
//! caller (an API key or node key as `Authorization: Bearer`, or a
//! dashboard session cookie), refuses a cookie-carried write that comes
//! from another site, checks the caller's role ([`access::authorize`]), and
//! hands the handler a [`Caller`]. A route belongs to exactly one group, so
//! none is reachable without a decision.

use std::net::{IpAddr, SocketAddr};

use axum::RequestExt;
use axum::extract::{ConnectInfo, RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::trust::access::{self, Access, Caller, ClientIp, Principal, Role, client_ip, cross_site, session_cookie};
use crate::trust::node_keys::KeyState;
use crate::trust::tokens;

/// See the module's text.
pub async fn guard(State(s): State<AppState>, access: Access, mut req: Request, next: Next) -> Response {
    // PostgreSQL text cannot hold NUL, so no name, id or filter may carry one.
    let uri = req.uri().to_string();
    if uri.contains("%00") || uri.contains('\0') {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "the path or query holds a NUL character",
            "send names and filters without NUL (%00)",
        )
        .into_response();
    }
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = client_ip(peer, req.headers(), &s.settings.auth.trusted_proxies);
    req.extensions_mut().insert(ClientIp(ip));
    if access == Access::Public {
        return next.run(req).await;
    }
    // Owned copies: a request body is not Sync, so no reference to the request may wait.
    let (headers, path) = (req.headers().clone(), req.uri().path().to_string());
    let caller = match authenticate(&s, &headers, &path, ip).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if caller.session.is_some() && !safe(&req) && cross_site(req.headers(), &s.settings.auth.origins) {
        tracing::warn!(ip = ?ip, path = %req.uri().path(), "refused a cross-site request carrying a session cookie");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "a request from another site may not use your dashboard session",
            "open the dashboard itself, or call the API with an API key (Authorization: Bearer car_…)",
        )
        .into_response();
    }
    let path_node = match access {
        Access::Node => match req.extract_parts::<RawPathParams>().await {
            Ok(params) => params.iter().find(|(k, _)| *k == "name").map(|(_, v)| v.to_string()),
            Err(_) => None,
        },
        _ => None,
    };
    if let Err(e) = access::authorize(&caller.principal, access, path_node.as_deref()) {
        return ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.message, e.hint).into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Whether a request cannot change anything (so needs no cross-site check):
/// GET and HEAD, but not a WebSocket upgrade, which opens a live channel.
fn safe(req: &Request) -> bool {
    matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && !req.headers().contains_key(header::UPGRADE)
}

fn unauthorized(message: impl Into<String>, hint: &str) -> ApiError {
    ApiError::unauthorized(message, hint)
}

/// Works out who is calling; every failure is 401 and says why.
async fn authenticate(s: &AppState, headers: &HeaderMap, path: &str, ip: Option<IpAddr>) -> Result<Caller, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim).ok_or_else(|| {
            unauthorized("the Authorization header is not `Bearer <key>`", "send Authorization: Bearer car_…")
        })?;
        let principal = bearer(s, token, path).await?;
        return Ok(Caller { principal, ip, session: None });
    }
    let Some(token) = session_cookie(headers) else {
        return Err(unauthorized(
            "this needs you to log in",
            "log in (POST /api/v1/auth/login) or send an API key as Authorization: Bearer car_…",
        ));
    };
    let idle = chrono::TimeDelta::from_std(s.settings.auth.session_idle).unwrap_or(chrono::TimeDelta::hours(12));
    let user =
        s.users.session(&token, idle).await?.ok_or_else(|| {
            unauthorized("your session has ended (logged out, expired or idle too long)", "log in again")
        })?;
    let role = user.role.parse().unwrap_or(Role::Viewer);
    Ok(Caller { principal: Principal::User { id: user.user_id, name: user.username, role }, ip, session: Some(token) })
}

async fn bearer(s: &AppState, token: &str, path: &str) -> Result<Principal, ApiError> {
    if token.starts_with(tokens::NODE_KEY) {
        let key = crate::trust::node_keys::verify(&s.store, s.secrets.key(), token).await?;
        return match key {
            Some(k) if k.state != KeyState::Revoked => Ok(Principal::Node { name: k.node, key_id: Some(k.id) }),
            Some(k) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "node_key_revoked",
                format!("node {}'s key {} was revoked", k.node, k.id),
                "enroll the node again with a new enrollment token",
            )),
            None => Err(unauthorized("unknown node key", "enroll the node with the install script")),
        };
    }
    if token.starts_with(tokens::API_KEY) {
        let key = s.users.presented_key(token).await?.ok_or_else(|| {
            unauthorized("unknown API key", "check the key; an admin can make one with POST /api/v1/api-keys")
        })?;
        if let Some(at) = key.revoked_at {
            return Err(unauthorized(
                format!("API key {:?} was revoked at {at}", key.name),
                "ask an admin for a new key",
            ));
        }
        if let Some(at) = key.expires_at.filter(|e| *e <= chrono::Utc::now()) {
            return Err(unauthorized(format!("API key {:?} expired at {at}", key.name), "ask an admin for a new key"));
        }
        let role = key.role.parse().unwrap_or(Role::Viewer);
        return Ok(Principal::ApiKey { id: key.id, name: key.name, role });
    }
    // A runner declared in git authenticates with its token from git, on its node's routes only.
    if let Some(node) = node_in_path(path)
        && s.runners.declared_token_matches(&node, token).await
    {
        return Ok(Principal::Node { name: node, key_id: None });
    }
    Err(unauthorized("unknown bearer token", "send an API key (car_…) or, from a runner, its node key (carn_…)"))
}

/// `{name}` of a `/api/v1/nodes/{name}/…` path.
fn node_in_path(path: &str) -> Option<String> {
    // Under the dashboard's /api the router sees the same path: nesting strips the prefix.
    let rest = path.strip_prefix("/api/v1/nodes/")?;
    let (name, _) = rest.split_once('/')?;
    Some(name.to_string())
}
