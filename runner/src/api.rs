//! The runner's HTTP API (port 8100). Every route but the liveness probe
//! `/livez` needs `Authorization: Bearer <RUNNER_TOKEN>`, compared in
//! constant time. Runs arrive with the engine; today it answers health.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::health::{OsInfo, Sampler, detect_capabilities, detect_os};

pub struct RunnerState {
    pub token: String,
    pub node: String,
    pub os: OsInfo,
    pub capabilities: std::collections::BTreeMap<String, String>,
    pub sampler: Sampler,
}

impl RunnerState {
    /// Looks at the host once (OS and installed programs do not change while it runs).
    pub fn new(token: String, node: String, host_root: &std::path::Path) -> Self {
        RunnerState {
            token,
            node,
            os: detect_os(host_root),
            capabilities: detect_capabilities(host_root),
            sampler: Sampler::default(),
        }
    }
}

pub fn app(state: Arc<RunnerState>) -> Router {
    let authed = Router::new()
        .route("/v1/health", get(health))
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
    if bool::from(given.as_bytes().ct_eq(s.token.as_bytes())) {
        next.run(req).await
    } else {
        tracing::warn!("refused a request without the runner token");
        error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong runner token",
            "send Authorization: Bearer <RUNNER_TOKEN>; the Node's token in git must match it",
        )
    }
}

async fn health(State(s): State<Arc<RunnerState>>) -> Json<Value> {
    let state = s.clone();
    let metrics = tokio::task::spawn_blocking(move || state.sampler.metrics()).await.ok();
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "node": s.node,
        "os": s.os.kind,
        "os_name": s.os.name,
        "capabilities": s.capabilities,
        "metrics": metrics,
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
        app(Arc::new(RunnerState::new(token.into(), "nas".into(), host.path())))
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
        assert!(body["metrics"]["memory_total_bytes"].as_u64().unwrap() > 0);
    }

    #[tokio::test]
    async fn liveness_needs_no_token_and_unknown_routes_are_404() {
        let app = app_with("a-long-runner-token");
        assert_eq!(get(&app, "/livez", None).await.0, StatusCode::OK);
        assert_eq!(get(&app, "/v1/nope", Some("a-long-runner-token")).await.0, StatusCode::NOT_FOUND);
    }
}
