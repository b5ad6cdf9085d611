//! Shared test plumbing: a real PostgreSQL (one cluster per machine, started
//! on first use and shared by every test process; a fresh database per test)
//! and a server wired to a config repository.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use car_server::postgres::EmbeddedPostgres;
use car_server::settings::SourceSettings;
use car_server::source;
use car_server::store::Store;
use car_server::sync::Syncer;
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
    let name = format!("t_{}", hex::encode(rand::random::<[u8; 8]>()));
    pg.ensure_database(&name).await.expect("a test database");
    name
}

/// A fresh, empty database on the shared test cluster.
pub async fn database() -> PgConnectOptions {
    let url = database_url().await;
    url.parse().expect("a database URL")
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

/// A syncer for `repo` on `store`, with its mirror under `data`.
pub fn syncer(store: &Store, repo: &str, data: &Path) -> Syncer {
    let source = source::open(&source_settings(repo), data).expect("open the source");
    Syncer { store: store.clone(), source: Arc::from(source), load: Default::default(), on_change: Box::new(|_| {}) }
}
