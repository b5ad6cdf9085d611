//! `car-server serve`: wires the parts together and runs them until a
//! shutdown signal: database (given or embedded), config source, the sync
//! loop and its triggers, the node reconciler, and the two HTTP ports.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use car_schemas::LoadOptions;
use sqlx::postgres::PgConnectOptions;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::app::settings::Settings;
use crate::config::source::{self, SourceError};
use crate::config::sync::{SyncRequests, Syncer, Trigger};
use crate::db::postgres::{EmbeddedPostgres, PgError};
use crate::db::{Store, StoreError};
use crate::nodes::reconcile as node;
use crate::reconcile::{self, Queue};

/// How long start-up waits for the database before giving up.
pub const DATABASE_PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0} (hint: postgres://user:password@host:5432/database)")]
    DatabaseUrl(sqlx::Error),
    #[error(transparent)]
    Postgres(#[from] PgError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Secrets(#[from] crate::trust::secrets::SecretError),
    #[error("cannot create DATA_DIR {path}: {source} (hint: set DATA_DIR to a writable folder)")]
    DataDir { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr}: {source} (hint: set {var} to a free port)")]
    Listen { addr: SocketAddr, var: &'static str, source: std::io::Error },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

/// Runs the server until `shutdown` resolves.
pub async fn serve(settings: Settings, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
    let mut settings = settings;
    let data_dir = settings.data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(|e| StartError::DataDir { path: data_dir.clone(), source: e })?;
    // Absolute, so that helpers started elsewhere (PostgreSQL as its own user) find it.
    let data_dir = std::fs::canonicalize(&data_dir).map_err(|e| StartError::DataDir { path: data_dir, source: e })?;
    settings.data_dir = data_dir.clone();
    let (options, embedded) = database(&settings, &data_dir).await?;
    let result = run(settings, options, shutdown).await;
    if let Some(pg) = embedded {
        tracing::info!("stopping the embedded PostgreSQL");
        let _ = tokio::task::spawn_blocking(move || pg.stop()).await;
    }
    result
}

async fn database(
    settings: &Settings,
    data_dir: &Path,
) -> Result<(PgConnectOptions, Option<EmbeddedPostgres>), StartError> {
    if let Some(url) = &settings.database_url {
        return Ok((PgConnectOptions::from_str(url).map_err(StartError::DatabaseUrl)?, None));
    }
    let dir = data_dir.join("postgres");
    tracing::info!(dir = %dir.display(), "DATABASE_URL is not set: running an embedded PostgreSQL");
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&dir))
        .await
        .map_err(|e| StartError::Serve(std::io::Error::other(e)))??;
    pg.ensure_database("car").await.map_err(|e| StartError::Store(StoreError::Connect(e)))?;
    Ok((pg.options("car"), Some(pg)))
}

async fn run(
    settings: Settings,
    options: PgConnectOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let store = Store::connect(options, DATABASE_PATIENCE).await?;
    let key = match settings.secret_key.clone() {
        Some(k) => k,
        None => crate::trust::secrets::MasterKey::load_or_create(&settings.data_dir.join("secret.key"))?,
    };
    let secrets = Arc::new(
        crate::trust::secrets::Secrets::open(
            store.clone(),
            key,
            Box::new(|k| std::env::var(k).ok()),
            own_secrets(&settings),
        )
        .await?,
    );
    crate::trust::bootstrap::first_admin(&store, &settings).await?;
    let source: Arc<dyn source::Source> = Arc::from(source::open(&settings.source, &settings.data_dir)?);
    tracing::info!(source = %source.describe(), "config source opened");
    let settings = Arc::new(settings);
    let requests = SyncRequests::default();
    let nodes: Arc<Queue<String>> =
        Arc::new(Queue::new(Duration::from_millis(200), (Duration::from_secs(5), Duration::from_secs(300))));

    // Every live node is looked at from the start; changed ones again after each sync.
    for n in store.objects(Some("Node")).await? {
        nodes.schedule(n.name);
    }
    let on_change = {
        let nodes = nodes.clone();
        let secrets = secrets.clone();
        move |c: &crate::db::Changes| {
            // A changed config may name other {env} values to redact.
            let secrets = secrets.clone();
            tokio::spawn(async move { secrets.refresh().await });
            for (kind, name) in c.added.iter().chain(&c.changed) {
                if kind == "Node" {
                    nodes.schedule(name.clone());
                }
            }
            for (kind, name) in &c.removed {
                if kind == "Node" {
                    nodes.forget(name);
                }
            }
        }
    };
    let syncer = Syncer {
        store: store.clone(),
        source: source.clone(),
        load: LoadOptions::default(),
        on_change: Box::new(on_change),
    };
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(syncer.run(requests.clone(), settings.source.poll_interval));
    if let Some(dir) = source.watch_dir() {
        tasks.spawn(watch(dir, requests.clone()));
    }
    let ctx =
        Arc::new(node::NodeContext { store: store.clone(), http: reqwest::Client::new(), secrets: secrets.clone() });
    tasks.spawn(reconcile::run(nodes.clone(), 4, move |name: String| {
        let ctx = ctx.clone();
        async move { node::reconcile(name, &ctx).await }
    }));

    let logs = crate::runs::logs::Logs::open(settings.data_dir.join("logs"))
        .map_err(|e| StartError::DataDir { path: settings.data_dir.join("logs"), source: e })?;
    let server = server_id(&settings.data_dir)?;
    let runs = Arc::new(crate::runs::Runs::with_budget(
        store.clone(),
        logs,
        secrets.clone(),
        server,
        settings.run_lost_grace,
        settings.budget,
    ));
    tasks.spawn(crate::runs::dispatch::run(runs.clone()));
    tasks.spawn(crate::schedule::fire::run(runs.clone()));
    tasks.spawn(crate::runs::retention::run(runs.clone(), settings.retention_days));

    let state = AppState {
        store,
        sync: requests,
        nodes,
        settings: settings.clone(),
        source: source.describe(),
        runs: runs.clone(),
        secrets,
        auth: Arc::new(crate::trust::access::AuthSettings {
            session_idle: settings.session_idle,
            secure_cookies: settings.public_url.as_deref().is_some_and(|u| u.starts_with("https://")),
            trusted_proxies: settings.trusted_proxies.clone(),
            origins: settings.public_url.iter().filter_map(|u| origin(u)).collect(),
        }),
    };
    let api_addr = SocketAddr::new(settings.bind, settings.api_port);
    let ui_addr = SocketAddr::new(settings.bind, settings.ui_port);
    let api_listener = TcpListener::bind(api_addr).await.map_err(|e| StartError::Listen {
        addr: api_addr,
        var: "API_PORT",
        source: e,
    })?;
    let ui_listener = TcpListener::bind(ui_addr).await.map_err(|e| StartError::Listen {
        addr: ui_addr,
        var: "UI_PORT",
        source: e,
    })?;
    tracing::info!(api = %api_addr, ui = %ui_addr, "listening");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    // Live events go out as they come: no waiting on delayed ACKs for small writes.
    let nodelay = |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    };
    let api_listener = axum::serve::ListenerExt::tap_io(api_listener, nodelay);
    let ui_listener = axum::serve::ListenerExt::tap_io(ui_listener, nodelay);
    // The peer's address, for the audit log and login throttling.
    let api = axum::serve(api_listener, api::app(state.clone()).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    let ui = axum::serve(ui_listener, api::ui(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stopped(stop_rx));
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let (a, u) = tokio::join!(api, ui);
    tasks.abort_all();
    // Another replica (or this one, restarted) takes the runs over at once.
    if let Err(e) = runs.store.release_leases(&runs.server).await {
        tracing::warn!(error = %e, "cannot release the runs this server followed");
    }
    a.and(u).map_err(StartError::Serve)
}

/// The server's own secrets, never to appear in a run's events.
fn own_secrets(s: &Settings) -> Vec<(String, String)> {
    let mut own = Vec::new();
    if let Some(v) = &s.git_webhook_secret {
        own.push(("GIT_WEBHOOK_SECRET".to_string(), v.expose().to_string()));
    }
    if let Some(v) = &s.source.token {
        own.push(("CONFIG_REPO_TOKEN".to_string(), v.expose().to_string()));
    }
    if let Some((_, v)) = &s.admin {
        own.push(("ADMIN_PASSWORD".to_string(), v.expose().to_string()));
    }
    if let Ok(v) = std::env::var("SECRET_KEY") {
        own.push(("SECRET_KEY".to_string(), v));
    }
    own
}

/// `scheme://host[:port]` of a URL.
fn origin(u: &str) -> Option<String> {
    let u = url::Url::parse(u).ok()?;
    Some(u.origin().ascii_serialization())
}

/// This replica's name, kept in `DATA_DIR/server-id` so that after a
/// restart it takes its own runs back at once.
fn server_id(data_dir: &Path) -> Result<String, StartError> {
    let path = data_dir.join("server-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_string());
    }
    let id = format!("server-{}", hex::encode(rand::random::<[u8; 6]>()));
    std::fs::write(&path, &id).map_err(|e| StartError::DataDir { path, source: e })?;
    Ok(id)
}

/// Syncs after edits in a local config folder settle (300 ms without changes).
async fn watch(dir: std::path::PathBuf, requests: SyncRequests) {
    use notify::Watcher;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.try_send(());
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => return tracing::warn!(error = %e, "cannot watch the config folder; edits apply at the next poll"),
    };
    if let Err(e) = watcher.watch(&dir, notify::RecursiveMode::Recursive) {
        return tracing::warn!(error = %e, dir = %dir.display(), "cannot watch the config folder; edits apply at the next poll");
    }
    while rx.recv().await.is_some() {
        while tokio::time::timeout(Duration::from_millis(300), rx.recv()).await.is_ok_and(|m| m.is_some()) {}
        requests.request(Trigger::Watch);
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
