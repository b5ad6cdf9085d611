//! Liveness, readiness, and the placeholder dashboard page.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use serde_json::{Value, json};

use super::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "up")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// The server can serve: the database answers and the config source was read once.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "ready"), (status = 503, description = "not ready, with the reason")))]
pub async fn readyz(State(s): State<AppState>) -> (StatusCode, Json<Value>) {
    if !s.store.ping().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "the database does not answer"})),
        );
    }
    match s.store.sync_state().await {
        Ok(state) if state.fetched_at.is_some() => (StatusCode::OK, Json(json!({"ready": true}))),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "the config source was not read yet"})),
        ),
    }
}

pub async fn ui_index() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><meta charset=utf-8><title>Claude Agent Runner</title>",
        "<h1>Claude Agent Runner</h1><p>The dashboard is not built yet. The API is here: ",
        "<a href=/api/v1/sync>sync status</a>, <a href=/api/v1/nodes>nodes</a>, <a href=/api/v1/agents>agents</a>, ",
        "<a href=/api/v1/drift>drift</a>, <a href=/api/openapi.json>OpenAPI</a>.</p>"
    ))
}
