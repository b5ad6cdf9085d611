//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    pub status: Up,
    /// The server's version.
    pub version: String,
}

/// Always `ok`: a process that is not up does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Up {
    Ok,
}

/// Whether the server can serve, and if not, why.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// Why it is not ready; absent when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "up", body = Liveness)))]
pub async fn healthz() -> Json<Liveness> {
    Json(Liveness { status: Up::Ok, version: env!("CARGO_PKG_VERSION").into() })
}

/// The server can serve: the database answers, the config source was read
/// once, and no background task died lately (the reason names it).
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "ready", body = Readiness),
    (status = 503, description = "not ready, with the reason", body = Readiness)))]
pub async fn readyz(State(s): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let not_ready =
        |reason: &str| (StatusCode::SERVICE_UNAVAILABLE, Json(Readiness { ready: false, reason: Some(reason.into()) }));
    if !s.store.ping().await {
        return not_ready("the database does not answer");
    }
    let down = s.tasks.down();
    if !down.is_empty() {
        return not_ready(&down.join("; "));
    }
    match s.live.repo().sync_state().await {
        Ok(state) if state.fetched_at.is_some() => (StatusCode::OK, Json(Readiness { ready: true, reason: None })),
        _ => not_ready("the config source was not read yet"),
    }
}
