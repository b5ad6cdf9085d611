//! The server's HTTP app in-process, driven without a socket: the API and
//! dashboard routers over a real PostgreSQL and a real git repository with
//! the sync loop running, and an admin API key to call them with.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use car_server::api::{self, AppState};
use car_server::app::settings::Settings;
use car_server::app::startup::{Application, Task};
use car_server::db::Store;
use car_testkit::git::ConfigRepo;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The push webhook's secret.
pub const SECRET: &str = "test-webhook-secret";

pub struct App {
    pub store: Store,
    pub state: AppState,
    /// An admin API key, sent with every call that brings no Authorization of its own.
    pub key: String,
    pub repo: ConfigRepo,
    pub app: axum::Router,
    /// The dashboard port's router.
    pub ui: axum::Router,
    /// The server as start-up wires it, with only its sync running.
    pub server: Application,
    _data: tempfile::TempDir,
}

/// A response taken apart.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl App {
    /// The example config, applied.
    pub async fn start() -> Self {
        let repo = ConfigRepo::from_dir(&super::example_dir());
        repo.commit("initial config");
        Self::with_repo(repo).await
    }

    pub async fn with_repo(repo: ConfigRepo) -> Self {
        Self::with_settings(repo, &[]).await
    }

    /// With more settings (`(variable, value)` pairs) than the tests' usual ones.
    pub async fn with_settings(repo: ConfigRepo, more: &[(&str, &str)]) -> Self {
        let store = super::store().await;
        let data = tempfile::tempdir().unwrap();
        let settings = Settings::from_lookup(|k| match k {
            "CONFIG_REPO" => Some(repo.url()),
            "CONFIG_POLL_INTERVAL" => Some("1h".into()),
            "DATA_DIR" => Some(data.path().display().to_string()),
            "SECRET_KEY" => Some("5e".repeat(32)),
            "GIT_WEBHOOK_SECRET" => Some(SECRET.into()),
            "PUBLIC_URL" => Some("http://car.lan:8000".into()),
            _ => more.iter().find(|(name, _)| *name == k).map(|(_, v)| v.to_string()),
        })
        .unwrap();
        let mut server = Application::build(settings, store.clone(), super::model_key()).await.expect("the server");
        server.start(&[Task::Sync]);
        let state = server.state.clone();
        let key = super::admin_key(&store).await;
        let (app, ui) = (api::app(state.clone()), api::ui(state.clone()));
        let app = App { store, state, key, repo, app, ui, server, _data: data };
        app.wait_applied(None).await;
        app
    }

    /// Sends a request as it is (no key added), from `peer`, to the API router.
    pub async fn send(&self, req: Request<Body>, peer: Option<&str>) -> Answer {
        send(&self.app, req, peer).await
    }

    pub async fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization")) {
            req = req.header("authorization", format!("Bearer {}", self.key));
        }
        let a = self.send(req.body(Body::from(body)).unwrap(), None).await;
        (a.status, a.body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call("GET", path, &[], Vec::new()).await
    }

    /// Waits until `revision` (or anything, with `None`) is applied.
    pub async fn wait_applied(&self, revision: Option<&str>) {
        for _ in 0..200 {
            // The snapshot is published just after the database commits the revision.
            let live = self.server.live.now().revision.clone();
            if live.is_some() && (revision.is_none() || live.as_deref() == revision) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("revision {revision:?} was not applied in 5 s");
    }

    pub async fn applied(&self) -> Option<String> {
        self.server.live.repo().sync_state().await.unwrap().applied_revision
    }
}

/// Sends a request to `router` as if from `peer` (an IP address).
pub async fn send(router: &axum::Router, mut req: Request<Body>, peer: Option<&str>) -> Answer {
    if let Some(ip) = peer {
        let addr = SocketAddr::new(ip.parse().unwrap(), 40000);
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    let resp = router.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Answer { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}
