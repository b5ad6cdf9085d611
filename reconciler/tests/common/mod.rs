//! Shared test plumbing: a real PostgreSQL (one cluster per machine, started
//! on first use and shared by every test process; a fresh database per test)
//! and a server wired to a config repository.

#![allow(dead_code)]

pub mod app;
pub mod live;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use car_server::config::repo::ConfigRepo;
use car_server::config::snapshot::LiveConfig;
use car_server::config::source::{self, SourceSettings};
use car_server::config::sync::Syncer;
use car_server::db::Store;
use car_server::db::postgres::EmbeddedPostgres;
use sqlx::postgres::PgConnectOptions;

/// A fresh, empty database on the shared test cluster, as a URL.
pub async fn database_url() -> String {
    let name = fresh_database().await;
    format!("postgres://car@localhost:5432/{name}?host={}", cluster_dir().join("socket").display())
}

fn cluster_dir() -> PathBuf {
    std::env::temp_dir().join(format!("car-test-postgres-{}", nix::unistd::Uid::effective()))
}

async fn fresh_database() -> String {
    let dir = cluster_dir();
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&dir))
        .await
        .expect("the start task")
        .expect("a PostgreSQL for the tests (apt-get install postgresql)");
    // Named by when it was made, so that later runs can drop what earlier ones left.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let name = format!("t_{now}_{}", hex::encode(rand::random::<[u8; 8]>()));
    drop_stale_databases(&pg, now).await;
    pg.ensure_database(&name).await.expect("a test database");
    name
}

/// Drops the test databases made more than six hours ago (no test runs that
/// long): each test makes its own, and the shared cluster otherwise grows
/// by gigabytes a day. Another process dropping the same one first is fine.
async fn drop_stale_databases(pg: &EmbeddedPostgres, now: u64) {
    use sqlx::Connection;
    let Ok(mut c) = sqlx::PgConnection::connect_with(&pg.options("postgres")).await else { return };
    let names: Vec<String> = sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 't\\_%'")
        .fetch_all(&mut c)
        .await
        .unwrap_or_default();
    for name in names {
        // Databases of older test code carry no time: they are stale too.
        let made = name.split('_').nth(1).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
        if now.saturating_sub(made) > 6 * 3600 {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut c).await;
        }
    }
}

/// A fresh, empty database on the shared test cluster.
pub async fn database() -> PgConnectOptions {
    let url = database_url().await;
    url.parse().expect("a database URL")
}

/// The secret store of a test server: a fixed master key, and `env` as its environment.
pub async fn secrets(
    store: &Store,
    env: car_server::trust::secrets::EnvLookup,
) -> Arc<car_server::trust::secrets::Secrets> {
    let key = car_server::trust::secrets::MasterKey::parse(&"5e".repeat(32)).unwrap();
    Arc::new(
        car_server::trust::secrets::Secrets::open(store.clone(), key, env, Vec::new()).await.expect("the secret store"),
    )
}

/// An admin API key, made straight in the database.
pub async fn admin_key(store: &Store) -> String {
    let by = car_server::trust::audit::Actor::system("test");
    car_server::trust::users::UserRepo::new(store)
        .create_api_key("test admin", car_server::trust::access::Role::Admin, None, &by)
        .await
        .expect("an API key")
        .1
}

/// An admin API key from a running server, by logging in as `user` and asking for one.
pub async fn api_key_from(url: &str, user: &str, password: &str) -> String {
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": user, "password": password}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), reqwest::StatusCode::OK, "login as {user}");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let made: serde_json::Value = http
        .post(format!("{url}/api/v1/api-keys"))
        .header("cookie", cookie)
        .json(&serde_json::json!({"name": "test", "role": "admin"}))
        .send()
        .await
        .expect("an API key")
        .json()
        .await
        .unwrap();
    made["key"].as_str().expect("the key").to_string()
}

/// Every row of every table as text: what a dump of the database would show.
pub async fn dump(store: &Store) -> String {
    let tables: Vec<String> = sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let mut out = String::new();
    for t in tables {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT t::text FROM \"{t}\" t")).fetch_all(store.pool()).await.unwrap();
        out.push_str(&format!("-- {t}\n{}\n", rows.join("\n")));
    }
    out
}

/// The store of a database that exists already.
pub async fn store_at(url: &str) -> Store {
    Store::connect(url.parse().expect("a database URL"), Duration::from_secs(20)).await.expect("connect")
}

pub async fn store() -> Store {
    Store::connect(database().await, Duration::from_secs(20)).await.expect("connect to the test database")
}

pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-config-repo")
}

pub fn source_settings(repo: &str) -> SourceSettings {
    SourceSettings {
        repo: repo.into(),
        branch: "main".into(),
        path: None,
        poll_interval: Duration::from_secs(3600),
        token: None,
        ssh_key: None,
    }
}

/// The live config of `store`.
pub async fn live(store: &Store) -> LiveConfig {
    LiveConfig::load(ConfigRepo::new(store)).await.expect("the live config")
}

/// A syncer for `repo` on `store`, with its mirror under `data`.
pub async fn syncer(store: &Store, repo: &str, data: &Path) -> Syncer {
    let source = source::open(&source_settings(repo), data).expect("open the source");
    Syncer { live: live(store).await, source: Arc::from(source), load: Default::default(), on_change: Box::new(|_| {}) }
}

/// The repositories of a store, for tests that look at the database directly.
pub trait Repos {
    fn config_repo(&self) -> ConfigRepo;
    fn run_repo(&self) -> car_server::runs::RunRepo;
    fn user_repo(&self) -> car_server::trust::users::UserRepo;
    fn node_repo(&self) -> car_server::nodes::repo::NodeRepo;
    fn schedule_repo(&self) -> car_server::schedule::repo::ScheduleRepo;
}

impl Repos for Store {
    fn config_repo(&self) -> ConfigRepo {
        ConfigRepo::new(self)
    }
    fn run_repo(&self) -> car_server::runs::RunRepo {
        car_server::runs::RunRepo::new(self)
    }
    fn user_repo(&self) -> car_server::trust::users::UserRepo {
        car_server::trust::users::UserRepo::new(self)
    }
    fn node_repo(&self) -> car_server::nodes::repo::NodeRepo {
        car_server::nodes::repo::NodeRepo::new(self)
    }
    fn schedule_repo(&self) -> car_server::schedule::repo::ScheduleRepo {
        car_server::schedule::repo::ScheduleRepo::new(self)
    }
}

/// The server as start-up wires it, over `store`, for the config at `repo`
/// (a folder or git URL) with its data under `data`; nothing started.
pub async fn application(store: &Store, repo: &str, data: &Path) -> car_server::app::startup::Application {
    let settings = car_server::app::settings::Settings::from_lookup(|k| match k {
        "CONFIG_REPO" => Some(repo.to_string()),
        "DATA_DIR" => Some(data.display().to_string()),
        "SECRET_KEY" => Some("5e".repeat(32)),
        _ => None,
    })
    .expect("test settings");
    car_server::app::startup::Application::build(settings, store.clone(), model_key()).await.expect("the server")
}

/// The environment of an in-process server: a model key, so prompt agents'
/// runs may be queued (these servers dispatch them to no real model).
pub fn model_key() -> car_server::trust::secrets::EnvLookup {
    Box::new(|k| (k == "ANTHROPIC_API_KEY").then(|| "test-model-key".to_string()))
}
