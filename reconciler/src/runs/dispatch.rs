//! The dispatcher: claims due queued runs (`FOR UPDATE SKIP LOCKED`, so
//! replicas share the work and never send a run twice) and sends each to
//! its node's runner (`POST /v1/runs`, idempotent by run id), then follows
//! it. A busy node puts the run back in the queue for a while; a node that
//! does not answer too, until the run has waited `lost_grace`. It also
//! takes over following open runs whose follower is gone.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::{RUN_ENV, Run, Runs, follow};
use crate::runner::{Endpoint, RunnerErrorKind};

/// How often queued runs and orphaned runs are looked for without a wake-up.
const POLL: Duration = Duration::from_secs(1);
/// How long a busy node's run waits before the next try.
const BUSY_WAIT: chrono::TimeDelta = chrono::TimeDelta::seconds(15);
/// How long a run for an unreachable node waits before the next try.
const UNREACHABLE_WAIT: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

pub async fn run(runs: Arc<Runs>) {
    loop {
        loop {
            match runs.store.claim_queued(&runs.server).await {
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
        match runs.store.claim_orphans(&runs.server).await {
            Ok(orphans) => {
                for run in orphans {
                    tokio::spawn(follow::follow(runs.clone(), run));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot look for runs to follow"),
        }
        let _ = tokio::time::timeout(POLL, runs.wake.notified()).await;
    }
}

async fn dispatch(runs: Arc<Runs>, run: Run) {
    if let Err(e) = send(&runs, &run).await {
        tracing::error!(run_id = %run.id, error = %e, "cannot record a dispatch");
    }
}

async fn send(runs: &Arc<Runs>, run: &Run) -> Result<(), crate::store::StoreError> {
    let endpoint = match Endpoint::of(&runs.store, &runs.env, &run.node).await {
        Ok(e) => e,
        Err(e) => {
            let error = json!({"kind": "config", "message": e.message, "hint": "fix the node in git, then start the run again"});
            return runs.finish_here(run, "failed", error).await;
        }
    };
    let env: Map<String, Value> =
        RUN_ENV.iter().filter_map(|k| (runs.env)(k).map(|v| (k.to_string(), Value::String(v)))).collect();
    let request = json!({"run_id": run.id, "agent": run.agent_document, "files": run.files, "env": env,
                         "context": run.context});
    match endpoint.start(&runs.http, &request).await {
        Ok(_) => {
            tracing::info!(run_id = %run.id, agent = %run.agent, node = %run.node, "run dispatched");
            follow::follow(runs.clone(), run.clone()).await;
            Ok(())
        }
        Err(e) if e.kind == RunnerErrorKind::Busy => {
            runs.store.requeue(&run.id, Utc::now() + BUSY_WAIT, &e.message).await
        }
        Err(e) if e.kind == RunnerErrorKind::Unreachable => {
            let waited = (Utc::now() - run.created_at).to_std().unwrap_or_default();
            if waited < runs.lost_grace {
                return runs.store.requeue(&run.id, Utc::now() + UNREACHABLE_WAIT, &e.message).await;
            }
            let error = json!({"kind": "unreachable", "message": e.message,
                "hint": format!("the node's runner did not answer for {}s; check that car-runner runs there", waited.as_secs())});
            runs.finish_here(run, "failed", error).await
        }
        Err(e) => {
            let error = json!({"kind": "refused", "message": e.message, "hint": "see the message; fix the agent or the node in git"});
            runs.finish_here(run, "failed", error).await
        }
    }
}
