//! PostgreSQL: the live state, sync history and node observations.
//!
//! The SQL of these lives here; runs, users and keys, enrollment, secrets
//! and the audit log keep theirs in their own modules. The schema is in
//! `migrations/` and is applied at start-up. Queries are checked at run time
//! (and by the tests against a real PostgreSQL) rather than at compile time,
//! so building needs no database.

pub mod postgres;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{FromRow, Row};

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

/// The revision a sync looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    pub id: String,
    pub author: Option<String>,
    pub message: Option<String>,
    pub committed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct SyncState {
    pub head_revision: Option<String>,
    pub head_author: Option<String>,
    pub head_message: Option<String>,
    pub head_committed_at: Option<DateTime<Utc>>,
    pub fetched_at: Option<DateTime<Utc>>,
    pub fetch_error: Option<String>,
    pub attempted_revision: Option<String>,
    pub attempted_at: Option<DateTime<Utc>>,
    pub applied_revision: Option<String>,
    pub applied_at: Option<DateTime<Utc>>,
    pub diagnostics: Value,
    pub objects: Value,
}

/// One sync of a new revision: what it was, what started it, and how it went.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// The commit.
    pub revision: String,
    pub author: Option<String>,
    /// The commit message.
    pub message: Option<String>,
    pub committed_at: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub trigger: crate::config::sync::Trigger,
    #[sqlx(try_from = "String")]
    pub outcome: SyncOutcome,
    /// Objects the revision added, changed and removed (0 when invalid).
    pub added: i32,
    pub changed: i32,
    pub removed: i32,
    /// Why it is invalid; empty when applied.
    #[sqlx(json)]
    pub errors: Vec<crate::config::sync::ConfigDiagnostic>,
}

/// What became of a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncOutcome {
    /// It is the live state.
    Applied,
    /// It has errors; the last good revision stayed live.
    Invalid,
}

impl SyncOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncOutcome::Applied => "applied",
            SyncOutcome::Invalid => "invalid",
        }
    }
}

/// The database's CHECK allows only these.
impl TryFrom<String> for SyncOutcome {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        [SyncOutcome::Applied, SyncOutcome::Invalid]
            .into_iter()
            .find(|o| o.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a sync outcome"))
    }
}

/// An object as the applied revision declares it.
#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
pub struct LiveObject {
    pub kind: String,
    pub name: String,
    pub revision: String,
    pub file: String,
    pub line: i32,
    pub document: Value,
    pub hash: String,
    pub applied_at: DateTime<Utc>,
}

/// A live object without its document: enough to compare revisions.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct LiveKey {
    pub kind: String,
    pub name: String,
    pub hash: String,
    pub file: String,
    pub line: i32,
}

/// An object of a revision about to be applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub kind: String,
    pub name: String,
    pub file: String,
    pub line: i32,
    pub document: Value,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredScript {
    pub path: String,
    pub source: String,
    pub hash: String,
}

/// What applying a revision changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub added: Vec<(String, String)>,
    pub changed: Vec<(String, String)>,
    pub removed: Vec<(String, String)>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// What the server last saw of a node's runner.
#[derive(Debug, Clone, Default, PartialEq, FromRow, Serialize, utoipa::ToSchema)]
pub struct NodeObservation {
    pub name: String,
    /// The node enrolled itself (it holds a node key).
    pub enrolled: bool,
    /// Its runner answered the last health check.
    pub reachable: bool,
    /// The runner's version.
    pub version: Option<String>,
    pub os: Option<String>,
    /// What the node offers agents (`requires` of an agent): tool and program names.
    #[schema(value_type = Vec<String>)]
    pub capabilities: Value,
    /// When its runner last answered.
    pub last_seen: Option<DateTime<Utc>>,
    /// When the server last looked.
    pub last_checked: Option<DateTime<Utc>>,
    /// Why the last look failed; null when it answered.
    pub last_error: Option<String>,
    /// How the runner jails read-only agents (`landlock v7`); `None`: it cannot.
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct Override {
    pub kind: String,
    pub name: String,
    pub field: String,
    pub value: Value,
    pub reason: Option<String>,
    pub set_by: Option<String>,
    pub set_at: DateTime<Utc>,
}

/// Serializes appliers across server replicas sharing the database
/// (a transaction-scoped advisory lock; "CARSYNC" in ASCII).
const APPLY_LOCK: i64 = 0x0043_4152_5359_4e43;

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

    pub async fn sync_state(&self) -> Result<SyncState, StoreError> {
        Ok(sqlx::query_as::<_, SyncState>("SELECT * FROM sync_state").fetch_one(&self.pool).await?)
    }

    /// Records what the source's head is now.
    pub async fn record_head(&self, head: &Revision) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sync_state SET head_revision = $1, head_author = $2, head_message = $3, \
             head_committed_at = $4, fetched_at = now(), fetch_error = NULL",
        )
        .bind(&head.id)
        .bind(&head.author)
        .bind(&head.message)
        .bind(head.committed_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that the source could not be read; the last good state stays.
    pub async fn record_fetch_error(&self, message: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sync_state SET fetch_error = $1, fetched_at = now()")
            .bind(message)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a revision that did not validate; live objects stay as they are.
    pub async fn record_invalid(
        &self,
        head: &Revision,
        trigger: &str,
        started_at: DateTime<Utc>,
        diagnostics: &Value,
        objects: &Value,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE sync_state SET attempted_revision = $1, attempted_at = now(), diagnostics = $2, objects = $3",
        )
        .bind(&head.id)
        .bind(diagnostics)
        .bind(objects)
        .execute(&mut *tx)
        .await?;
        let errors: Vec<&Value> =
            diagnostics.as_array().map(|a| a.iter().filter(|d| d["severity"] == "error").collect()).unwrap_or_default();
        insert_history(
            &mut tx,
            head,
            trigger,
            started_at,
            SyncOutcome::Invalid,
            &Changes::default(),
            &serde_json::json!(errors),
        )
        .await?;
        let detail = serde_json::json!({"errors": errors.len(), "author": head.author, "message": head.message});
        crate::trust::audit::record(&mut *tx, &git(trigger), "sync.rejected", Some(&head.id), detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes `desired` the live state, all or nothing; returns what changed.
    #[allow(clippy::too_many_arguments)]
    pub async fn apply(
        &self,
        head: &Revision,
        trigger: &str,
        started_at: DateTime<Utc>,
        desired: &[Desired],
        scripts: &[DesiredScript],
        diagnostics: &Value,
        objects: &Value,
    ) -> Result<Changes, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(APPLY_LOCK).execute(&mut *tx).await?;
        let live: HashMap<(String, String), String> = sqlx::query("SELECT kind, name, hash FROM objects")
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| ((r.get("kind"), r.get("name")), r.get("hash")))
            .collect();
        let mut changes = Changes::default();
        for d in desired {
            let key = (d.kind.clone(), d.name.clone());
            match live.get(&key) {
                Some(h) if *h == d.hash => continue,
                Some(_) => changes.changed.push(key),
                None => changes.added.push(key),
            }
            sqlx::query(
                "INSERT INTO objects (kind, name, revision, file, line, document, hash, applied_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, now()) \
                 ON CONFLICT (kind, name) DO UPDATE SET revision = $3, file = $4, line = $5, document = $6, \
                 hash = $7, applied_at = now()",
            )
            .bind(&d.kind)
            .bind(&d.name)
            .bind(&head.id)
            .bind(&d.file)
            .bind(d.line)
            .bind(&d.document)
            .bind(&d.hash)
            .execute(&mut *tx)
            .await?;
        }
        let wanted: std::collections::HashSet<(&str, &str)> =
            desired.iter().map(|d| (d.kind.as_str(), d.name.as_str())).collect();
        for (kind, name) in live.keys() {
            if !wanted.contains(&(kind.as_str(), name.as_str())) {
                sqlx::query("DELETE FROM objects WHERE kind = $1 AND name = $2")
                    .bind(kind)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                changes.removed.push((kind.clone(), name.clone()));
            }
        }
        changes.removed.sort();
        // Unchanged objects now come from the new revision too.
        sqlx::query("UPDATE objects SET revision = $1").bind(&head.id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM scripts").execute(&mut *tx).await?;
        for s in scripts {
            sqlx::query("INSERT INTO scripts (path, revision, source, hash) VALUES ($1, $2, $3, $4)")
                .bind(&s.path)
                .bind(&head.id)
                .bind(&s.source)
                .bind(&s.hash)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE sync_state SET attempted_revision = $1, attempted_at = now(), applied_revision = $1, \
             applied_at = now(), diagnostics = $2, objects = $3",
        )
        .bind(&head.id)
        .bind(diagnostics)
        .bind(objects)
        .execute(&mut *tx)
        .await?;
        insert_history(&mut tx, head, trigger, started_at, SyncOutcome::Applied, &changes, &serde_json::json!([]))
            .await?;
        let detail = serde_json::json!({"added": changes.added.len(), "changed": changes.changed.len(),
            "removed": changes.removed.len(), "author": head.author, "message": head.message});
        crate::trust::audit::record(&mut *tx, &git(trigger), "sync.applied", Some(&head.id), detail).await?;
        tx.commit().await?;
        Ok(changes)
    }

    /// The newest `limit` syncs, newest first.
    pub async fn history(&self, limit: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        Ok(sqlx::query_as::<_, HistoryEntry>(
            "SELECT revision, author, message, committed_at, started_at, finished_at, trigger, outcome, \
             added, changed, removed, errors FROM sync_history ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Live objects of one kind (all kinds with `None`), by name.
    pub async fn objects(&self, kind: Option<&str>) -> Result<Vec<LiveObject>, StoreError> {
        Ok(sqlx::query_as::<_, LiveObject>(
            "SELECT * FROM objects WHERE $1::text IS NULL OR kind = $1 ORDER BY kind, name",
        )
        .bind(kind)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every live object's identity and hash, without documents.
    pub async fn live_keys(&self) -> Result<Vec<LiveKey>, StoreError> {
        Ok(sqlx::query_as::<_, LiveKey>("SELECT kind, name, hash, file, line FROM objects ORDER BY kind, name")
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn object(&self, kind: &str, name: &str) -> Result<Option<LiveObject>, StoreError> {
        Ok(sqlx::query_as::<_, LiveObject>("SELECT * FROM objects WHERE kind = $1 AND name = $2")
            .bind(kind)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn node_observations(&self) -> Result<Vec<NodeObservation>, StoreError> {
        Ok(sqlx::query_as::<_, NodeObservation>("SELECT * FROM node_observations ORDER BY name")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Records one look at a node's runner.
    pub async fn observe_node(&self, o: &NodeObservation) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO node_observations (name, reachable, version, os, capabilities, last_seen, last_checked, \
             last_error, sandbox) VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8) \
             ON CONFLICT (name) DO UPDATE SET reachable = $2, \
             version = COALESCE($3, node_observations.version), os = COALESCE($4, node_observations.os), \
             capabilities = CASE WHEN $2 THEN $5 ELSE node_observations.capabilities END, \
             last_seen = COALESCE($6, node_observations.last_seen), last_checked = now(), last_error = $7, \
             sandbox = CASE WHEN $2 THEN $8 ELSE node_observations.sandbox END",
        )
        .bind(&o.name)
        .bind(o.reachable)
        .bind(&o.version)
        .bind(&o.os)
        .bind(&o.capabilities)
        .bind(o.last_seen)
        .bind(&o.last_error)
        .bind(&o.sandbox)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn overrides(&self) -> Result<Vec<Override>, StoreError> {
        Ok(sqlx::query_as::<_, Override>("SELECT * FROM live_overrides ORDER BY kind, name, field")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Overrides a live object's field outside git (a paused schedule), with its audit entry.
    pub async fn set_override(
        &self,
        kind: &str,
        name: &str,
        field: &str,
        value: &Value,
        reason: Option<&str>,
        by: &crate::trust::audit::Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO live_overrides (kind, name, field, value, reason, set_by) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (kind, name, field) DO UPDATE SET value = $4, reason = $5, set_by = $6, set_at = now()",
        )
        .bind(kind)
        .bind(name)
        .bind(field)
        .bind(value)
        .bind(reason)
        .bind(by.label())
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({"field": field, "value": value, "reason": reason});
        crate::trust::audit::record(&mut *tx, by, "override.set", Some(&format!("{kind}/{name}")), detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes an override, with its audit entry; false when there was none.
    pub async fn clear_override(
        &self,
        kind: &str,
        name: &str,
        field: &str,
        by: &crate::trust::audit::Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("DELETE FROM live_overrides WHERE kind = $1 AND name = $2 AND field = $3")
            .bind(kind)
            .bind(name)
            .bind(field)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() > 0 {
            let detail = serde_json::json!({"field": field});
            crate::trust::audit::record(&mut *tx, by, "override.cleared", Some(&format!("{kind}/{name}")), detail)
                .await?;
        }
        tx.commit().await?;
        Ok(r.rows_affected() > 0)
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// Syncs act as `git`, named by what triggered them (poll, webhook, …).
fn git(trigger: &str) -> crate::trust::audit::Actor {
    crate::trust::audit::Actor::new("git", trigger, None)
}

async fn insert_history(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    head: &Revision,
    trigger: &str,
    started_at: DateTime<Utc>,
    outcome: SyncOutcome,
    changes: &Changes,
    errors: &Value,
) -> Result<(), StoreError> {
    let count = |v: &Vec<(String, String)>| i32::try_from(v.len()).unwrap_or(i32::MAX);
    sqlx::query(
        "INSERT INTO sync_history (revision, author, message, committed_at, started_at, finished_at, trigger, \
         outcome, added, changed, removed, errors) VALUES ($1, $2, $3, $4, $5, now(), $6, $7, $8, $9, $10, $11)",
    )
    .bind(&head.id)
    .bind(&head.author)
    .bind(&head.message)
    .bind(head.committed_at)
    .bind(started_at)
    .bind(trigger)
    .bind(outcome.as_str())
    .bind(count(&changes.added))
    .bind(count(&changes.changed))
    .bind(count(&changes.removed))
    .bind(errors)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
