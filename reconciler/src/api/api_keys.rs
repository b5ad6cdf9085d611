//! API keys (admins only): made with a name, a role and an optional
//! expiry, shown once (`car_…`) and stored as a hash; revoked keys are kept
//! for the record.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::JsonBody;
use super::{ApiError, AppState};
use crate::trust::access::{Caller, Role};
use crate::trust::users::ApiKey;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for, e.g. "home-assistant" or "ci".
    #[schema(min_length = 1, max_length = 100, pattern = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$")]
    pub name: String,
    pub role: Role,
    /// Days until it stops working; leave out for a key that does not expire.
    #[schema(minimum = 1, maximum = 3650)]
    #[serde(default, deserialize_with = "car_schemas::de::whole")]
    pub expires_in_days: Option<u32>,
}

/// A key just made: its record and, this once, the key itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewApiKey {
    /// The key (`car_…`), shown only now: store it. (First, before the
    /// record's `prefix`, which starts the same way.)
    pub key: String,
    /// How to use it.
    pub hint: String,
    #[serde(flatten)]
    pub record: ApiKey,
}

/// Every API key, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKey>,
}

fn invalid(message: String, hint: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid", message, hint)
}

/// Makes an API key. The answer is the key's record with the key itself
/// (`key`), shown this once: store it now.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api keys", request_body = NewKey,
    responses((status = 201, description = "the key's record and the key", body = NewApiKey),
    (status = 400, description = "a bad name or expiry")))]
pub async fn create(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    JsonBody(b): JsonBody<NewKey>,
) -> Result<(StatusCode, Json<NewApiKey>), ApiError> {
    super::error::storable("name", &b.name)?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid(format!("{:?} is not a key name", b.name), "give it a name of 1 to 100 characters"));
    }
    let expires_at = match b.expires_in_days {
        None => None,
        Some(days @ 1..=3650) => Some(Utc::now() + chrono::TimeDelta::days(i64::from(days))),
        Some(days) => return Err(invalid(format!("expires_in_days={days} is not from 1 to 3650"), "e.g. 90")),
    };
    let (record, secret) = s.users.create_api_key(name, b.role, expires_at, &c.actor()).await?;
    let hint = "this is the only time the key is shown; send it as Authorization: Bearer <key>".into();
    Ok((StatusCode::CREATED, Json(NewApiKey { record, key: secret, hint })))
}

/// Every API key, newest first (never the keys themselves).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api keys",
    responses((status = 200, description = "every API key", body = ApiKeyList)))]
pub async fn list(State(s): State<AppState>) -> Result<Json<ApiKeyList>, ApiError> {
    Ok(Json(ApiKeyList { api_keys: s.users.api_keys().await? }))
}

/// Revokes an API key at once.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api keys", params(("id" = String, Path)),
    responses((status = 204, description = "revoked"), (status = 404, description = "no such live key")))]
pub async fn revoke(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if s.users.revoke_api_key(&id, &c.actor()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no live API key {id:?}"), "GET /api/v1/api-keys lists them"))
    }
}
