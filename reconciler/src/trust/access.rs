//! Who may call the API. Every request passes [`guard`], set per group of
//! routes in `api::router` with the [`Access`] the group needs: it works
//! out the caller (an API key or node key as `Authorization: Bearer`, or a
//! dashboard session cookie), refuses a cookie-carried write that comes
//! from another site, checks the caller's role, and hands the handler a
//! [`Caller`]. A route belongs to exactly one group, so none is reachable
//! without a decision.
//!
//! Roles: `viewer` reads, `operator` also runs agents and decides
//! approvals, `admin` also manages users, keys, secrets and nodes' trust.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use axum::RequestExt;
use axum::extract::{ConnectInfo, RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{ApiError, AppState};
use crate::trust::audit::Actor;
use crate::trust::node_keys::KeyState;
use crate::trust::tokens;

/// The dashboard's session cookie.
pub const SESSION_COOKIE: &str = "car_session";
/// Longest a session lasts, however active.
pub const SESSION_MAX: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// What a user or API key may do; each role may do all the one before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything but users, keys, secrets and the audit log.
    Viewer,
    /// Also starts and cancels runs, decides approvals, pauses schedules, asks for a sync.
    Operator,
    /// Also manages users, API keys, secrets, enrollment and node keys; reads the audit log.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// For rows that store a role as text.
impl TryFrom<String> for Role {
    type Error = String;
    fn try_from(s: String) -> Result<Role, String> {
        s.parse()
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?} (hint: viewer, operator or admin)")),
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    User {
        id: i64,
        name: String,
        role: Role,
    },
    ApiKey {
        id: String,
        name: String,
        role: Role,
    },
    /// A node's runner, with the node key it presented (none for a token declared in git).
    Node {
        name: String,
        key_id: Option<String>,
    },
}

impl Principal {
    /// The role it acts with; nodes have none.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::User { role, .. } | Principal::ApiKey { role, .. } => Some(*role),
            Principal::Node { .. } => None,
        }
    }
}

/// The caller of a guarded route, for handlers.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub ip: Option<IpAddr>,
    /// The session token, when the caller came with the dashboard's cookie.
    pub session: Option<String>,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        let ip = self.ip.map(|i| i.to_string());
        match &self.principal {
            Principal::User { name, .. } => Actor::new("user", name.clone(), ip),
            Principal::ApiKey { name, .. } => Actor::new("api_key", name.clone(), ip),
            Principal::Node { name, .. } => Actor::new("node", name.clone(), ip),
        }
    }
}

/// The client address of a request to a public route (login, enrollment).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

/// What a group of routes needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (probes, login, and routes with secrets of their own).
    Public,
    /// A user or API key with at least this role.
    Role(Role),
    /// The runner of the node named in the path (its key or its token from
    /// git), or an operator.
    Node,
}

/// How the server recognises callers: from its settings.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Sessions end after this long without a request.
    pub session_idle: Duration,
    /// Mark cookies `Secure` (PUBLIC_URL is https).
    pub secure_cookies: bool,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Origins besides the request's own host that may send cookie-carried writes (PUBLIC_URL's).
    pub origins: Vec<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            session_idle: Duration::from_secs(12 * 3600),
            secure_cookies: false,
            trusted_proxies: loopback(),
            origins: Vec::new(),
        }
    }
}

/// Loopback, the default trusted proxy: a reverse proxy on the same machine.
pub fn loopback() -> Vec<IpNet> {
    vec!["127.0.0.0/8".parse().expect("a network"), "::1/128".parse().expect("a network")]
}

/// The middleware of every group of routes; see the module's text.
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
    let ip = client_ip(peer, req.headers(), &s.auth.trusted_proxies);
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
    if caller.session.is_some() && !safe(&req) && cross_site(req.headers(), &s.auth.origins) {
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
    if let Err(e) = authorize(&caller.principal, access, path_node.as_deref()) {
        return e.into_response();
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

/// Whether a browser says this request comes from another site. The
/// algorithm of Go's `http.CrossOriginProtection`: `Sec-Fetch-Site` when
/// the browser sends it, else `Origin` against `Host`; a request with
/// neither is not from a browser (a script with the cookie is the user).
pub fn cross_site(headers: &HeaderMap, origins: &[String]) -> bool {
    let text = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    let origin = text("origin");
    let trusted = origin.is_some_and(|o| origins.iter().any(|t| t.eq_ignore_ascii_case(o)));
    match text("sec-fetch-site") {
        Some("same-origin" | "none") => return false,
        Some(_) => return !trusted,
        None => {}
    }
    let Some(origin) = origin else { return false };
    let host = origin.split_once("://").map_or(origin, |(_, h)| h);
    !(text("host").is_some_and(|h| h.eq_ignore_ascii_case(host)) || trusted)
}

/// The client's address: the peer, or, when the peer is a trusted proxy,
/// the last address in `X-Forwarded-For` that is not one.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded.into_iter().rev().find(|ip| !is_trusted(ip)).or(Some(peer))
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
    let idle = chrono::TimeDelta::from_std(s.auth.session_idle).unwrap_or(chrono::TimeDelta::hours(12));
    let user =
        s.store.session(&token, idle).await?.ok_or_else(|| {
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
        let key = s.store.presented_key(token).await?.ok_or_else(|| {
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
        && crate::nodes::client::Endpoint::declared_token_matches(&s.store, &s.secrets, &node, token).await
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

fn authorize(p: &Principal, access: Access, path_node: Option<&str>) -> Result<(), ApiError> {
    let forbidden = |m: String, hint: &str| Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", m, hint));
    let needed = match access {
        Access::Public => return Ok(()),
        Access::Role(role) => role,
        Access::Node => Role::Operator,
    };
    match p {
        Principal::Node { name, .. } if access == Access::Node && Some(name.as_str()) == path_node => Ok(()),
        Principal::Node { name, .. } => forbidden(
            format!("node {name}'s key may only call node {name}'s own routes"),
            "use an API key or log in to the dashboard",
        ),
        Principal::User { role, .. } | Principal::ApiKey { role, .. } if *role >= needed => Ok(()),
        Principal::User { role, .. } | Principal::ApiKey { role, .. } => forbidden(
            format!("this needs the {} role; you are {}", needed.as_str(), article(*role)),
            "ask an admin for a role that allows it",
        ),
    }
}

fn article(role: Role) -> String {
    match role {
        Role::Admin | Role::Operator => format!("an {}", role.as_str()),
        Role::Viewer => "a viewer".into(),
    }
}

/// The session token in a request's cookies.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a new session's token (HttpOnly, SameSite=Strict,
/// Secure behind https), or, with `None`, one that removes the cookie.
pub fn session_set_cookie(token: Option<&str>, secure: bool) -> axum::http::HeaderValue {
    let age = if token.is_some() { SESSION_MAX.num_seconds() } else { 0 };
    let cookie = cookie::Cookie::build((SESSION_COOKIE, token.unwrap_or_default().to_string()))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::seconds(age))
        .build();
    axum::http::HeaderValue::from_str(&cookie.to_string()).expect("a cookie is a header value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cross_site_writes_are_told_apart_from_the_dashboards_own() {
        let none: &[String] = &[];
        assert!(!cross_site(&headers(&[("sec-fetch-site", "same-origin")]), none));
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")]), none));
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")]), none));
        // Older browsers: Origin against Host.
        assert!(!cross_site(&headers(&[("origin", "http://car.lan:3000"), ("host", "car.lan:3000")]), none));
        assert!(cross_site(&headers(&[("origin", "http://evil.example"), ("host", "car.lan:3000")]), none));
        // Not a browser at all.
        assert!(!cross_site(&headers(&[("host", "car.lan:3000")]), none));
        // PUBLIC_URL's origin is trusted behind a proxy that rewrites Host.
        let trusted = ["https://car.example.org".to_string()];
        assert!(!cross_site(&headers(&[("origin", "https://car.example.org"), ("host", "10.0.0.5:3000")]), &trusted));
        assert!(!cross_site(
            &headers(&[("sec-fetch-site", "cross-site"), ("origin", "https://car.example.org")]),
            &trusted
        ));
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.2")]);
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.0/8".parse().unwrap()];
        let from_proxy = client_ip(Some("127.0.0.1".parse().unwrap()), &h, &trusted);
        assert_eq!(from_proxy, Some("203.0.113.9".parse().unwrap()));
        let direct = client_ip(Some("198.51.100.7".parse().unwrap()), &h, &trusted);
        assert_eq!(direct, Some("198.51.100.7".parse().unwrap()), "a client cannot pick its own address");
        let bare = client_ip(Some("127.0.0.1".parse().unwrap()), &HeaderMap::new(), &trusted);
        assert_eq!(bare, Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn roles_are_checked_and_nodes_speak_only_for_themselves() {
        let viewer = Principal::ApiKey { id: "k".into(), name: "ci".into(), role: Role::Viewer };
        let operator = Principal::User { id: 1, name: "op".into(), role: Role::Operator };
        let node = Principal::Node { name: "tower".into(), key_id: None };
        assert!(authorize(&viewer, Access::Role(Role::Viewer), None).is_ok());
        let e = authorize(&viewer, Access::Role(Role::Operator), None).unwrap_err();
        assert_eq!(
            (e.status, e.message.as_str()),
            (StatusCode::FORBIDDEN, "this needs the operator role; you are a viewer")
        );
        assert!(authorize(&operator, Access::Role(Role::Admin), None).is_err());
        assert!(authorize(&node, Access::Node, Some("tower")).is_ok());
        assert!(authorize(&node, Access::Node, Some("nas")).is_err());
        assert!(authorize(&node, Access::Role(Role::Viewer), None).is_err());
        assert!(authorize(&operator, Access::Node, Some("tower")).is_ok());
        assert!(authorize(&viewer, Access::Node, Some("tower")).is_err());
    }

    #[test]
    fn the_session_cookie_is_http_only_and_strict() {
        let text = |v: axum::http::HeaderValue| v.to_str().unwrap().to_string();
        let c = text(session_set_cookie(Some("tok"), true));
        for part in ["car_session=tok", "HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!text(session_set_cookie(Some("tok"), false)).contains("Secure"));
        assert!(text(session_set_cookie(None, false)).contains("Max-Age=0"));
        let h = headers(&[("cookie", "theme=dark; car_session=abc123")]);
        assert_eq!(session_cookie(&h).as_deref(), Some("abc123"));
    }
}
