//! Logging in and out of the dashboard, the first admin's setup link,
//! who am I, and changing one's own password.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::error::JsonBody;
use super::{ApiError, AppState};
use crate::trust::access::{self, Caller, ClientIp, Principal, Role};
use crate::trust::audit::{self, Action, Actor, ActorKind};
use crate::trust::users::User;
use crate::trust::{password, throttle, users};

/// A new dashboard session (its token is in the cookie, never in the body).
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// Who is logged in.
    pub user: User,
    /// When the session ends, however active.
    pub expires_at: DateTime<Utc>,
    /// Seconds without a request after which the session ends sooner.
    pub idle_timeout_s: u64,
}

/// A session made for a user: the answer's status, its cookie and body.
/// Not `Debug`: the cookie holds the session's token.
pub struct LoggedIn {
    status: StatusCode,
    cookie: HeaderValue,
    session: Session,
}

impl IntoResponse for LoggedIn {
    fn into_response(self) -> Response {
        (self.status, [(header::SET_COOKIE, self.cookie)], Json(self.session)).into_response()
    }
}

/// Who is calling, by kind.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Identity {
    /// A user, with a session cookie.
    User {
        /// Their user name.
        name: String,
        role: Role,
    },
    /// An API key.
    ApiKey {
        /// The key's id (`key_…`).
        id: String,
        /// The key's name.
        name: String,
        role: Role,
    },
    /// A node's runner, with its node key or its token from git.
    Node {
        /// The node's name.
        name: String,
    },
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[schema(max_length = 64, pattern = "^[^\\u0000]*$")]
    pub username: String,
    #[schema(max_length = 1024)]
    pub password: String,
}

fn too_long(what: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("the {what} is too long"), "check what was sent")
}

/// Logs in with a user name and password and sets the session cookie
/// (HttpOnly, SameSite=Strict, Secure behind https). Repeated failures are
/// throttled per user and address.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login, security(()),
    responses((status = 200, description = "logged in; the session cookie is set", body = Session),
    (status = 400, description = "not a login request"),
    (status = 401, description = "wrong user name or password"),
    (status = 429, description = "too many failures: wait Retry-After seconds")))]
pub async fn login(
    State(s): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<Login>,
) -> Result<Response, ApiError> {
    if b.username.chars().count() > 64 {
        return Err(too_long("user name"));
    }
    super::error::storable("the user name", &b.username)?;
    if b.password.chars().count() > password::MAX_LEN {
        return Err(too_long("password"));
    }
    let actor = Actor::new(ActorKind::User, b.username.clone(), ip.map(|i| i.to_string()));
    if let Some(wait) = throttle::wait(&s.store, &b.username, ip).await? {
        audit::record(s.store.pool(), &actor, Action::AuthLoginThrottled, None, json!({})).await?;
        let mut r = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            format!("too many failed logins; try again in {} s", wait.as_secs()),
            "check the user name and password; an admin can reset a password",
        )
        .into_response();
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        return Ok(r);
    }
    let user = s.users.user(&b.username).await?;
    let matches = password::verify(&b.password, user.as_ref().map(|u| u.password_hash.as_str())).await;
    let user = match user {
        Some(u) if matches && !u.disabled => u,
        other => {
            let reason = match other {
                None => "unknown user",
                Some(u) if u.disabled => "disabled user",
                Some(_) => "wrong password",
            };
            audit::record(s.store.pool(), &actor, Action::AuthLoginFailed, None, json!({"reason": reason})).await?;
            tracing::warn!(username = %b.username, ip = ?ip, reason, "failed login");
            return Err(ApiError::unauthorized(
                "wrong user name or password",
                "check both; an admin can reset a password",
            ));
        }
    };
    Ok(start_session(&s, &user, &actor, &headers, StatusCode::OK).await?.into_response())
}

/// A new session for `user`, as an answer that sets its cookie.
async fn start_session(
    s: &AppState,
    user: &users::UserRow,
    actor: &Actor,
    headers: &HeaderMap,
    status: StatusCode,
) -> Result<LoggedIn, ApiError> {
    let token = crate::trust::tokens::generate("");
    let expires_at = Utc::now() + access::SESSION_MAX;
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    s.users.create_session(user, &token, expires_at, actor, agent).await?;
    let session =
        Session { user: User::from(user), expires_at, idle_timeout_s: s.settings.auth.session_idle.as_secs() };
    let cookie = access::session_set_cookie(Some(&token), s.settings.auth.secure_cookies);
    Ok(LoggedIn { status, cookie, session })
}

/// Logs out: ends the session and clears its cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "logged out")))]
pub async fn logout(State(s): State<AppState>, Extension(c): Extension<Caller>) -> Result<Response, ApiError> {
    if let Some(token) = &c.session {
        s.users.end_session(token, &c.actor()).await?;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(header::SET_COOKIE, access::session_set_cookie(None, s.settings.auth.secure_cookies));
    Ok(r)
}

/// Who is calling: a user or an API key, with its role.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, description = "the caller", body = Identity)))]
pub async fn me(Extension(c): Extension<Caller>) -> Json<Identity> {
    Json(match c.principal {
        Principal::User { name, role, .. } => Identity::User { name, role },
        Principal::ApiKey { id, name, role } => Identity::ApiKey { id, name, role },
        Principal::Node { name, .. } => Identity::Node { name },
    })
}

/// Sets the caller's own name and e-mail, as commits of their edits carry them.
#[utoipa::path(put, path = "/api/v1/auth/profile", tag = "auth", request_body = super::users::Profile,
    responses((status = 200, description = "the user", body = super::users::UserAnswer),
    (status = 400, description = "a value cannot go into a commit"),
    (status = 403, description = "the caller is not a user")))]
pub async fn profile(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    JsonBody(b): JsonBody<super::users::Profile>,
) -> Result<Json<super::users::UserAnswer>, ApiError> {
    let Principal::User { name, .. } = &c.principal else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_a_user",
            "only users have a profile; an API key's edits carry the profile of the user who made it",
            "log in as the user to set it",
        ));
    };
    b.save(&s, name, &c.actor()).await?;
    let user = s.users.user(name).await?.ok_or_else(|| ApiError::unauthorized("no such user", "log in again"))?;
    Ok(Json(super::users::UserAnswer { user: crate::trust::users::User::from(&user) }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// The token of the setup link the server printed at start-up.
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$")]
    pub username: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
}

/// Creates the first admin with the one-time setup link (printed at first
/// start when ADMIN_USERNAME and ADMIN_PASSWORD are not set), and logs in.
#[utoipa::path(post, path = "/api/v1/auth/setup", tag = "auth", request_body = Setup, security(()),
    responses((status = 201, description = "the admin exists and is logged in; the session cookie is set", body = Session),
    (status = 400, description = "a bad user name or password"),
    (status = 403, description = "the link is wrong, expired or used, or users exist already")))]
pub async fn setup(
    State(s): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<Setup>,
) -> Result<LoggedIn, ApiError> {
    super::users::check_username(&b.username)?;
    password::check_new(&b.password)
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid", m, "choose another password"))?;
    let hash = password::hash(&b.password).await;
    let actor = Actor::new(ActorKind::User, b.username.clone(), ip.map(|i| i.to_string()));
    if !s.users.complete_setup(&b.token, &b.username, &hash, &actor).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "setup_refused",
            "this setup link is wrong, expired or used, or the server has users already",
            "restart the server for a fresh link (printed in its log), or log in",
        ));
    }
    let user = s.users.user(&b.username).await?.expect("the user just made");
    start_session(&s, &user, &actor, &headers, StatusCode::CREATED).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(max_length = 1024)]
    pub current_password: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

/// Changes the caller's own password; every session of theirs ends and a new one starts here.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 200, description = "changed; a new session cookie is set", body = Session),
    (status = 400, description = "the new password is too weak"),
    (status = 403, description = "the current password is wrong, or the caller is not a user")))]
pub async fn change_password(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<PasswordChange>,
) -> Result<LoggedIn, ApiError> {
    let Principal::User { name, .. } = &c.principal else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only users have passwords",
            "log in as the user",
        ));
    };
    let user = s.users.user(name).await?.ok_or_else(|| ApiError::unauthorized("no such user", "log in again"))?;
    if b.current_password.len() > password::MAX_LEN
        || !password::verify(&b.current_password, Some(&user.password_hash)).await
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_password",
            "the current password is wrong",
            "type it again",
        ));
    }
    password::check_new(&b.new_password)
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid", m, "choose another password"))?;
    let hash = password::hash(&b.new_password).await;
    s.users.update_user(name, None, Some(&hash), None, &c.actor()).await?;
    start_session(&s, &user, &c.actor(), &headers, StatusCode::OK).await
}
