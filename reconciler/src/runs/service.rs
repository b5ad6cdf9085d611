//! The runs service: queueing a run as git declares its agent and node,
//! cancelling it, deciding its held tool calls, finishing it without its
//! runner, and what happens once it finished (retries, the rate-limit
//! hold). Each change and its audit entry are written in one transaction.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use car_schemas::placement;
use car_schemas::run::{NodeContext, RunContext, RunErrorKind, RunFinished, RunStatus};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::repo::{AgentStats, Approval, ApprovalStatus, LastRun, NewRun, Run, RunInputs, RunRepo, RunTrigger};
use super::{gate, logs, retry};
use crate::config::snapshot::LiveConfig;
use crate::db::{Store, StoreError};
use crate::nodes::client::{RunnerError, RunnerErrorKind, Runners};
use crate::nodes::repo::NodeRepo;
use crate::trust::audit::{self, Action, Actor};

pub struct Runs {
    pub repo: RunRepo,
    /// Where agents and nodes come from.
    pub live: LiveConfig,
    /// The nodes' runners; their secrets also give runs their credentials and redact their events.
    pub runners: Runners,
    /// What runners last reported (capabilities, for placement).
    pub nodes: NodeRepo,
    pub logs: logs::Logs,
    /// This replica, as runs' `follower`.
    pub server: String,
    /// How long a run may go without its node before it is `lost`.
    pub lost_grace: Duration,
    /// How long a runner's event stream may say nothing before it counts as dead.
    pub stream_silence: Duration,
    /// Wakes the dispatcher when a run is queued here.
    pub wake: Notify,
    /// Whether model runs may start (budget, rate limits).
    pub gate: gate::Gate,
    /// `DEMO_MODEL_URL`: the scripted demo model model runs use while the
    /// server has no model credentials (`scripts/up` starts it); unset, such
    /// runs are refused when they are started.
    pub demo_model: Option<String>,
    /// Agents' statistics: they scan 30 days of runs, so they are served
    /// from here and computed again in the background once [`STATS_FRESH`] old.
    stats: std::sync::Arc<Mutex<std::collections::HashMap<String, Stats>>>,
    following: Mutex<HashSet<String>>,
}

/// The context key of a run on the scripted demo model.
pub const DEMO_MODEL: &str = "demo_model";

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
    pub stats: AgentStats,
    /// The newest run on each node it ran on, by node.
    pub last_runs: Vec<LastRun>,
    /// When these were computed; once 30 s old, they are computed again in the background.
    pub stats_at: chrono::DateTime<chrono::Utc>,
}

/// Why a run could not be queued, cancelled or decided on; each says what and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No such agent, node, run or approval.
    #[error("{message}")]
    NotFound { message: String, hint: String },
    /// The config does not let it run (the node does not allow the agent or
    /// lacks what it requires, a script is missing).
    #[error("{message}")]
    Invalid { message: String, hint: String },
    /// It already happened (the run finished, the approval was decided).
    #[error("{message}")]
    Conflict { code: &'static str, message: String, hint: String },
    /// The run's runner cannot be reached or refused.
    #[error(transparent)]
    Runner(#[from] RunnerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(message: String, hint: &str) -> ServiceError {
    ServiceError::Invalid { message, hint: hint.into() }
}

async fn agent_record(repo: &RunRepo, agent: &str) -> Result<AgentRecord, StoreError> {
    Ok(AgentRecord {
        stats: repo.agent_stats(agent).await?,
        last_runs: repo.last_runs(agent).await?,
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
    /// Extra context for the agent: a schedule's slot, a trigger's payload.
    pub context: serde_json::Map<String, Value>,
    pub not_before: Option<chrono::DateTime<chrono::Utc>>,
    /// Wait while another run of the agent goes on the node.
    pub after_previous: bool,
}

/// How runs are held: the server's settings for them.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// `RUN_LOST_GRACE`.
    pub lost_grace: Duration,
    /// `RUN_STREAM_SILENCE`.
    pub stream_silence: Duration,
    /// `BUDGET_DAILY_USD`, `BUDGET_MONTHLY_USD`.
    pub budget: gate::Budget,
    /// `DEMO_MODEL_URL`.
    pub demo_model: Option<String>,
}

impl Runs {
    pub fn new(store: &Store, runners: Runners, logs: logs::Logs, server: String, settings: RunSettings) -> Runs {
        Runs {
            repo: RunRepo::new(store),
            live: runners.live().clone(),
            nodes: NodeRepo::new(store),
            runners,
            logs,
            server,
            lost_grace: settings.lost_grace,
            stream_silence: settings.stream_silence,
            wake: Notify::new(),
            gate: gate::Gate::new(settings.budget),
            demo_model: settings.demo_model,
            stats: Default::default(),
            following: Mutex::default(),
        }
    }

    /// Queues `agent` on `node` as git declares them now; `None` when a
    /// schedule's slot was already queued (by another replica).
    pub async fn queue(&self, agent: &str, node: &str, start: Start) -> Result<Option<Run>, ServiceError> {
        let snapshot = self.live.now();
        let a = snapshot.agents.get(agent).ok_or_else(|| ServiceError::NotFound {
            message: format!("no agent named {agent:?} is live"),
            hint: "GET /api/v1/agents lists them".into(),
        })?;
        let n = snapshot.nodes.get(node).ok_or_else(|| ServiceError::NotFound {
            message: format!("no node named {node:?} is live"),
            hint: "GET /api/v1/nodes lists them".into(),
        })?;
        let (spec, node_spec) = (&a.spec, &n.spec);
        let observed = self.nodes.observation(node).await?.map(|o| o.capabilities);
        if let Err(refused) = placement::check(node, node_spec, observed.as_deref(), agent, spec) {
            return Err(invalid(refused.to_string(), &refused.hint()));
        }
        let mut files = std::collections::BTreeMap::new();
        if let Some(script) = &spec.script {
            let dir = std::path::Path::new(&a.file).parent().unwrap_or(std::path::Path::new(""));
            let path = car_schemas::load::normalize(&dir.join(script.as_str()))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let source = self.live.repo().script(&path).await?.ok_or_else(|| {
                invalid(
                    format!("agent {agent}'s script {path} is not in the applied revision"),
                    "sync the config again",
                )
            })?;
            files.insert(script.as_str().to_string(), source);
        }
        let mut context = start.context;
        if spec.script.is_none() && !self.runners.secrets().has_model_credentials().await {
            if self.demo_model.is_none() {
                return Err(invalid(
                    format!("agent {agent} needs the model, and car-server has no model credentials"),
                    "set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN where car-server runs, or store one: \
                     PUT /api/v1/secrets/anthropic-api-key (no restart needed)",
                ));
            }
            // Said in the run's context, so the run view and the agent alike know.
            context.insert(DEMO_MODEL.into(), Value::Bool(true));
        }
        let started_by = start.by.as_ref().map(crate::trust::audit::Actor::label);
        let run = self
            .repo
            .queue_run(&NewRun {
                agent: agent.into(),
                node: node.into(),
                trigger: start.trigger,
                started_by,
                by: start.by,
                slot: start.slot,
                revision: Some(a.revision.clone()),
                inputs: RunInputs { agent: a.document.clone(), files },
                needs_model: spec.script.is_none(),
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

    /// What `run`'s agent is told about its run: its node as git declares
    /// it now (the node's `sandbox: unenforced` is how its runner learns
    /// that git accepts running read-only agents without a jail where the
    /// kernel has none), what started it and why.
    pub fn context(&self, run: &Run) -> RunContext {
        let snapshot = self.live.now();
        let node = snapshot.nodes.get(&run.node).map(|n| &n.spec);
        run.context(NodeContext {
            name: run.node.clone(),
            tags: node.map(|n| n.tags.iter().map(|t| t.as_str().to_string()).collect()).unwrap_or_default(),
            sandbox: node.map(|n| n.sandbox).unwrap_or_default(),
        })
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
                    let (repo, cache, agent) = (self.repo.clone(), self.stats.clone(), agent.to_string());
                    tokio::spawn(async move {
                        match agent_record(&repo, &agent).await {
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
                let v = agent_record(&self.repo, agent).await?;
                keep(&self.stats, agent, v.clone());
                Ok(v)
            }
        }
    }

    /// Marks `id` as followed here; false when it already is.
    pub(super) fn start_following(&self, id: &str) -> bool {
        self.following.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string())
    }

    pub(super) fn stop_following(&self, id: &str) {
        self.following.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }

    /// Finishes a run without its runner (never dispatched, lost, refused):
    /// the database and the log both say how it ended.
    pub async fn finish_here(
        &self,
        run: &Run,
        status: RunStatus,
        error: car_schemas::run::RunError,
    ) -> Result<(), StoreError> {
        self.finish_here_audited(run, RunFinished::ended(status, error), None).await.map(|_| ())
    }

    /// [`Runs::finish_here`] with the audit entry of who ended it, in the
    /// same transaction; false when the run had finished already.
    async fn finish_here_audited(
        &self,
        run: &Run,
        finished: RunFinished,
        entry: Option<&audit::Entry>,
    ) -> Result<bool, StoreError> {
        let reason = finished.error.as_ref().map_or_else(|| finished.status.to_string(), |e| e.message.clone());
        let ended = self.repo.finish(&run.id, &finished, &reason, entry).await?;
        if ended {
            if let Err(e) = self.logs.finish(&run.id, finished.clone()) {
                tracing::error!(run_id = %run.id, error = %e, "cannot write the run's log");
            }
            self.finished(run, &finished).await?;
        }
        Ok(ended)
    }

    /// Stops a run: a queued one at once, a going one through its runner
    /// (its events then say how it ended). Audited as `run.cancelled`.
    pub async fn cancel(&self, id: &str, by: &Actor) -> Result<(), ServiceError> {
        let run = self.run(id).await?;
        if run.status.is_final() {
            return Err(ServiceError::Conflict {
                code: "finished",
                message: format!("run {id} already {}", run.status),
                hint: "nothing to cancel".into(),
            });
        }
        let detail = json!({"agent": run.agent, "node": run.node, "status": run.status});
        let entry = audit::Entry::new(by, Action::RunCancelled, Some(id), detail);
        if run.status == RunStatus::Queued {
            let error = car_schemas::run::RunError::new(
                RunErrorKind::Cancelled,
                "cancelled before it was dispatched",
                "start it again when needed",
            );
            let finished = RunFinished::ended(RunStatus::Cancelled, error);
            if self.finish_here_audited(&run, finished, Some(&entry)).await? {
                return Ok(());
            }
            // Dispatched meanwhile: its runner cancels it.
        }
        let endpoint = self.runners.endpoint(&run.node).await?;
        match endpoint.cancel(id).await {
            Ok(_) => Ok(entry.record(self.repo.pool()).await.map_err(StoreError::from)?),
            Err(e) if e.kind == RunnerErrorKind::Refused(409) => Err(ServiceError::Conflict {
                code: "finished",
                message: "the run already finished on its node".into(),
                hint: "reload the run".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Decides a held tool call: the runner hears it first (a run that no
    /// longer waits refuses), then the approval and its audit entry are
    /// recorded together. Returns the approval as decided.
    pub async fn decide(
        &self,
        approval_id: &str,
        approve: bool,
        comment: Option<&str>,
        by: &Actor,
    ) -> Result<Approval, ServiceError> {
        let gone = || ServiceError::NotFound {
            message: format!("no approval {approval_id:?}"),
            hint: "GET /api/v1/approvals lists them".into(),
        };
        let a = self.repo.approval(approval_id).await?.ok_or_else(gone)?;
        if a.status != ApprovalStatus::Pending {
            return Err(ServiceError::Conflict {
                code: "decided",
                message: format!("approval {approval_id} is {}", a.status),
                hint: "nothing to decide".into(),
            });
        }
        let verdict = if approve { "approve" } else { "deny" };
        let endpoint = self.runners.endpoint(&a.node).await?;
        match endpoint.decide(&a.run_id, &a.request_id, &json!({"decision": verdict, "comment": comment})).await {
            Ok(_) => {}
            Err(e) if e.kind == RunnerErrorKind::Refused(409) => {
                return Err(ServiceError::Conflict {
                    code: "decided",
                    message: "the run no longer waits for this approval".into(),
                    hint: "reload the run".into(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        let detail = json!({"decision": verdict, "run_id": a.run_id, "tool": a.tool, "agent": a.agent, "node": a.node});
        let entry = audit::Entry::new(by, Action::ApprovalDecided, Some(approval_id), detail);
        self.repo.decide_approval(&a.run_id, &a.request_id, approve, Some(&by.label()), comment, Some(&entry)).await?;
        self.repo.approval(approval_id).await?.ok_or_else(gone)
    }

    /// The run with this id.
    pub async fn run(&self, id: &str) -> Result<Run, ServiceError> {
        self.repo.run(id).await?.ok_or_else(|| ServiceError::NotFound {
            message: format!("no run {id:?}"),
            hint: "GET /api/v1/runs lists the runs".into(),
        })
    }

    /// After a run finished (once): hold model runs after a rate limit,
    /// and queue the next attempt when one may help.
    pub async fn finished(&self, run: &Run, finished: &RunFinished) -> Result<(), StoreError> {
        self.gate.spent();
        let now = chrono::Utc::now();
        let error = finished.error.as_ref();
        if let Some(e) = error.filter(|e| e.kind == RunErrorKind::RateLimited) {
            let wait = i64::try_from(e.retry_after_ms.unwrap_or(60_000)).unwrap_or(i64::MAX);
            self.gate.rate_limited(now + chrono::TimeDelta::milliseconds(wait));
        }
        let spec = self.repo.inputs(run).await?.spec()?;
        let attempt = u32::try_from(run.attempt).unwrap_or(u32::MAX);
        if let Some(wait) = retry::next_attempt(&spec, attempt, finished.status, error, rand::random::<f64>()) {
            let at = now + chrono::TimeDelta::from_std(wait).unwrap_or_default();
            let next = self.repo.queue_retry(run, at).await?;
            tracing::info!(run_id = %run.id, next = %next.id, attempt = next.attempt, wait_s = wait.as_secs(), "run will be retried");
        }
        Ok(())
    }
}
