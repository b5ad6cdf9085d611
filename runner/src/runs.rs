//! The runs a runner holds: started from `POST /v1/runs` (idempotent by run
//! id), each with its own folder under `RUNNER_DATA_DIR/runs/{id}` (event
//! log, working directory, temp folder, and the claude CLI's state; the last
//! two go when the run ends), followed through its event log, answered
//! through approvals. A read-only agent runs in a Landlock jail that may
//! write only its working directory, temp folder and CLI state; on a kernel
//! without Landlock it is refused, unless its node accepts the risk
//! (`sandbox: unenforced` in git, passed in the run's context).
//! A node runs at most `max_runs` at once; more are refused as busy (the
//! server keeps them queued). At start-up, runs whose process died with a
//! previous runner are finished as `lost`, never left running.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use car_schemas::document::Manifest;
use car_schemas::kinds::AgentSpec;
use car_schemas::kinds::agent::Mode;
use car_schemas::kinds::node::Sandbox;
use car_schemas::run::{Event, RUN_ENV, RunError, RunErrorKind, RunFinished, RunRequest, RunStatus};
use tokio::sync::mpsc;

use crate::engine::approvals::Answer;
use crate::engine::claude::Launch;
use crate::engine::run::{Body, Job, NodeFacts, run_agent};
use crate::eventlog::{DEFAULT_QUOTA, EventLog, SYNC_INTERVAL};
use crate::sandbox::{Jail, Support};

#[derive(Debug, thiserror::Error)]
pub enum RunRequestError {
    #[error("run id {0:?} is not valid (hint: use letters, digits, '-' and '_', at most 128)")]
    BadId(String),
    #[error("the agent document is invalid: {0} (hint: send the Agent document as written in git)")]
    BadAgent(String),
    #[error("{0}")]
    BadFiles(String),
    #[error(
        "this node already runs {0} runs, its limit (hint: try again when one finishes, or raise RUNNER_MAX_CONCURRENT_RUNS)"
    )]
    Busy(usize),
    #[error("cannot prepare the run's folder: {0} (hint: check RUNNER_DATA_DIR)")]
    Io(String),
    #[error(
        "node {node} cannot hold read-only agent {agent} to reading: its kernel has no Landlock (hint: run a kernel \
         with Landlock, Linux 5.13 or newer with `landlock` in its lsm= list, or accept the risk with `sandbox: \
         unenforced` in the Node's spec in git)"
    )]
    NoSandbox { node: String, agent: String },
}

pub struct RunHandle {
    pub id: String,
    pub log: Arc<EventLog>,
    answers: Option<mpsc::Sender<Answer>>,
    cancel: Option<tokio::sync::watch::Sender<bool>>,
}

impl RunHandle {
    /// Where the run stands, as its log says.
    pub fn status(&self) -> String {
        self.log.status()
    }

    /// Asks the run to stop; false when it already finished.
    pub fn cancel(&self) -> bool {
        match &self.cancel {
            Some(tx) if !self.log.is_finished() => tx.send(true).is_ok(),
            _ => false,
        }
    }

    /// Passes a human's answer to the run; false when it no longer waits.
    pub async fn answer(&self, answer: Answer) -> bool {
        match &self.answers {
            Some(tx) if !self.log.is_finished() => tx.send(answer).await.is_ok(),
            _ => false,
        }
    }
}

pub struct Runs {
    data_dir: PathBuf,
    claude_bin: PathBuf,
    node: NodeFacts,
    max_runs: usize,
    runs: Mutex<HashMap<String, Arc<RunHandle>>>,
    /// The runner's own keys, redacted from every run's events.
    keys: Option<Arc<crate::keys::KeyRing>>,
    /// What the kernel offers to jail read-only agents.
    sandbox: Support,
}

impl Runs {
    /// Opens the runs folder; runs left unfinished by a previous runner become `lost`.
    pub fn open(data_dir: PathBuf, claude_bin: PathBuf, node: NodeFacts, max_runs: usize) -> Self {
        // Absolute: runs start processes in their own folders, where a relative path would mean something else.
        let _ = std::fs::create_dir_all(data_dir.join("runs"));
        let data_dir = std::fs::canonicalize(&data_dir).unwrap_or(data_dir);
        let mut runs = HashMap::new();
        for entry in std::fs::read_dir(data_dir.join("runs")).into_iter().flatten().flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            let Ok(log) = EventLog::open(&entry.path().join("events.jsonl"), DEFAULT_QUOTA) else { continue };
            if !log.is_finished() {
                let lost = RunError::new(
                    RunErrorKind::Lost,
                    "the runner stopped while this run was going; its process is gone",
                    "start the run again",
                );
                if let Err(e) = log.append(Event::RunFinished(RunFinished::ended(RunStatus::Lost, lost))) {
                    tracing::error!(run_id = %id, error = %e, "cannot mark a run lost");
                }
            }
            runs.insert(id.clone(), Arc::new(RunHandle { id, log: Arc::new(log), answers: None, cancel: None }));
        }
        Runs { data_dir, claude_bin, node, max_runs, runs: Mutex::new(runs), keys: None, sandbox: Support::detect() }
    }

    /// Jails read-only agents with this (instead of what the kernel offers): for tests.
    pub fn with_sandbox(mut self, sandbox: Support) -> Self {
        self.sandbox = sandbox;
        self
    }

    pub fn sandbox(&self) -> Support {
        self.sandbox
    }

    /// Redacts these keys from every run's events.
    pub fn with_keys(mut self, keys: Arc<crate::keys::KeyRing>) -> Self {
        self.keys = Some(keys);
        self
    }

    pub fn node(&self) -> &NodeFacts {
        &self.node
    }

    /// Runs going now, and the most that may.
    pub fn load(&self) -> (usize, usize) {
        (active(&self.runs.lock().unwrap_or_else(|p| p.into_inner())), self.max_runs)
    }

    pub fn get(&self, id: &str) -> Option<Arc<RunHandle>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Starts a run, or returns the one with this id (`false`: it existed).
    pub fn start(&self, req: RunRequest) -> Result<(Arc<RunHandle>, bool), RunRequestError> {
        let id_ok = !req.run_id.is_empty()
            && req.run_id.len() <= 128
            && req.run_id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
        if !id_ok {
            return Err(RunRequestError::BadId(req.run_id));
        }
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = runs.get(&req.run_id) {
            return Ok((existing.clone(), false));
        }
        let manifest = car_schemas::de::from_json::<Manifest<AgentSpec>>(&req.agent).map_err(|errors| {
            RunRequestError::BadAgent(errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; "))
        })?;
        let name = manifest.metadata.name.to_string();
        let spec = manifest.spec;
        let read_only = spec.mode == Mode::ReadOnly;
        let unenforced = req.context.node.sandbox == Sandbox::Unenforced;
        if read_only && !self.sandbox.available() && !unenforced {
            return Err(RunRequestError::NoSandbox { node: self.node.name.clone(), agent: name });
        }
        if active(&runs) >= self.max_runs {
            return Err(RunRequestError::Busy(self.max_runs));
        }
        let dir = self.data_dir.join("runs").join(&req.run_id);
        let io = |e: std::io::Error| RunRequestError::Io(e.to_string());
        let body = match (&spec.prompt, &spec.script) {
            (Some(prompt), _) => Body::Prompt(prompt.clone()),
            (None, Some(script)) => Body::Script(write_files(&dir.join("script"), &script.value, &req.files)?),
            (None, None) => {
                return Err(RunRequestError::BadAgent(format!("agent {name} has neither prompt nor script")));
            }
        };
        let (workdir, config_dir, tmp_dir) = (dir.join("work"), dir.join("claude"), dir.join("tmp"));
        for d in [&workdir, &config_dir, &tmp_dir] {
            std::fs::create_dir_all(d).map_err(io)?;
        }
        // Not the run's folder itself: its event log is the record, out of the agent's reach.
        let jail = (read_only && self.sandbox.available())
            .then(|| Jail::new(vec![workdir.clone(), config_dir.clone(), tmp_dir.clone()]));
        let sandbox = match (&jail, read_only) {
            (Some(_), _) => self.sandbox.describe(),
            (None, true) => Some("unenforced".to_string()),
            (None, false) => None,
        };
        let log = Arc::new(
            EventLog::open(&dir.join("events.jsonl"), DEFAULT_QUOTA).map_err(|e| RunRequestError::Io(e.to_string()))?,
        );
        // The credentials handed over for this run, and the runner's keys, never reach its events.
        let mut secrets: Vec<(String, String)> = req
            .env
            .iter()
            .filter(|(k, _)| RUN_ENV.contains(&k.as_str()) && k.as_str() != "ANTHROPIC_BASE_URL")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        secrets.extend(self.keys.iter().flat_map(|k| k.secrets()));
        log.redact_with(car_schemas::redact::Redactor::new(secrets));
        let (tx, mut rx) = mpsc::channel(8);
        let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
        let handle = Arc::new(RunHandle {
            id: req.run_id.clone(),
            log: log.clone(),
            answers: Some(tx),
            cancel: Some(cancel_tx),
        });
        runs.insert(req.run_id.clone(), handle.clone());
        let leftovers = [config_dir.clone(), tmp_dir.clone()];
        let launch = Launch {
            bin: self.claude_bin.clone(),
            workdir,
            config_dir,
            env: req.env.into_iter().filter(|(k, _)| RUN_ENV.contains(&k.as_str())).collect(),
            model: spec.model.clone(),
            max_turns: spec.budget.as_ref().and_then(|b| b.turns.as_ref()).map(|t| t.value),
            max_budget_usd: spec.budget.as_ref().and_then(|b| b.usd.as_ref()).map(|u| u.value),
            tmp_dir,
            jail,
            ..Launch::default()
        };
        let mut node = self.node.clone();
        node.tags = req.context.node.tags.clone();
        let (run_id, context) = (req.run_id, req.context);
        tokio::spawn(async move {
            let job = Job { run_id: &run_id, agent_name: &name, spec: &spec, body, launch, node, context, sandbox };
            // Events wait at most SYNC_INTERVAL for their fsync, even when the run goes quiet.
            let sync = async {
                loop {
                    tokio::time::sleep(SYNC_INTERVAL).await;
                    if let Err(e) = log.sync() {
                        tracing::warn!(run_id = %run_id, error = %e, "cannot sync the event log");
                    }
                }
            };
            let result = tokio::select! {
                r = run_agent(job, &log, &mut rx, cancel_rx) => r,
                never = sync => never,
            };
            if let Err(e) = result {
                tracing::error!(run_id = %run_id, error = %e, "run failed in the engine");
                let error = RunError::new(RunErrorKind::Engine, e.to_string(), "see the runner's log");
                let _ = log.append(Event::RunFinished(RunFinished::ended(RunStatus::Failed, error)));
            }
            // The CLI's own state (transcripts, shell snapshots) repeats the run's output unredacted,
            // and the temp folder holds the tools' leftovers; the event log is the record, so they go.
            for dir in &leftovers {
                if let Err(e) = std::fs::remove_dir_all(dir) {
                    tracing::warn!(run_id = %run_id, dir = %dir.display(), error = %e, "cannot remove a run's folder");
                }
            }
        });
        Ok((handle, true))
    }
}

/// Runs started by this runner that have not finished.
fn active(runs: &HashMap<String, Arc<RunHandle>>) -> usize {
    runs.values().filter(|r| r.cancel.is_some() && !r.log.is_finished()).count()
}

/// Writes the request's files under `dir`; returns the script's path.
///
/// Keys are paths relative to the agent's file, as `script:` names them
/// (`scripts/check.py`); a bare file name matches too.
fn write_files(dir: &Path, script: &str, files: &BTreeMap<String, String>) -> Result<PathBuf, RunRequestError> {
    let bad = |m: String| RunRequestError::BadFiles(m);
    for (name, source) in files {
        let rel = Path::new(name);
        let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
        if name.is_empty() || !plain {
            return Err(bad(format!(
                "file name {name:?} in the run request is not a plain relative path (hint: send paths like scripts/check.py)"
            )));
        }
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| RunRequestError::Io(e.to_string()))?;
        }
        std::fs::write(&path, source).map_err(|e| RunRequestError::Io(e.to_string()))?;
    }
    let base = Path::new(script).file_name().and_then(|b| b.to_str()).unwrap_or(script);
    let key = [script, base].into_iter().find(|k| files.contains_key(*k)).ok_or_else(|| {
        bad(format!(
            "the agent's script {script} did not come with the run request (hint: send its source in `files` under {script:?})"
        ))
    })?;
    Ok(dir.join(key))
}
