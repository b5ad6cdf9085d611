//! The durable event log of one run.
//!
//! Events enter through [`EventLog::append`], which gives each the next
//! gapless `seq`, writes it as one JSON line to `runs/{id}/events.jsonl`
//! and only then wakes readers; the file is fsync'd in batches (every
//! [`SYNC_EVERY`] events, and when the run finishes). Readers
//! ([`EventLog::reader`]) replay the file from any `after` seq and then
//! follow it live until `run.finished`, so any number of them, attaching at
//! any time or reconnecting, see every event exactly once and in order. The
//! file is the single source: nothing is served that is not on disk.
//!
//! A log that reaches its size quota keeps its important events but drops
//! further `log`/`gather.output` lines after one `log.truncated` marker, so a
//! chatty run can never fill the node's disk.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use car_schemas::run::{RunEvent, kind};
use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::watch;

/// Events written between two fsyncs.
pub const SYNC_EVERY: u64 = 256;
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
    unsynced: u64,
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
        let mut file = OpenOptions::new().create(true).append(true).read(true).open(path).map_err(io)?;
        let bytes = file.seek(SeekFrom::End(0)).map_err(io)?;
        let (written, _) = watch::channel((last, finished));
        Ok(EventLog {
            path: path.to_path_buf(),
            state: Mutex::new(Writer { file, next_seq: last + 1, bytes, quota, truncated, unsynced: 0 }),
            written,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last seq written (0 for an empty log).
    pub fn last_seq(&self) -> u64 {
        self.written.borrow().0
    }

    pub fn is_finished(&self) -> bool {
        self.written.borrow().1
    }

    /// Appends one event; returns it, or `None` when the quota dropped it.
    pub fn append(&self, event_kind: &str, data: Value) -> Result<Option<RunEvent>, LogError> {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let droppable =
            matches!(event_kind, kind::LOG | kind::GATHER_OUTPUT | kind::ASSISTANT_TEXT | kind::TOOL_RESULT);
        if droppable && w.truncated {
            return Ok(None);
        }
        let (event_kind, data) = if droppable && w.bytes >= w.quota {
            w.truncated = true;
            (
                kind::LOG_TRUNCATED,
                json!({"message": format!("the run's log reached its limit of {} bytes; later output is not kept", w.quota)}),
            )
        } else {
            (event_kind, data)
        };
        let event = RunEvent { seq: w.next_seq, ts: Utc::now(), kind: event_kind.to_string(), data };
        let mut line = serde_json::to_vec(&event).expect("events serialize");
        line.push(b'\n');
        let io = |e| LogError::Io { path: self.path.clone(), source: e };
        w.file.write_all(&line).map_err(io)?;
        w.bytes += line.len() as u64;
        w.next_seq += 1;
        w.unsynced += 1;
        let finished = event.kind == kind::RUN_FINISHED;
        if finished || w.unsynced >= SYNC_EVERY {
            w.file.sync_data().map_err(io)?;
            w.unsynced = 0;
        }
        drop(w);
        self.written.send_replace((event.seq, finished));
        Ok(Some(event))
    }

    /// Makes everything written so far durable.
    pub fn sync(&self) -> Result<(), LogError> {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        w.file.sync_data().map_err(|e| LogError::Io { path: self.path.clone(), source: e })?;
        w.unsynced = 0;
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

/// Follows a log: replay from disk, then live.
pub struct Reader {
    file: BufReader<File>,
    partial: Vec<u8>,
    after: u64,
    written: watch::Receiver<(u64, bool)>,
    done: bool,
}

impl Reader {
    /// The next event, waiting for it if need be; `None` after `run.finished`.
    pub async fn next(&mut self) -> Option<RunEvent> {
        loop {
            if self.done {
                return None;
            }
            match self.read_line() {
                Some(event) => {
                    if event.kind == kind::RUN_FINISHED {
                        self.done = true;
                    }
                    if event.seq > self.after {
                        self.after = event.seq;
                        return Some(event);
                    }
                }
                None => {
                    let (last, finished) = *self.written.borrow_and_update();
                    if last > self.after {
                        continue; // written meanwhile: read again
                    }
                    if finished {
                        return None;
                    }
                    if self.written.changed().await.is_err() {
                        // The writer is gone (runner shutting down): drain what is on disk.
                        return self.read_line().filter(|e| e.seq > self.after);
                    }
                }
            }
        }
    }

    /// One whole line from the file, if one is there.
    fn read_line(&mut self) -> Option<RunEvent> {
        loop {
            let n = self.file.read_until(b'\n', &mut self.partial).ok()?;
            if n == 0 || self.partial.last() != Some(&b'\n') {
                return None; // at the end, perhaps mid-line: keep the part for later
            }
            let line = std::mem::take(&mut self.partial);
            if let Ok(event) = serde_json::from_slice::<RunEvent>(&line) {
                return Some(event);
            }
        }
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
    use std::sync::Arc;

    fn log(dir: &Path) -> EventLog {
        EventLog::open(&dir.join("runs/r1/events.jsonl"), DEFAULT_QUOTA).unwrap()
    }

    #[tokio::test]
    async fn events_get_gapless_seqs_and_readers_replay_then_follow() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(log(dir.path()));
        for i in 0..3 {
            log.append(kind::LOG, json!({"line": i})).unwrap();
        }
        let mut early = log.reader(0).unwrap();
        let mut late = log.reader(2).unwrap();
        let writer = {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 3..1000 {
                    log.append(kind::LOG, json!({"line": i})).unwrap();
                    if i % 100 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                log.append(kind::RUN_FINISHED, json!({"status": "succeeded"})).unwrap();
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
            log.append(kind::RUN_STARTED, json!({})).unwrap();
            log.append(kind::LOG, json!({"line": "a"})).unwrap();
        }
        // A torn line from a crash mid-write is ignored.
        let path = dir.path().join("runs/r1/events.jsonl");
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"seq\":3,\"ts\"").unwrap();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"\n").unwrap();
        let log = log(dir.path());
        assert_eq!(log.last_seq(), 2);
        let e = log.append(kind::RUN_FINISHED, json!({"status": "lost"})).unwrap().unwrap();
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
            log.append(kind::LOG, json!({"line": format!("output line {i} with some text")})).unwrap();
        }
        log.append(kind::TOOL_CALL, json!({"tool": "Bash"})).unwrap();
        log.append(kind::RUN_FINISHED, json!({"status": "succeeded"})).unwrap();
        let events = read_all(log.path()).unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == kind::LOG_TRUNCATED).count(), 1);
        assert_eq!(&kinds[kinds.len() - 2..], [kind::TOOL_CALL, kind::RUN_FINISHED]);
        assert!(std::fs::metadata(log.path()).unwrap().len() < 2600);
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "seq has gaps");
    }
}
