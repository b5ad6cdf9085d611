//! What the scheduler keeps in PostgreSQL: the newest slot each schedule
//! handled, and the slots that did not become runs.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;

use crate::db::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct ScheduleRepo {
    pool: sqlx::PgPool,
}

impl ScheduleRepo {
    pub fn new(store: &Store) -> ScheduleRepo {
        ScheduleRepo { pool: store.pool().clone() }
    }

    /// The newest slot each schedule has handled.
    pub async fn states(&self) -> Result<std::collections::HashMap<String, DateTime<Utc>>, StoreError> {
        let rows: Vec<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT schedule, last_slot FROM schedule_state").fetch_all(&self.pool).await?;
        Ok(rows.into_iter().collect())
    }

    pub async fn set_state(&self, schedule: &str, last_slot: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO schedule_state (schedule, last_slot) VALUES ($1, $2) \
             ON CONFLICT (schedule) DO UPDATE SET last_slot = GREATEST(schedule_state.last_slot, $2)",
        )
        .bind(schedule)
        .bind(last_slot)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a slot that did not become a run.
    pub async fn skip_slot(
        &self,
        schedule: &str,
        slot: DateTime<Utc>,
        agent: &str,
        node: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO schedule_skips (schedule, slot, agent, node, reason) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(schedule)
        .bind(slot)
        .bind(agent)
        .bind(node)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Skipped slots of a schedule, newest first.
    pub async fn skipped(&self, schedule: &str, limit: i64) -> Result<Vec<Skip>, StoreError> {
        Ok(sqlx::query_as::<_, Skip>(
            "SELECT slot, agent, node, reason, at FROM schedule_skips WHERE schedule = $1 ORDER BY slot DESC LIMIT $2",
        )
        .bind(schedule)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A slot that did not become a run, and why.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct Skip {
    pub slot: DateTime<Utc>,
    pub agent: String,
    pub node: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}
