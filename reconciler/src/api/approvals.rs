//! Approvals: tool calls held for a human, and their decisions, which the
//! server passes to the run's runner and records with who decided.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::error::QueryParams;
use super::runs::bad_gateway;
use super::{ApiError, AppState, JsonBody};
use crate::nodes::client::{Endpoint, RunnerErrorKind};
use crate::runs::{Approval, ApprovalStatus};
use crate::trust::access::Caller;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// pending, approved, denied or expired.
    status: Option<String>,
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
    let approvals = s.runs.store.approvals(q.status.as_deref(), None).await?;
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
    let approve = d.decision == Verdict::Approve;
    if let Some(c) = &d.comment {
        super::error::storable("comment", c)?;
    }
    let store = &s.runs.store;
    let a = store
        .approval(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no approval {id:?}"), "GET /api/v1/approvals lists them"))?;
    if a.status != ApprovalStatus::Pending {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "decided",
            format!("approval {id} is {}", a.status),
            "nothing to decide",
        ));
    }
    let endpoint = Endpoint::of(store, &s.runs.secrets, &a.node).await.map_err(bad_gateway)?;
    let body = json!({"decision": d.decision, "comment": d.comment});
    match endpoint.decide(&s.runs.http, &a.run_id, &a.request_id, &body).await {
        Ok(_) => {}
        Err(e) if e.kind == RunnerErrorKind::Refused(409) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "decided",
                "the run no longer waits for this approval",
                "reload the run",
            ));
        }
        Err(e) => return Err(bad_gateway(e)),
    }
    let actor = c.actor();
    store.decide_approval(&a.run_id, &a.request_id, approve, Some(&actor.label()), d.comment.as_deref()).await?;
    let detail = json!({"decision": d.decision, "run_id": a.run_id, "tool": a.tool, "agent": a.agent, "node": a.node});
    crate::trust::audit::record(store.pool(), &actor, "approval.decided", Some(&id), detail).await?;
    let approval = store.approval(&id).await?.ok_or_else(|| {
        ApiError::not_found(
            format!("approval {id:?} is gone (its run was deleted)"),
            "GET /api/v1/approvals lists them",
        )
    })?;
    Ok((StatusCode::ACCEPTED, Json(ApprovalDecided { approval })))
}
