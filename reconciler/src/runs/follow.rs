//! Following one run: read the runner's event stream after the last event
//! the server has (`?after=SEQ`), append the events to the run's log file,
//! and move the run along in the database: `running`, `awaiting_approval`
//! (with an approval record), usage, and the outcome at `run.finished`.
//! Known secret values are redacted from the events before any of that.
//!
//! A dropped stream is picked up again where it stopped, and so is a silent
//! one: the runner sends a blank line every `STREAM_KEEPALIVE` when the
//! run is quiet, so `stream_silence` (three of those) without a byte means
//! the connection is dead (a half-open one, a frozen node). A node that stays away longer than
//! `lost_grace` makes the run `lost`. The lease is renewed
//! as events come, so another replica takes over only a dead follower's runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use car_schemas::run::{
    ApprovalDecision, Event, RunError, RunErrorKind, RunEvent, RunFinished, RunStatus, TypedRunEvent, kind,
};

use super::repo::{Approval, ApprovalStatus};
use super::{Run, Runs};
use crate::db::StoreError;
use crate::nodes::client::RunnerErrorKind;
use crate::tasks::Backoff;

/// How often the lease is renewed while following.
const RENEW: Duration = Duration::from_secs(10);
/// Longest a copied event waits for its fsync while more keep coming.
const SYNC_EVERY: Duration = Duration::from_millis(200);
/// Reconnecting to a runner waits this long after each failure in a row.
const RECONNECT: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));

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
    let mut failures = 0;
    loop {
        let stream = match runs.runners.endpoint(&run.node).await {
            Ok(endpoint) => endpoint.events(&run.id, last).await,
            Err(e) => Err(e),
        };
        let why = match stream {
            Ok(mut resp) => {
                // It answered: the node is there (a frozen one does not answer in time).
                away_since = None;
                failures = 0;
                let mut buf: Vec<u8> = Vec::new();
                let mut durable = Durable { seq: last, at: Instant::now() };
                let why = loop {
                    // Lines written but not yet fsync'd are made durable once the stream goes quiet.
                    let pending = durable.seq < last;
                    let quiet = if pending { SYNC_EVERY } else { runs.stream_silence };
                    let chunk = match tokio::time::timeout(quiet, resp.chunk()).await {
                        Err(_) if pending => {
                            durable.sync(runs, run, last, true).await?;
                            continue;
                        }
                        Err(_) => {
                            let silence = runs.stream_silence.as_secs();
                            break format!("the runner sent nothing for {silence}s, not even a keepalive");
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
                let error = RunError::new(
                    RunErrorKind::Lost,
                    format!("node {}'s runner does not know this run: its data was lost", run.node),
                    "start the run again",
                );
                return runs.finish_here(run, RunStatus::Lost, error).await;
            }
            Err(e) => e.message,
        };
        let since = *away_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= runs.lost_grace {
            let error = RunError::new(
                RunErrorKind::Lost,
                format!("node {} was away for {}s while the run went ({why})", run.node, runs.lost_grace.as_secs()),
                "check the node and its runner, then start the run again",
            );
            return runs.finish_here(run, RunStatus::Lost, error).await;
        }
        tracing::debug!(run_id = %run.id, reason = %why, "event stream interrupted; reconnecting");
        failures += 1;
        tokio::time::sleep(RECONNECT.delay(failures)).await;
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
        if let Some(e) = typed(run, line) {
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

/// The event of a line, when it is one that changes the run's record.
/// One that does not parse is logged and left to the log file, except a
/// `run.finished`, which still ends the run (as failed, saying why).
fn typed(run: &Run, line: &[u8]) -> Option<TypedRunEvent> {
    let e = serde_json::from_slice::<RunEvent>(line).ok()?;
    if !matters(&e.kind) {
        return None;
    }
    match TypedRunEvent::try_from(&e) {
        Ok(t) => Some(t),
        Err(why) => {
            tracing::warn!(run_id = %run.id, seq = e.seq, kind = %e.kind, error = %why,
                "the runner sent an event the server does not understand (check both versions match)");
            (e.kind == kind::RUN_FINISHED).then(|| TypedRunEvent {
                seq: e.seq,
                ts: e.ts,
                event: Event::RunFinished(RunFinished::ended(
                    RunStatus::Failed,
                    RunError::new(
                        RunErrorKind::Engine,
                        format!("the runner's run.finished did not parse: {why}"),
                        "run the same version of car-runner as the server",
                    ),
                )),
            })
        }
    }
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
        if let Some((seq, _)) = super::logs::head(line) {
            last = seq;
        }
        if let Some(e) = typed(run, line) {
            apply(runs, run, &e, false).await?;
        }
    }
    runs.repo.set_last_seq(&run.id, last).await
}

/// One event's effect on the run's record; true at `run.finished`.
async fn apply(runs: &Runs, run: &Run, e: &TypedRunEvent, live: bool) -> Result<bool, StoreError> {
    match &e.event {
        Event::RunStarted(_) => runs.repo.set_status(&run.id, RunStatus::Running, "the runner started it").await?,
        Event::ApprovalRequested(a) => {
            let approval = Approval {
                id: format!("{}-{}", run.id, a.request_id),
                run_id: run.id.clone(),
                request_id: a.request_id.clone(),
                agent: run.agent.clone(),
                node: run.node.clone(),
                tool: a.tool.clone(),
                input: a.input.clone(),
                reason: Some(a.reason.clone()),
                status: ApprovalStatus::Pending,
                requested_at: e.ts,
                expires_at: i64::try_from(a.timeout_ms)
                    .ok()
                    .and_then(chrono::TimeDelta::try_milliseconds)
                    .and_then(|t| e.ts.checked_add_signed(t)),
                decided_at: None,
                decided_by: None,
                comment: None,
            };
            runs.repo.add_approval(&approval).await?;
            let reason = format!("waiting for approval of {} ({})", approval.tool, approval.id);
            runs.repo.set_status(&run.id, RunStatus::AwaitingApproval, &reason).await?;
        }
        Event::ApprovalResolved(r) => {
            let approve = r.decision == ApprovalDecision::Approve;
            runs.repo.decide_approval(&run.id, &r.request_id, approve, None, r.comment.as_deref(), None).await?;
            let reason = format!("approval {} {}", r.request_id, if approve { "approved" } else { "denied" });
            runs.repo.set_status(&run.id, RunStatus::Running, &reason).await?;
        }
        Event::Usage(u) if live => runs.repo.add_usage(&run.id, u).await?,
        Event::RunFinished(f) => {
            let reason = f.error.as_ref().map_or("the runner finished it", |e| e.message.as_str());
            if runs.repo.finish(&run.id, f, reason, None).await? {
                tracing::info!(run_id = %run.id, status = %f.status, "run finished");
                runs.finished(run, f).await?;
            }
            runs.logs.done(&run.id);
            return Ok(true);
        }
        _ => {}
    }
    Ok(false)
}
