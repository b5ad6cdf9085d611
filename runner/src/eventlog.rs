//! The durable event log of one run.
//!
//! Events enter through [`EventLog::append`] (or [`EventLog::append_all`]
//! for a burst of output lines, in one write), which gives each the next
//! gapless `seq`, writes it as one JSON line to `runs/{id}/events.jsonl`
//! and only then wakes readers. Written events survive a crash of the
//! runner at once; against a crash of the machine the file is fsync'd in
//! batches: at most [`SYNC_INTERVAL`] after an event, at once for the
//! events a human or the server acts on (approvals, the end). Readers
//! ([`EventLog::reader`]) replay the file from any `after` seq and then
//! follow it live until `run.finished`, so any number of them, attaching at
//! any time or reconnecting, see every event exactly once and in order. The
//! file is the single source: nothing is served that is not on disk, and it
//! is served as written, in chunks of whole lines.
//!
//! Known secret values (the run's credentials, the runner's keys) are
//! redacted from each event before it is written: nothing is served that
//! the disk does not hold, and the disk never holds them.
//!
//! A log that reaches its size quota keeps its important events but drops
//! further `log`/`gather.output` lines after one `log.truncated` marker, so a
//! chatty run can never fill the node's disk.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use car_schemas::run::{Event, RunEvent, kind};
use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::watch;

/// Longest an event waits for its fsync (while more events follow).
pub const SYNC_INTERVAL: Duration = Duration::from_millis(200);
/// Most bytes one read of a [`Reader`] returns.
pub const CHUNK: usize = 256 * 1024;
/// Default size quota of one run's log.
pub const DEFAULT_QUOTA: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot write the event log {path}: {source} (hint: check RUNNER_DATA_DIR's free space and permissions)")]
    Io { path: PathBuf, source: std::io::Error },
}

pub struct EventLog {
    path: PathBuf,
    state: Mutex<Writer>,
    /// The last seq on disk, and whether the run finished.
    written: watch::Sender<(u64, bool)>,
}

struct Writer {
    file: File,
    next_seq: u64,
    bytes: u64,
    quota: u64,
    truncated: bool,
    unsynced: bool,
    synced_at: Instant,
    /// Where the run stands, as its events say.
    status: Status,
    /// Lines being written, reused.
    buf: Vec<u8>,
    /// Known secret values, redacted from every event before it is written.
    redactor: car_schemas::redact::Redactor,
}

impl EventLog {
    /// Opens (or creates) the log at `path`, continuing after its last event.
    pub fn open(path: &Path, quota: u64) -> Result<Self, LogError> {
        let io = |e| LogError::Io { path: path.to_path_buf(), source: e };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let existing = read_all(path).map_err(io)?;
        let last = existing.last().map_or(0, |e| e.seq);
        let finished = existing.last().is_some_and(|e| e.kind == kind::RUN_FINISHED);
        let truncated = existing.iter().any(|e| e.kind == kind::LOG_TRUNCATED);
        let mut status = Status::default();
        existing.iter().for_each(|e| status.see(e));
        let mut file = OpenOptions::new().create(true).append(true).read(true).open(path).map_err(io)?;
        let bytes = file.seek(SeekFrom::End(0)).map_err(io)?;
        let (written, _) = watch::channel((last, finished));
        Ok(EventLog {
            path: path.to_path_buf(),
            state: Mutex::new(Writer {
                file,
                next_seq: last + 1,
                bytes,
                quota,
                truncated,
                unsynced: false,
                synced_at: Instant::now(),
                status,
                buf: Vec::new(),
                redactor: Default::default(),
            }),
            written,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Redacts `redactor`'s values from every event written from now on.
    pub fn redact_with(&self, redactor: car_schemas::redact::Redactor) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).redactor = redactor;
    }

    /// The last seq written (0 for an empty log).
    pub fn last_seq(&self) -> u64 {
        self.written.borrow().0
    }

    pub fn is_finished(&self) -> bool {
        self.written.borrow().1
    }

    /// Appends one event; returns it, or `None` when the quota dropped it.
    pub fn append(&self, event: Event) -> Result<Option<RunEvent>, LogError> {
        let mut last = None;
        self.write(std::iter::once(event.into_parts()), |e| last = Some(e))?;
        Ok(last)
    }

    /// Appends events in one write (a burst of output lines).
    pub fn append_all(&self, events: impl IntoIterator<Item = Event>) -> Result<(), LogError> {
        self.write(events.into_iter().map(Event::into_parts), |_| {})
    }

    fn write(
        &self,
        events: impl Iterator<Item = (&'static str, Value)>,
        mut each: impl FnMut(RunEvent),
    ) -> Result<(), LogError> {
        let io = |e| LogError::Io { path: self.path.clone(), source: e };
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let w = &mut *guard;
        w.buf.clear();
        let (mut urgent, mut finished) = (false, false);
        for (event_kind, data) in events {
            let droppable =
                matches!(event_kind, kind::LOG | kind::GATHER_OUTPUT | kind::ASSISTANT_TEXT | kind::TOOL_RESULT);
            if droppable && w.truncated {
                continue;
            }
            let (event_kind, data) = if droppable && w.bytes + w.buf.len() as u64 >= w.quota {
                w.truncated = true;
                let message = format!("the run's log reached its limit of {} bytes; later output is not kept", w.quota);
                (kind::LOG_TRUNCATED, json!({ "message": message }))
            } else {
                (event_kind, data)
            };
            let mut event = RunEvent { seq: w.next_seq, ts: Utc::now(), kind: event_kind.to_string(), data };
            let start = w.buf.len();
            serde_json::to_writer(&mut w.buf, &event).expect("events serialize");
            if w.redactor.mentions(&w.buf[start..]) {
                w.buf.truncate(start);
                w.redactor.redact_value(&mut event.data);
                serde_json::to_writer(&mut w.buf, &event).expect("events serialize");
            }
            w.buf.push(b'\n');
            w.next_seq += 1;
            finished |= event.kind == kind::RUN_FINISHED;
            urgent |= finished || event.kind == kind::APPROVAL_REQUESTED || event.kind == kind::APPROVAL_RESOLVED;
            w.status.see(&event);
            each(event);
        }
        if w.buf.is_empty() {
            return Ok(());
        }
        w.file.write_all(&w.buf).map_err(io)?;
        w.bytes += w.buf.len() as u64;
        w.unsynced = true;
        if urgent || w.synced_at.elapsed() >= SYNC_INTERVAL {
            w.file.sync_data().map_err(io)?;
            w.unsynced = false;
            w.synced_at = Instant::now();
        }
        let last = w.next_seq - 1;
        drop(guard);
        self.written.send_replace((last, finished));
        Ok(())
    }

    /// `running`, `awaiting_approval`, or how the run finished.
    pub fn status(&self) -> String {
        let w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match (&w.status.finished, w.status.open_approvals) {
            (Some(s), _) => s.clone(),
            (None, 0) => "running".into(),
            (None, _) => "awaiting_approval".into(),
        }
    }

    /// Makes everything written so far durable.
    pub fn sync(&self) -> Result<(), LogError> {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if w.unsynced {
            w.file.sync_data().map_err(|e| LogError::Io { path: self.path.clone(), source: e })?;
            w.unsynced = false;
            w.synced_at = Instant::now();
        }
        Ok(())
    }

    /// A reader of every event after `after`, live until the run finishes.
    pub fn reader(&self, after: u64) -> Result<Reader, LogError> {
        let file = File::open(&self.path).map_err(|e| LogError::Io { path: self.path.clone(), source: e })?;
        Ok(Reader {
            file: BufReader::new(file),
            partial: Vec::new(),
            after,
            written: self.written.subscribe(),
            done: false,
        })
    }
}

/// What the events say about where the run stands.
#[derive(Default)]
struct Status {
    open_approvals: u32,
    finished: Option<String>,
}

impl Status {
    fn see(&mut self, e: &RunEvent) {
        match e.kind.as_str() {
            kind::APPROVAL_REQUESTED => self.open_approvals += 1,
            kind::APPROVAL_RESOLVED => self.open_approvals = self.open_approvals.saturating_sub(1),
            kind::RUN_FINISHED => self.finished = Some(e.data["status"].as_str().unwrap_or("failed").to_string()),
            _ => {}
        }
    }
}

/// Follows a log: replay from disk, then live.
pub struct Reader {
    file: BufReader<File>,
    partial: Vec<u8>,
    after: u64,
    written: watch::Receiver<(u64, bool)>,
    done: bool,
}

/// The part of a line a reader needs to route it.
#[derive(serde::Deserialize)]
struct Head<'a> {
    seq: u64,
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
}

impl Reader {
    /// The next event, waiting for it if need be; `None` after `run.finished`.
    pub async fn next(&mut self) -> Option<RunEvent> {
        loop {
            while let Some(line) = self.read_line() {
                if let Some(event) = self.admit(&line).and_then(|_| serde_json::from_slice(&line).ok()) {
                    return Some(event);
                }
            }
            if !self.wait().await {
                return None;
            }
        }
    }

    /// The next events as written (whole JSON lines, at most about
    /// [`CHUNK`] bytes), waiting for one if need be; `None` after `run.finished`.
    pub async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        loop {
            let mut chunk = Vec::new();
            while chunk.len() < CHUNK {
                let Some(line) = self.read_line() else { break };
                if self.admit(&line).is_some() {
                    chunk.extend_from_slice(&line);
                }
            }
            if !chunk.is_empty() {
                return Some(chunk);
            }
            if !self.wait().await {
                return None;
            }
        }
    }

    /// Whether `line` is one to hand out (after `after`, not past the end); moves on.
    fn admit(&mut self, line: &[u8]) -> Option<()> {
        if self.done {
            return None;
        }
        let head: Head = serde_json::from_slice(line).ok()?;
        self.done = head.kind == kind::RUN_FINISHED;
        (head.seq > self.after).then(|| self.after = head.seq)
    }

    /// Waits until more is on disk; false when nothing more will come.
    async fn wait(&mut self) -> bool {
        loop {
            if self.done {
                return false;
            }
            let (last, finished) = *self.written.borrow_and_update();
            if last > self.after {
                return true; // written meanwhile: read again
            }
            if finished {
                return false;
            }
            if self.written.changed().await.is_err() {
                // The writer is gone (runner shutting down): what is on disk is all there is.
                return self.file.fill_buf().is_ok_and(|b| !b.is_empty());
            }
        }
    }

    /// One whole line (with its newline) from the file, if one is there.
    fn read_line(&mut self) -> Option<Vec<u8>> {
        let n = self.file.read_until(b'\n', &mut self.partial).ok()?;
        if n == 0 || self.partial.last() != Some(&b'\n') {
            return None; // at the end, perhaps mid-line: keep the part for later
        }
        Some(std::mem::take(&mut self.partial))
    }
}

/// Every whole event in a log file (a torn last line is ignored).
pub fn read_all(path: &Path) -> std::io::Result<Vec<RunEvent>> {
    match File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
        Ok(f) => {
            Ok(BufReader::new(f).lines().map_while(Result::ok).filter_map(|l| serde_json::from_str(&l).ok()).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use car_schemas::run::{
        LogLine, LogStream, RunError, RunErrorKind, RunFinished, RunStatus, ToolCall, ToolCallDecision,
    };
    use std::sync::Arc;

    fn log(dir: &Path) -> EventLog {
        EventLog::open(&dir.join("runs/r1/events.jsonl"), DEFAULT_QUOTA).unwrap()
    }

    /// A `log` line from the runner.
    fn line(text: impl ToString) -> Event {
        Event::Log(LogLine { stream: LogStream::Runner, line: text.to_string(), truncated: false })
    }

    fn finished(status: RunStatus) -> Event {
        Event::RunFinished(RunFinished::ended(status, RunError::new(RunErrorKind::Lost, "gone", "start it again")))
    }

    #[tokio::test]
    async fn events_get_gapless_seqs_and_readers_replay_then_follow() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(log(dir.path()));
        for i in 0..3 {
            log.append(line(i)).unwrap();
        }
        let mut early = log.reader(0).unwrap();
        let mut late = log.reader(2).unwrap();
        let writer = {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 3..1000 {
                    log.append(line(i)).unwrap();
                    if i % 100 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                log.append(finished(RunStatus::Succeeded)).unwrap();
            })
        };
        let mut seqs = Vec::new();
        while let Some(e) = early.next().await {
            seqs.push(e.seq);
        }
        writer.await.unwrap();
        assert_eq!(seqs, (1..=1001).collect::<Vec<_>>());
        let mut late_seqs = Vec::new();
        while let Some(e) = late.next().await {
            late_seqs.push(e.seq);
        }
        assert_eq!(late_seqs, (3..=1001).collect::<Vec<_>>());
        // A reader attaching after the end replays and stops.
        let mut after_end = log.reader(999).unwrap();
        assert_eq!(after_end.next().await.map(|e| e.seq), Some(1000));
        assert_eq!(after_end.next().await.map(|e| e.kind), Some(kind::RUN_FINISHED.to_string()));
        assert!(after_end.next().await.is_none());
    }

    #[tokio::test]
    async fn a_reopened_log_continues_its_sequence() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = log(dir.path());
            log.append(line("started")).unwrap();
            log.append(line("a")).unwrap();
        }
        // A torn line from a crash mid-write is ignored.
        let path = dir.path().join("runs/r1/events.jsonl");
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"seq\":3,\"ts\"").unwrap();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"\n").unwrap();
        let log = log(dir.path());
        assert_eq!(log.last_seq(), 2);
        let e = log.append(finished(RunStatus::Lost)).unwrap().unwrap();
        assert_eq!(e.seq, 3);
        assert!(log.is_finished());
        let seqs: Vec<u64> = read_all(&path).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
    }

    #[tokio::test]
    async fn a_full_log_keeps_its_important_events_after_one_marker() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("e.jsonl"), 2000).unwrap();
        for i in 0..100 {
            log.append(line(format!("output line {i} with some text"))).unwrap();
        }
        log.append(Event::ToolCall(ToolCall {
            tool: "Bash".into(),
            input: json!({"command": "true"}),
            decision: ToolCallDecision::Allow,
            rule: "Bash(true)".into(),
            reason: "allowed".into(),
            tool_use_id: None,
            source: None,
        }))
        .unwrap();
        log.append(finished(RunStatus::Succeeded)).unwrap();
        let events = read_all(log.path()).unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == kind::LOG_TRUNCATED).count(), 1);
        assert_eq!(&kinds[kinds.len() - 2..], [kind::TOOL_CALL, kind::RUN_FINISHED]);
        assert!(std::fs::metadata(log.path()).unwrap().len() < 2600);
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "seq has gaps");
    }

    #[tokio::test]
    async fn bursts_are_served_as_written_in_chunks_of_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(log(dir.path()));
        log.append_all((0..5000).map(|i| line(format!("line {i}")))).unwrap();
        let mut reader = log.reader(10).unwrap();
        let first = reader.next_chunk().await.unwrap();
        assert!(first.len() <= CHUNK + 200 && first.ends_with(b"\n"));
        let writer = {
            let log = log.clone();
            tokio::spawn(async move {
                log.append(finished(RunStatus::Succeeded)).unwrap();
            })
        };
        let mut all = first;
        while let Some(chunk) = reader.next_chunk().await {
            all.extend(chunk);
        }
        writer.await.unwrap();
        let events: Vec<RunEvent> =
            all.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (11..=5001).collect::<Vec<_>>());
        assert_eq!(events[0].data["line"], "line 10");
        assert_eq!(events.last().unwrap().kind, kind::RUN_FINISHED);
        // The file is what was served.
        assert_eq!(read_all(log.path()).unwrap()[10..], events[..]);
    }

    #[tokio::test]
    async fn a_burst_past_the_quota_is_cut_with_one_marker() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("e.jsonl"), 4000).unwrap();
        log.append_all((0..200).map(|i| line(format!("output line {i}")))).unwrap();
        log.append_all((0..200).map(|i| line(format!("more output {i}")))).unwrap();
        log.append(finished(RunStatus::Succeeded)).unwrap();
        let events = read_all(log.path()).unwrap();
        assert_eq!(events.iter().filter(|e| e.kind == kind::LOG_TRUNCATED).count(), 1);
        assert!(!events.iter().any(|e| e.data["line"].as_str().is_some_and(|l| l.starts_with("more"))));
        assert!(std::fs::metadata(log.path()).unwrap().len() < 4600);
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "seq has gaps");
    }
}
