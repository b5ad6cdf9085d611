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

/// One event as the dashboard's live feed carries it: what happened and to
/// what, not the event's data (which can hold a trigger's payload).
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FeedItem {
    pub id: i64,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub run_id: Option<String>,
    pub agent: Option<String>,
    pub node: Option<String>,
}

/// New events as they commit, for every viewer of this server: one task
/// listens (`NOTIFY car_events`, and a look every few seconds in case a
/// notification was missed) and hands each new event to all subscribers.
#[derive(Debug, Clone)]
pub struct Feed {
    tx: tokio::sync::broadcast::Sender<FeedItem>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed { tx: tokio::sync::broadcast::channel(1024).0 }
    }
}

impl Feed {
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<FeedItem> {
        self.tx.subscribe()
    }

    /// Follows the events table from its newest event on. An event whose
    /// transaction commits after a later one's can be missed: the feed only
    /// tells viewers to look again, and they also look on a slow timer.
    pub async fn run(self, pool: sqlx::PgPool) {
        let mut last: i64 = loop {
            match sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM events").fetch_one(&pool).await {
                Ok(id) => break id.unwrap_or(0),
                Err(e) => {
                    tracing::warn!(error = %e, "the live feed cannot read events yet");
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                }
            }
        };
        let mut listener = listen(&pool, CHANNEL).await;
        loop {
            wake(&mut listener, std::time::Duration::from_secs(5)).await;
            if listener.is_none() {
                listener = listen(&pool, CHANNEL).await;
            }
            let new = sqlx::query_as::<_, FeedItem>(
                "SELECT id, type, at, run_id, agent, node FROM events WHERE id > $1 ORDER BY id LIMIT 1000",
            )
            .bind(last)
            .fetch_all(&pool)
            .await;
            match new {
                Ok(items) => {
                    for item in items {
                        last = item.id;
                        let _ = self.tx.send(item); // nobody watching is fine
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the live feed cannot read new events"),
            }
        }
    }
}

/// A listener on PostgreSQL's `channel`, or none when it cannot be had
/// (then the caller looks on a timer).
pub async fn listen(pool: &sqlx::PgPool, channel: &str) -> Option<sqlx::postgres::PgListener> {
    let mut l = sqlx::postgres::PgListener::connect_with(pool).await.ok()?;
    l.listen(channel).await.ok()?;
    Some(l)
}

/// Waits until the listener's channel is notified or `most` has passed, whichever is
/// first; without a listener (it failed) just `most`.
pub async fn wake(listener: &mut Option<sqlx::postgres::PgListener>, most: std::time::Duration) {
    match listener {
        Some(l) => {
            if let Ok(Err(e)) = tokio::time::timeout(most, l.recv()).await {
                tracing::warn!(error = %e, "lost the database notifications; looking on a timer until they are back");
                *listener = None;
            }
        }
        None => tokio::time::sleep(most).await,
    }
}
