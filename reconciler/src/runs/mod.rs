//! Runs end to end. A click, an API call or a schedule [`Runs::queue`]s a
//! run in PostgreSQL ([`repo`]); the [`dispatch`]er claims queued runs and
//! sends them to their node's runner; a [`follow`]er per run reads the
//! runner's event stream into the run's log file ([`logs`]) and moves the
//! run's status along, until `run.finished`. Any server replica can
//! dispatch; each open run is followed by one replica at a time (a lease),
//! and a replica that dies leaves its runs to the others after the lease.

pub mod dispatch;
pub mod follow;
pub mod gate;
pub mod logs;
pub mod repo;
pub mod retention;
pub mod retry;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use car_schemas::document::Manifest;
use car_schemas::kinds::{AgentSpec, NodeSpec};
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast};

use crate::db::{Store, StoreError};
use crate::trust::secrets::Secrets;
pub use repo::{Approval, ApprovalStatus, NewRun, Run, RunTrigger};

/// Something other parts of the server may act on (notifications).
#[derive(Debug, Clone)]
pub enum Notice {
    ApprovalRequested(Approval),
    RunFinished { run_id: String, agent: String, node: String, status: String },
    BudgetExceeded(gate::Exceeded),
}

pub struct Runs {
    pub store: Store,
    pub logs: logs::Logs,
    pub http: reqwest::Client,
    /// Node tokens and keys, credentials for runs, and the redaction of run events.
    pub secrets: Arc<Secrets>,
    /// This replica, as runs' `follower`.
    pub server: String,
    /// How long a run may go without its node before it is `lost`.
    pub lost_grace: Duration,
    /// Wakes the dispatcher when a run is queued here.
    pub wake: Notify,
    pub notices: broadcast::Sender<Notice>,
    /// Whether model runs may start (budget, rate limits).
    pub gate: gate::Gate,
    /// Agents' statistics: they scan 30 days of runs, so they are served
    /// from here and computed again in the background once [`STATS_FRESH`] old.
    stats: std::sync::Arc<Mutex<std::collections::HashMap<String, Stats>>>,
    following: Mutex<HashSet<String>>,
}

/// How old an agent's statistics may get before they are computed again.
pub const STATS_FRESH: Duration = Duration::from_secs(30);

/// An agent's record as last computed, and whether it is being computed again.
struct Stats {
    at: std::time::Instant,
    value: AgentRecord,
    refreshing: bool,
}

/// An agent's record: how its runs went over the last 30 days, and its newest run on each node.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AgentRecord {
    pub stats: repo::AgentStats,
    /// The newest run on each node it ran on, by node.
    pub last_runs: Vec<repo::LastRun>,
    /// When these were computed; once 30 s old, they are computed again in the background.
    pub stats_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// No such agent or node is live.
    #[error("{message}")]
    NotFound { message: String, hint: String },
    /// The config does not let it run (the node does not allow the agent, a script is missing).
    #[error("{message}")]
    Invalid { message: String, hint: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(message: String, hint: &str) -> QueueError {
    QueueError::Invalid { message, hint: hint.into() }
}

async fn agent_record(store: &Store, agent: &str) -> Result<AgentRecord, StoreError> {
    Ok(AgentRecord {
        stats: store.agent_stats(agent).await?,
        last_runs: store.last_runs(agent).await?,
        stats_at: chrono::Utc::now(),
    })
}

fn keep(cache: &Mutex<std::collections::HashMap<String, Stats>>, agent: &str, value: AgentRecord) {
    let fresh = Stats { at: std::time::Instant::now(), value, refreshing: false };
    cache.lock().unwrap_or_else(|p| p.into_inner()).insert(agent.to_string(), fresh);
}

/// Why and how a run is started.
#[derive(Debug, Clone, Default)]
pub struct Start {
    pub trigger: RunTrigger,
    /// Who or what starts it (a user, an API key, a schedule): recorded as
    /// the run's `started_by` and in the audit log.
    pub by: Option<crate::trust::audit::Actor>,
    pub slot: Option<chrono::DateTime<chrono::Utc>>,
    /// Extra context for the agent (a trigger's payload).
    pub context: Value,
    pub not_before: Option<chrono::DateTime<chrono::Utc>>,
    /// Wait while another run of the agent goes on the node.
    pub after_previous: bool,
}

impl Runs {
    pub fn new(store: Store, logs: logs::Logs, secrets: Arc<Secrets>, server: String, lost_grace: Duration) -> Runs {
        Self::with_budget(store, logs, secrets, server, lost_grace, gate::Budget::default())
    }

    pub fn with_budget(
        store: Store,
        logs: logs::Logs,
        secrets: Arc<Secrets>,
        server: String,
        lost_grace: Duration,
        budget: gate::Budget,
    ) -> Runs {
        Runs {
            gate: gate::Gate::new(budget),
            store,
            logs,
            http: reqwest::Client::new(),
            secrets,
            server,
            lost_grace,
            wake: Notify::new(),
            notices: broadcast::channel(256).0,
            stats: Default::default(),
            following: Mutex::default(),
        }
    }

    /// Queues `agent` on `node` as git declares them now; `None` when a
    /// schedule's slot was already queued (by another replica).
    pub async fn queue(&self, agent: &str, node: &str, start: Start) -> Result<Option<Run>, QueueError> {
        let a = self.store.object("Agent", agent).await?.ok_or_else(|| QueueError::NotFound {
            message: format!("no agent named {agent:?} is live"),
            hint: "GET /api/v1/agents lists them".into(),
        })?;
        let n = self.store.object("Node", node).await?.ok_or_else(|| QueueError::NotFound {
            message: format!("no node named {node:?} is live"),
            hint: "GET /api/v1/nodes lists them".into(),
        })?;
        let spec = car_schemas::de::from_json::<Manifest<AgentSpec>>(&a.document)
            .map_err(|_| invalid(format!("agent {agent}'s stored document does not parse"), "sync the config again"))?
            .spec;
        let node_spec = car_schemas::de::from_json::<Manifest<NodeSpec>>(&n.document)
            .map_err(|_| invalid(format!("node {node}'s stored document does not parse"), "sync the config again"))?
            .spec;
        if let Some(allowed) = &node_spec.agents
            && !allowed.iter().any(|x| x.as_str() == agent)
        {
            return Err(invalid(
                format!("node {node} does not allow agent {agent} (its `agents` list in git)"),
                "add the agent to the node's `agents` in git, or pick another node",
            ));
        }
        let mut files = serde_json::Map::new();
        if let Some(script) = &spec.script {
            let dir = std::path::Path::new(&a.file).parent().unwrap_or(std::path::Path::new(""));
            let path = car_schemas::load::normalize(&dir.join(script.as_str()))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let source = self.store.script(&path).await?.ok_or_else(|| {
                invalid(
                    format!("agent {agent}'s script {path} is not in the applied revision"),
                    "sync the config again",
                )
            })?;
            files.insert(script.as_str().to_string(), Value::String(source));
        }
        let tags: Vec<&str> = node_spec.tags.iter().map(|t| t.as_str()).collect();
        let started_by = start.by.as_ref().map(crate::trust::audit::Actor::label);
        // The node's `sandbox: unenforced` is how its runner learns that git accepts running
        // read-only agents without a jail where the kernel has none.
        let mut context = json!({"node": {"name": node, "tags": tags, "sandbox": node_spec.sandbox},
                                 "trigger": start.trigger, "started_by": started_by});
        if let Value::Object(extra) = start.context {
            context.as_object_mut().expect("an object").extend(extra);
        }
        let run = self
            .store
            .queue_run(&NewRun {
                agent: agent.into(),
                node: node.into(),
                trigger: start.trigger,
                started_by,
                by: start.by,
                slot: start.slot,
                revision: Some(a.revision),
                agent_document: a.document,
                files: Value::Object(files),
                context,
                not_before: start.not_before,
                after_previous: start.after_previous,
            })
            .await?;
        if run.is_some() {
            self.wake.notify_one();
        }
        Ok(run)
    }

    /// An agent's record (`stats` and `last_runs`): computed on the first
    /// request, then served at once and computed again in the background
    /// when it is older than [`STATS_FRESH`], so no request waits for it twice.
    pub async fn agent_stats(&self, agent: &str) -> Result<AgentRecord, StoreError> {
        let cached = {
            let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
            stats.get_mut(agent).map(|s| {
                let stale = s.at.elapsed() >= STATS_FRESH && !s.refreshing;
                s.refreshing |= stale;
                (s.value.clone(), stale)
            })
        };
        match cached {
            Some((value, stale)) => {
                if stale {
                    let (store, cache, agent) = (self.store.clone(), self.stats.clone(), agent.to_string());
                    tokio::spawn(async move {
                        match agent_record(&store, &agent).await {
                            Ok(v) => keep(&cache, &agent, v),
                            Err(e) => {
                                tracing::warn!(agent = %agent, error = %e, "cannot compute an agent's statistics");
                                if let Some(s) = cache.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&agent) {
                                    s.refreshing = false;
                                }
                            }
                        }
                    });
                }
                Ok(value)
            }
            None => {
                let v = agent_record(&self.store, agent).await?;
                keep(&self.stats, agent, v.clone());
                Ok(v)
            }
        }
    }

    /// Marks `id` as followed here; false when it already is.
    fn start_following(&self, id: &str) -> bool {
        self.following.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string())
    }

    fn stop_following(&self, id: &str) {
        self.following.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    /// Finishes a run without its runner (never dispatched, lost, refused):
    /// the database and the log both say how it ended.
    pub async fn finish_here(&self, run: &Run, status: &str, error: Value) -> Result<(), StoreError> {
        let outcome = repo::Outcome { status: status.into(), error: Some(error.clone()), ..Default::default() };
        let reason = error["message"].as_str().unwrap_or(status).to_string();
        if self.store.finish(&run.id, &outcome, &reason).await? {
            if let Err(e) = self.logs.finish(&run.id, json!({"status": status, "error": error})) {
                tracing::error!(run_id = %run.id, error = %e, "cannot write the run's log");
            }
            self.finished(run, status, &error).await?;
        }
        Ok(())
    }

    /// After a run finished (once): tell who listens, hold model runs after
    /// a rate limit, and queue the next attempt when one may help.
    pub async fn finished(&self, run: &Run, status: &str, error: &Value) -> Result<(), StoreError> {
        let _ = self.notices.send(Notice::RunFinished {
            run_id: run.id.clone(),
            agent: run.agent.clone(),
            node: run.node.clone(),
            status: status.into(),
        });
        self.gate.spent();
        let now = chrono::Utc::now();
        if error["kind"] == "rate_limited" {
            let wait = error["retry_after_ms"].as_i64().unwrap_or(60_000);
            self.gate.rate_limited(now + chrono::TimeDelta::milliseconds(wait));
        }
        let Ok(spec) = car_schemas::de::from_json::<Manifest<AgentSpec>>(&run.agent_document) else { return Ok(()) };
        let attempt = u32::try_from(run.attempt).unwrap_or(u32::MAX);
        if let Some(wait) = retry::next_attempt(&spec.spec, attempt, status, error, rand::random::<f64>()) {
            let at = now + chrono::TimeDelta::from_std(wait).unwrap_or_default();
            let next = self.store.queue_retry(run, at).await?;
            tracing::info!(run_id = %run.id, next = %next.id, attempt = next.attempt, wait_s = wait.as_secs(), "run will be retried");
        }
        Ok(())
    }
}
