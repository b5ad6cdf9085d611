//! PostgreSQL: the connection pool every domain's repository shares, and
//! the server's own PostgreSQL ([`postgres`]).
//!
//! Each domain keeps its SQL in its own repository (`config::repo`,
//! `nodes::repo`, `runs::repo`, `schedule::repo`, the `trust` modules). The schema is in
//! `migrations/` and is applied at start-up. Queries are checked at run time
//! (and by the tests against a real PostgreSQL) rather than at compile time,
//! so building needs no database.

pub mod postgres;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot reach PostgreSQL: {0} (hint: check DATABASE_URL and that the database is running; the server retried before giving up)"
    )]
    Connect(sqlx::Error),
    #[error("cannot migrate the database schema: {0} (hint: the database user needs CREATE rights)")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}
impl Store {
    /// Connects, retrying until `patience` runs out (the database may
    /// still be starting next to us), then applies pending migrations.
    pub async fn connect(options: PgConnectOptions, patience: std::time::Duration) -> Result<Self, StoreError> {
        let deadline = tokio::time::Instant::now() + patience;
        let mut delay = std::time::Duration::from_millis(250);
        let pool = loop {
            let attempt = PgPoolOptions::new()
                .max_connections(8)
                .min_connections(1)
                .acquire_timeout(std::time::Duration::from_secs(5))
                .connect_with(options.clone())
                .await;
            match attempt {
                Ok(p) => break p,
                Err(e) if tokio::time::Instant::now() + delay < deadline => {
                    tracing::warn!(
                        error = %e,
                        retry_in = ?delay,
                        "cannot reach PostgreSQL yet; retrying (check DATABASE_URL and that the database is running)"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(5));
                }
                Err(e) => return Err(StoreError::Connect(e)),
            }
        };
        sqlx::migrate!("../migrations").run(&pool).await?;
        Ok(Store { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}
