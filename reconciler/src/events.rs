//! Events: what happened — a run ended, a held call waits, a node went
//! away or came back, a revision was rejected, the budget ran out — written
//! in the transaction of the change that caused it, so an event is never
//! announced for a change that rolled back, nor lost for one that committed
//! (an outbox). `notify` routes them to messages; an insert wakes it at
//! once through PostgreSQL's `NOTIFY car_events`.
//!
//! The types are the config language's rule events
//! ([`car_schemas::kinds::notification::Event`]), written as their names.

use serde_json::Value;

/// The channel an insert into `events` notifies.
pub const CHANNEL: &str = "car_events";

/// One event, as its writer knows it.
#[derive(Debug, Clone, Default)]
pub struct NewEvent<'a> {
    /// `run.failed`, `node.disconnected`, …
    pub kind: &'a str,
    pub run_id: Option<&'a str>,
    pub agent: Option<&'a str>,
    pub node: Option<&'a str>,
    pub schedule: Option<&'a str>,
    /// What the event says beyond the above (a rejected revision's errors, a node's last error).
    pub data: Value,
}

impl NewEvent<'_> {
    /// Appends it, in `db`'s transaction when it is one.
    pub async fn record<'e>(&self, db: impl sqlx::PgExecutor<'e>) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO events (type, run_id, agent, node, schedule, data) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(self.kind)
            .bind(self.run_id)
            .bind(self.agent)
            .bind(self.node)
            .bind(self.schedule)
            .bind(if self.data.is_null() { Value::Object(Default::default()) } else { self.data.clone() })
            .execute(db)
            .await?;
        Ok(())
    }
}

/// A run's status change as an event (`run.started` the first time it runs,
/// `run.<status>` when it ends; nothing for the steps between), in the
/// transition's transaction, before the transition itself is recorded.
pub async fn run_transition(
    tx: &mut sqlx::PgConnection,
    run_id: &str,
    status: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let kind = match status {
        "running" => "run.started",
        "succeeded" => "run.succeeded",
        "failed" => "run.failed",
        "timed_out" => "run.timed_out",
        "cancelled" => "run.cancelled",
        "lost" => "run.lost",
        _ => return Ok(()),
    };
    // Running again after an approval is not a new start.
    sqlx::query(
        "INSERT INTO events (type, run_id, agent, node, schedule, data) \
         SELECT $2, id, agent, node, CASE WHEN trigger = 'schedule' THEN started_by END, \
           jsonb_build_object('status', $4::text, 'reason', $3::text, 'trigger', trigger) \
         FROM runs WHERE id = $1 AND ($2 <> 'run.started' OR NOT EXISTS \
           (SELECT 1 FROM run_transitions WHERE run_id = $1 AND status = 'running'))",
    )
    .bind(run_id)
    .bind(kind)
    .bind(reason)
    .bind(status)
    .execute(tx)
    .await?;
    Ok(())
}
