//! `GET /api/v1/sync` (where the config stands) and `POST /api/v1/sync/refresh`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::config::repo::{HistoryEntry, SyncState};
use crate::config::sync::{ConfigDiagnostic, ObjectStatus, Severity, Trigger};
use crate::db::StoreError;
use crate::trust::access::Caller;

/// How the live state relates to the head of the config repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum SyncStatus {
    /// The head is applied.
    Synced,
    /// The head moved and is not applied yet.
    OutOfSync,
    /// The head is invalid (see `errors`) or the source cannot be read; the last good revision stays live.
    Error,
    /// Nothing was read yet.
    Unknown,
}

pub fn status_of(s: &SyncState) -> SyncStatus {
    if s.fetch_error.is_some() {
        return SyncStatus::Error;
    }
    match (&s.head_revision, &s.attempted_revision, &s.applied_revision) {
        (None, _, _) => SyncStatus::Unknown,
        (Some(h), Some(a), Some(p)) if h == a && a == p => SyncStatus::Synced,
        (Some(h), Some(a), _) if h == a => SyncStatus::Error,
        _ => SyncStatus::OutOfSync,
    }
}

/// Where the config stands: the source's head, what was last attempted and applied, and how it went.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncView {
    pub status: SyncStatus,
    /// The head revision of the config branch.
    pub revision: Option<String>,
    /// The config repository (without credentials).
    pub source: String,
    pub head: SyncHead,
    pub last_attempted: RevisionAt,
    pub last_applied: RevisionAt,
    /// Errors of the head revision (file, line, column, message, hint), or why the source cannot be read.
    pub errors: Vec<ConfigDiagnostic>,
    /// Warnings of the revision last attempted.
    pub warnings: Vec<ConfigDiagnostic>,
    /// Each object's status against the revision last attempted.
    pub objects: Vec<ObjectStatus>,
    /// The last 20 syncs of a new revision, newest first.
    pub history: Vec<HistoryEntry>,
}

/// The head of the config branch as last fetched.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncHead {
    /// Null until the source was read.
    pub revision: Option<String>,
    pub author: Option<String>,
    /// The commit message.
    pub message: Option<String>,
    pub committed_at: Option<DateTime<Utc>>,
    /// When the source was last read (or failed to be).
    pub fetched_at: Option<DateTime<Utc>>,
}

/// A revision and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionAt {
    pub revision: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

/// Stored JSON of the sync state, read back as what it is.
fn stored<T: serde::de::DeserializeOwned>(what: &str, v: serde_json::Value) -> Result<T, StoreError> {
    serde_json::from_value(v)
        .map_err(|e| StoreError::Query(sqlx::Error::Decode(format!("the sync state's {what}: {e}").into())))
}

/// Sync status: head, last attempted and applied revisions, errors, per-object status, history.
#[utoipa::path(get, path = "/api/v1/sync", tag = "sync",
    responses((status = 200, description = "where the config stands", body = SyncView)))]
pub async fn status(State(s): State<AppState>) -> Result<Json<SyncView>, ApiError> {
    let state = s.live.repo().sync_state().await?;
    let history = s.live.repo().history(20).await?;
    let diagnostics: Vec<ConfigDiagnostic> = stored("diagnostics", state.diagnostics.clone())?;
    let (mut errors, warnings): (Vec<_>, Vec<_>) =
        diagnostics.into_iter().partition(|d| d.severity == Some(Severity::Error));
    if let Some(e) = &state.fetch_error {
        errors.insert(
            0,
            ConfigDiagnostic {
                file: None,
                line: None,
                column: None,
                severity: None,
                message: e.clone(),
                hint: Some("the last good revision stays live; fix the source and POST /api/v1/sync/refresh".into()),
            },
        );
    }
    Ok(Json(SyncView {
        status: status_of(&state),
        revision: state.head_revision.clone(),
        source: s.source.clone(),
        objects: stored("objects", state.objects)?,
        head: SyncHead {
            revision: state.head_revision,
            author: state.head_author,
            message: state.head_message,
            committed_at: state.head_committed_at,
            fetched_at: state.fetched_at,
        },
        last_attempted: RevisionAt { revision: state.attempted_revision, at: state.attempted_at },
        last_applied: RevisionAt { revision: state.applied_revision, at: state.applied_at },
        errors,
        warnings,
        history,
    }))
}

/// A sync was asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncQueued {
    /// Always true: the sync runs soon after, once however many ask.
    pub queued: bool,
}

/// Fetch the config repository now.
#[utoipa::path(post, path = "/api/v1/sync/refresh", tag = "sync",
    responses((status = 202, description = "a sync is queued", body = SyncQueued)))]
pub async fn refresh(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<(StatusCode, Json<SyncQueued>), ApiError> {
    crate::trust::audit::record(
        s.store.pool(),
        &c.actor(),
        crate::trust::audit::Action::SyncRequested,
        None,
        json!({}),
    )
    .await?;
    s.sync.request(Trigger::Refresh);
    Ok((StatusCode::ACCEPTED, Json(SyncQueued { queued: true })))
}
