//! Notifications: the messages sent (and not sent, and why), each channel's
//! health, and a test message to a channel. Channel secrets never appear.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::QueryParams;
use super::{ApiError, AppState, Page};
use crate::notify::send::{self, Outcome, Outgoing};
use crate::notify::{ChannelRecord, Delivery, DeliveryFilter, DeliveryStatus};
use crate::trust::access::Caller;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only messages to this channel.
    channel: Option<String>,
    /// Only messages of this rule (`schedule/<name>` for a Schedule's `notify`, `test` for test messages).
    rule: Option<String>,
    status: Option<DeliveryStatus>,
    /// Only messages about this run.
    run_id: Option<String>,
    /// Messages older than this id (the `next` of the previous page).
    before: Option<i64>,
    /// At most this many (default 100, at most 500).
    limit: Option<i64>,
}

/// Messages, newest first: each with its event, rule, channel, status,
/// attempts and last error; throttled ones too, with why.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(DeliveryQuery),
    responses((status = 200, description = "a page of messages, newest first", body = Page<Delivery>)))]
pub async fn list(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<DeliveryQuery>,
) -> Result<Json<Page<Delivery>>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let filter = DeliveryFilter {
        channel: q.channel,
        rule: q.rule,
        status: q.status,
        run_id: q.run_id,
        before: q.before,
        limit,
    };
    let items = s.notify.repo.list(&filter).await?;
    Ok(Json(Page::of(items, limit as usize, |d| d.id.to_string())))
}

/// How a channel is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelHealth {
    /// Its last message went out.
    Ok,
    /// Its last try failed (retrying, or given up): `last_error` says why.
    Failing,
    /// No message in the last week.
    Unused,
}

/// A declared channel and how its messages went.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    pub name: String,
    /// `gotify` or `webhook`.
    pub kind: String,
    /// Where messages go (the Gotify server, or the webhook's URL).
    pub url: String,
    pub description: Option<String>,
    /// Where it is declared: `notifications/channels.yaml:3`.
    pub declared_at: String,
    /// Its `spec` as written in git (secrets only as `{env}`/`{secret}` references), for editing.
    pub spec: serde_json::Value,
    /// The revision it was applied from.
    pub revision: String,
    pub health: ChannelHealth,
    #[serde(flatten)]
    pub record: ChannelRecord,
}

/// The declared channels.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    pub channels: Vec<ChannelView>,
}

/// Each declared channel with its health: last success, last error, messages waiting.
#[utoipa::path(get, path = "/api/v1/notifications/channels", tag = "notifications",
    responses((status = 200, description = "the channels", body = ChannelList)))]
pub async fn channels(State(s): State<AppState>) -> Result<Json<ChannelList>, ApiError> {
    let config = s.live.now();
    let records = s.notify.repo.channels().await?;
    let channels = config
        .channels
        .values()
        .map(|c| {
            let record = records
                .iter()
                .find(|r| r.channel == c.name)
                .cloned()
                .unwrap_or_else(|| ChannelRecord { channel: c.name.clone(), ..ChannelRecord::default() });
            let failing = match (record.last_failed_at, record.last_sent_at) {
                (Some(f), Some(ok)) => f > ok,
                (Some(_), None) => true,
                _ => false,
            };
            let health = match (failing, record.last_sent_at) {
                (true, _) => ChannelHealth::Failing,
                (false, Some(_)) => ChannelHealth::Ok,
                (false, None) => ChannelHealth::Unused,
            };
            let (kind, url) = match (&c.spec.gotify, &c.spec.webhook) {
                (Some(g), _) => ("gotify", g.url.as_str().to_string()),
                (None, Some(w)) => ("webhook", w.url.as_str().to_string()),
                _ => ("none", String::new()),
            };
            ChannelView {
                name: c.name.clone(),
                kind: kind.into(),
                url,
                description: c.spec.description.clone(),
                declared_at: format!("{}:{}", c.file, c.line),
                spec: c.document["spec"].clone(),
                revision: c.revision.clone(),
                health,
                record,
            }
        })
        .collect();
    Ok(Json(ChannelList { channels }))
}

/// A declared notification rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub name: String,
    /// Where it is declared: `notifications/rules.yaml:3`.
    pub declared_at: String,
    /// Its `spec` as written in git.
    pub spec: serde_json::Value,
    /// The revision it was applied from.
    pub revision: String,
}

/// The declared notification rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    pub rules: Vec<RuleView>,
}

/// Each declared notification rule with its spec, by name.
#[utoipa::path(get, path = "/api/v1/notifications/rules", tag = "notifications",
    responses((status = 200, description = "the rules", body = RuleList)))]
pub async fn rules(State(s): State<AppState>) -> Json<RuleList> {
    let config = s.live.now();
    let rules = config
        .rules
        .values()
        .map(|r| RuleView {
            name: r.name.clone(),
            declared_at: format!("{}:{}", r.file, r.line),
            spec: r.document["spec"].clone(),
            revision: r.revision.clone(),
        })
        .collect();
    Json(RuleList { rules })
}

/// What a test message did.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    pub channel: String,
    pub sent: bool,
    /// What the channel answered when it did not take the message, and what to fix.
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

/// Sends a test message to a channel now (not through the queue) and
/// answers what the channel said; recorded among the messages as rule `test`.
#[utoipa::path(post, path = "/api/v1/notifications/channels/{name}/test", tag = "notifications",
    params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "sent, or the channel's answer", body = TestResult),
    (status = 404, description = "no such channel")))]
pub async fn test(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<TestResult>, ApiError> {
    let config = s.live.now();
    let channel = config.channels.get(&name).ok_or_else(|| {
        ApiError::not_found(
            format!("no NotificationChannel named {name:?} is live"),
            "GET /api/v1/notifications/channels lists them",
        )
    })?;
    let who = c.actor().label();
    let title = format!("Test message from Claude Agent Runner, sent by {who}");
    let message = Outgoing {
        key: format!("test/{name}/{}", Utc::now().timestamp_millis()),
        title: title.clone(),
        body: format!("If you read this, channel **{name}** works."),
        priority: crate::notify::rules::gotify_priority(car_schemas::values::Priority::Normal),
        url: Some(s.notify.settings.dashboard.trim_end_matches('/').to_string() + "/notifications"),
        webhook: serde_json::json!({"test": true, "channel": name, "title": title}),
    };
    let error = match send::send(&s.notify.http, &s.secrets, &name, &channel.spec, &message).await {
        Outcome::Sent => None,
        Outcome::Retry(e) | Outcome::Refused(e) => Some(e),
    };
    s.notify.repo.record_test(&name, &title, error.as_deref()).await?;
    Ok(Json(TestResult { channel: name, sent: error.is_none(), error, at: Utc::now() }))
}
