//! The HTTP API (port 8000, and under `/api` on the dashboard port): one
//! module per resource; `app(state)` builds the router so tests can drive it
//! without a socket. The OpenAPI document is generated from the handlers.

mod approvals;
mod error;
mod health;
mod objects;
mod runs;
mod sync;
mod usage;
mod webhook;

use std::sync::Arc;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;

use crate::reconcile::Queue;
use crate::settings::Settings;
use crate::store::Store;
use crate::sync::SyncRequests;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub sync: SyncRequests,
    /// Node reconciles, so a heartbeat can ask for a look now.
    pub nodes: Arc<Queue<String>>,
    pub settings: Arc<Settings>,
    /// `CONFIG_REPO` as shown to users (credentials removed).
    pub source: String,
    pub runs: Arc<crate::runs::Runs>,
}

#[derive(OpenApi)]
#[openapi(info(
    title = "Claude Agent Runner",
    description = "The car-server API: config sync, live state, drift, runs, approvals, usage."
))]
struct ApiDoc;

/// The API router and its OpenAPI document.
pub fn router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(sync::status))
        .routes(routes!(sync::refresh))
        .routes(routes!(webhook::git))
        .routes(routes!(objects::nodes))
        .routes(routes!(objects::node))
        .routes(routes!(objects::heartbeat))
        .routes(routes!(objects::metrics))
        .routes(routes!(objects::agents))
        .routes(routes!(objects::agent))
        .routes(routes!(objects::schedules))
        .routes(routes!(objects::pause))
        .routes(routes!(objects::resume))
        .routes(routes!(objects::drift))
        .routes(routes!(runs::start, runs::list))
        .routes(routes!(runs::one))
        .routes(routes!(runs::log))
        .routes(routes!(runs::stream))
        .routes(routes!(runs::cancel))
        .routes(routes!(approvals::list))
        .routes(routes!(approvals::decide))
        .routes(routes!(usage::usage))
        .split_for_parts()
}

/// The whole API with `/openapi.json`, ready to serve.
pub fn app(state: AppState) -> Router {
    let (api, doc) = router();
    let doc = Arc::new(doc);
    api.route("/openapi.json", axum::routing::get(move || async move { axum::Json(doc.as_ref().clone()) }))
        .fallback(|| async { ApiError::not_found("no such endpoint", "see /openapi.json for the API") })
        .with_state(state)
}

/// The dashboard port: the same API under `/api` (same origin) and, until
/// the dashboard is built, a page that points at it.
pub fn ui(state: AppState) -> Router {
    Router::new().route("/", axum::routing::get(health::ui_index)).nest("/api", app(state.clone())).merge(
        Router::new()
            .route("/openapi.json", axum::routing::get(|| async { axum::response::Redirect::to("/api/openapi.json") })),
    )
}
