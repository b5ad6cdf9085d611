//! Users (admins only): list, add, change (role, password, disabled), delete.
//! The last enabled admin cannot be demoted, disabled or deleted.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::JsonBody;
use super::{ApiError, AppState};
use crate::trust::access::{Caller, Role};
use crate::trust::password;
use crate::trust::users::User;

/// A user name: 1 to 64 letters, digits, `.`, `_`, `@` or `-`.
pub fn check_username(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'@' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("{name:?} is not a user name"),
            "use 1 to 64 letters, digits, '.', '_', '@' or '-'",
        ))
    }
}

fn weak(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid", message, "choose another password")
}

fn last_admin() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "last_admin",
        "that would leave no enabled admin",
        "make another user an admin first",
    )
}

fn no_user(name: &str) -> ApiError {
    ApiError::not_found(format!("no user {name:?}"), "GET /api/v1/users lists them")
}

/// Every user, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// In order of their names.
    pub users: Vec<User>,
}

/// One user, as added or changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAnswer {
    pub user: User,
}

/// Every user.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, description = "every user", body = UserList)))]
pub async fn list(State(s): State<AppState>) -> Result<Json<UserList>, ApiError> {
    let users = s.users.users().await?.iter().map(User::from).collect();
    Ok(Json(UserList { users }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$")]
    pub username: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    pub role: Role,
}

/// Adds a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, description = "the user", body = UserAnswer), (status = 400, description = "a bad name or password"),
    (status = 409, description = "the name is taken")))]
pub async fn create(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    JsonBody(b): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<UserAnswer>), ApiError> {
    check_username(&b.username)?;
    password::check_new(&b.password).map_err(weak)?;
    let hash = password::hash(&b.password).await;
    if !s.users.create_user(&b.username, &hash, b.role, &c.actor()).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "taken",
            format!("there is a user {:?} already", b.username),
            "pick another name, or change that user",
        ));
    }
    let user = s.users.user(&b.username).await?.ok_or_else(|| no_user(&b.username))?;
    Ok((StatusCode::CREATED, Json(UserAnswer { user: User::from(&user) })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    pub role: Option<Role>,
    /// A new password; the user's sessions end.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    /// Disabled users cannot log in; their sessions end.
    pub disabled: Option<bool>,
    /// Their name as commits of their edits carry it; `""` clears it.
    #[schema(max_length = 200)]
    pub full_name: Option<String>,
    /// Their e-mail as commits of their edits carry it; `""` clears it.
    #[schema(max_length = 200)]
    pub email: Option<String>,
}

/// A user's name and e-mail, as commits of their edits carry them; `""` clears one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[schema(max_length = 200)]
    pub full_name: Option<String>,
    #[schema(max_length = 200)]
    pub email: Option<String>,
}

impl Profile {
    /// Checks the values, and stores them when there are any.
    pub async fn save(&self, s: &AppState, username: &str, by: &crate::trust::audit::Actor) -> Result<(), ApiError> {
        if self.full_name.is_none() && self.email.is_none() {
            return Ok(());
        }
        // Anything goes in (a commit's author cannot hold '<', '>' or line
        // breaks: those are dropped when a commit is made), up to 200 characters.
        for (field, v) in [("full_name", &self.full_name), ("email", &self.email)] {
            let v = v.as_deref().unwrap_or_default();
            super::error::storable(field, v)?;
            if v.chars().count() > 200 {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    format!("{field} is longer than 200 characters"),
                    "shorten it",
                ));
            }
        }
        s.users.set_profile(username, self.full_name.as_deref(), self.email.as_deref(), by).await?;
        Ok(())
    }
}

/// Changes a user's role, password, whether they may log in, or their name and e-mail for commits.
#[utoipa::path(patch, path = "/api/v1/users/{username}", tag = "users", params(("username" = String, Path, pattern = "^[A-Za-z0-9._@-]{1,64}$")),
    request_body = UserChange,
    responses((status = 200, description = "the user", body = UserAnswer), (status = 404, description = "no such user"),
    (status = 409, description = "it would leave no enabled admin")))]
pub async fn update(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(username): Path<String>,
    JsonBody(b): JsonBody<UserChange>,
) -> Result<Json<UserAnswer>, ApiError> {
    s.users.user(&username).await?.ok_or_else(|| no_user(&username))?;
    let hash = match &b.password {
        Some(p) => {
            password::check_new(p).map_err(weak)?;
            Some(password::hash(p).await)
        }
        None => None,
    };
    if !s.users.update_user(&username, b.role, hash.as_deref(), b.disabled, &c.actor()).await? {
        return Err(last_admin());
    }
    Profile { full_name: b.full_name, email: b.email }.save(&s, &username, &c.actor()).await?;
    let user = s.users.user(&username).await?.ok_or_else(|| no_user(&username))?;
    Ok(Json(UserAnswer { user: User::from(&user) }))
}

/// Deletes a user and ends their sessions.
#[utoipa::path(delete, path = "/api/v1/users/{username}", tag = "users", params(("username" = String, Path, pattern = "^[A-Za-z0-9._@-]{1,64}$")),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such user"),
    (status = 409, description = "it would leave no enabled admin")))]
pub async fn delete(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.users.user(&username).await?.ok_or_else(|| no_user(&username))?;
    if !s.users.delete_user(&username, &c.actor()).await? {
        return Err(last_admin());
    }
    Ok(StatusCode::NO_CONTENT)
}
