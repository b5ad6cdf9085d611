//! Following one run: read the runner's event stream after the last event
//! the server has (`?after=SEQ`), append the events to the run's log file,
//! and move the run along in the database: `running`, `awaiting_approval`
//! (with an approval record), usage, and the outcome at `run.finished`.
//! Known secret values are redacted from the events before any of that.
//!
//! A dropped stream is picked up again where it stopped; a node that stays
//! away longer than `lost_grace` makes the run `lost`. The lease is renewed
//! as events come, so another replica takes over only a dead follower's runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use car_schemas::run::{RunEvent, Usage, kind};
use serde_json::{Value, json};

use super::repo::{Approval, ApprovalStatus, Outcome};
use super::{Run, Runs};
use crate::db::StoreError;
use crate::nodes::client::RunnerErrorKind;

/// How often the lease is renewed while following.
const RENEW: Duration = Duration::from_secs(10);
/// Longest a copied event waits for its fsync while more keep coming.
const SYNC_EVERY: Duration = Duration::from_millis(200);

/// Follows `run` until it finishes, unless another replica already does.
pub async fn follow(runs: Arc<Runs>, run: Run) {
    if !runs.start_following(&run.id) {
        return;
    }
    if let Err(e) = follow_run(&runs, &run).await {
        tracing::error!(run_id = %run.id, error = %e, "stopped following a run (another replica takes it over)");
    }
    runs.stop_following(&run.id);
}

async fn follow_run(runs: &Runs, run: &Run) -> Result<(), StoreError> {
    let (mut last, complete) = runs.logs.last_seq(&run.id);
    if last > 0 {
        // Events the server had before a restart may not all have reached the database.
        replay(runs, run).await?;
        if complete {
            return Ok(());
        }
    }
    let mut away_since: Option<Instant> = None;
    let mut renewed = Instant::now();
    let mut wait = Duration::from_millis(200);
    loop {
        let stream = match runs.runners.endpoint(&run.node).await {
            Ok(endpoint) => endpoint.events(&run.id, last).await,
            Err(e) => Err(e),
        };
        let why = match stream {
            Ok(mut resp) => {
                away_since = None;
                wait = Duration::from_millis(200);
                let mut buf: Vec<u8> = Vec::new();
                let mut durable = Durable { seq: last, at: Instant::now() };
                let why = loop {
                    // Lines written but not yet fsync'd are made durable once the stream goes quiet.
                    let quiet = if durable.seq < last { SYNC_EVERY } else { Duration::from_secs(3600) };
                    let chunk = match tokio::time::timeout(quiet, resp.chunk()).await {
                        Err(_) => {
                            durable.sync(runs, run, last, true).await?;
                            continue;
                        }
                        Ok(Ok(Some(c))) => c,
                        Ok(Ok(None)) => break "the runner closed the event stream".to_string(),
                        Ok(Err(e)) => break format!("the event stream broke: {e}"),
                    };
                    buf.extend_from_slice(&chunk);
                    // Take what else has arrived too: one write for a burst.
                    while let Ok(Ok(Some(more))) = tokio::time::timeout(Duration::ZERO, resp.chunk()).await {
                        buf.extend_from_slice(&more);
                    }
                    let Some(end) = buf.iter().rposition(|b| *b == b'\n') else { continue };
                    let whole: Vec<u8> = buf.drain(..=end).collect();
                    if take(runs, run, &whole, &mut last, &mut durable).await? {
                        return Ok(());
                    }
                    if renewed.elapsed() >= RENEW {
                        renewed = Instant::now();
                        if !runs.repo.renew_lease(&run.id, &runs.server).await? {
                            return Ok(());
                        }
                    }
                };
                durable.sync(runs, run, last, true).await?;
                why
            }
            Err(e) if e.kind == RunnerErrorKind::Refused(404) => {
                let error = json!({"kind": "lost", "message": format!("node {}'s runner does not know this run: its data was lost", run.node),
                    "hint": "start the run again"});
                return runs.finish_here(run, "lost", error).await;
            }
            Err(e) => e.message,
        };
        let since = *away_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= runs.lost_grace {
            let error = json!({"kind": "lost",
                "message": format!("node {} was away for {}s while the run went ({why})", run.node, runs.lost_grace.as_secs()),
                "hint": "check the node and its runner, then start the run again"});
            return runs.finish_here(run, "lost", error).await;
        }
        tracing::debug!(run_id = %run.id, reason = %why, "event stream interrupted; reconnecting");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
        if renewed.elapsed() >= RENEW {
            renewed = Instant::now();
            if !runs.repo.renew_lease(&run.id, &runs.server).await? {
                return Ok(());
            }
        }
    }
}

/// How far the log file is fsync'd, and when it was.
struct Durable {
    seq: u64,
    at: Instant,
}

impl Durable {
    /// Fsyncs the log up to `last` (when `now`, or [`SYNC_EVERY`] passed)
    /// and only then records in the database that the server has it.
    async fn sync(&mut self, runs: &Runs, run: &Run, last: u64, now: bool) -> Result<(), StoreError> {
        if last <= self.seq || !(now || self.at.elapsed() >= SYNC_EVERY) {
            return Ok(());
        }
        if let Err(e) = runs.logs.sync(&run.id) {
            tracing::error!(run_id = %run.id, error = %e, "cannot fsync the run's log; check DATA_DIR");
            return Ok(());
        }
        self.seq = last;
        self.at = Instant::now();
        runs.repo.set_last_seq(&run.id, last).await
    }
}

/// Takes whole event lines: new ones go to the log file (and to viewers)
/// at once, to the database when durable; events that change the run's
/// record make it durable at once. True when the run finished.
async fn take(runs: &Runs, run: &Run, lines: &[u8], last: &mut u64, durable: &mut Durable) -> Result<bool, StoreError> {
    // Known secret values never reach the log, the database or a viewer.
    let redactor = runs.runners.secrets().redactor();
    let lines = redactor.redact_lines(lines);
    let mut fresh = Vec::with_capacity(lines.len());
    let mut events = Vec::new();
    let mut seq = *last;
    for line in lines.split_inclusive(|b| *b == b'\n') {
        let Some((s, _)) = super::logs::head(line) else { continue };
        if s <= seq {
            continue; // already have it (a reconnect replays from `after`)
        }
        seq = s;
        fresh.extend_from_slice(line);
        if let Ok(e) = serde_json::from_slice::<RunEvent>(line)
            && matters(&e.kind)
        {
            events.push(e);
        }
    }
    if runs.logs.is_closed(&run.id) {
        return Ok(true); // the server ended it (lost, timed out): late events are not kept
    }
    if fresh.is_empty() {
        return Ok(false);
    }
    if let Err(e) = runs.logs.append(&run.id, &fresh, seq, false) {
        // Not taken: the next connection asks again from the last event on disk.
        tracing::error!(run_id = %run.id, error = %e, "cannot write the run's log; check DATA_DIR's space");
        return Ok(false);
    }
    *last = seq;
    durable.sync(runs, run, seq, !events.is_empty()).await?;
    let mut finished = false;
    for e in &events {
        finished |= apply(runs, run, e, true).await?;
    }
    Ok(finished)
}

/// Events that change the run's record.
fn matters(kind: &str) -> bool {
    matches!(
        kind,
        kind::RUN_STARTED | kind::APPROVAL_REQUESTED | kind::APPROVAL_RESOLVED | kind::USAGE | kind::RUN_FINISHED
    )
}

/// Re-applies what the log file holds (idempotently; usage comes with the outcome).
async fn replay(runs: &Runs, run: &Run) -> Result<(), StoreError> {
    let Ok(text) = std::fs::read(runs.logs.path(&run.id)) else { return Ok(()) };
    let mut last = 0;
    for line in text.split(|b| *b == b'\n') {
        if let Ok(e) = serde_json::from_slice::<RunEvent>(line) {
            last = e.seq;
            if matters(&e.kind) {
                apply(runs, run, &e, false).await?;
            }
        }
    }
    runs.repo.set_last_seq(&run.id, last).await
}

/// One event's effect on the run's record; true at `run.finished`.
async fn apply(runs: &Runs, run: &Run, e: &RunEvent, live: bool) -> Result<bool, StoreError> {
    let d = &e.data;
    match e.kind.as_str() {
        kind::RUN_STARTED => runs.repo.set_status(&run.id, "running", "the runner started it").await?,
        kind::APPROVAL_REQUESTED => {
            let request_id = d["request_id"].as_str().unwrap_or_default().to_string();
            let approval = Approval {
                id: format!("{}-{request_id}", run.id),
                run_id: run.id.clone(),
                request_id,
                agent: run.agent.clone(),
                node: run.node.clone(),
                tool: d["tool"].as_str().unwrap_or_default().into(),
                input: d["input"].clone(),
                reason: d["reason"].as_str().map(String::from),
                status: ApprovalStatus::Pending,
                requested_at: e.ts,
                decided_at: None,
                decided_by: None,
                comment: None,
            };
            runs.repo.add_approval(&approval).await?;
            let reason = format!("waiting for approval of {} ({})", approval.tool, approval.id);
            runs.repo.set_status(&run.id, "awaiting_approval", &reason).await?;
        }
        kind::APPROVAL_RESOLVED => {
            let approve = d["decision"] == "approve";
            let request_id = d["request_id"].as_str().unwrap_or_default();
            runs.repo.decide_approval(&run.id, request_id, approve, None, d["comment"].as_str(), None).await?;
            let reason = format!("approval {request_id} {}", if approve { "approved" } else { "denied" });
            runs.repo.set_status(&run.id, "running", &reason).await?;
        }
        kind::USAGE if live => {
            if let Ok(u) = serde_json::from_value::<Usage>(d.clone()) {
                runs.repo.add_usage(&run.id, &u).await?;
            }
        }
        kind::RUN_FINISHED => {
            let status = d["status"].as_str().unwrap_or("failed").to_string();
            let outcome = Outcome {
                status: status.clone(),
                summary: match &d["summary"] {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                },
                report: d["report"].is_object().then(|| d["report"].clone()),
                error: d["error"].is_object().then(|| d["error"].clone()),
                usage: serde_json::from_value::<Usage>(d["usage"].clone()).ok(),
            };
            let reason = d["error"]["message"].as_str().unwrap_or("the runner finished it").to_string();
            if runs.repo.finish(&run.id, &outcome, &reason, None).await? {
                tracing::info!(run_id = %run.id, status = %status, "run finished");
                runs.finished(run, &status, &d["error"]).await?;
            }
            runs.logs.done(&run.id);
            return Ok(true);
        }
        _ => {}
    }
    Ok(false)
}
