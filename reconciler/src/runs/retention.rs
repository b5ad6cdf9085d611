//! Retention of run history: finished runs older than `RETENTION_DAYS` go,
//! with their transitions, approvals (both cascade) and log files, while
//! their tokens and cost stay in the usage statistics.
//!
//! [`run`] sweeps once an hour in the background. Each [`sweep`] batch is
//! one short transaction that claims old finished runs with
//! `FOR UPDATE SKIP LOCKED` (so replicas sweeping at once share the work
//! instead of waiting on each other), adds them to `usage_daily`
//! (`migrations/20261125000003_retention.sql`) and deletes them; only after
//! the commit are their log files removed, so a crash leaves at worst a
//! stray file, never a run without its log. [`Store::usage`]
//! sums live runs and those roll-ups.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::Runs;
use super::logs::Logs;
use super::repo::RunRepo;
use crate::db::StoreError;

/// Runs deleted per transaction: small enough that row locks and the
/// transaction are short, large enough that a backlog goes in minutes.
const BATCH: i64 = 500;

/// Between batches, so the API's queries and the dispatcher get the
/// database (and this task's runtime thread) in between.
const PAUSE: Duration = Duration::from_millis(50);

/// The first sweep waits this long, so a starting server gets going first.
const FIRST_SWEEP: Duration = Duration::from_secs(60);

const EVERY: Duration = Duration::from_secs(3600);

/// Sweeps runs older than `days` every hour, forever (spawn it). Errors are
/// logged and the next sweep tries again.
pub async fn run(runs: Arc<Runs>, days: u32) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + FIRST_SWEEP, EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let older_than = Utc::now() - TimeDelta::days(i64::from(days));
        match sweep(&runs.repo, &runs.logs, older_than, BATCH).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, days, %older_than, "retention deleted old runs and their logs"),
            Err(e) => tracing::warn!(error = %e, days, "retention sweep failed; it tries again in an hour"),
        }
    }
}

/// Deletes every finished run created before `older_than`, `batch` at a
/// time, after adding it to `usage_daily`; then its log file. Open runs stay
/// whatever their age: something still follows them. Returns how many runs
/// it deleted.
pub async fn sweep(repo: &RunRepo, logs: &Logs, older_than: DateTime<Utc>, batch: i64) -> Result<u64, StoreError> {
    let batch = batch.max(1);
    let mut deleted = 0;
    loop {
        let ids = repo.roll_up_and_delete(older_than, batch).await?;
        for id in &ids {
            remove_log(logs, id).await;
        }
        deleted += ids.len() as u64;
        // A short batch is the last one (or the rest is another replica's, locked now).
        if (ids.len() as i64) < batch {
            if deleted > 0 {
                let forgotten = repo.forget_unused_inputs().await?;
                tracing::debug!(forgotten, "deleted agent documents and scripts no run uses any more");
            }
            return Ok(deleted);
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// Removes a deleted run's log file. Already gone is fine; any other error
/// is logged and left for a person, not worth stopping the sweep for.
async fn remove_log(logs: &Logs, run_id: &str) {
    let path = logs.path(run_id);
    match tokio::fs::remove_file(&path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(run_id, path = %path.display(), error = %e,
            "cannot delete the log of a run retention removed; delete the file by hand"),
    }
}
