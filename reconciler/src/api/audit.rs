//! The audit log (admins only), newest first, with filters.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::QueryParams;
use super::{ApiError, AppState, Page};
use crate::trust::audit::{self, AuditEntry};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// A user, key, node, schedule or trigger name.
    actor: Option<String>,
    /// An action (`auth.login`) or a family of them (`auth.*`).
    action: Option<String>,
    /// What was acted on: a run id, key id, node, revision.
    target: Option<String>,
    /// From this time on (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Before this time.
    to: Option<DateTime<Utc>>,
    /// Entries older than this id (the `next` of the previous page).
    before: Option<i64>,
    /// At most this many (default 100, at most 500).
    limit: Option<i64>,
}

/// Who did what, when and from where: logins, keys, runs started, approvals, settings, syncs.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "a page of entries, newest first", body = Page<AuditEntry>)))]
pub async fn list(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let filter = audit::Filter {
        actor: q.actor,
        action: q.action,
        target: q.target,
        from: q.from,
        to: q.to,
        before: q.before,
        limit,
    };
    let entries = audit::list(s.store.pool(), &filter).await?;
    Ok(Json(Page::of(entries, limit as usize, |e| e.id.to_string())))
}
