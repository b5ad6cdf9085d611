//! The SQL of runs, approvals and usage (tables in `migrations/`:
//! `…_runs.sql`, `…_slim_runs.sql`). Queries name their columns; the
//! statuses a run can still leave are `run_is_open(status)` in SQL and
//! [`RunStatus::OPEN`] in Rust.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::FromRow;
use utoipa::ToSchema;

use car_schemas::run::{NodeContext, RunContext, RunError, RunFinished, RunStatus, Usage};

use crate::db::{Store, StoreError};
use crate::events::NewEvent;
use crate::trust::audit;

/// A run as the database holds it.
#[derive(Debug, Clone, FromRow)]
pub struct Run {
    pub id: String,
    pub agent: String,
    pub node: String,
    pub status: RunStatus,
    #[sqlx(try_from = "String")]
    pub trigger: RunTrigger,
    pub started_by: Option<String>,
    pub slot: Option<DateTime<Utc>>,
    pub attempt: i32,
    /// The first attempt's id (its own for the first).
    pub first_run_id: String,
    pub revision: Option<String>,
    /// What it runs with: the hash of its [`RunInputs`].
    pub inputs: Vec<u8>,
    /// Whether it needs the model (a prompt agent), which the budget gate holds.
    pub needs_model: bool,
    /// What started it said beyond the other columns (a trigger's payload);
    /// [`Run::context`] makes the whole context the agent is told.
    #[sqlx(json)]
    pub context: serde_json::Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub not_before: Option<DateTime<Utc>>,
    pub after_previous: bool,
    pub dispatched_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub last_seq: i64,
    pub summary: Option<String>,
    pub report: Option<Value>,
    #[sqlx(json(nullable))]
    pub error: Option<RunError>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_creation_input_tokens: i64,
    pub cache_read_input_tokens: i64,
    pub cost_usd: f64,
    pub turns: i32,
}

/// The columns of [`Run`], for every query that reads runs.
/// A first attempt stores no `first_run_id` (it is its own id): 40 bytes a run.
const RUN: &str = "id, agent, node, status, trigger, started_by, slot, attempt, COALESCE(first_run_id, id) AS first_run_id, \
    revision, inputs, \
    needs_model, context, created_at, not_before, after_previous, dispatched_at, started_at, finished_at, last_seq, \
    summary, report, error, input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, \
    cost_usd, turns";

/// What a run runs with, stored once for every run that shares it.
#[derive(Debug, Clone, Default, PartialEq, FromRow)]
pub struct RunInputs {
    /// The Agent document as git declared it when the run was queued.
    pub agent: Value,
    /// Script sources by path relative to the agent's file.
    #[sqlx(json)]
    pub files: BTreeMap<String, String>,
}

impl RunInputs {
    /// Its address: the SHA-256 of what it holds.
    pub fn hash(&self) -> Vec<u8> {
        let bytes = serde_json::to_vec(&(&self.agent, &self.files)).expect("inputs serialize");
        Sha256::digest(bytes).to_vec()
    }

    /// The agent's spec, as the run runs it.
    pub fn spec(&self) -> Result<car_schemas::kinds::AgentSpec, StoreError> {
        car_schemas::de::from_json::<car_schemas::document::Manifest<car_schemas::kinds::AgentSpec>>(&self.agent)
            .map(|m| m.spec)
            .map_err(|e| {
                let why = e.first().map_or_else(String::new, |e| e.message.clone());
                StoreError::Query(sqlx::Error::Decode(
                    format!("a run's stored agent document does not parse: {why}").into(),
                ))
            })
    }
}

/// What started a run (an attempt after a failure keeps its first attempt's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// A person or an API key, with `POST /api/v1/runs`.
    #[default]
    Manual,
    /// A schedule's slot.
    Schedule,
    /// A trigger's hook (`POST /api/v1/hooks/{name}`).
    Trigger,
}

impl RunTrigger {
    /// The trigger as stored and sent: `schedule`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunTrigger::Manual => "manual",
            RunTrigger::Schedule => "schedule",
            RunTrigger::Trigger => "trigger",
        }
    }

    pub fn parse(text: &str) -> Option<RunTrigger> {
        [RunTrigger::Manual, RunTrigger::Schedule, RunTrigger::Trigger].into_iter().find(|t| t.as_str() == text)
    }
}

/// Only these are ever stored ([`NewRun`] takes a [`RunTrigger`]).
impl TryFrom<String> for RunTrigger {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        RunTrigger::parse(&text).ok_or_else(|| format!("{text:?} is not a run trigger"))
    }
}

impl std::fmt::Display for RunTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run to queue.
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    pub agent: String,
    pub node: String,
    pub trigger: RunTrigger,
    pub started_by: Option<String>,
    /// Who started it, for the audit log.
    pub by: Option<crate::trust::audit::Actor>,
    pub slot: Option<DateTime<Utc>>,
    pub revision: Option<String>,
    pub inputs: RunInputs,
    pub needs_model: bool,
    /// What started it says beyond the other fields (a trigger's payload).
    pub context: serde_json::Map<String, Value>,
    pub not_before: Option<DateTime<Utc>>,
    /// Wait while another run of the agent goes on the node.
    pub after_previous: bool,
}

/// A change of a run's status.
#[derive(Debug, Clone, FromRow, Serialize, ToSchema)]
pub struct Transition {
    pub at: DateTime<Utc>,
    /// The status it moved to.
    pub status: RunStatus,
    /// Why: who queued it, the node it went to, the approval it waits for, how it ended.
    pub reason: Option<String>,
}

/// A tool call a run holds for a person's decision.
#[derive(Debug, Clone, FromRow, Serialize, ToSchema)]
pub struct Approval {
    /// `<run id>-<request id>`.
    pub id: String,
    pub run_id: String,
    /// The runner's id of the request (`approval.requested`'s `request_id`).
    pub request_id: String,
    pub agent: String,
    pub node: String,
    /// The tool the model wants to call: Bash, Write, WebFetch, ….
    pub tool: String,
    /// The call's input as the CLI sent it (`{"command": …}` for Bash).
    pub input: Value,
    /// Why the policy holds it (the rule that asks for approval).
    pub reason: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: ApprovalStatus,
    pub requested_at: DateTime<Utc>,
    /// When the runner denies it unanswered (the agent's `approvalTimeout`);
    /// null for approvals recorded before this was kept.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was decided, or expired with its run.
    pub decided_at: Option<DateTime<Utc>>,
    /// Who decided (a user or an API key); null when pending, expired, or decided on the node.
    pub decided_by: Option<String>,
    /// The decider's comment, passed on to the model.
    pub comment: Option<String>,
}

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// The run waits for a decision.
    Pending,
    Approved,
    Denied,
    /// The run ended before anyone decided.
    Expired,
}

impl ApprovalStatus {
    /// The status as stored and sent: `pending`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Denied => "denied",
            ApprovalStatus::Expired => "expired",
        }
    }
}

impl std::fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The database allows only the four statuses.
impl TryFrom<String> for ApprovalStatus {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        [ApprovalStatus::Pending, ApprovalStatus::Approved, ApprovalStatus::Denied, ApprovalStatus::Expired]
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not an approval status"))
    }
}

/// Filters of the run list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub agent: Option<String>,
    pub node: Option<String>,
    pub status: Option<RunStatus>,
    pub trigger: Option<RunTrigger>,
    /// Only runs older than this run (cursor paging).
    pub before: Option<String>,
    pub limit: i64,
}

pub fn new_id() -> String {
    let bytes: [u8; 8] = rand::random();
    format!("run_{}_{}", Utc::now().format("%Y%m%d%H%M%S"), hex::encode(bytes))
}

/// The id of the run a schedule's slot makes on a node: the same on every
/// replica, so the primary key lets one of them queue it (no index of its own).
fn slot_id(schedule: &str, slot: DateTime<Utc>, agent: &str, node: &str) -> String {
    let key = serde_json::to_vec(&(schedule, slot, agent, node)).expect("strings and a time serialize");
    format!("run_{}_{}", slot.format("%Y%m%d%H%M%S"), hex::encode(&Sha256::digest(key)[..8]))
}

impl Run {
    /// What the agent is told about its run, on `node` as git declares it now.
    pub fn context(&self, node: NodeContext) -> RunContext {
        let mut extra = self.context.clone();
        if let (RunTrigger::Schedule, Some(slot)) = (self.trigger, self.slot) {
            extra.insert("schedule".into(), Value::from(self.started_by.clone()));
            extra.insert("slot".into(), serde_json::json!(slot));
        }
        RunContext { node, trigger: Some(self.trigger.as_str().into()), started_by: self.started_by.clone(), extra }
    }
}

/// Runs, approvals and usage in PostgreSQL.
#[derive(Debug, Clone)]
pub struct RunRepo {
    pool: sqlx::PgPool,
}

impl RunRepo {
    pub fn new(store: &Store) -> RunRepo {
        RunRepo { pool: store.pool().clone() }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }

    /// Queues a run (storing its inputs unless a run already did); returns
    /// it. A schedule's slot that another replica already queued for this
    /// node gives `None`.
    pub async fn queue_run(&self, r: &NewRun) -> Result<Option<Run>, StoreError> {
        let id = match (r.trigger, r.slot) {
            (RunTrigger::Schedule, Some(slot)) => {
                slot_id(r.started_by.as_deref().unwrap_or(""), slot, &r.agent, &r.node)
            }
            _ => new_id(),
        };
        let hash = r.inputs.hash();
        let mut tx = self.pool.begin().await?;
        // DO UPDATE, not DO NOTHING: it locks the stored row, so retention's
        // forget_unused_inputs (which skips locked rows) cannot delete it
        // before this run refers to it.
        sqlx::query(
            "INSERT INTO run_inputs (hash, agent, files) VALUES ($1, $2, $3) \
             ON CONFLICT (hash) DO UPDATE SET hash = EXCLUDED.hash",
        )
        .bind(&hash)
        .bind(&r.inputs.agent)
        .bind(sqlx::types::Json(&r.inputs.files))
        .execute(&mut *tx)
        .await?;
        let run = sqlx::query_as::<_, Run>(&format!(
            "INSERT INTO runs (id, agent, node, status, trigger, started_by, slot, revision, inputs, \
             needs_model, context, not_before, after_previous) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (id) DO NOTHING RETURNING {RUN}"
        ))
        .bind(&id)
        .bind(&r.agent)
        .bind(&r.node)
        .bind(r.trigger.as_str())
        .bind(&r.started_by)
        .bind(r.slot)
        .bind(&r.revision)
        .bind(&hash)
        .bind(r.needs_model)
        .bind(sqlx::types::Json(&r.context))
        .bind(r.not_before)
        .bind(r.after_previous)
        .fetch_optional(&mut *tx)
        .await?;
        if run.is_some() {
            let reason = format!("{} by {}", r.trigger, r.started_by.as_deref().unwrap_or("someone"));
            transition(&mut tx, &id, RunStatus::Queued, &reason).await?;
            if let Some(by) = &r.by {
                let detail = serde_json::json!({"agent": r.agent, "node": r.node, "trigger": r.trigger});
                audit::record(&mut *tx, by, audit::Action::RunStarted, Some(&id), detail).await?;
            }
        }
        tx.commit().await?;
        Ok(run)
    }

    /// Queues the next attempt of `run`, not before `not_before`.
    pub async fn queue_retry(&self, run: &Run, not_before: DateTime<Utc>) -> Result<Run, StoreError> {
        let id = new_id();
        let mut tx = self.pool.begin().await?;
        let next = sqlx::query_as::<_, Run>(&format!(
            "INSERT INTO runs (id, agent, node, status, trigger, started_by, slot, attempt, first_run_id, revision, \
             inputs, needs_model, context, not_before, after_previous) \
             SELECT $1, agent, node, 'queued', trigger, started_by, slot, attempt + 1, COALESCE(first_run_id, id), revision, \
             inputs, needs_model, context, $3, after_previous FROM runs WHERE id = $2 RETURNING {RUN}"
        ))
        .bind(&id)
        .bind(&run.id)
        .bind(not_before)
        .fetch_one(&mut *tx)
        .await?;
        let reason = format!("attempt {} of run {}", next.attempt, run.first_run_id);
        transition(&mut tx, &id, RunStatus::Queued, &reason).await?;
        tx.commit().await?;
        Ok(next)
    }

    pub async fn run(&self, id: &str) -> Result<Option<Run>, StoreError> {
        Ok(sqlx::query_as::<_, Run>(&format!("SELECT {RUN} FROM runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// What `run` runs with.
    pub async fn inputs(&self, run: &Run) -> Result<RunInputs, StoreError> {
        Ok(sqlx::query_as::<_, RunInputs>("SELECT agent, files FROM run_inputs WHERE hash = $1")
            .bind(&run.inputs)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Newest first, filtered, after the cursor.
    pub async fn runs(&self, f: &RunFilter) -> Result<Vec<Run>, StoreError> {
        Ok(sqlx::query_as::<_, Run>(&format!(
            "SELECT {RUN} FROM runs WHERE ($1::text IS NULL OR agent = $1) AND ($2::text IS NULL OR node = $2) \
             AND ($3::text IS NULL OR status = $3) AND ($6::text IS NULL OR trigger = $6) \
             AND ($4::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM runs WHERE id = $4)) \
             ORDER BY created_at DESC, id DESC LIMIT $5"
        ))
        .bind(&f.agent)
        .bind(&f.node)
        .bind(f.status)
        .bind(&f.before)
        .bind(f.limit)
        .bind(f.trigger.map(RunTrigger::as_str))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every attempt of the run that `first_run_id` started, oldest first.
    pub async fn attempts(&self, first_run_id: &str) -> Result<Vec<Run>, StoreError> {
        // The first attempt by its key, the retries by `runs_retries`.
        Ok(sqlx::query_as::<_, Run>(&format!(
            "SELECT {RUN} FROM runs WHERE id = $1 OR first_run_id = $1 ORDER BY attempt"
        ))
        .bind(first_run_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn transitions(&self, run_id: &str) -> Result<Vec<Transition>, StoreError> {
        Ok(sqlx::query_as::<_, Transition>(
            "SELECT at, status, reason FROM run_transitions WHERE run_id = $1 ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Takes the oldest queued run that is due, for `server` to dispatch;
    /// without `models`, only runs that need no model (script agents).
    pub async fn claim_queued(&self, server: &str, models: bool) -> Result<Option<Run>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let run = sqlx::query_as::<_, Run>(&format!(
            "UPDATE runs SET status = 'dispatched', dispatched_at = now(), follower = $1, \
             lease_until = now() + interval '30 seconds' \
             WHERE id = (SELECT id FROM runs r WHERE status = 'queued' AND (not_before IS NULL OR not_before <= now()) \
                         AND NOT (after_previous AND EXISTS (SELECT 1 FROM runs o WHERE o.agent = r.agent \
                             AND o.node = r.node AND o.id <> r.id \
                             AND run_is_open(o.status) AND o.status <> 'queued')) \
                         AND ($2 OR NOT needs_model) \
                         ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING {RUN}"
        ))
        .bind(server)
        .bind(models)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = &run {
            transition(&mut tx, &r.id, RunStatus::Dispatched, &format!("sent to node {}", r.node)).await?;
        }
        tx.commit().await?;
        Ok(run)
    }

    /// Dollars spent by runs created since `t` (midnight UTC of a day), with
    /// the daily roll-ups of runs retention deleted since.
    pub async fn spend_since(&self, t: DateTime<Utc>) -> Result<f64, StoreError> {
        Ok(sqlx::query_scalar::<_, f64>(
            "SELECT COALESCE((SELECT sum(cost_usd) FROM runs WHERE created_at >= $1), 0) \
             + COALESCE((SELECT sum(cost_usd) FROM usage_daily WHERE day >= ($1 AT TIME ZONE 'UTC')::date), 0)",
        )
        .bind(t)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Announces a spent budget once per period, whichever replica saw it first.
    pub async fn budget_exceeded(&self, e: &super::gate::Exceeded) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('budget.exceeded'))").execute(&mut *tx).await?;
        let said: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM events WHERE type = 'budget.exceeded' \
             AND data->>'period' = $1 AND (data->>'resumes')::timestamptz = $2)",
        )
        .bind(e.period)
        .bind(e.resumes)
        .fetch_one(&mut *tx)
        .await?;
        if !said {
            let data = serde_json::json!({"period": e.period, "limit_usd": e.limit_usd, "spent_usd": e.spent_usd,
                "resumes": e.resumes, "reason": e.reason()});
            NewEvent { kind: "budget.exceeded", data, ..NewEvent::default() }.record(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Runs that are going (dispatched, running, awaiting approval), for the timeout backstop.
    pub async fn going(&self) -> Result<Vec<Run>, StoreError> {
        Ok(sqlx::query_as::<_, Run>(&format!(
            "SELECT {RUN} FROM runs WHERE run_is_open(status) AND status <> 'queued' ORDER BY created_at"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Puts a dispatched run back in the queue (the node was busy or unreachable).
    pub async fn requeue(&self, id: &str, not_before: DateTime<Utc>, reason: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE runs SET status = 'queued', not_before = $2, follower = NULL, lease_until = NULL \
             WHERE id = $1 AND status = 'dispatched'",
        )
        .bind(id)
        .bind(not_before)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() > 0 {
            transition(&mut tx, id, RunStatus::Queued, reason).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes over following runs whose follower is gone (its lease ran out),
    /// or were followed by this server before it restarted.
    pub async fn claim_orphans(&self, server: &str) -> Result<Vec<Run>, StoreError> {
        Ok(sqlx::query_as::<_, Run>(&format!(
            "UPDATE runs SET follower = $1, lease_until = now() + interval '30 seconds' \
             WHERE id IN (SELECT id FROM runs WHERE run_is_open(status) AND status <> 'queued' \
                          AND (follower = $1 OR lease_until IS NULL OR lease_until < now()) \
                          FOR UPDATE SKIP LOCKED) \
             AND NOT (follower = $1 AND COALESCE(lease_until > now() + interval '25 seconds', false)) RETURNING {RUN}"
        ))
        .bind(server)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Keeps following `id`; false when another replica took it over.
    pub async fn renew_lease(&self, id: &str, server: &str) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE runs SET lease_until = now() + interval '30 seconds' WHERE id = $1 AND follower = $2 \
             AND run_is_open(status)",
        )
        .bind(id)
        .bind(server)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Lets go of the runs this server follows (a graceful shutdown), so another replica takes them at once.
    pub async fn release_leases(&self, server: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET lease_until = NULL WHERE follower = $1").bind(server).execute(&self.pool).await?;
        Ok(())
    }

    /// Moves an open run to `status` (running, awaiting_approval); records the transition.
    pub async fn set_status(&self, id: &str, status: RunStatus, reason: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE runs SET status = $2, started_at = CASE WHEN $2 = 'running' THEN COALESCE(started_at, now()) \
             ELSE started_at END WHERE id = $1 AND status <> $2 AND run_is_open(status)",
        )
        .bind(id)
        .bind(status)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() > 0 {
            transition(&mut tx, id, status, reason).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How far the server has the run's events.
    pub async fn set_last_seq(&self, id: &str, seq: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET last_seq = GREATEST(last_seq, $2) WHERE id = $1")
            .bind(id)
            .bind(i64::try_from(seq).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Adds a conversation's tokens and cost while the run goes.
    pub async fn add_usage(&self, id: &str, u: &Usage) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE runs SET input_tokens = input_tokens + $2, output_tokens = output_tokens + $3, \
             cache_creation_input_tokens = cache_creation_input_tokens + $4, \
             cache_read_input_tokens = cache_read_input_tokens + $5, cost_usd = cost_usd + $6, turns = turns + $7 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(count(u.input_tokens))
        .bind(count(u.output_tokens))
        .bind(count(u.cache_creation_input_tokens))
        .bind(count(u.cache_read_input_tokens))
        .bind(u.cost_usd)
        .bind(i32::try_from(u.turns).unwrap_or(i32::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends an open run as `f` says (its usage, when it says one, replaces
    /// what was added while it went), with `entry` in the same transaction;
    /// pending approvals expire. False when it had ended already (then
    /// nothing is written).
    pub async fn finish(
        &self,
        id: &str,
        f: &RunFinished,
        reason: &str,
        entry: Option<&audit::Entry>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE runs SET status = $2, finished_at = now(), summary = $3, report = $4, error = $5, \
             input_tokens = COALESCE($6, input_tokens), output_tokens = COALESCE($7, output_tokens), \
             cache_creation_input_tokens = COALESCE($8, cache_creation_input_tokens), \
             cache_read_input_tokens = COALESCE($9, cache_read_input_tokens), \
             cost_usd = COALESCE($10, cost_usd), turns = COALESCE($11, turns), follower = NULL, lease_until = NULL \
             WHERE id = $1 AND run_is_open(status)",
        )
        .bind(id)
        .bind(f.status)
        .bind(&f.summary)
        .bind(&f.report)
        .bind(f.error.as_ref().map(sqlx::types::Json))
        .bind(f.usage.map(|u| count(u.input_tokens)))
        .bind(f.usage.map(|u| count(u.output_tokens)))
        .bind(f.usage.map(|u| count(u.cache_creation_input_tokens)))
        .bind(f.usage.map(|u| count(u.cache_read_input_tokens)))
        .bind(f.usage.map(|u| u.cost_usd))
        .bind(f.usage.map(|u| i32::try_from(u.turns).unwrap_or(i32::MAX)))
        .execute(&mut *tx)
        .await?;
        let finished = moved.rows_affected() > 0;
        if finished {
            transition(&mut tx, id, f.status, reason).await?;
            sqlx::query(
                "UPDATE approvals SET status = 'expired', decided_at = now() WHERE run_id = $1 AND status = 'pending'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if let Some(e) = entry {
                e.record(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(finished)
    }

    /// Records a held call, and its `approval.requested` event the first time.
    pub async fn add_approval(&self, a: &Approval) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let added = sqlx::query(
            "INSERT INTO approvals (id, run_id, request_id, agent, node, tool, input, reason, status, requested_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(&a.id)
        .bind(&a.run_id)
        .bind(&a.request_id)
        .bind(&a.agent)
        .bind(&a.node)
        .bind(&a.tool)
        .bind(&a.input)
        .bind(&a.reason)
        .bind(a.requested_at)
        .bind(a.expires_at)
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() > 0 {
            let data = serde_json::json!({"request_id": a.request_id, "tool": a.tool, "input": a.input,
                "reason": a.reason, "expires_at": a.expires_at});
            let event = NewEvent {
                kind: "approval.requested",
                run_id: Some(&a.run_id),
                agent: Some(&a.agent),
                node: Some(&a.node),
                data,
                ..NewEvent::default()
            };
            event.record(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a decision: a person's through the API (`decided_by`, with
    /// its audit `entry` in the same transaction), or the runner's outcome.
    pub async fn decide_approval(
        &self,
        run_id: &str,
        request_id: &str,
        approve: bool,
        decided_by: Option<&str>,
        comment: Option<&str>,
        entry: Option<&audit::Entry>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let status = if approve { ApprovalStatus::Approved } else { ApprovalStatus::Denied };
        // What it was before: only the first decision is an event.
        let was: Option<(String, String, String, String, Option<String>)> = sqlx::query_as(
            "UPDATE approvals a SET status = $3, decided_at = COALESCE(a.decided_at, now()), \
             decided_by = COALESCE(a.decided_by, $4), comment = COALESCE(a.comment, $5) \
             FROM (SELECT id, status FROM approvals WHERE run_id = $1 AND request_id = $2 FOR UPDATE) b \
             WHERE a.id = b.id AND a.status IN ('pending', $3) RETURNING b.status, a.agent, a.node, a.tool, a.decided_by",
        )
        .bind(run_id)
        .bind(request_id)
        .bind(status.as_str())
        .bind(decided_by)
        .bind(comment)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((_, agent, node, tool, by)) = was.filter(|w| w.0 == ApprovalStatus::Pending.as_str()) {
            let data = serde_json::json!({"request_id": request_id, "tool": tool, "decision": status.as_str(),
                "decided_by": by, "comment": comment});
            let event = NewEvent {
                kind: "approval.resolved",
                run_id: Some(run_id),
                agent: Some(&agent),
                node: Some(&node),
                data,
                ..NewEvent::default()
            };
            event.record(&mut *tx).await?;
        }
        if let Some(e) = entry {
            e.record(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn approval(&self, id: &str) -> Result<Option<Approval>, StoreError> {
        Ok(sqlx::query_as::<_, Approval>(&format!("SELECT {APPROVAL} FROM approvals WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Approvals, newest first, optionally of one status or run.
    pub async fn approvals(
        &self,
        status: Option<ApprovalStatus>,
        run_id: Option<&str>,
    ) -> Result<Vec<Approval>, StoreError> {
        Ok(sqlx::query_as::<_, Approval>(&format!(
            "SELECT {APPROVAL} FROM approvals WHERE ($1::text IS NULL OR status = $1) \
             AND ($2::text IS NULL OR run_id = $2) ORDER BY requested_at DESC LIMIT 500"
        ))
        .bind(status.map(ApprovalStatus::as_str))
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// The columns of [`Approval`].
const APPROVAL: &str = "id, run_id, request_id, agent, node, tool, input, reason, status, requested_at, expires_at, decided_at, decided_by, comment";

/// A token count as PostgreSQL's bigint holds it.
fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn transition(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: &str,
    status: RunStatus,
    reason: &str,
) -> Result<(), StoreError> {
    crate::events::run_transition(tx, id, status.as_str(), reason).await?;
    sqlx::query("INSERT INTO run_transitions (run_id, status, reason) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(status)
        .bind(reason)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Tokens and cost of one group of runs.
#[derive(Debug, Clone, Default, FromRow, Serialize, ToSchema)]
pub struct UsageGroup {
    /// The agent's or node's name, the day (`YYYY-MM-DD`, UTC), or `total`.
    pub key: String,
    /// How many runs.
    pub runs: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_creation_input_tokens: i64,
    pub cache_read_input_tokens: i64,
    /// In US dollars.
    pub cost_usd: f64,
}

impl UsageGroup {
    pub fn add(&mut self, o: &UsageGroup) {
        self.runs += o.runs;
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.cache_creation_input_tokens += o.cache_creation_input_tokens;
        self.cache_read_input_tokens += o.cache_read_input_tokens;
        self.cost_usd += o.cost_usd;
    }
}

/// An agent's record over the last 30 days.
#[derive(Debug, Clone, FromRow, Serialize, ToSchema)]
pub struct AgentStats {
    /// Runs created.
    pub runs: i64,
    pub succeeded: i64,
    /// Runs that ended, however.
    pub finished: i64,
    /// Succeeded of finished, 0..1 (null without finished runs).
    pub success_rate: Option<f64>,
    /// Mean time from start to end of the runs that started and ended; null without any.
    pub mean_duration_ms: Option<f64>,
    /// The 95th percentile of that time; null without any.
    pub p95_duration_ms: Option<f64>,
    /// US dollars spent over the last 7 days.
    pub cost_7d_usd: f64,
    /// US dollars spent over the last 30 days.
    pub cost_30d_usd: f64,
}

/// An agent's newest run on one node.
#[derive(Debug, Clone, FromRow, Serialize, ToSchema)]
pub struct LastRun {
    pub node: String,
    /// The run's id.
    pub id: String,
    pub status: RunStatus,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A schedule's newest run.
#[derive(Debug, Clone, FromRow, Serialize, ToSchema)]
pub struct ScheduledRun {
    #[serde(skip)]
    pub schedule: String,
    pub agent: String,
    pub node: String,
    /// The run's id.
    pub id: String,
    pub status: RunStatus,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl RunRepo {
    /// Each schedule's newest run, given the (schedule, agent) pairs git
    /// declares: one backward probe of `runs_agent_newest` per pair.
    pub async fn last_scheduled(&self, pairs: &[(&str, &str)]) -> Result<Vec<ScheduledRun>, StoreError> {
        let (schedules, agents): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
        Ok(sqlx::query_as::<_, ScheduledRun>(
            "SELECT DISTINCT ON (p.schedule) p.schedule, p.agent, l.node, l.id, l.status, l.created_at, l.finished_at \
             FROM unnest($1::text[], $2::text[]) AS p(schedule, agent) \
             CROSS JOIN LATERAL (SELECT node, id, status, created_at, finished_at FROM runs \
               WHERE agent = p.agent AND trigger = 'schedule' AND started_by = p.schedule \
               ORDER BY created_at DESC LIMIT 1) l \
             ORDER BY p.schedule, l.created_at DESC",
        )
        .bind(schedules)
        .bind(agents)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Retention, in one transaction: claims up to `batch` old finished runs, rolls them up
    /// into `usage_daily`, deletes them. Returns their ids.
    pub async fn roll_up_and_delete(&self, older_than: DateTime<Utc>, batch: i64) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM runs WHERE NOT run_is_open(status) \
             AND created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(older_than)
        .bind(batch)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(ids);
        }
        // Ordered, so two replicas adding to the same days lock their rows in
        // the same order and cannot deadlock.
        sqlx::query(
            "INSERT INTO usage_daily AS u (day, agent, node, runs, succeeded, failed, input_tokens, output_tokens, \
               cache_creation_input_tokens, cache_read_input_tokens, cost_usd) \
             SELECT (created_at AT TIME ZONE 'UTC')::date, agent, node, count(*), \
               count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status <> 'succeeded'), \
               sum(input_tokens), sum(output_tokens), sum(cache_creation_input_tokens), \
               sum(cache_read_input_tokens), sum(cost_usd) \
             FROM runs WHERE id = ANY($1) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 \
             ON CONFLICT (day, agent, node) DO UPDATE SET runs = u.runs + EXCLUDED.runs, \
               succeeded = u.succeeded + EXCLUDED.succeeded, failed = u.failed + EXCLUDED.failed, \
               input_tokens = u.input_tokens + EXCLUDED.input_tokens, \
               output_tokens = u.output_tokens + EXCLUDED.output_tokens, \
               cache_creation_input_tokens = u.cache_creation_input_tokens + EXCLUDED.cache_creation_input_tokens, \
               cache_read_input_tokens = u.cache_read_input_tokens + EXCLUDED.cache_read_input_tokens, \
               cost_usd = u.cost_usd + EXCLUDED.cost_usd",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM runs WHERE id = ANY($1)").bind(&ids).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Deletes stored inputs no run uses any more (after retention deleted
    /// runs); returns how many. One pass over the runs, so once per sweep.
    /// Rows a run being queued holds locked are skipped, left for the next sweep.
    pub async fn forget_unused_inputs(&self) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "DELETE FROM run_inputs WHERE hash IN (SELECT hash FROM run_inputs i \
             WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.inputs = i.hash) FOR UPDATE SKIP LOCKED)",
        )
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Usage of runs created in `[from, to)`, including runs retention deleted: groups
    /// (`agent`, `node`, or `day` as `YYYY-MM-DD` in UTC) over runs created
    /// in `[from, to)` plus the `usage_daily` roll-ups.
    ///
    /// A roll-up keeps only the UTC day its runs were created, not the time,
    /// so a day counts whole when any part of it lies in `[from, to)`:
    /// `day >= from's UTC date AND day's midnight < to`. Ranges on whole
    /// days (midnight to midnight) are exact; a range that starts or ends
    /// inside a rolled-up day gets that whole day rather than none of it.
    pub async fn usage(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        group_by: &str,
    ) -> Result<Vec<UsageGroup>, StoreError> {
        let key = match group_by {
            "agent" => "agent",
            "node" => "node",
            _ => "to_char(day, 'YYYY-MM-DD')",
        };
        let sql = format!(
            "WITH u AS ( \
               SELECT (created_at AT TIME ZONE 'UTC')::date AS day, agent, node, 1::bigint AS runs, \
                 input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, cost_usd \
               FROM runs WHERE created_at >= $1 AND created_at < $2 \
               UNION ALL \
               SELECT day, agent, node, runs, input_tokens, output_tokens, cache_creation_input_tokens, \
                 cache_read_input_tokens, cost_usd \
               FROM usage_daily WHERE day >= ($1 AT TIME ZONE 'UTC')::date AND day < ($2 AT TIME ZONE 'UTC')) \
             SELECT {key} AS key, sum(runs)::bigint AS runs, sum(input_tokens)::bigint AS input_tokens, \
               sum(output_tokens)::bigint AS output_tokens, \
               sum(cache_creation_input_tokens)::bigint AS cache_creation_input_tokens, \
               sum(cache_read_input_tokens)::bigint AS cache_read_input_tokens, sum(cost_usd) AS cost_usd \
             FROM u GROUP BY 1 ORDER BY 1"
        );
        Ok(sqlx::query_as::<_, UsageGroup>(&sql).bind(from).bind(to).fetch_all(&self.pool).await?)
    }

    pub async fn agent_stats(&self, agent: &str) -> Result<AgentStats, StoreError> {
        Ok(sqlx::query_as::<_, AgentStats>(
            "WITH r AS (SELECT status, cost_usd, created_at, \
                 date_part('epoch', finished_at - started_at) * 1000 AS ms \
               FROM runs WHERE agent = $1 AND created_at > now() - interval '30 days') \
             SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'succeeded') AS succeeded, \
               count(*) FILTER (WHERE NOT run_is_open(status)) AS finished, \
               (count(*) FILTER (WHERE status = 'succeeded'))::float8 \
                 / NULLIF(count(*) FILTER (WHERE NOT run_is_open(status)), 0) \
                 AS success_rate, \
               avg(ms)::float8 AS mean_duration_ms, \
               (percentile_cont(0.95) WITHIN GROUP (ORDER BY ms))::float8 AS p95_duration_ms, \
               COALESCE(sum(cost_usd) FILTER (WHERE created_at > now() - interval '7 days'), 0) AS cost_7d_usd, \
               COALESCE(sum(cost_usd), 0) AS cost_30d_usd FROM r",
        )
        .bind(agent)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The agent's newest run on each node: a skip scan over its nodes
    /// (`runs_agent_node_newest`), one index probe each, whatever the history's size.
    pub async fn last_runs(&self, agent: &str) -> Result<Vec<LastRun>, StoreError> {
        Ok(sqlx::query_as::<_, LastRun>(
            "WITH RECURSIVE nodes AS ( \
               (SELECT node FROM runs WHERE agent = $1 ORDER BY node LIMIT 1) \
               UNION ALL \
               SELECT (SELECT r.node FROM runs r WHERE r.agent = $1 AND r.node > n.node ORDER BY r.node LIMIT 1) \
               FROM nodes n WHERE n.node IS NOT NULL) \
             SELECT l.node, l.id, l.status, l.created_at, l.finished_at FROM nodes n \
             CROSS JOIN LATERAL (SELECT node, id, status, created_at, finished_at FROM runs \
               WHERE agent = $1 AND node = n.node ORDER BY created_at DESC LIMIT 1) l \
             WHERE n.node IS NOT NULL ORDER BY l.node",
        )
        .bind(agent)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The open run of `agent` on `node`, if one goes.
    pub async fn open_run(&self, agent: &str, node: &str) -> Result<Option<Run>, StoreError> {
        Ok(sqlx::query_as::<_, Run>(&format!(
            "SELECT {RUN} FROM runs WHERE agent = $1 AND node = $2 AND run_is_open(status) ORDER BY created_at LIMIT 1"
        ))
        .bind(agent)
        .bind(node)
        .fetch_optional(&self.pool)
        .await?)
    }
}
