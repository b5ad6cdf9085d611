//! The server's copy of every run's events: `DATA_DIR/logs/{run_id}.jsonl`,
//! one event per line exactly as the runner sent it, gapless by `seq` and
//! ending with `run.finished` (the server writes that one itself when a run
//! ends without its runner: never dispatched, lost). Lines are appended and
//! fsync'd before the database says the server has them, so a crash loses
//! nothing: the file's last `seq` is where following resumes.
//!
//! Readers ([`Logs::reader`]) replay the file after any `seq` and then
//! follow it live, each at its own pace: a slow one never holds up the
//! writer or the others.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use car_schemas::run::{RunEvent, RunFinished, TypedRunEvent, kind};
use chrono::Utc;
use serde_json::Value;
use tokio::sync::watch;

/// How often a reader looks at the file without being woken.
const POLL: std::time::Duration = std::time::Duration::from_millis(500);

pub struct Logs {
    dir: PathBuf,
    /// The last seq written, per run being written now.
    live: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// Runs the server ended itself: their logs take no more events.
    closed: Mutex<std::collections::HashSet<String>>,
}

/// The part of a line that routes it.
#[derive(serde::Deserialize)]
struct Head<'a> {
    seq: u64,
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
}

/// `(seq, is run.finished)` of one event line.
pub fn head(line: &[u8]) -> Option<(u64, bool)> {
    let h: Head = serde_json::from_slice(line).ok()?;
    Some((h.seq, h.kind == kind::RUN_FINISHED))
}

impl Logs {
    pub fn open(dir: PathBuf) -> std::io::Result<Logs> {
        std::fs::create_dir_all(&dir)?;
        Ok(Logs { dir, live: Mutex::default(), closed: Mutex::default() })
    }

    pub fn path(&self, run_id: &str) -> PathBuf {
        self.dir.join(format!("{run_id}.jsonl"))
    }

    /// The last seq on disk (0 when there is none), and whether the log is complete.
    pub fn last_seq(&self, run_id: &str) -> (u64, bool) {
        let Ok(f) = File::open(self.path(run_id)) else { return (0, false) };
        let mut last = (0, false);
        for line in BufReader::new(f).split(b'\n').map_while(Result::ok) {
            if let Some(h) = head(&line) {
                last = h;
            }
        }
        last
    }

    /// Appends whole event lines and wakes readers; `durable` also fsyncs
    /// them (else [`Logs::sync`] does, soon: written lines already survive a
    /// crash of the server, only not one of the machine).
    pub fn append(&self, run_id: &str, lines: &[u8], last_seq: u64, durable: bool) -> std::io::Result<()> {
        let mut f = OpenOptions::new().create(true).append(true).open(self.path(run_id))?;
        f.write_all(lines)?;
        if durable {
            f.sync_data()?;
        }
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.entry(run_id.to_string()).or_insert_with(|| watch::channel(0).0).send_replace(last_seq);
        Ok(())
    }

    /// Makes what was appended durable.
    pub fn sync(&self, run_id: &str) -> std::io::Result<()> {
        OpenOptions::new().append(true).open(self.path(run_id))?.sync_data()
    }

    /// Writes the server's own `run.finished` after the last event, and
    /// lets readers go (they end at that line).
    pub fn finish(&self, run_id: &str, finished: RunFinished) -> std::io::Result<()> {
        let (last, complete) = self.last_seq(run_id);
        if !complete {
            let event = RunEvent::from(TypedRunEvent {
                seq: last + 1,
                ts: Utc::now(),
                event: car_schemas::run::Event::RunFinished(finished),
            });
            let mut line = serde_json::to_vec(&event).expect("events serialize");
            line.push(b'\n');
            self.append(run_id, &line, last + 1, true)?;
        }
        self.closed.lock().unwrap_or_else(|p| p.into_inner()).insert(run_id.to_string());
        self.done(run_id);
        Ok(())
    }

    /// Whether the server ended this run itself (late events from its runner are not kept).
    pub fn is_closed(&self, run_id: &str) -> bool {
        self.closed.lock().unwrap_or_else(|p| p.into_inner()).contains(run_id)
    }

    /// The run's log is complete: readers drain the file and end.
    pub fn done(&self, run_id: &str) {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).remove(run_id);
    }

    /// A reader of every event after `after`: the file, then live.
    pub fn reader(&self, run_id: &str, after: u64) -> std::io::Result<Reader> {
        let path = self.path(run_id);
        let live = {
            let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            // A run not being written now may still be (a follower starts later): subscribe all the same.
            live.entry(run_id.to_string()).or_insert_with(|| watch::channel(0).0).subscribe()
        };
        let file = match File::open(&path) {
            Ok(f) => Some(BufReader::new(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok(Reader { path, file, partial: Vec::new(), after, live, done: false })
    }
}

impl Logs {
    /// The events on disk after `after`, as they are stored (one JSON a
    /// line): a replay in one piece, for a viewer that then follows live.
    pub fn after(&self, run_id: &str, after: u64) -> std::io::Result<Vec<u8>> {
        let file = match File::open(self.path(run_id)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        let mut line = Vec::new();
        let mut reader = BufReader::new(file);
        while reader.read_until(b'\n', &mut line)? > 0 {
            // A line still being written is left for the live stream.
            if line.last() == Some(&b'\n') && head(&line).is_some_and(|(seq, _)| seq > after) {
                out.extend_from_slice(&line);
            }
            line.clear();
        }
        Ok(out)
    }
}

/// Follows one run's log: replay, then live, until `run.finished`.
pub struct Reader {
    path: PathBuf,
    file: Option<BufReader<File>>,
    partial: Vec<u8>,
    after: u64,
    live: watch::Receiver<u64>,
    done: bool,
}

impl Reader {
    /// The next event line (with its newline); `None` after `run.finished`,
    /// or when the log is complete.
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.done {
                return None;
            }
            while let Some(line) = self.read_line() {
                let Some((seq, finished)) = head(&line) else { continue };
                self.done = finished;
                if seq > self.after {
                    self.after = seq;
                    return Some(line);
                }
            }
            if self.done {
                return None;
            }
            let last = *self.live.borrow_and_update();
            if last > self.after {
                continue;
            }
            // Woken by this server's writer, or every POLL to see lines another replica wrote (shared DATA_DIR).
            let Ok(changed) = tokio::time::timeout(POLL, self.live.changed()).await else { continue };
            if changed.is_err() {
                // Nobody writes it any more: what is on disk is all there is.
                while let Some(line) = self.read_line() {
                    if let Some((seq, _)) = head(&line).filter(|(seq, _)| *seq > self.after) {
                        self.after = seq;
                        return Some(line);
                    }
                }
                return None;
            }
        }
    }

    /// How far behind the newest written event this reader is.
    pub fn lag(&self) -> u64 {
        self.live.borrow().saturating_sub(self.after)
    }

    /// Skips to just before `seq` (a reader that fell too far behind).
    pub fn skip_to(&mut self, seq: u64) {
        self.after = self.after.max(seq.saturating_sub(1));
    }

    pub fn position(&self) -> u64 {
        self.after
    }

    fn read_line(&mut self) -> Option<Vec<u8>> {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok().map(BufReader::new);
        }
        let file = self.file.as_mut()?;
        let n = file.read_until(b'\n', &mut self.partial).ok()?;
        if n == 0 || self.partial.last() != Some(&b'\n') {
            return None;
        }
        Some(std::mem::take(&mut self.partial))
    }
}

/// A run's events as text for people: one line per event, as in the dashboard.
pub fn render(path: &Path, out: &mut impl Write) -> std::io::Result<()> {
    let f = File::open(path)?;
    for line in BufReader::new(f).split(b'\n').map_while(Result::ok) {
        let Ok(e) = serde_json::from_slice::<car_schemas::run::RunEvent>(&line) else { continue };
        let time = e.ts.format("%Y-%m-%d %H:%M:%S");
        let d = &e.data;
        let text = |v: &Value| v.as_str().map(String::from).unwrap_or_else(|| v.to_string());
        let body = match e.kind.as_str() {
            kind::RUN_STARTED => format!("run started: agent {} ({})", text(&d["agent"]), text(&d["mode"])),
            kind::LOG => text(&d["line"]),
            kind::GATHER_OUTPUT => format!("$ {}\n{}", text(&d["command"]), text(&d["output"]).trim_end()),
            kind::ASSISTANT_TEXT => format!("assistant: {}", text(&d["text"])),
            kind::TOOL_CALL => format!(
                "tool {} {} -> {} ({})",
                text(&d["tool"]),
                d["input"]["command"].as_str().map(String::from).unwrap_or_else(|| d["input"].to_string()),
                text(&d["decision"]),
                text(&d["reason"])
            ),
            kind::TOOL_RESULT => format!("result:\n{}", text(&d["output"]).trim_end()),
            kind::APPROVAL_REQUESTED => format!("waiting for approval: {} {}", text(&d["tool"]), d["input"]),
            kind::APPROVAL_RESOLVED => format!("approval: {} ({})", text(&d["decision"]), text(&d["comment"])),
            kind::RATE_LIMITED => format!("rate limited, retrying in {} ms", d["retry_delay_ms"]),
            kind::USAGE => format!(
                "usage: {} input, {} output tokens, ${:.4}",
                d["input_tokens"],
                d["output_tokens"],
                d["cost_usd"].as_f64().unwrap_or(0.0)
            ),
            kind::RUN_FINISHED => {
                let mut s = format!("run finished: {}", text(&d["status"]));
                if let Some(summary) = d["summary"].as_str() {
                    s.push_str(&format!("\nsummary: {summary}"));
                }
                if d["error"].is_object() {
                    s.push_str(&format!(
                        "\nerror: {} (hint: {})",
                        text(&d["error"]["message"]),
                        text(&d["error"]["hint"])
                    ));
                }
                s
            }
            other => format!("{other}: {d}"),
        };
        writeln!(out, "[{time}] #{} {body}", e.seq)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use car_schemas::run::RunStatus;
    use serde_json::json;

    fn line(seq: u64, kind: &str) -> Vec<u8> {
        let e = car_schemas::run::RunEvent { seq, ts: Utc::now(), kind: kind.into(), data: json!({"line": seq}) };
        let mut l = serde_json::to_vec(&e).unwrap();
        l.push(b'\n');
        l
    }

    #[tokio::test]
    async fn a_viewer_on_another_replica_follows_the_shared_file_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, other) = (Logs::open(dir.path().into()).unwrap(), Logs::open(dir.path().into()).unwrap());
        writer.append("r", &line(1, kind::RUN_STARTED), 1, false).unwrap();
        let mut reader = other.reader("r", 0).unwrap();
        assert_eq!(head(&reader.next().await.unwrap()), Some((1, false)));
        let follow = tokio::spawn(async move {
            let mut seqs = Vec::new();
            while let Some(l) = reader.next().await {
                seqs.push(head(&l).unwrap().0);
            }
            seqs
        });
        writer.append("r", &[line(2, kind::LOG), line(3, kind::LOG)].concat(), 3, false).unwrap();
        writer.finish("r", RunFinished::new(RunStatus::Succeeded)).unwrap();
        let seqs = tokio::time::timeout(std::time::Duration::from_secs(5), follow).await.expect("it ended").unwrap();
        assert_eq!(seqs, [2, 3, 4]);
    }
}
