//! Liveness, readiness, and the placeholder dashboard page.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
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

/// The dashboard port's page until the dashboard is built: a login form
/// and links into the API (which the session cookie then opens).
pub async fn ui_index() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><meta charset=utf-8><title>Claude Agent Runner</title>",
        "<h1>Claude Agent Runner</h1><p>The dashboard is not built yet.</p>",
        "<form id=f><input name=username placeholder='user name' autocomplete=username required> ",
        "<input name=password type=password placeholder=password autocomplete=current-password required> ",
        "<button>Log in</button> <span id=m></span></form>",
        "<p>The API: <a href=/api/v1/sync>sync status</a>, <a href=/api/v1/nodes>nodes</a>, ",
        "<a href=/api/v1/agents>agents</a>, <a href=/api/v1/drift>drift</a>, <a href=/openapi.json>OpenAPI</a>.</p>",
        "<script>f.onsubmit=async e=>{e.preventDefault();const b=Object.fromEntries(new FormData(f));",
        "const r=await fetch('/api/v1/auth/login',{method:'POST',headers:{'content-type':'application/json'},",
        "body:JSON.stringify(b)});const j=await r.json().catch(()=>({}));",
        "m.textContent=r.ok?'logged in as '+j.user.username:(j.error||{}).message||r.status}</script>"
    ))
}

/// The first admin's setup page: the link the server prints at first
/// start carries its one-time token after `#token=`.
pub async fn setup_page() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><meta charset=utf-8><title>Claude Agent Runner: first admin</title>",
        "<h1>Create the first admin</h1>",
        "<form id=f><input name=username placeholder='user name' autocomplete=username required> ",
        "<input name=password type=password placeholder='password (8 or more characters)' minlength=8 ",
        "autocomplete=new-password required> <button>Create</button> <span id=m></span></form>",
        "<script>f.onsubmit=async e=>{e.preventDefault();const b=Object.fromEntries(new FormData(f));",
        "b.token=new URLSearchParams(location.hash.slice(1)).get('token')||'';",
        "const r=await fetch('/api/v1/auth/setup',{method:'POST',headers:{'content-type':'application/json'},",
        "body:JSON.stringify(b)});const j=await r.json().catch(()=>({}));",
        "if(r.ok)location.href='/';else m.textContent=((j.error||{}).message||r.status)+' '+((j.error||{}).hint||'')}",
        "</script>"
    ))
}
