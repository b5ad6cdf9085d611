//! The dispatcher: claims due queued runs (`FOR UPDATE SKIP LOCKED`, so
//! replicas share the work and never send a run twice) and sends each to
//! its node's runner (`POST /v1/runs`, idempotent by run id), then follows
//! it. A busy node puts the run back in the queue for a while; a node that
//! does not answer too, until the run has waited `lost_grace`. It also
//! takes over following open runs whose follower is gone.

use std::sync::Arc;
use std::time::Duration;

use car_schemas::run::{RunError, RunErrorKind, RunRequest, RunStatus};
use chrono::Utc;
use serde_json::Value;

use super::{Run, Runs, follow};
use crate::nodes::client::RunnerErrorKind;

/// How often queued runs and orphaned runs are looked for without a wake-up.
const POLL: Duration = Duration::from_secs(1);
/// How long a busy node's run waits before the next try.
const BUSY_WAIT: chrono::TimeDelta = chrono::TimeDelta::seconds(15);
/// How often the server looks for runs past their timeout.
const BACKSTOP_EVERY: Duration = Duration::from_secs(5);
/// How long past its timeout the server lets the runner end a run first.
const BACKSTOP_GRACE: Duration = Duration::from_secs(120);
/// How long a run for an unreachable node waits before the next try.
const UNREACHABLE_WAIT: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

pub async fn run(runs: Arc<Runs>) {
    let mut backstop = tokio::time::Instant::now();
    loop {
        match runs.gate.refresh(&runs.repo, Utc::now()).await {
            Ok(Some(exceeded)) => {
                tracing::warn!(reason = %exceeded.reason(), "budget exceeded: model runs wait");
                if let Err(e) = runs.repo.budget_exceeded(&exceeded).await {
                    tracing::warn!(error = %e, "cannot record the budget.exceeded event");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the spend for the budget"),
        }
        let models = runs.gate.held(Utc::now()).is_none();
        loop {
            match runs.repo.claim_queued(&runs.server, models).await {
                Ok(Some(run)) => {
                    tokio::spawn(dispatch(runs.clone(), run));
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim queued runs");
                    break;
                }
            }
        }
        match runs.repo.claim_orphans(&runs.server).await {
            Ok(orphans) => {
                for run in orphans {
                    tokio::spawn(follow::follow(runs.clone(), run));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot look for runs to follow"),
        }
        if backstop.elapsed() >= BACKSTOP_EVERY {
            backstop = tokio::time::Instant::now();
            if let Err(e) = overdue(&runs).await {
                tracing::warn!(error = %e, "cannot look for overdue runs");
            }
        }
        let _ = tokio::time::timeout(POLL, runs.wake.notified()).await;
    }
}

/// The server's timeout, a backstop to the runner's: a run past its
/// agent's timeout plus [`BACKSTOP_GRACE`] is cancelled through its runner;
/// one still going a grace later is finished here as `timed_out`.
async fn overdue(runs: &Arc<Runs>) -> Result<(), crate::db::StoreError> {
    let now = Utc::now();
    let grace = chrono::TimeDelta::from_std(BACKSTOP_GRACE).unwrap_or_default();
    for run in runs.repo.going().await? {
        let limit = runs.repo.inputs(&run).await?.spec()?.timeout().get();
        let timeout = chrono::TimeDelta::from_std(limit).unwrap_or_default();
        let deadline = run.started_at.or(run.dispatched_at).unwrap_or(run.created_at) + timeout + grace;
        if now < deadline {
            continue;
        }
        if now < deadline + grace {
            if let Ok(endpoint) = runs.runners.endpoint(&run.node).await {
                let _ = endpoint.cancel(&run.id).await;
            }
            continue;
        }
        let limit = car_schemas::values::Duration::from_secs(limit.as_secs());
        let error = RunError::new(
            RunErrorKind::TimedOut,
            format!(
                "the run went on past its timeout of {limit} and its runner did not end it; the server stopped waiting"
            ),
            "check the node's runner; raise the agent's timeout if the task needs longer",
        );
        runs.finish_here(&run, RunStatus::TimedOut, error).await?;
    }
    Ok(())
}

async fn dispatch(runs: Arc<Runs>, run: Run) {
    if let Err(e) = send(&runs, &run).await {
        tracing::error!(run_id = %run.id, error = %e, "cannot record a dispatch");
    }
}

async fn send(runs: &Arc<Runs>, run: &Run) -> Result<(), crate::db::StoreError> {
    let endpoint = match runs.runners.endpoint(&run.node).await {
        Ok(e) => e,
        Err(e) => {
            let error = RunError::new(RunErrorKind::Config, e.message, "fix the node in git, then start the run again");
            return runs.finish_here(run, RunStatus::Failed, error).await;
        }
    };
    let mut inputs = runs.repo.inputs(run).await?;
    let env = match (&runs.demo_model, run.context.get(super::service::DEMO_MODEL)) {
        (Some(url), Some(Value::Bool(true))) => demo(url, &run.agent, &mut inputs.agent),
        _ => runs.runners.secrets().run_env().await,
    };
    let request = RunRequest {
        run_id: run.id.clone(),
        agent: inputs.agent,
        files: inputs.files,
        env,
        context: runs.context(run),
    };
    match endpoint.start(&request).await {
        Ok(_) => {
            tracing::info!(run_id = %run.id, agent = %run.agent, node = %run.node, "run dispatched");
            follow::follow(runs.clone(), run.clone()).await;
            Ok(())
        }
        Err(e) if e.kind == RunnerErrorKind::Busy => {
            runs.repo.requeue(&run.id, Utc::now() + BUSY_WAIT, &e.message).await
        }
        Err(e) if e.kind == RunnerErrorKind::Unreachable => {
            let waited = (Utc::now() - run.created_at).to_std().unwrap_or_default();
            if waited < runs.lost_grace {
                return runs.repo.requeue(&run.id, Utc::now() + UNREACHABLE_WAIT, &e.message).await;
            }
            let hint =
                format!("the node's runner did not answer for {}s; check that car-runner runs there", waited.as_secs());
            runs.finish_here(run, RunStatus::Failed, RunError::new(RunErrorKind::Unreachable, e.message, hint)).await
        }
        Err(e) => {
            let error =
                RunError::new(RunErrorKind::Refused, e.message, "see the message; fix the agent or the node in git");
            runs.finish_here(run, RunStatus::Failed, error).await
        }
    }
}

/// A run on the demo model: the scripted Messages API at `url`, and the
/// agent's prompt marked with the script to play (the agent's own, or the
/// demo's default answer for agents it has no script for).
fn demo(url: &str, agent: &str, document: &mut Value) -> std::collections::BTreeMap<String, String> {
    if let Some(prompt) = document.pointer_mut("/spec/prompt")
        && let Some(text) = prompt.as_str()
    {
        *prompt = Value::String(format!("{text}\n\n[[scenario:{agent}]]"));
    }
    [("ANTHROPIC_BASE_URL", url), ("ANTHROPIC_API_KEY", "demo-model")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
