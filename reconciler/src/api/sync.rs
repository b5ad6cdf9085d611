//! `GET /api/v1/sync` (where the config stands) and `POST /api/v1/sync/refresh`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::auth::Caller;
use crate::store::SyncState;
use crate::sync::Trigger;

/// How the live state relates to the head of the config repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum Status {
    /// The head is applied.
    Synced,
    /// The head moved and is not applied yet.
    OutOfSync,
    /// The head is invalid (see `errors`) or the source cannot be read; the last good revision stays live.
    Error,
    /// Nothing was read yet.
    Unknown,
}

pub fn status_of(s: &SyncState) -> Status {
    if s.fetch_error.is_some() {
        return Status::Error;
    }
    match (&s.head_revision, &s.attempted_revision, &s.applied_revision) {
        (None, _, _) => Status::Unknown,
        (Some(h), Some(a), Some(p)) if h == a && a == p => Status::Synced,
        (Some(h), Some(a), _) if h == a => Status::Error,
        _ => Status::OutOfSync,
    }
}

#[derive(Serialize, ToSchema)]
pub struct SyncView {
    pub status: Status,
    /// The head revision of the config branch.
    pub revision: Option<String>,
    pub source: String,
    #[schema(value_type = Object)]
    pub head: Value,
    #[schema(value_type = Object)]
    pub last_attempted: Value,
    #[schema(value_type = Object)]
    pub last_applied: Value,
    /// Errors of the head revision (file, line, column, message, hint), or why the source cannot be read.
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<Value>,
    /// Each object's status against the head: Synced, OutOfSync or Error.
    #[schema(value_type = Vec<Object>)]
    pub objects: Value,
    /// The last 20 syncs, newest first.
    #[schema(value_type = Vec<Object>)]
    pub history: Value,
}

/// Sync status: head, last attempted and applied revisions, errors, per-object status, history.
#[utoipa::path(get, path = "/api/v1/sync", tag = "sync", responses((status = 200, body = SyncView)))]
pub async fn status(State(s): State<AppState>) -> Result<Json<SyncView>, ApiError> {
    let state = s.store.sync_state().await?;
    let history = s.store.history(20).await?;
    let diagnostics = state.diagnostics.as_array().cloned().unwrap_or_default();
    let (mut errors, warnings): (Vec<Value>, Vec<Value>) =
        diagnostics.into_iter().partition(|d| d["severity"] == "error");
    if let Some(e) = &state.fetch_error {
        errors.insert(0, json!({"message": e, "hint": "the last good revision stays live; fix the source and POST /api/v1/sync/refresh"}));
    }
    Ok(Json(SyncView {
        status: status_of(&state),
        revision: state.head_revision.clone(),
        source: s.source.clone(),
        head: json!({"revision": state.head_revision, "author": state.head_author, "message": state.head_message,
                     "committed_at": state.head_committed_at, "fetched_at": state.fetched_at}),
        last_attempted: json!({"revision": state.attempted_revision, "at": state.attempted_at}),
        last_applied: json!({"revision": state.applied_revision, "at": state.applied_at}),
        errors,
        warnings,
        objects: state.objects,
        history: serde_json::to_value(history).unwrap_or_default(),
    }))
}

/// Fetch the config repository now.
#[utoipa::path(post, path = "/api/v1/sync/refresh", tag = "sync", responses((status = 202, description = "a sync is queued")))]
pub async fn refresh(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    crate::audit::record(s.store.pool(), &c.actor(), "sync.requested", None, json!({})).await?;
    s.sync.request(Trigger::Refresh);
    Ok((StatusCode::ACCEPTED, Json(json!({"queued": true}))))
}
