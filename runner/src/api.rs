//! The runner's HTTP API (port 8100). Every route but the liveness probe
//! `/livez` needs `Authorization: Bearer` with `RUNNER_TOKEN` or one of the
//! node's keys (see [`crate::keys`]), compared in constant time.

use std::sync::Arc;

use crate::health::{Sampler, detect_capabilities};
use crate::keys::KeyRing;
use crate::runs::RunRequestError;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use car_schemas::run::STREAM_KEEPALIVE;
use serde_json::{Value, json};

pub struct RunnerState {
    pub runs: crate::runs::Runs,
    pub keys: Arc<KeyRing>,
    pub capabilities: std::collections::BTreeMap<String, String>,
    pub sampler: Sampler,
}

impl RunnerState {
    /// Looks at the host's programs once (they do not change while it runs);
    /// the kernel's Landlock is the `sandbox` capability (`landlock v7`).
    pub fn new(runs: crate::runs::Runs, keys: Arc<KeyRing>, host_root: &std::path::Path) -> Self {
        let mut capabilities = detect_capabilities(host_root);
        if let Some(sandbox) = runs.sandbox().describe() {
            capabilities.insert("sandbox".into(), sandbox);
        }
        RunnerState { runs, keys, capabilities, sampler: Sampler::default() }
    }
}

pub fn app(state: Arc<RunnerState>) -> Router {
    let authed = Router::new()
        .route("/v1/health", get(health))
        .route("/v1/runs", axum::routing::post(start_run))
        .route("/v1/runs/{id}", get(run_status))
        .route("/v1/runs/{id}/events", get(run_events))
        .route("/v1/runs/{id}/approvals/{request_id}", axum::routing::post(answer))
        .route("/v1/runs/{id}/cancel", axum::routing::post(cancel))
        .route("/v1/keys", axum::routing::put(put_keys))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/livez", get(|| async { Json(json!({"status": "ok"})) }))
        .merge(authed)
        .fallback(|| async {
            error(StatusCode::NOT_FOUND, "no such endpoint", "the runner serves /v1/health and /v1/runs")
        })
        .with_state(state)
}

fn error(status: StatusCode, message: &str, hint: &str) -> Response {
    (status, Json(json!({"error": {"code": status.as_u16(), "message": message, "hint": hint}}))).into_response()
}

async fn require_token(State(s): State<Arc<RunnerState>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if s.keys.accepts(given) {
        next.run(req).await
    } else {
        tracing::warn!("refused a request without a token or key this runner accepts");
        error(
            StatusCode::UNAUTHORIZED,
            "missing, wrong or revoked runner token",
            "send Authorization: Bearer <RUNNER_TOKEN> (the Node's token in git must match it), or the node key \
             the server issued; a node whose key was revoked must enroll again",
        )
    }
}

#[derive(serde::Deserialize)]
struct Keys {
    keys: Vec<String>,
}

/// The server replaces the node keys this runner accepts (rotation, revocation).
async fn put_keys(State(s): State<Arc<RunnerState>>, Json(k): Json<Keys>) -> Response {
    if s.keys.enrollment().is_none() {
        return error(StatusCode::CONFLICT, "this runner is not enrolled", "enroll it with `car-runner enroll`");
    }
    let count = k.keys.len();
    match s.keys.set_keys(k.keys) {
        Ok(()) => {
            tracing::info!(keys = count, "the server replaced this runner's node keys");
            Json(json!({"keys": count})).into_response()
        }
        Err(e @ crate::keys::KeyError::NotANodeKey(_)) => {
            error(StatusCode::BAD_REQUEST, &e.to_string(), "send node keys")
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), "see the runner's log"),
    }
}

async fn start_run(State(s): State<Arc<RunnerState>>, Json(req): Json<car_schemas::run::RunRequest>) -> Response {
    match s.runs.start(req) {
        Ok((run, created)) => {
            let code = if created { StatusCode::ACCEPTED } else { StatusCode::OK };
            (code, Json(json!({"run_id": run.id, "status": run.status(), "created": created}))).into_response()
        }
        Err(e @ RunRequestError::Busy(_)) => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, &e.to_string(), "the server keeps the run queued");
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("15"));
            r
        }
        Err(e @ RunRequestError::Io(_)) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), "see the runner's log")
        }
        Err(e @ RunRequestError::NoSandbox { .. }) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string(), "see the message")
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string(), "fix the run request"),
    }
}

/// A run that is not here, as an error response.
struct NoSuchRun(String);

impl IntoResponse for NoSuchRun {
    fn into_response(self) -> Response {
        error(StatusCode::NOT_FOUND, &format!("no run {:?} on this runner", self.0), "start it with POST /v1/runs")
    }
}

fn find(s: &RunnerState, id: &str) -> Result<Arc<crate::runs::RunHandle>, NoSuchRun> {
    s.runs.get(id).ok_or_else(|| NoSuchRun(id.to_string()))
}

async fn run_status(State(s): State<Arc<RunnerState>>, Path(id): Path<String>) -> Response {
    match find(&s, &id) {
        Ok(run) => {
            Json(json!({"run_id": run.id, "status": run.status(), "last_seq": run.log.last_seq()})).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(serde::Deserialize)]
struct After {
    #[serde(default)]
    after: u64,
}

/// NDJSON: every event after `after` from disk, then live until
/// `run.finished`; a blank line whenever the run is quiet for
/// [`STREAM_KEEPALIVE`], so the server can tell a quiet run from a dead
/// connection.
async fn run_events(State(s): State<Arc<RunnerState>>, Path(id): Path<String>, Query(q): Query<After>) -> Response {
    let run = match find(&s, &id) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let reader = match run.log.reader(q.after) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), "check RUNNER_DATA_DIR"),
    };
    // Served as written on disk, many lines a chunk: no parsing and re-encoding per event.
    let lines = futures_util::stream::unfold(reader, |mut reader| async move {
        // Cancel-safe: a timeout can only strike while it waits for more on disk.
        let chunk = match tokio::time::timeout(STREAM_KEEPALIVE, reader.next_chunk()).await {
            Ok(chunk) => chunk?,
            Err(_) => b"\n".to_vec(),
        };
        Some((Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(chunk)), reader))
    });
    ([(axum::http::header::CONTENT_TYPE, "application/x-ndjson")], axum::body::Body::from_stream(lines)).into_response()
}

#[derive(serde::Deserialize)]
struct Decision {
    decision: String,
    #[serde(default)]
    comment: Option<String>,
}

async fn answer(
    State(s): State<Arc<RunnerState>>,
    Path((id, request_id)): Path<(String, String)>,
    Json(d): Json<Decision>,
) -> Response {
    let run = match find(&s, &id) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let approve = match d.decision.as_str() {
        "approve" => true,
        "deny" => false,
        other => return error(StatusCode::BAD_REQUEST, &format!("unknown decision {other:?}"), "send approve or deny"),
    };
    let answer = crate::engine::approvals::Answer { request_id, approve, comment: d.comment };
    if run.answer(answer).await {
        (StatusCode::ACCEPTED, Json(json!({"accepted": true}))).into_response()
    } else {
        error(StatusCode::CONFLICT, "the run is not waiting for this approval", "GET /v1/runs/{id} shows its status")
    }
}

async fn cancel(State(s): State<Arc<RunnerState>>, Path(id): Path<String>) -> Response {
    match find(&s, &id) {
        Ok(run) if run.cancel() => (StatusCode::ACCEPTED, Json(json!({"cancelling": true}))).into_response(),
        Ok(_) => error(StatusCode::CONFLICT, "the run already finished", "GET /v1/runs/{id} shows how it ended"),
        Err(e) => e.into_response(),
    }
}

async fn health(State(s): State<Arc<RunnerState>>) -> Json<Value> {
    let state = s.clone();
    let metrics = tokio::task::spawn_blocking(move || state.sampler.metrics()).await.ok();
    let node = s.runs.node();
    let (active, limit) = s.runs.load();
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "node": node.name,
        "os": node.os,
        "os_name": node.os_name,
        "capabilities": s.capabilities,
        "sandbox": s.runs.sandbox().describe(),
        "metrics": metrics,
        "runs": {"active": active, "limit": limit},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    fn app_with(token: &str) -> Router {
        let host = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(host.path().join("usr/sbin")).unwrap();
        std::fs::write(host.path().join("usr/sbin/zpool"), "").unwrap();
        let node = crate::engine::run::NodeFacts { name: "nas".into(), ..Default::default() };
        let keys = Arc::new(KeyRing::open(host.path(), Some(token.into())).unwrap());
        let runs = crate::runs::Runs::open(host.path().join("data"), "claude".into(), node, 2)
            .with_sandbox(crate::sandbox::Support::Landlock(7));
        app(Arc::new(RunnerState::new(runs, keys, host.path())))
    }

    async fn get(app: &Router, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = axum::http::Request::get(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn health_needs_the_token_and_reports_the_node() {
        let app = app_with("a-long-runner-token");
        assert_eq!(get(&app, "/v1/health", None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(get(&app, "/v1/health", Some("wrong")).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(get(&app, "/v1/health", Some("a-long-runner-token!")).await.0, StatusCode::UNAUTHORIZED);
        let (status, body) = get(&app, "/v1/health", Some("a-long-runner-token")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["node"], "nas");
        assert_eq!(body["capabilities"]["zfs"], "/usr/sbin/zpool");
        assert_eq!(body["capabilities"]["sandbox"], "landlock v7");
        assert_eq!(body["sandbox"], "landlock v7");
        assert!(body["metrics"]["memory_total_bytes"].as_u64().unwrap() > 0);
    }

    #[tokio::test]
    async fn liveness_needs_no_token_and_unknown_routes_are_404() {
        let app = app_with("a-long-runner-token");
        assert_eq!(get(&app, "/livez", None).await.0, StatusCode::OK);
        assert_eq!(get(&app, "/v1/nope", Some("a-long-runner-token")).await.0, StatusCode::NOT_FOUND);
    }
}
