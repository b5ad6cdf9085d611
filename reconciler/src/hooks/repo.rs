//! What the hooks keep in PostgreSQL (`migrations/20261208000003_triggers.sql`):
//! each trigger's cooldown as one row that a call claims atomically, and
//! the newest calls of each trigger with what came of them.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{Store, StoreError};

/// Calls kept per trigger; older ones are deleted as new ones come.
pub const KEEP_CALLS: i64 = 100;

/// What came of a call, as stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its agents were queued (202).
    Started,
    /// The trigger's condition was false, or could not be evaluated (200).
    ConditionFalse,
    /// An earlier call started runs less than the cooldown ago (200).
    CoolingDown,
    /// No live node may run the trigger's agents (409).
    NothingToStart,
    /// A missing or wrong signature, or the server lacks the trigger's secret (401, 503).
    Refused,
    /// The body was not JSON, or too large (400, 413).
    Invalid,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Started,
        Outcome::ConditionFalse,
        Outcome::CoolingDown,
        Outcome::NothingToStart,
        Outcome::Refused,
        Outcome::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::ConditionFalse => "condition_false",
            Outcome::CoolingDown => "cooling_down",
            Outcome::NothingToStart => "nothing_to_start",
            Outcome::Refused => "refused",
            Outcome::Invalid => "invalid",
        }
    }
}

impl TryFrom<String> for Outcome {
    type Error = String;
    fn try_from(s: String) -> Result<Outcome, String> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s).ok_or_else(|| format!("unknown trigger call outcome {s:?}"))
    }
}

/// One call to a trigger's hook.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct TriggerCall {
    pub at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub outcome: Outcome,
    /// The HTTP status the caller got.
    pub status: i16,
    /// The runs it started.
    pub run_ids: Vec<String>,
    /// Why nothing (or not everything) started.
    pub reason: Option<String>,
    /// Where the call came from.
    pub ip: Option<String>,
}

/// A call to record.
#[derive(Debug, Clone)]
pub struct NewCall<'a> {
    pub trigger: &'a str,
    pub outcome: Outcome,
    pub status: u16,
    pub run_ids: &'a [String],
    pub reason: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// Whether a call got the cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This call may start runs; `at` identifies the claim, to give it back.
    Claimed { at: DateTime<Utc> },
    /// Another call started runs; none may until then.
    CoolingDown { until: DateTime<Utc> },
}

#[derive(Debug, Clone)]
pub struct HookRepo {
    pool: sqlx::PgPool,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl HookRepo {
    pub fn new(store: &Store) -> HookRepo {
        HookRepo { pool: store.pool().clone() }
    }

    /// Claims `trigger`'s cooldown for a call that is about to start runs:
    /// one statement that only succeeds when no call started runs within
    /// `cooldown`. PostgreSQL re-checks the condition on the row as the
    /// winner left it, so of many calls at once (on any replica) one wins.
    pub async fn claim(&self, trigger: &str, cooldown: Duration) -> Result<Claim, StoreError> {
        let claimed: Option<DateTime<Utc>> = sqlx::query_scalar(
            "INSERT INTO trigger_state AS s (trigger, started_at) VALUES ($1, clock_timestamp()) \
             ON CONFLICT (trigger) DO UPDATE SET previous = s.started_at, started_at = EXCLUDED.started_at \
             WHERE s.started_at <= EXCLUDED.started_at - $2 * interval '1 millisecond' \
             RETURNING started_at",
        )
        .bind(trigger)
        .bind(millis(cooldown))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(at) = claimed {
            return Ok(Claim::Claimed { at });
        }
        let until: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT started_at + $2 * interval '1 millisecond' FROM trigger_state WHERE trigger = $1",
        )
        .bind(trigger)
        .bind(millis(cooldown))
        .fetch_optional(&self.pool)
        .await?;
        Ok(Claim::CoolingDown { until: until.unwrap_or_else(Utc::now) })
    }

    /// Gives back a claim whose call started nothing, unless a later call claimed since.
    pub async fn release(&self, trigger: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE trigger_state SET started_at = COALESCE(previous, '-infinity'), previous = NULL \
             WHERE trigger = $1 AND started_at = $2",
        )
        .bind(trigger)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When each trigger's cooldown ends, for those cooling down at `now` after `cooldown`s.
    pub async fn cooling_until(
        &self,
        cooldowns: &[(&str, Duration)],
    ) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        let (names, ms): (Vec<&str>, Vec<i64>) = cooldowns.iter().map(|(n, d)| (*n, millis(*d))).unzip();
        let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT s.trigger, s.started_at + c.ms * interval '1 millisecond' FROM trigger_state s \
             JOIN unnest($1::text[], $2::bigint[]) AS c (trigger, ms) ON c.trigger = s.trigger \
             WHERE s.started_at + c.ms * interval '1 millisecond' > now()",
        )
        .bind(names)
        .bind(ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Records a call, and forgets the trigger's calls beyond the newest [`KEEP_CALLS`].
    pub async fn record(&self, call: &NewCall<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO trigger_calls (trigger, outcome, status, run_ids, reason, ip) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(call.trigger)
        .bind(call.outcome.as_str())
        .bind(i16::try_from(call.status).unwrap_or(i16::MAX))
        .bind(call.run_ids)
        .bind(call.reason)
        .bind(call.ip)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM trigger_calls WHERE trigger = $1 AND id <= \
             (SELECT id FROM trigger_calls WHERE trigger = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)",
        )
        .bind(call.trigger)
        .bind(KEEP_CALLS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest call of each trigger that was called.
    pub async fn last_calls(&self) -> Result<HashMap<String, TriggerCall>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            trigger: String,
            #[sqlx(flatten)]
            call: TriggerCall,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT DISTINCT ON (trigger) trigger, at, outcome, status, run_ids, reason, ip FROM trigger_calls \
             ORDER BY trigger, id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.trigger, r.call)).collect())
    }
}
