//! Runs: start one now, list and read them, download a run's log as text,
//! follow it live over a WebSocket (replay, then live), cancel it.

use axum::extract::ws::{Message, WebSocket};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use car_schemas::run::{RunStatus, Usage};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::error::QueryParams;
use super::{ApiError, AppState, JsonBody, Page};
use crate::runs::repo::Transition;
use crate::runs::{Approval, Run, RunTrigger, Runs, ServiceError, Start};
use crate::trust::access::Caller;

/// A reader further behind than this many events skips ahead (with a gap marker).
const MAX_LAG: u64 = 5000;

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound { message, hint } => ApiError::not_found(message, hint),
            ServiceError::Invalid { message, hint } => {
                ApiError::new(StatusCode::CONFLICT, "not_allowed", message, hint)
            }
            ServiceError::Conflict { code, message, hint } => ApiError::new(StatusCode::CONFLICT, code, message, hint),
            ServiceError::Runner(e) => bad_gateway(e),
            ServiceError::Store(e) => e.into(),
        }
    }
}

/// A run: what runs where, why, how far it got, and what it cost.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    /// `run_<created, UTC>_<random hex>`.
    pub id: String,
    pub agent: String,
    pub node: String,
    pub status: RunStatus,
    pub trigger: RunTrigger,
    /// Who or what started it: a user, an API key, a schedule's name.
    pub started_by: Option<String>,
    /// The schedule slot it fills.
    pub slot: Option<DateTime<Utc>>,
    /// 1 for the first attempt; each retry counts up.
    pub attempt: i32,
    /// The id of the first attempt, which all its attempts share.
    pub first_run_id: String,
    /// The config revision the agent was taken from.
    pub revision: Option<String>,
    /// What the agent is told about its run: the node (`name`, `tags`, `sandbox`), `trigger`,
    /// `started_by`, and a schedule's slot or a trigger's payload.
    #[schema(value_type = Object)]
    pub context: Value,
    pub created_at: DateTime<Utc>,
    /// It waits in the queue until then (a retry's back-off, a schedule's jitter).
    pub not_before: Option<DateTime<Utc>>,
    /// It waits while another run of the agent goes on the node.
    pub after_previous: bool,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The seq of the newest event the server has (0: none yet).
    pub last_seq: i64,
    /// The agent's summary of what it did.
    pub summary: Option<String>,
    /// The report the agent gave, as the agent wrote it.
    #[schema(value_type = Option<Object>)]
    pub report: Option<Value>,
    /// Why it did not succeed: `kind` (`timed_out`, `lost`, `rate_limited`, `max_turns`, `script`, …),
    /// `message`, mostly a `hint`, and details of the kind (`retry_after_ms`, `api_status`).
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_creation_input_tokens: i64,
    pub cache_read_input_tokens: i64,
    /// What the model calls cost, in US dollars.
    pub cost_usd: f64,
    /// Model turns.
    pub turns: i32,
    /// From start to end, once it ended.
    pub duration_ms: Option<i64>,
    /// The tokens, cost and turns above, in the shape run events carry them.
    pub usage: Usage,
    /// Why a queued run that needs a model waits (the budget is spent, the API rate-limited us); null otherwise.
    pub held: Option<String>,
}

/// A run as the API shows it; a queued model run says why it waits, if it is held.
pub fn view(runs: &Runs, r: &Run, held: Option<&str>) -> RunView {
    let status = r.status;
    let duration_ms = match (r.started_at, r.finished_at) {
        (Some(s), Some(f)) => Some((f - s).num_milliseconds()),
        _ => None,
    };
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let usage = Usage {
        input_tokens: count(r.input_tokens),
        output_tokens: count(r.output_tokens),
        cache_creation_input_tokens: count(r.cache_creation_input_tokens),
        cache_read_input_tokens: count(r.cache_read_input_tokens),
        cost_usd: r.cost_usd,
        turns: count(r.turns.into()),
    };
    RunView {
        id: r.id.clone(),
        agent: r.agent.clone(),
        node: r.node.clone(),
        status,
        trigger: r.trigger,
        started_by: r.started_by.clone(),
        slot: r.slot,
        attempt: r.attempt,
        first_run_id: r.first_run_id.clone(),
        revision: r.revision.clone(),
        context: serde_json::to_value(runs.context(r)).expect("a context serializes"),
        created_at: r.created_at,
        not_before: r.not_before,
        after_previous: r.after_previous,
        dispatched_at: r.dispatched_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
        last_seq: r.last_seq,
        summary: r.summary.clone(),
        report: r.report.clone(),
        error: r.error.as_ref().map(|e| serde_json::to_value(e).expect("an error serializes")),
        input_tokens: r.input_tokens,
        output_tokens: r.output_tokens,
        cache_creation_input_tokens: r.cache_creation_input_tokens,
        cache_read_input_tokens: r.cache_read_input_tokens,
        cost_usd: r.cost_usd,
        turns: r.turns,
        duration_ms,
        usage,
        held: held.filter(|_| status == RunStatus::Queued && r.needs_model).map(String::from),
    }
}

/// One run with its history: every status change, every attempt, every approval it asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunView,
    /// Every status change, oldest first.
    pub transitions: Vec<Transition>,
    /// Every attempt of the run (this one included), oldest first.
    pub attempts: Vec<RunAttempt>,
    /// The tool calls it held for a decision, newest first.
    pub approvals: Vec<Approval>,
}

/// One attempt of a run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunAttempt {
    /// The attempt's run id.
    pub id: String,
    /// 1, 2, 3, ….
    pub attempt: i32,
    pub status: RunStatus,
}

/// A cancel request was taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cancelling {
    /// Always true: a queued run is cancelled at once, a going one when its runner stops it.
    pub cancelling: bool,
}

fn held(s: &AppState) -> Option<String> {
    s.runs.gate.held(chrono::Utc::now())
}

async fn find(s: &AppState, id: &str) -> Result<Run, ApiError> {
    Ok(s.runs.run(id).await?)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// The agent's name, as declared in git.
    #[schema(pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    agent: String,
    /// The node's name, as declared in git.
    #[schema(pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    node: String,
}

/// Starts an agent on a node now (one click in the dashboard).
#[utoipa::path(post, path = "/api/v1/runs", tag = "runs", request_body = StartRun,
    responses((status = 202, description = "the queued run", body = RunView), (status = 404, description = "no such agent or node"),
    (status = 409, description = "the node does not allow the agent or lacks a capability it requires, or its script is not in the applied revision")))]
pub async fn start(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    JsonBody(b): JsonBody<StartRun>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    let start = Start { trigger: RunTrigger::Manual, by: Some(c.actor()), ..Start::default() };
    let run = s
        .runs
        .queue(&b.agent, &b.node, start)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "conflict", "the run was not queued", "try again"))?;
    Ok((StatusCode::ACCEPTED, Json(view(&s.runs, &run, held(&s).as_deref()))))
}

/// Runs a run's agent again on the same node with the same context (a
/// trigger's payload, a schedule's name and slot), as a manual run that
/// names the run it repeats (`again_of` in its context).
#[utoipa::path(post, path = "/api/v1/runs/{id}/again", tag = "runs", params(("id" = String, Path)),
    responses((status = 202, description = "the queued run", body = RunView), (status = 404, description = "no such run, or its agent or node is no longer live"),
    (status = 409, description = "the node no longer allows the agent or lacks a capability it requires")))]
pub async fn again(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<RunView>), ApiError> {
    let old = find(&s, &id).await?;
    let mut context = old.context.clone();
    if let (RunTrigger::Schedule, Some(slot)) = (old.trigger, old.slot) {
        context.insert("schedule".into(), serde_json::Value::from(old.started_by.clone()));
        context.insert("slot".into(), serde_json::json!(slot));
    }
    context.insert("again_of".into(), serde_json::Value::from(old.id.clone()));
    let start = Start { trigger: RunTrigger::Manual, by: Some(c.actor()), context, ..Start::default() };
    let run = s
        .runs
        .queue(&old.agent, &old.node, start)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "conflict", "the run was not queued", "try again"))?;
    Ok((StatusCode::ACCEPTED, Json(view(&s.runs, &run, held(&s).as_deref()))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// At most this many (default 50, at most 500).
    limit: Option<i64>,
    agent: Option<String>,
    node: Option<String>,
    /// Only runs in this status.
    status: Option<RunStatus>,
    /// Only runs started this way: manual, schedule or trigger.
    trigger: Option<RunTrigger>,
    /// Runs older than this run id (the `next` of the previous page).
    before: Option<String>,
}

/// Runs, newest first, with cursor paging.
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(ListQuery),
    responses((status = 200, description = "a page of runs", body = Page<RunView>)))]
pub async fn list(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<RunView>>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let filter = crate::runs::repo::RunFilter {
        agent: q.agent,
        node: q.node,
        status: q.status,
        trigger: q.trigger,
        before: q.before,
        limit,
    };
    let runs = s.runs.repo.runs(&filter).await?;
    let held = held(&s);
    let items = runs.iter().map(|r| view(&s.runs, r, held.as_deref())).collect();
    Ok(Json(Page::of(items, limit as usize, |r| r.id.clone())))
}

/// One run: status, timings, every transition, attempts, approvals, usage, cost, summary, report, error.
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs", params(("id" = String, Path)),
    responses((status = 200, description = "the run", body = RunDetail), (status = 404, description = "no such run")))]
pub async fn one(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<RunDetail>, ApiError> {
    let run = find(&s, &id).await?;
    let store = &s.runs.repo;
    let (transitions, attempts, approvals) = (
        store.transitions(&id).await?,
        store.attempts(&run.first_run_id).await?,
        store.approvals(None, Some(&id)).await?,
    );
    let attempts =
        attempts.iter().map(|a| RunAttempt { id: a.id.clone(), attempt: a.attempt, status: a.status }).collect();
    Ok(Json(RunDetail { run: view(&s.runs, &run, held(&s).as_deref()), transitions, attempts, approvals }))
}

/// The run's log as plain text, for download.
#[utoipa::path(get, path = "/api/v1/runs/{id}/log", tag = "runs", params(("id" = String, Path)),
    responses((status = 200, description = "the log, one line an event, as a file to save", body = String, content_type = "text/plain"),
    (status = 404, description = "no such run")))]
pub async fn log(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let run = find(&s, &id).await?;
    let path = s.runs.logs.path(&id);
    let text = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        match crate::runs::logs::render(&path, &mut out) {
            Ok(()) => Ok(out),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(out),
            Err(e) => Err(e),
        }
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string(), "try again"))?
    .map_err(unreadable)?;
    let name = format!("{}-{}-{}-{}.log", run.agent, run.node, run.created_at.format("%Y%m%d-%H%M%S"), run.id);
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        text,
    )
        .into_response())
}

/// The run's events written so far (after `after`), as NDJSON: one event
/// JSON a line, as the stream sends them. A viewer takes a long run's
/// replay in one piece this way, then follows the stream from the last seq.
#[utoipa::path(get, path = "/api/v1/runs/{id}/events", tag = "runs", params(("id" = String, Path), StreamQuery),
    responses((status = 200, description = "the events so far, one JSON a line", body = String, content_type = "application/x-ndjson"),
    (status = 404, description = "no such run")))]
pub async fn events(
    State(s): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<StreamQuery>,
) -> Result<Response, ApiError> {
    find(&s, &id).await?;
    let runs = s.runs.clone();
    let after = q.after.unwrap_or(0);
    let body = tokio::task::spawn_blocking(move || runs.logs.after(&id, after))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string(), "try again"))?
        .map_err(unreadable)?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Only events after this seq (a reconnecting viewer).
    after: Option<u64>,
}

/// The run's events over a WebSocket, one JSON event a message: every event
/// so far (or after `after`), then live until `run.finished`. A viewer that
/// falls far behind gets `{"type": "gap", "data": {"from", "to"}}` and the
/// newer events; it can fetch the gap from the log or with `after`.
#[utoipa::path(get, path = "/api/v1/runs/{id}/stream", tag = "runs", params(("id" = String, Path), StreamQuery),
    responses((status = 101, description = "WebSocket of events"), (status = 404, description = "no such run"),
    (status = 400, description = "not a WebSocket request", body = super::error::ErrorBody)))]
pub async fn stream(
    State(s): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<StreamQuery>,
    ws: super::error::Upgrade,
) -> Result<Response, ApiError> {
    find(&s, &id).await?;
    let ws = super::error::websocket(ws)?;
    let reader = s.runs.logs.reader(&id, q.after.unwrap_or(0)).map_err(unreadable)?;
    Ok(ws.on_upgrade(move |socket| pump(socket, reader)))
}

async fn pump(mut socket: WebSocket, mut reader: crate::runs::logs::Reader) {
    loop {
        let line = tokio::select! {
            line = reader.next() => line,
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
        };
        let Some(line) = line else { break };
        let text = String::from_utf8_lossy(line.trim_ascii_end()).into_owned();
        if socket.send(Message::Text(text.into())).await.is_err() {
            return;
        }
        if reader.lag() > MAX_LAG {
            let (from, to) = (reader.position() + 1, reader.position() + reader.lag() - MAX_LAG / 10);
            reader.skip_to(to + 1);
            let gap = json!({"type": "gap", "data": {"from": from, "to": to,
                "hint": "this viewer fell behind; GET the run's log, or reconnect with ?after= to fetch the gap"}});
            if socket.send(Message::Text(gap.to_string().into())).await.is_err() {
                return;
            }
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// Stops a run: a queued one at once, a going one through its runner.
#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", tag = "runs", params(("id" = String, Path)),
    responses((status = 202, description = "cancelling", body = Cancelling), (status = 404, description = "no such run"),
    (status = 409, description = "the run already finished"),
    (status = 502, description = "the run's runner cannot be reached or refused; the error says why")))]
pub async fn cancel(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Cancelling>), ApiError> {
    s.runs.cancel(&id, &c.actor()).await?;
    Ok((StatusCode::ACCEPTED, Json(Cancelling { cancelling: true })))
}

fn unreadable(e: std::io::Error) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "log", format!("cannot read the run's log: {e}"), "check DATA_DIR")
}

pub fn bad_gateway(e: crate::nodes::client::RunnerError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "runner",
        e.message,
        "check the node's runner; GET /api/v1/nodes shows its health",
    )
}
