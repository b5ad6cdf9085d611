//! Runs: start one now, list and read them, download a run's log as text,
//! follow it live over a WebSocket (replay, then live), cancel it.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::error::QueryParams;
use super::{ApiError, AppState, JsonBody};
use crate::auth::Caller;
use crate::runner::{Endpoint, RunnerErrorKind};
use crate::runs::{QueueError, Run, Start};

/// A reader further behind than this many events skips ahead (with a gap marker).
const MAX_LAG: u64 = 5000;

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::NotFound { message, hint } => ApiError::not_found(message, hint),
            QueueError::Invalid { message, hint } => ApiError::new(StatusCode::CONFLICT, "not_allowed", message, hint),
            QueueError::Store(e) => e.into(),
        }
    }
}

/// A run as the API shows it; a queued model run says why it waits, if it is held.
pub fn view(r: &Run, held: Option<&str>) -> Value {
    let duration_ms = match (r.started_at, r.finished_at) {
        (Some(s), Some(f)) => Some((f - s).num_milliseconds()),
        _ => None,
    };
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["duration_ms"] = json!(duration_ms);
    v["usage"] = json!({"input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
        "cache_creation_input_tokens": r.cache_creation_input_tokens,
        "cache_read_input_tokens": r.cache_read_input_tokens, "cost_usd": r.cost_usd, "turns": r.turns});
    let model_run = r.agent_document["spec"]["prompt"].is_string();
    v["held"] = json!(held.filter(|_| r.status == "queued" && model_run));
    v
}

fn held(s: &AppState) -> Option<String> {
    s.runs.gate.held(chrono::Utc::now())
}

async fn find(s: &AppState, id: &str) -> Result<Run, ApiError> {
    s.runs
        .store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run {id:?}"), "GET /api/v1/runs lists the runs"))
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
    responses((status = 202, description = "the queued run"), (status = 404, description = "no such agent or node"),
    (status = 409, description = "the node does not allow the agent, or its script is not in the applied revision")))]
pub async fn start(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    JsonBody(b): JsonBody<StartRun>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let start = Start { trigger: "manual".into(), by: Some(c.actor()), ..Start::default() };
    let run = s
        .runs
        .queue(&b.agent, &b.node, start)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "conflict", "the run was not queued", "try again"))?;
    Ok((StatusCode::ACCEPTED, Json(view(&run, held(&s).as_deref()))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// At most this many (default 50, at most 500).
    limit: Option<i64>,
    agent: Option<String>,
    node: Option<String>,
    /// queued, dispatched, running, awaiting_approval, succeeded, failed, timed_out, cancelled, lost.
    status: Option<String>,
    /// Runs older than this run id (the `next` of the previous page).
    before: Option<String>,
}

/// Runs, newest first, with cursor paging.
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(ListQuery),
    responses((status = 200, description = "{runs: [...], next: cursor or null}")))]
pub async fn list(State(s): State<AppState>, QueryParams(q): QueryParams<ListQuery>) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let filter =
        crate::runs::store::RunFilter { agent: q.agent, node: q.node, status: q.status, before: q.before, limit };
    let runs = s.runs.store.runs(&filter).await?;
    let next = (runs.len() as i64 == limit).then(|| runs.last().map(|r| r.id.clone())).flatten();
    let held = held(&s);
    Ok(Json(json!({"runs": runs.iter().map(|r| view(r, held.as_deref())).collect::<Vec<_>>(), "next": next})))
}

/// One run: status, timings, every transition, attempts, approvals, usage, cost, summary, report, error.
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs", params(("id" = String, Path)),
    responses((status = 200, description = "the run"), (status = 404, description = "no such run")))]
pub async fn one(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let run = find(&s, &id).await?;
    let store = &s.runs.store;
    let (transitions, attempts, approvals) = (
        store.transitions(&id).await?,
        store.attempts(&run.first_run_id).await?,
        store.approvals(None, Some(&id)).await?,
    );
    let mut v = view(&run, held(&s).as_deref());
    v["transitions"] = json!(transitions);
    v["attempts"] = json!(
        attempts.iter().map(|a| json!({"id": a.id, "attempt": a.attempt, "status": a.status})).collect::<Vec<_>>()
    );
    v["approvals"] = json!(approvals);
    Ok(Json(v))
}

/// The run's log as plain text, for download.
#[utoipa::path(get, path = "/api/v1/runs/{id}/log", tag = "runs", params(("id" = String, Path)),
    responses((status = 200, description = "text/plain"), (status = 404, description = "no such run")))]
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
    responses((status = 101, description = "WebSocket of events"), (status = 404, description = "no such run")))]
pub async fn stream(
    State(s): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<StreamQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    find(&s, &id).await?;
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
    responses((status = 202, description = "cancelling"), (status = 404, description = "no such run"),
    (status = 409, description = "the run already finished"),
    (status = 502, description = "the run's runner cannot be reached or refused; the error says why")))]
pub async fn cancel(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let run = find(&s, &id).await?;
    if crate::runs::store::OPEN.contains(&run.status.as_str()) {
        let detail = json!({"agent": run.agent, "node": run.node, "status": run.status});
        crate::audit::record(s.store.pool(), &c.actor(), "run.cancelled", Some(&id), detail).await?;
    }
    if run.status == "queued" {
        let error = json!({"kind": "cancelled", "message": "cancelled before it was dispatched", "hint": "start it again when needed"});
        s.runs.finish_here(&run, "cancelled", error).await?;
        return Ok((StatusCode::ACCEPTED, Json(json!({"cancelling": true}))));
    }
    if !crate::runs::store::OPEN.contains(&run.status.as_str()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "finished",
            format!("run {id} already {}", run.status),
            "nothing to cancel",
        ));
    }
    let endpoint = Endpoint::of(&s.runs.store, &s.runs.secrets, &run.node).await.map_err(bad_gateway)?;
    match endpoint.cancel(&s.runs.http, &id).await {
        Ok(_) => Ok((StatusCode::ACCEPTED, Json(json!({"cancelling": true})))),
        Err(e) if e.kind == RunnerErrorKind::Refused(409) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "finished",
            "the run already finished on its node",
            "reload the run",
        )),
        Err(e) => Err(bad_gateway(e)),
    }
}

fn unreadable(e: std::io::Error) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "log", format!("cannot read the run's log: {e}"), "check DATA_DIR")
}

pub fn bad_gateway(e: crate::runner::RunnerError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "runner",
        e.message,
        "check the node's runner; GET /api/v1/nodes shows its health",
    )
}
