//! Edits written back to git (operators): `PUT /api/v1/config/{kind}/{name}`
//! creates or changes an object, `DELETE` removes it, `POST …/preview`
//! answers what either would do and writes nothing. See [`crate::config::write`].

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ErrorDetail, JsonBody};
use super::{ApiError, AppState};
use crate::config::changes::ProposedChange;
use crate::config::source::{Author, SourceError};
use crate::config::write::{Conflict, Edit, EditResult, FieldError, WriteError, WriteMode, kind_of_path};
use crate::trust::access::{Caller, Principal};

/// An edit of one object.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EditBody {
    /// The object's new `spec`, as written under `spec:` in git; a secret
    /// typed into a form goes as `{"secret": NAME, "value": "…"}` (the value
    /// is stored as that secret, only `{secret: NAME}` is written to git).
    #[schema(value_type = Object)]
    pub spec: Value,
    /// The revision the user saw (`GET /api/v1/sync` `revision`).
    pub base_revision: String,
    /// Why: the commit message's subject.
    #[serde(default)]
    pub message: Option<String>,
    /// `commit` to the config branch or open a `pull-request`; absent: the server's `CONFIG_WRITE_MODE`.
    #[serde(default)]
    pub mode: Option<WriteMode>,
}

/// An edit to preview: as [`EditBody`]; without `spec`, the object's deletion.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PreviewBody {
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub spec: Option<Value>,
    pub base_revision: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// A deletion: the revision the user saw and why.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteBody {
    pub base_revision: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub mode: Option<WriteMode>,
}

/// Edits proposed as pull requests: the open ones, then the latest merged or closed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeList {
    pub changes: Vec<ProposedChange>,
}

/// The edit leaves the config invalid: every error, with the field a form shows it at.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvalidEdit {
    pub error: ErrorDetail,
    pub errors: Vec<FieldError>,
}

/// The object changed upstream since the revision the edit was made against: both versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditConflict {
    pub error: ErrorDetail,
    pub conflict: Conflict,
}

fn edit_of(
    kind: &str,
    name: String,
    spec: Option<Value>,
    base_revision: String,
    message: Option<String>,
    mode: Option<WriteMode>,
) -> Result<Edit, ApiError> {
    let kind = kind_of_path(kind).ok_or_else(|| {
        ApiError::not_found(
            format!("{kind:?} is not a kind of object"),
            "use nodes, agents, schedules, notification-channels, notification-rules or triggers",
        )
    })?;
    if let Some(m) = &message {
        super::error::storable("message", m)?;
    }
    Ok(Edit { kind, name, spec, base_revision, message, mode })
}

/// The commit's author: the user's name and e-mail (an API key acts for the user who made it).
async fn author(s: &AppState, c: &Caller) -> Result<Author, ApiError> {
    let username = match &c.principal {
        Principal::User { name, .. } => name.clone(),
        Principal::ApiKey { id, name, .. } => s.users.api_key_owner(id).await?.unwrap_or_else(|| name.clone()),
        Principal::Node { name, .. } => name.clone(),
    };
    let profile = s.users.user(&username).await?;
    // A signature cannot hold '<', '>' or control characters.
    let clean = |v: &str| {
        v.chars().filter(|c| !c.is_control() && !matches!(c, '<' | '>')).collect::<String>().trim().to_string()
    };
    let name = profile.as_ref().and_then(|u| u.full_name.as_deref()).map(clean).filter(|n| !n.is_empty());
    let email = profile.as_ref().and_then(|u| u.email.as_deref()).map(clean).filter(|e| e.contains('@'));
    let name = name.unwrap_or_else(|| clean(&username));
    let email = email.unwrap_or_else(|| {
        let user = clean(&username);
        if user.contains('@') { user } else { format!("{user}@car-server.invalid") }
    });
    Ok(Author { name, email })
}

fn answer(r: Result<EditResult, WriteError>, ok: StatusCode) -> Response {
    let detail =
        |code: &str, message: String, hint: &str| ErrorDetail { code: code.into(), message, hint: hint.into() };
    match r {
        Ok(result) => (ok, Json(result)).into_response(),
        Err(WriteError::Invalid(errors)) => {
            let first = errors
                .first()
                .map_or_else(String::new, |e| format!(": {}:{}:{}: {}", e.file, e.line, e.column, e.message));
            let error = detail(
                "invalid",
                format!("the edit leaves the config invalid ({} errors){first}", errors.len()),
                "fix the fields named in `errors`; nothing was written",
            );
            (StatusCode::UNPROCESSABLE_ENTITY, Json(InvalidEdit { error, errors })).into_response()
        }
        Err(WriteError::Conflict(c)) => {
            let error = detail(
                "conflict",
                format!(
                    "{} {} changed in {} since {}; nothing was written",
                    c.kind, c.name, c.head_revision, c.base_revision
                ),
                "compare `conflict.yours` with `conflict.theirs`, then edit again on the new revision",
            );
            (StatusCode::CONFLICT, Json(EditConflict { error, conflict: *c })).into_response()
        }
        Err(WriteError::BadRequest { message, hint }) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid", message, hint).into_response()
        }
        Err(WriteError::NotFound { message, hint }) => ApiError::not_found(message, hint).into_response(),
        Err(WriteError::Source(SourceError::Moved(why))) => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("the config branch kept moving while the edit was written: {why}"),
            "try again in a moment",
        )
        .into_response(),
        Err(WriteError::Source(e)) => {
            tracing::warn!(error = %e, "an edit could not be written to the config repository");
            ApiError::new(StatusCode::BAD_GATEWAY, "config_repo", e.to_string(), "nothing was written; see the message")
                .into_response()
        }
        Err(e @ WriteError::Forge { .. }) => {
            tracing::warn!(error = %e, "a pull request could not be opened");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "forge",
                e.to_string(),
                "open the pull request from the branch by hand, or fix the forge settings and edit again",
            )
            .into_response()
        }
        Err(WriteError::Store(e)) => ApiError::from(e).into_response(),
        Err(e @ WriteError::Task(_)) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string(), "see the server log")
                .into_response()
        }
    }
}

/// Create or change an object in git: one commit by the user, applied by the next sync.
#[utoipa::path(put, path = "/api/v1/config/{kind}/{name}", tag = "config",
    params(("kind" = String, Path, description = "nodes, agents, schedules, notification-channels, notification-rules or triggers"),
           ("name" = String, Path, description = "the object's name")),
    request_body = EditBody,
    responses((status = 200, description = "the commit, its diff and plan (`commit` null: nothing changed)", body = EditResult),
              (status = 400, description = "the request is wrong", body = super::error::ErrorBody),
              (status = 404, description = "no such kind of object", body = super::error::ErrorBody),
              (status = 409, description = "the object changed upstream: both versions", body = EditConflict),
              (status = 422, description = "the edit leaves the config invalid; nothing written", body = InvalidEdit),
              (status = 502, description = "the config repository refused or cannot be reached", body = super::error::ErrorBody)))]
pub async fn put(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((kind, name)): Path<(String, String)>,
    JsonBody(b): JsonBody<EditBody>,
) -> Result<Response, ApiError> {
    let edit = edit_of(&kind, name, Some(b.spec), b.base_revision, b.message, b.mode)?;
    let author = author(&s, &c).await?;
    Ok(answer(s.writer.write(&edit, &c.actor(), &author).await, StatusCode::OK))
}

/// Remove an object from git: one commit by the user (its file goes when it held nothing else).
#[utoipa::path(delete, path = "/api/v1/config/{kind}/{name}", tag = "config",
    params(("kind" = String, Path, description = "nodes, agents, schedules, notification-channels, notification-rules or triggers"),
           ("name" = String, Path, description = "the object's name")),
    request_body = DeleteBody,
    responses((status = 200, description = "the commit, its diff and plan", body = EditResult),
              (status = 400, description = "the request is wrong", body = super::error::ErrorBody),
              (status = 404, description = "no such object in git", body = super::error::ErrorBody),
              (status = 409, description = "the object changed upstream: both versions", body = EditConflict),
              (status = 422, description = "the config would be invalid without it (something refers to it)", body = InvalidEdit),
              (status = 502, description = "the config repository refused or cannot be reached", body = super::error::ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((kind, name)): Path<(String, String)>,
    JsonBody(b): JsonBody<DeleteBody>,
) -> Result<Response, ApiError> {
    let edit = edit_of(&kind, name, None, b.base_revision, b.message, b.mode)?;
    let author = author(&s, &c).await?;
    Ok(answer(s.writer.write(&edit, &c.actor(), &author).await, StatusCode::OK))
}

/// What an edit (or, without `spec`, a deletion) would do: the diff and the plan; writes nothing.
#[utoipa::path(post, path = "/api/v1/config/{kind}/{name}/preview", tag = "config",
    params(("kind" = String, Path, description = "nodes, agents, schedules, notification-channels, notification-rules or triggers"),
           ("name" = String, Path, description = "the object's name")),
    request_body = PreviewBody,
    responses((status = 200, description = "the diff and plan the edit would make", body = EditResult),
              (status = 400, description = "the request is wrong", body = super::error::ErrorBody),
              (status = 404, description = "no such kind of object", body = super::error::ErrorBody),
              (status = 409, description = "the object changed upstream: both versions", body = EditConflict),
              (status = 422, description = "the edit would leave the config invalid", body = InvalidEdit)))]
pub async fn preview(
    State(s): State<AppState>,
    Path((kind, name)): Path<(String, String)>,
    JsonBody(b): JsonBody<PreviewBody>,
) -> Result<Response, ApiError> {
    let edit = edit_of(&kind, name, b.spec, b.base_revision, b.message, None)?;
    Ok(answer(s.writer.preview(&edit).await, StatusCode::OK))
}

/// Edits proposed as pull requests, open ones first.
#[utoipa::path(get, path = "/api/v1/config/changes", tag = "config",
    responses((status = 200, description = "the proposed changes", body = ChangeList)))]
pub async fn changes(State(s): State<AppState>) -> Result<Json<ChangeList>, ApiError> {
    Ok(Json(ChangeList { changes: crate::config::changes::list(s.store.pool()).await? }))
}
