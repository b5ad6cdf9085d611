//! Token usage and cost, from what runs recorded.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use super::error::QueryParams;
use super::{ApiError, AppState};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// From this time (RFC 3339; default 30 days ago).
    from: Option<DateTime<Utc>>,
    /// Until this time (default now).
    to: Option<DateTime<Utc>>,
    /// agent, node or day (default day).
    #[param(pattern = "^(agent|node|day)$")]
    group_by: Option<String>,
}

/// Tokens and cost of the runs created in a time range, grouped; runs
/// deleted by retention still count (their days are kept as totals).
#[utoipa::path(get, path = "/api/v1/usage", tag = "usage", params(UsageQuery),
    responses((status = 200, description = "{from, to, group_by, groups: [...], total}")))]
pub async fn usage(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<UsageQuery>,
) -> Result<Json<Value>, ApiError> {
    let to = q.to.unwrap_or_else(Utc::now);
    let from = q.from.unwrap_or(to - chrono::TimeDelta::days(30));
    let group_by = q.group_by.unwrap_or_else(|| "day".into());
    if !matches!(group_by.as_str(), "agent" | "node" | "day") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("group_by={group_by:?} is not agent, node or day"),
            "use group_by=agent, node or day",
        ));
    }
    let groups = s.runs.store.usage(from, to, &group_by).await?;
    let mut total = crate::runs::store::UsageGroup { key: "total".into(), ..Default::default() };
    for g in &groups {
        total.add(g);
    }
    Ok(Json(json!({"from": from, "to": to, "group_by": group_by, "groups": groups, "total": total})))
}
