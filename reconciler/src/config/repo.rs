//! The live state's SQL: the applied revision's objects and scripts, the
//! sync state and history, and overrides set outside git.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, Row};

use crate::config::sync::{ConfigDiagnostic, Trigger};
use crate::db::{Store, StoreError};
use crate::events::NewEvent;
use crate::trust::audit::{self, Action, Actor, ActorKind};

/// The live state in PostgreSQL.
#[derive(Debug, Clone)]
pub struct ConfigRepo {
    pool: sqlx::PgPool,
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
    pub trigger: Trigger,
    #[sqlx(try_from = "String")]
    pub outcome: SyncOutcome,
    /// Objects the revision added, changed and removed (0 when invalid).
    pub added: i32,
    pub changed: i32,
    pub removed: i32,
    /// Why it is invalid; empty when applied.
    #[sqlx(json)]
    pub errors: Vec<ConfigDiagnostic>,
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

#[derive(Debug, Clone, PartialEq, FromRow, Serialize)]
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

impl ConfigRepo {
    pub fn new(store: &Store) -> ConfigRepo {
        ConfigRepo { pool: store.pool().clone() }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
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
        trigger: Trigger,
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
        audit::record(&mut *tx, &git(trigger), Action::SyncRejected, Some(&head.id), detail).await?;
        let data = serde_json::json!({"revision": head.id, "author": head.author, "message": head.message,
            "error_count": errors.len(), "errors": errors.iter().take(5).collect::<Vec<_>>()});
        NewEvent { kind: "sync.failed", data, ..NewEvent::default() }.record(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes `desired` the live state, all or nothing; returns what changed.
    #[allow(clippy::too_many_arguments)]
    pub async fn apply(
        &self,
        head: &Revision,
        trigger: Trigger,
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
        audit::record(&mut *tx, &git(trigger), Action::SyncApplied, Some(&head.id), detail.clone()).await?;
        let mut data = detail;
        data["revision"] = Value::from(head.id.as_str());
        NewEvent { kind: "sync.succeeded", data, ..NewEvent::default() }.record(&mut *tx).await?;
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

    /// The source of a script in the applied revision, by its path in the repository.
    pub async fn script(&self, path: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>("SELECT source FROM scripts WHERE path = $1")
            .bind(path)
            .fetch_optional(&self.pool)
            .await?)
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
        by: &Actor,
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
        audit::record(&mut *tx, by, Action::OverrideSet, Some(&format!("{kind}/{name}")), detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes an override, with its audit entry; false when there was none.
    pub async fn clear_override(&self, kind: &str, name: &str, field: &str, by: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("DELETE FROM live_overrides WHERE kind = $1 AND name = $2 AND field = $3")
            .bind(kind)
            .bind(name)
            .bind(field)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() > 0 {
            let detail = serde_json::json!({"field": field});
            audit::record(&mut *tx, by, Action::OverrideCleared, Some(&format!("{kind}/{name}")), detail).await?;
        }
        tx.commit().await?;
        Ok(r.rows_affected() > 0)
    }
}

/// Syncs act as `git`, named by what triggered them (poll, webhook, …).
fn git(trigger: Trigger) -> Actor {
    Actor::new(ActorKind::Git, trigger.as_str(), None)
}

async fn insert_history(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    head: &Revision,
    trigger: Trigger,
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
    .bind(trigger.as_str())
    .bind(outcome.as_str())
    .bind(count(&changes.added))
    .bind(count(&changes.changed))
    .bind(count(&changes.removed))
    .bind(errors)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
