//! The notifications' SQL: claiming events to route, what each rule has
//! firing, the deliveries outbox (queue, claim, outcome), and what the API
//! lists. Routing writes a batch's deliveries, alert states and `routed_at`
//! in one transaction; senders claim with `FOR UPDATE SKIP LOCKED`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;

use super::rules::EventRow;
use crate::db::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct NotifyRepo {
    pool: sqlx::PgPool,
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub event: &'a EventRow,
    pub rule: &'a str,
    pub channel: &'a str,
    pub priority: i32,
    pub title: String,
    pub body: String,
    pub url: String,
    /// `suppressed` (throttled) rows are recorded, not sent.
    pub suppressed: Option<String>,
    /// What the alert is about, when the event raises or clears one.
    pub subject: Option<String>,
    /// The rule's `wait`: not sent before this long, nor at all if the alert clears meanwhile.
    pub wait: Option<std::time::Duration>,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting to be sent (or to be sent again after a failure).
    Queued,
    /// A sender has it now.
    Sending,
    Sent,
    /// Given up: a refusal retrying cannot fix, or too long without success; `last_error` says why.
    Failed,
    /// Not sent: the rule's throttle had sent one for the same event, agent and node lately.
    Suppressed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Suppressed => "suppressed",
        }
    }
}

impl TryFrom<String> for DeliveryStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        serde_json::from_value(Value::from(s.as_str())).map_err(|_| format!("unknown delivery status {s:?}"))
    }
}

/// One message: an event, through a rule, to a channel.
#[derive(Debug, Clone, FromRow, Serialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    /// `<event id>/<rule>/<channel>`: also the webhook's idempotency key.
    pub key: String,
    pub event_id: i64,
    /// `run.failed`, `node.disconnected`, …
    pub event_type: String,
    /// The NotificationRule; `schedule/<name>` for a Schedule's `notify`; `test` for a test message.
    pub rule: String,
    pub channel: String,
    pub run_id: Option<String>,
    pub agent: Option<String>,
    pub node: Option<String>,
    /// Gotify's 0–10.
    pub priority: i32,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// The dashboard page it links to.
    pub url: Option<String>,
    /// The event, as a webhook receives it.
    #[schema(value_type = Object)]
    pub data: Value,
    #[sqlx(try_from = "String")]
    pub status: DeliveryStatus,
    /// Why it was suppressed, or that it went out in a message with others.
    pub note: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

const DELIVERY: &str = "id, key, event_id, event_type, rule, channel, run_id, agent, node, priority, title, body, \
     url, data, status, note, attempts, next_attempt_at, last_error, created_at, sent_at";

/// A channel's record, for its health.
#[derive(Debug, Clone, Default, FromRow, Serialize, ToSchema)]
pub struct ChannelRecord {
    pub channel: String,
    pub last_sent_at: Option<DateTime<Utc>>,
    /// When its last failure happened, and what it was.
    pub last_failed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Messages waiting to be sent.
    pub queued: i64,
    /// Messages given up in the last 24 hours.
    pub failed_24h: i64,
}

/// What the deliveries list is filtered by.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub channel: Option<String>,
    pub rule: Option<String>,
    pub status: Option<DeliveryStatus>,
    pub run_id: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

impl NotifyRepo {
    pub fn new(store: &Store) -> NotifyRepo {
        NotifyRepo { pool: store.pool().clone() }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }

    /// Locks up to `limit` unrouted events, oldest first, for routing in `tx`.
    pub async fn claim_events(&self, tx: &mut PgConnection, limit: i64) -> Result<Vec<EventRow>, StoreError> {
        Ok(sqlx::query_as::<_, EventRow>(
            "SELECT id, type, at, run_id, agent, node, schedule, data FROM events WHERE routed_at IS NULL \
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(limit)
        .fetch_all(tx)
        .await?)
    }

    pub async fn mark_routed(&self, tx: &mut PgConnection, ids: &[i64]) -> Result<(), StoreError> {
        sqlx::query("UPDATE events SET routed_at = now() WHERE id = ANY($1)").bind(ids).execute(tx).await?;
        Ok(())
    }

    /// Whether `rule` has `subject` firing; locks its row for the batch.
    pub async fn firing(&self, tx: &mut PgConnection, rule: &str, subject: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar::<_, bool>("SELECT firing FROM alert_states WHERE rule = $1 AND subject = $2 FOR UPDATE")
            .bind(rule)
            .bind(subject)
            .fetch_optional(tx)
            .await?
            .unwrap_or(false))
    }

    /// Records what each (rule, subject) of a batch has firing now, in one statement.
    pub async fn set_firing(
        &self,
        tx: &mut PgConnection,
        states: &std::collections::HashMap<(String, String), bool>,
    ) -> Result<(), StoreError> {
        if states.is_empty() {
            return Ok(());
        }
        let rules: Vec<&str> = states.keys().map(|(r, _)| r.as_str()).collect();
        let subjects: Vec<&str> = states.keys().map(|(_, s)| s.as_str()).collect();
        let firing: Vec<bool> = states.values().copied().collect();
        sqlx::query(
            "INSERT INTO alert_states (rule, subject, firing, since) \
             SELECT rule, subject, firing, now() FROM unnest($1::text[], $2::text[], $3::bool[]) AS s(rule, subject, firing) \
             ON CONFLICT (rule, subject) DO UPDATE SET firing = excluded.firing, \
             since = CASE WHEN alert_states.firing = excluded.firing THEN alert_states.since ELSE now() END",
        )
        .bind(rules)
        .bind(subjects)
        .bind(firing)
        .execute(tx)
        .await?;
        Ok(())
    }

    /// True when `rule` sent for `key` within `window`; else records that it sends now.
    pub async fn throttled(
        &self,
        tx: &mut PgConnection,
        rule: &str,
        key: &str,
        window: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let window = chrono::TimeDelta::from_std(window).unwrap_or(chrono::TimeDelta::MAX);
        let sent: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT last_sent_at FROM alert_states WHERE rule = $1 AND subject = $2 FOR UPDATE")
                .bind(rule)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
        if sent.is_some_and(|t| Utc::now() - t < window) {
            return Ok(true);
        }
        sqlx::query(
            "INSERT INTO alert_states (rule, subject, last_sent_at) VALUES ($1, $2, now()) \
             ON CONFLICT (rule, subject) DO UPDATE SET last_sent_at = now()",
        )
        .bind(rule)
        .bind(key)
        .execute(tx)
        .await?;
        Ok(false)
    }

    /// Queues a batch's messages in one statement; a second routing of the
    /// same event, rule and channel adds nothing.
    pub async fn queue(&self, tx: &mut PgConnection, batch: &[NewDelivery<'_>]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let column = |f: &dyn Fn(&NewDelivery<'_>) -> Option<String>| batch.iter().map(f).collect::<Vec<_>>();
        let key = column(&|d| Some(format!("{}/{}/{}", d.event.id, d.rule, d.channel)));
        let event_id: Vec<i64> = batch.iter().map(|d| d.event.id).collect();
        let event_type = column(&|d| Some(d.event.kind.clone()));
        let rule = column(&|d| Some(d.rule.to_string()));
        let channel = column(&|d| Some(d.channel.to_string()));
        let run_id = column(&|d| d.event.run_id.clone());
        let agent = column(&|d| d.event.agent.clone());
        let node = column(&|d| d.event.node.clone());
        let priority: Vec<i32> = batch.iter().map(|d| d.priority).collect();
        let title = column(&|d| Some(d.title.clone()));
        let body = column(&|d| Some(d.body.clone()));
        let url = column(&|d| Some(d.url.clone()));
        let data: Vec<Value> = batch
            .iter()
            .map(|d| {
                let e = d.event;
                serde_json::json!({"id": e.id, "type": e.kind, "at": e.at, "run_id": e.run_id, "agent": e.agent,
                    "node": e.node, "schedule": e.schedule, "data": e.data})
            })
            .collect();
        let status = column(&|d| {
            Some(
                if d.suppressed.is_some() { DeliveryStatus::Suppressed } else { DeliveryStatus::Queued }
                    .as_str()
                    .into(),
            )
        });
        let note = column(&|d| {
            d.suppressed.clone().or_else(|| {
                d.wait.map(|w| format!("held {}s by the rule's wait: dropped if the alert clears first", w.as_secs()))
            })
        });
        let subject = column(&|d| d.subject.clone());
        let wait_ms: Vec<Option<i64>> =
            batch.iter().map(|d| d.wait.map(|w| i64::try_from(w.as_millis()).unwrap_or(i64::MAX))).collect();
        sqlx::query(
            "INSERT INTO deliveries (key, event_id, event_type, rule, channel, run_id, agent, node, priority, title, \
             body, url, data, status, note, subject, waiting_until, next_attempt_at) \
             SELECT key, event_id, event_type, rule, channel, run_id, agent, node, priority, title, body, url, data, \
               status, note, subject, now() + wait_ms * interval '1 millisecond', \
               COALESCE(now() + wait_ms * interval '1 millisecond', now()) \
             FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
               $8::text[], $9::int[], $10::text[], $11::text[], $12::text[], $13::jsonb[], $14::text[], $15::text[], \
               $16::text[], $17::bigint[]) AS d(key, event_id, event_type, rule, channel, run_id, agent, node, \
               priority, title, body, url, data, status, note, subject, wait_ms) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(event_id)
        .bind(event_type)
        .bind(rule)
        .bind(channel)
        .bind(run_id)
        .bind(agent)
        .bind(node)
        .bind(priority)
        .bind(title)
        .bind(body)
        .bind(url)
        .bind(data)
        .bind(status)
        .bind(note)
        .bind(subject)
        .bind(wait_ms)
        .execute(tx)
        .await?;
        Ok(())
    }

    /// Drops `rule`'s messages about `subject` still held by its wait (the
    /// alert cleared in time); true when there were any.
    pub async fn drop_waiting(&self, tx: &mut PgConnection, rule: &str, subject: &str) -> Result<bool, StoreError> {
        let dropped = sqlx::query(
            "UPDATE deliveries SET status = 'suppressed', note = 'the alert cleared before the rule''s wait ended' \
             WHERE rule = $1 AND subject = $2 AND status = 'queued' AND waiting_until > now()",
        )
        .bind(rule)
        .bind(subject)
        .execute(tx)
        .await?;
        Ok(dropped.rows_affected() > 0)
    }

    /// Records the drift seen now (`key` → the item): announces each item
    /// new since the last look as `drift.detected`, and each one gone as the
    /// same with `resolved: true`, once whichever replica looks.
    pub async fn record_drift(&self, items: &[(String, Value)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('drift_seen'))").execute(&mut *tx).await?;
        let keys: Vec<&str> = items.iter().map(|(k, _)| k.as_str()).collect();
        let data: Vec<&Value> = items.iter().map(|(_, d)| d).collect();
        let new: Vec<(String, Value)> = sqlx::query_as(
            "INSERT INTO drift_seen (key, data) SELECT * FROM unnest($1::text[], $2::jsonb[]) \
             ON CONFLICT DO NOTHING RETURNING key, data",
        )
        .bind(&keys)
        .bind(&data)
        .fetch_all(&mut *tx)
        .await?;
        let gone: Vec<(String, Value)> =
            sqlx::query_as("DELETE FROM drift_seen WHERE NOT (key = ANY($1)) RETURNING key, data")
                .bind(&keys)
                .fetch_all(&mut *tx)
                .await?;
        for ((key, mut data), resolved) in
            new.into_iter().map(|n| (n, false)).chain(gone.into_iter().map(|g| (g, true)))
        {
            data["key"] = Value::from(key);
            data["resolved"] = Value::from(resolved);
            let node = data["node"].as_str().map(String::from);
            let event =
                crate::events::NewEvent { kind: "drift.detected", node: node.as_deref(), data, ..Default::default() };
            event.record(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` messages that are due (and any whose sender's
    /// claim lapsed), for `hold`: nobody else sends them meanwhile.
    pub async fn claim_due(&self, limit: i64, hold: std::time::Duration) -> Result<Vec<Delivery>, StoreError> {
        Ok(sqlx::query_as::<_, Delivery>(&format!(
            "UPDATE deliveries SET status = 'sending', claimed_until = now() + $2::interval, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM deliveries WHERE status IN ('queued', 'sending') AND next_attempt_at <= now() \
               AND (status = 'queued' OR claimed_until < now()) ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
             RETURNING {DELIVERY}"
        ))
        .bind(limit)
        .bind(format!("{} seconds", hold.as_secs()))
        .fetch_all(&self.pool)
        .await?)
    }

    /// When the next queued message is due, if one is.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT min(CASE WHEN status = 'queued' THEN next_attempt_at ELSE claimed_until END) FROM deliveries \
             WHERE status IN ('queued', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn sent(&self, ids: &[i64], note: Option<&str>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE deliveries SET status = 'sent', sent_at = now(), claimed_until = NULL, last_error = NULL, \
             note = COALESCE($2, note) WHERE id = ANY($1)",
        )
        .bind(ids)
        .bind(note)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sends again at `at`, keeping `error`.
    pub async fn retry(&self, ids: &[i64], at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET status = 'queued', next_attempt_at = $2, claimed_until = NULL, last_error = $3 \
             WHERE id = ANY($1)",
        )
        .bind(ids)
        .bind(at)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn give_up(&self, ids: &[i64], error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET status = 'failed', claimed_until = NULL, last_error = $2 WHERE id = ANY($1)",
        )
        .bind(ids)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a test message and its outcome (sent, or failed with the error).
    pub async fn record_test(&self, channel: &str, title: &str, error: Option<&str>) -> Result<(), StoreError> {
        let status = if error.is_some() { "failed" } else { "sent" };
        sqlx::query(
            "INSERT INTO deliveries (key, event_id, event_type, rule, channel, priority, title, body, status, \
             attempts, last_error, sent_at) VALUES ('test/' || $1 || '/' || gen_random_uuid(), 0, 'test', 'test', $1, \
             5, $2, '', $3, 1, $4, CASE WHEN $4 IS NULL THEN now() END)",
        )
        .bind(channel)
        .bind(title)
        .bind(status)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets routed events and finished messages older than `cutoff`.
    pub async fn prune(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let events = sqlx::query("DELETE FROM events WHERE at < $1 AND routed_at IS NOT NULL")
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        let deliveries =
            sqlx::query("DELETE FROM deliveries WHERE created_at < $1 AND status NOT IN ('queued', 'sending')")
                .bind(cutoff)
                .execute(&self.pool)
                .await?;
        Ok(events.rows_affected() + deliveries.rows_affected())
    }

    /// Deliveries, newest first, filtered, after the cursor.
    pub async fn list(&self, f: &DeliveryFilter) -> Result<Vec<Delivery>, StoreError> {
        Ok(sqlx::query_as::<_, Delivery>(&format!(
            "SELECT {DELIVERY} FROM deliveries WHERE ($1::text IS NULL OR channel = $1) \
             AND ($2::text IS NULL OR rule = $2) AND ($3::text IS NULL OR status = $3) \
             AND ($4::text IS NULL OR run_id = $4) AND ($5::bigint IS NULL OR id < $5) ORDER BY id DESC LIMIT $6"
        ))
        .bind(&f.channel)
        .bind(&f.rule)
        .bind(f.status.map(DeliveryStatus::as_str))
        .bind(&f.run_id)
        .bind(f.before)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Each channel that had messages in the last week: last success, last failure, what waits.
    pub async fn channels(&self) -> Result<Vec<ChannelRecord>, StoreError> {
        Ok(sqlx::query_as::<_, ChannelRecord>(
            "SELECT channel, max(sent_at) AS last_sent_at, \
               max(created_at) FILTER (WHERE last_error IS NOT NULL) AS last_failed_at, \
               (array_agg(last_error ORDER BY id DESC) FILTER (WHERE last_error IS NOT NULL))[1] AS last_error, \
               count(*) FILTER (WHERE status IN ('queued', 'sending')) AS queued, \
               count(*) FILTER (WHERE status = 'failed' AND created_at > now() - interval '1 day') AS failed_24h \
             FROM deliveries WHERE created_at > now() - interval '7 days' OR status IN ('queued', 'sending') \
             GROUP BY channel ORDER BY channel",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
