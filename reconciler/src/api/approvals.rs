//! Approvals: tool calls held for a human, and their decisions, which the
//! server passes to the run's runner and records with who decided.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::QueryParams;
use super::{ApiError, AppState, JsonBody};
use crate::runs::{Approval, ApprovalStatus};
use crate::trust::access::Caller;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only approvals in this status.
    status: Option<ApprovalStatus>,
}

/// Approvals, newest first (at most 500).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalList {
    pub approvals: Vec<Approval>,
}

/// An approval after its decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalDecided {
    pub approval: Approval,
}

/// Approvals, newest first.
#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals", params(ListQuery),
    responses((status = 200, description = "the approvals", body = ApprovalList)))]
pub async fn list(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<ApprovalList>, ApiError> {
    let approvals = s.runs.repo.approvals(q.status, None).await?;
    Ok(Json(ApprovalList { approvals }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    decision: Verdict,
    #[schema(pattern = "^[^\\u0000]*$")]
    comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Approve,
    Deny,
}

/// Approves or denies a held tool call.
#[utoipa::path(post, path = "/api/v1/approvals/{id}", tag = "approvals", params(("id" = String, Path)), request_body = Decision,
    responses((status = 202, description = "passed to the runner; the approval as recorded", body = ApprovalDecided),
    (status = 404, description = "no such approval"),
    (status = 409, description = "no longer pending"),
    (status = 502, description = "the run's runner cannot be reached or refused; the error says why")))]
pub async fn decide(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    JsonBody(d): JsonBody<Decision>,
) -> Result<(StatusCode, Json<ApprovalDecided>), ApiError> {
    if let Some(c) = &d.comment {
        super::error::storable("comment", c)?;
    }
    let approve = d.decision == Verdict::Approve;
    let approval = s.runs.decide(&id, approve, d.comment.as_deref(), &c.actor()).await?;
    Ok((StatusCode::ACCEPTED, Json(ApprovalDecided { approval })))
}
