//! Start-up: [`Application::build`] wires every part over a database (the
//! tests build the same one), [`Application::start`] runs the background
//! tasks under a supervisor, and [`serve`] does it all for `car-server
//! serve`: the database (given or embedded), then the two HTTP ports until
//! a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use car_schemas::Kind;
use sqlx::postgres::PgConnectOptions;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::app::settings::Settings;
use crate::config::repo::{Changes, ConfigRepo};
use crate::config::snapshot::LiveConfig;
use crate::config::source::{self, Source, SourceError};
use crate::config::sync::{SyncRequests, Syncer, Trigger};
use crate::db::postgres::{EmbeddedPostgres, PgError};
use crate::db::{Store, StoreError};
use crate::nodes::client::Runners;
use crate::nodes::reconcile as node;
use crate::nodes::repo::NodeRepo;
use crate::runs::Runs;
use crate::schedule::fire::Scheduler;
use crate::schedule::repo::ScheduleRepo;
use crate::tasks::{self, Backoff, Queue, Supervisor};
use crate::trust::secrets::{EnvLookup, MasterKey, Secrets};
use crate::trust::users::UserRepo;

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

/// The background tasks, each supervised under its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Syncs the config on start, on the poll timer and when asked.
    Sync,
    /// Asks for a sync when a watched local config folder changes.
    Watch,
    /// Looks at each node's runner.
    Probes,
    /// Sends queued runs to their runners.
    Dispatch,
    /// Fires schedules.
    Schedule,
    /// Deletes runs older than `RETENTION_DAYS`.
    Retention,
    /// Turns events into notification messages.
    Notify,
    /// Sends queued notification messages.
    Deliver,
    /// Tells the dashboards what happened (`/api/v1/live`).
    Feed,
}

impl Task {
    pub const ALL: [Task; 9] = [
        Task::Sync,
        Task::Watch,
        Task::Probes,
        Task::Dispatch,
        Task::Schedule,
        Task::Retention,
        Task::Notify,
        Task::Deliver,
        Task::Feed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Task::Sync => "sync",
            Task::Watch => "watch",
            Task::Probes => "probes",
            Task::Dispatch => "dispatch",
            Task::Schedule => "schedule",
            Task::Retention => "retention",
            Task::Notify => "notify",
            Task::Deliver => "deliver",
            Task::Feed => "feed",
        }
    }
}

/// The server, wired: every part over one database, nothing running yet.
pub struct Application {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub live: LiveConfig,
    pub runs: Arc<Runs>,
    /// What the HTTP API serves from.
    pub state: AppState,
    source: Arc<dyn Source>,
    syncer: Arc<Syncer>,
    supervisor: Supervisor,
}

impl Application {
    /// Wires the server over `store` (migrated): the live config as the
    /// database holds it, the secret store (reading `env` for `{env: …}`
    /// references), the first admin, the config source, the runs. Starts nothing.
    pub async fn build(settings: Settings, store: Store, env: EnvLookup) -> Result<Application, StartError> {
        let key = match settings.secret_key.clone() {
            Some(k) => k,
            None => MasterKey::load_or_create(&settings.data_dir.join("secret.key"))?,
        };
        let own = own_secrets(&settings, &env);
        let secrets = Arc::new(Secrets::open(store.clone(), key, env, own).await?);
        crate::trust::bootstrap::first_admin(&store, settings.admin.as_ref(), &settings.dashboard_url()).await?;
        let source: Arc<dyn Source> = Arc::from(source::open(&settings.source, &settings.data_dir)?);
        tracing::info!(source = %source.describe(), "config source opened");
        let live = LiveConfig::load(ConfigRepo::new(&store)).await?;
        let runners = Runners::new(live.clone(), store.clone(), secrets.clone());
        let probes: Arc<Queue<String>> = Arc::new(Queue::new(
            Duration::from_millis(200),
            Backoff::new(Duration::from_secs(5), Duration::from_secs(300)),
        ));
        let logs_dir = settings.data_dir.join("logs");
        let logs = crate::runs::logs::Logs::open(logs_dir.clone())
            .map_err(|e| StartError::DataDir { path: logs_dir, source: e })?;
        let runs = Arc::new(Runs::new(
            &store,
            runners.clone(),
            logs,
            server_id(&settings.data_dir)?,
            crate::runs::service::RunSettings {
                lost_grace: settings.run_lost_grace,
                stream_silence: settings.run_stream_silence,
                budget: settings.budget,
                demo_model: settings.demo_model.clone(),
            },
        ));
        let sync = SyncRequests::default();
        let syncer = Arc::new(Syncer {
            live: live.clone(),
            source: source.clone(),
            load: car_schemas::LoadOptions::default(),
            on_change: Box::new(on_change(probes.clone(), secrets.clone())),
        });
        let supervisor = Supervisor::default();
        let notify = Arc::new(crate::notify::Notifier::new(
            crate::notify::NotifyRepo::new(&store),
            live.clone(),
            runs.repo.clone(),
            NodeRepo::new(&store),
            secrets.clone(),
            crate::notify::NotifySettings {
                dashboard: settings.dashboard_url(),
                public_url: settings.public_url.clone(),
                give_up: settings.notify_give_up,
                keep: Duration::from_secs(u64::from(settings.retention_days) * 86_400),
            },
        ));
        let writer = Arc::new(crate::config::write::Writer {
            source: source.clone(),
            load: car_schemas::LoadOptions::default(),
            repo: ConfigRepo::new(&store),
            sync: sync.clone(),
            secrets: secrets.clone(),
            mode: settings.write_mode,
            forge: settings.forge.clone().map(|f| Arc::new(crate::config::forge::Forge::new(f))),
            branch: settings.source.branch.clone(),
            dashboard: settings.dashboard_url(),
        });
        let state = AppState {
            store: store.clone(),
            live: live.clone(),
            writer,
            sync,
            probes,
            runners,
            nodes: NodeRepo::new(&store),
            users: UserRepo::new(&store),
            settings: Arc::new(settings.api()),
            source: source.describe(),
            runs: runs.clone(),
            secrets,
            notify,
            feed: crate::events::Feed::default(),
            tasks: supervisor.health(),
        };
        Ok(Application { settings: Arc::new(settings), store, live, runs, state, source, syncer, supervisor })
    }

    /// Starts `tasks` under the supervisor.
    pub fn start(&mut self, tasks: &[Task]) {
        for &task in tasks {
            let name = task.name();
            match task {
                Task::Sync => {
                    let (syncer, requests) = (self.syncer.clone(), self.state.sync.clone());
                    let poll = self.settings.source.poll_interval;
                    self.supervisor.spawn(name, move || {
                        let (syncer, requests) = (syncer.clone(), requests.clone());
                        async move { syncer.run(requests, poll).await }
                    });
                }
                Task::Watch => {
                    let Some(dir) = self.source.watch_dir() else { continue };
                    let requests = self.state.sync.clone();
                    self.supervisor.spawn(name, move || watch(dir.clone(), requests.clone()));
                }
                Task::Probes => {
                    // Every live node is looked at from the start; changed ones again after each sync.
                    for n in self.live.now().nodes.keys() {
                        self.state.probes.schedule(n.clone());
                    }
                    let ctx = Arc::new(node::NodeContext {
                        runners: self.state.runners.clone(),
                        repo: self.state.nodes.clone(),
                        away_grace: self.settings.node_away_grace,
                        resource_limits: self.settings.resource_limits,
                    });
                    let probes = self.state.probes.clone();
                    self.supervisor.spawn(name, move || {
                        let ctx = ctx.clone();
                        tasks::reconcile::run(probes.clone(), 4, move |name: String| {
                            let ctx = ctx.clone();
                            async move { node::reconcile(name, &ctx).await }
                        })
                    });
                }
                Task::Dispatch => {
                    let runs = self.runs.clone();
                    self.supervisor.spawn(name, move || crate::runs::dispatch::run(runs.clone()));
                }
                Task::Schedule => {
                    let scheduler =
                        Arc::new(Scheduler { runs: self.runs.clone(), repo: ScheduleRepo::new(&self.store) });
                    self.supervisor.spawn(name, move || {
                        let scheduler = scheduler.clone();
                        async move { scheduler.run().await }
                    });
                }
                Task::Retention => {
                    let (runs, days) = (self.runs.clone(), self.settings.retention_days);
                    self.supervisor.spawn(name, move || crate::runs::retention::run(runs.clone(), days));
                }
                Task::Notify => {
                    let notify = self.state.notify.clone();
                    self.supervisor.spawn(name, move || crate::notify::route::run(notify.clone()));
                }
                Task::Deliver => {
                    let notify = self.state.notify.clone();
                    self.supervisor.spawn(name, move || crate::notify::deliver::run(notify.clone()));
                }
                Task::Feed => {
                    let (feed, pool) = (self.state.feed.clone(), self.store.pool().clone());
                    self.supervisor.spawn(name, move || feed.clone().run(pool.clone()));
                }
            }
        }
    }

    /// Serves the API and dashboard ports until `shutdown` resolves, then
    /// stops the tasks and hands this replica's runs over.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
        let settings = &self.settings;
        let api_addr = SocketAddr::new(settings.bind, settings.api_port);
        let ui_addr = SocketAddr::new(settings.bind, settings.ui_port);
        let listen = |addr: SocketAddr, var: &'static str| async move {
            TcpListener::bind(addr).await.map_err(|e| StartError::Listen { addr, var, source: e })
        };
        let api_listener = listen(api_addr, "API_PORT").await?;
        let ui_listener = listen(ui_addr, "UI_PORT").await?;
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
        let api =
            axum::serve(api_listener, api::app(self.state.clone()).into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(stopped(stop_rx.clone()));
        let ui =
            axum::serve(ui_listener, api::ui(self.state.clone()).into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(stopped(stop_rx));
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
        });
        let (a, u) = tokio::join!(api, ui);
        self.supervisor.shutdown().await;
        // Another replica (or this one, restarted) takes the runs over at once.
        if let Err(e) = self.runs.repo.release_leases(&self.runs.server).await {
            tracing::warn!(error = %e, "cannot release the runs this server followed");
        }
        a.and(u).map_err(StartError::Serve)
    }
}

/// After a sync applied changes: nodes are looked at again, and secrets
/// the config names are redacted from run events from now on.
fn on_change(probes: Arc<Queue<String>>, secrets: Arc<Secrets>) -> impl Fn(&Changes) + Send + Sync {
    move |c: &Changes| {
        let secrets = secrets.clone();
        tokio::spawn(async move { secrets.refresh().await });
        for (kind, name) in c.added.iter().chain(&c.changed) {
            if kind == Kind::Node.as_str() {
                probes.schedule(name.clone());
            }
        }
        for (kind, name) in &c.removed {
            if kind == Kind::Node.as_str() {
                probes.forget(name);
            }
        }
    }
}

/// `car-server serve`: runs the whole server until `shutdown` resolves.
pub async fn serve(settings: Settings, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
    let mut settings = settings;
    let data_dir = settings.data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(|e| StartError::DataDir { path: data_dir.clone(), source: e })?;
    // Absolute, so that helpers started elsewhere (PostgreSQL as its own user) find it.
    let data_dir = std::fs::canonicalize(&data_dir).map_err(|e| StartError::DataDir { path: data_dir, source: e })?;
    settings.data_dir = data_dir.clone();
    let (options, embedded) = database(&settings, &data_dir).await?;
    let result = async {
        let store = Store::connect(options, DATABASE_PATIENCE).await?;
        let mut app = Application::build(settings, store, Box::new(|k| std::env::var(k).ok())).await?;
        app.start(&Task::ALL);
        app.serve(shutdown).await
    }
    .await;
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

/// The server's own secrets, never to appear in a run's events.
fn own_secrets(s: &Settings, env: &EnvLookup) -> Vec<(String, String)> {
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
    if let Some(v) = env("SECRET_KEY") {
        own.push(("SECRET_KEY".to_string(), v));
    }
    own
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
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the config folder; edits apply at the next poll");
            return std::future::pending().await;
        }
    };
    if let Err(e) = watcher.watch(&dir, notify::RecursiveMode::Recursive) {
        tracing::warn!(error = %e, dir = %dir.display(), "cannot watch the config folder; edits apply at the next poll");
        return std::future::pending().await;
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
