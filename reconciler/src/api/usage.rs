//! Token usage and cost, from what runs recorded.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::QueryParams;
use super::{ApiError, AppState};
use crate::runs::repo::UsageGroup;

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

/// What usage is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Agent,
    Node,
    /// The UTC day the runs were created.
    Day,
}

impl GroupBy {
    fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "agent" => Some(GroupBy::Agent),
            "node" => Some(GroupBy::Node),
            "day" => Some(GroupBy::Day),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            GroupBy::Agent => "agent",
            GroupBy::Node => "node",
            GroupBy::Day => "day",
        }
    }
}

/// Tokens and cost of the runs created in a time range, by group, and in all.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: GroupBy,
    /// One per agent, node or day that had runs, in the order of their keys.
    pub groups: Vec<UsageGroup>,
    /// The sum of the groups, with the key `total`.
    pub total: UsageGroup,
}

/// Tokens and cost of the runs created in a time range, grouped; runs
/// deleted by retention still count (their days are kept as totals).
#[utoipa::path(get, path = "/api/v1/usage", tag = "usage", params(UsageQuery),
    responses((status = 200, description = "usage by group, and the total", body = UsageReport)))]
pub async fn usage(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<UsageQuery>,
) -> Result<Json<UsageReport>, ApiError> {
    let to = q.to.unwrap_or_else(Utc::now);
    let from = q.from.unwrap_or(to - chrono::TimeDelta::days(30));
    let text = q.group_by.unwrap_or_else(|| "day".into());
    let group_by = GroupBy::parse(&text).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("group_by={text:?} is not agent, node or day"),
            "use group_by=agent, node or day",
        )
    })?;
    let groups = s.runs.repo.usage(from, to, group_by.as_str()).await?;
    let mut total = UsageGroup { key: "total".into(), ..Default::default() };
    for g in &groups {
        total.add(g);
    }
    Ok(Json(UsageReport { from, to, group_by, groups, total }))
}

/// The model budget: its limits (the server's `BUDGET_DAILY_USD` and
/// `BUDGET_MONTHLY_USD`), what was spent this UTC day and month, and why
/// model runs wait now, if they do.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetView {
    /// Null: no daily limit.
    pub daily_limit_usd: Option<f64>,
    /// Null: no monthly limit.
    pub monthly_limit_usd: Option<f64>,
    pub spent_today_usd: f64,
    pub spent_this_month_usd: f64,
    /// Why model runs wait (a spent budget, a rate limit); null when they may start.
    pub held: Option<String>,
}

/// Spend against the budget, for the overview.
#[utoipa::path(get, path = "/api/v1/budget", tag = "usage",
    responses((status = 200, description = "limits, spend and whether model runs wait", body = BudgetView)))]
pub async fn budget(State(s): State<AppState>) -> Result<Json<BudgetView>, ApiError> {
    let now = Utc::now();
    let periods = crate::runs::gate::Periods::of(now);
    let limits = s.runs.gate.budget();
    Ok(Json(BudgetView {
        daily_limit_usd: limits.daily_usd,
        monthly_limit_usd: limits.monthly_usd,
        spent_today_usd: s.runs.repo.spend_since(periods.day).await?,
        spent_this_month_usd: s.runs.repo.spend_since(periods.month).await?,
        held: s.runs.gate.held(now),
    }))
}
