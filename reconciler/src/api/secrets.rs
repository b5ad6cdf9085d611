//! The secret store behind `{secret: NAME}` (admins only): names and
//! dates can be listed, values only written, never read back.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::JsonBody;
use super::{ApiError, AppState};
use crate::trust::access::Caller;
use crate::trust::secrets::{SecretError, SecretInfo};

/// The stored secrets, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretList {
    pub secrets: Vec<SecretInfo>,
}

/// A secret stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretStored {
    /// The secret's name, as `{secret: NAME}` in git names it.
    pub name: String,
    /// True when it is new, false when its value was replaced.
    pub created: bool,
}

/// Longest secret value accepted, in characters.
const MAX_VALUE: usize = 64 * 1024;

impl From<SecretError> for ApiError {
    fn from(e: SecretError) -> Self {
        match e {
            SecretError::Store(e) => e.into(),
            other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "secret", other.to_string(), "see the message"),
        }
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    name.parse::<car_schemas::values::Name>().map(|_| ()).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("{name:?} is not a secret name"),
            "use lowercase letters, digits and '-', as {secret: NAME} in git does",
        )
    })
}

/// Stored secrets: names and when they changed, never values.
#[utoipa::path(get, path = "/api/v1/secrets", tag = "secrets",
    responses((status = 200, description = "the stored secrets", body = SecretList)))]
pub async fn list(State(s): State<AppState>) -> Result<Json<SecretList>, ApiError> {
    Ok(Json(SecretList { secrets: s.secrets.list().await? }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    #[schema(min_length = 1, max_length = 65536)]
    pub value: String,
}

/// Stores a secret (encrypted with the server's SECRET_KEY) or replaces its value.
#[utoipa::path(put, path = "/api/v1/secrets/{name}", tag = "secrets", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    request_body = SecretValue,
    responses((status = 201, description = "stored", body = SecretStored),
    (status = 200, description = "replaced", body = SecretStored),
    (status = 400, description = "a bad name or value")))]
pub async fn put(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<SecretValue>,
) -> Result<(StatusCode, Json<SecretStored>), ApiError> {
    check_name(&name)?;
    if b.value.is_empty() || b.value.chars().count() > MAX_VALUE {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "the value is empty or longer than 65536 characters",
            "send the secret's value",
        ));
    }
    let created = s.secrets.put(&name, &b.value, &c.actor()).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(SecretStored { name, created })))
}

/// Deletes a secret.
#[utoipa::path(delete, path = "/api/v1/secrets/{name}", tag = "secrets", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such secret")))]
pub async fn delete(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !s.secrets.delete(&name, &c.actor()).await? {
        return Err(ApiError::not_found(format!("no secret {name:?}"), "GET /api/v1/secrets lists them"));
    }
    Ok(StatusCode::NO_CONTENT)
}
