//! Who may do what: roles, the principals that call (users, API keys,
//! nodes), which of them a group of routes lets in ([`authorize`]), and the
//! request facts that decide it (client address behind trusted proxies,
//! cross-site requests, the session cookie). `api::guard` applies it to
//! every request.
//!
//! Roles: `viewer` reads, `operator` also runs agents and decides
//! approvals, `admin` also manages users, keys, secrets and nodes' trust.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::trust::audit::{Actor, ActorKind};

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
            Principal::User { name, .. } => Actor::new(ActorKind::User, name.clone(), ip),
            Principal::ApiKey { name, .. } => Actor::new(ActorKind::ApiKey, name.clone(), ip),
            Principal::Node { name, .. } => Actor::new(ActorKind::Node, name.clone(), ip),
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

/// Why a caller may not use a route: 403, saying what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbidden {
    pub message: String,
    pub hint: &'static str,
}

/// Whether `p` may use a route that needs `access` (`path_node`: the node a
/// node route is about).
pub fn authorize(p: &Principal, access: Access, path_node: Option<&str>) -> Result<(), Forbidden> {
    let forbidden = |message: String, hint| Err(Forbidden { message, hint });
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
        assert_eq!(e.message, "this needs the operator role; you are a viewer");
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
