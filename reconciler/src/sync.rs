//! The sync controller: turns the source's head into live state.
//!
//! Triggers (start-up, the poll timer with jitter, a push webhook, an edit in
//! a watched folder, a manual refresh) only ask for a sync; requests that
//! arrive while one runs collapse into one more, so a burst of pushes costs
//! one sync per distinct head. Each sync fetches the head, skips it if it was
//! already attempted, validates the whole revision, and then either applies
//! it in one transaction or records every diagnostic while the last good
//! revision stays live.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use car_schemas::{Diagnostic, Kind, LoadOptions, Loaded};
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::source::{Source, SourceError};
use crate::store::{Changes, Desired, DesiredScript, LiveKey, Revision, Store, StoreError};

/// Why a sync ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Start,
    Poll,
    Webhook,
    Watch,
    Refresh,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Poll => "poll",
            Trigger::Webhook => "webhook",
            Trigger::Watch => "watch",
            Trigger::Refresh => "refresh",
        }
    }
}

/// What one sync did.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The head was attempted before; nothing to do.
    Unchanged,
    /// The head did not validate; live state is as it was.
    Invalid {
        errors: usize,
    },
    Applied(Changes),
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the sync task stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Asks the sync loop for a sync; cheap to clone and call from anywhere.
#[derive(Clone, Default)]
pub struct SyncRequests {
    notify: Arc<Notify>,
    pending: Arc<Mutex<Option<Trigger>>>,
}

impl SyncRequests {
    pub fn request(&self, trigger: Trigger) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(trigger);
        self.notify.notify_one();
    }

    async fn next(&self, poll: Duration) -> Trigger {
        let _ = tokio::time::timeout(poll, self.notify.notified()).await;
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or(Trigger::Poll)
    }
}

pub struct Syncer {
    pub store: Store,
    pub source: Arc<dyn Source>,
    pub load: LoadOptions,
    /// Objects whose live state changed, for the object reconcilers.
    pub on_change: Box<dyn Fn(&Changes) + Send + Sync>,
}

impl Syncer {
    /// Runs forever: one sync per request or poll interval (±10% jitter).
    pub async fn run(self, requests: SyncRequests, poll: Duration) {
        let mut trigger = Trigger::Start;
        loop {
            match self.sync_once(trigger).await {
                Ok(outcome) => tracing::debug!(?outcome, "sync finished"),
                Err(e) => tracing::error!(error = %e, "sync failed"),
            }
            let jitter = poll.mul_f64(rand::random_range(0.9..1.1));
            trigger = requests.next(jitter).await;
        }
    }

    /// One sync: fetch, validate, apply or record why not.
    #[tracing::instrument(name = "sync", skip(self), fields(trigger = trigger.as_str(), revision))]
    pub async fn sync_once(&self, trigger: Trigger) -> Result<Outcome, SyncError> {
        let started_at = Utc::now();
        let source = self.source.clone();
        let head = match tokio::task::spawn_blocking(move || source.head()).await? {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the config source");
                self.store.record_fetch_error(&e.to_string()).await?;
                return Err(e.into());
            }
        };
        tracing::Span::current().record("revision", head.id.as_str());
        self.store.record_head(&head).await?;
        let state = self.store.sync_state().await?;
        if state.attempted_revision.as_deref() == Some(head.id.as_str()) {
            return Ok(Outcome::Unchanged);
        }
        let (source, rev, opts) = (self.source.clone(), head.clone(), self.load.clone());
        let loaded = tokio::task::spawn_blocking(move || source.load(&rev, &opts)).await??;
        let live = self.store.live_keys().await?;
        let diagnostics = json!(loaded.diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>());
        let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
        let desired = desired(&loaded);
        let objects = object_statuses(&loaded, &desired, &live, &head);
        if errors > 0 {
            tracing::warn!(errors, "revision is invalid; the last good revision stays live");
            self.store.record_invalid(&head, trigger.as_str(), started_at, &diagnostics, &objects).await?;
            return Ok(Outcome::Invalid { errors });
        }
        let scripts: Vec<DesiredScript> = loaded
            .scripts
            .iter()
            .map(|(path, source)| DesiredScript {
                path: path.display().to_string(),
                source: source.clone(),
                hash: hash(source.as_bytes()),
            })
            .collect();
        let changes =
            self.store.apply(&head, trigger.as_str(), started_at, &desired, &scripts, &diagnostics, &objects).await?;
        tracing::info!(
            added = changes.added.len(),
            changed = changes.changed.len(),
            removed = changes.removed.len(),
            "revision applied"
        );
        (self.on_change)(&changes);
        Ok(Outcome::Applied(changes))
    }
}

pub fn diagnostic_json(d: &Diagnostic) -> Value {
    json!({
        "file": d.file.display().to_string(),
        "line": d.line,
        "column": d.column,
        "severity": d.severity,
        "message": d.message,
        "hint": d.hint,
    })
}

fn hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The objects of a valid (part of a) revision, as they will be stored.
pub fn desired(loaded: &Loaded) -> Vec<Desired> {
    loaded
        .documents
        .iter()
        .map(|d| {
            let document = d.to_json();
            Desired {
                kind: d.kind().as_str().to_string(),
                name: d.name().to_string(),
                file: d.file.display().to_string(),
                line: i32::try_from(d.start.line).unwrap_or(i32::MAX),
                hash: hash(document.to_string().as_bytes()),
                document,
            }
        })
        .collect()
}

/// Each object's status against the revision: `Synced` when live matches
/// it, `OutOfSync` when it differs (and is not applied because the revision
/// has errors elsewhere), `Error` when the object's own document is wrong.
fn object_statuses(loaded: &Loaded, desired: &[Desired], live: &[LiveKey], head: &Revision) -> Value {
    let has_errors = loaded.diagnostics.iter().any(Diagnostic::is_error);
    let live_hash: HashMap<(&str, &str), &str> =
        live.iter().map(|o| ((o.kind.as_str(), o.name.as_str()), o.hash.as_str())).collect();
    let wanted: HashMap<(&str, &str), &Desired> =
        desired.iter().map(|d| ((d.kind.as_str(), d.name.as_str()), d)).collect();
    // Each error belongs to the document it is written in: the last one that starts before it.
    let mut starts: HashMap<&std::path::Path, Vec<(u32, Kind, &str)>> = HashMap::new();
    for id in &loaded.declared {
        starts.entry(id.file.as_path()).or_default().push((id.start.line, id.kind, &id.name));
    }
    for v in starts.values_mut() {
        v.sort_by_key(|(line, _, _)| *line);
    }
    let mut own_error: HashMap<(Kind, &str), &Diagnostic> = HashMap::new();
    for d in loaded.diagnostics.iter().filter(|d| d.is_error()) {
        if let Some(&(_, kind, name)) =
            starts.get(d.file.as_path()).and_then(|v| v.iter().rev().find(|(line, _, _)| *line <= d.line))
        {
            own_error.entry((kind, name)).or_insert(d);
        }
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for id in &loaded.declared {
        if !seen.insert((id.kind, id.name.as_str())) {
            continue;
        }
        let key = (id.kind.as_str(), id.name.as_str());
        let (status, message) = if let Some(d) = own_error.get(&(id.kind, id.name.as_str())) {
            ("Error", format!("{}:{}:{}: {}", d.file.display(), d.line, d.column, d.message))
        } else if !has_errors {
            ("Synced", String::new())
        } else {
            match (wanted.get(&key), live_hash.get(&key)) {
                (Some(w), Some(h)) if w.hash == *h => ("Synced", String::new()),
                (_, None) => ("OutOfSync", format!("new in {}, not applied: the revision has errors", short(&head.id))),
                _ => ("OutOfSync", format!("changed in {}, not applied: the revision has errors", short(&head.id))),
            }
        };
        out.push(json!({"kind": id.kind.as_str(), "name": id.name, "status": status, "message": message,
                        "file": id.file.display().to_string(), "line": id.start.line}));
    }
    if has_errors {
        for o in live {
            let declared = Kind::parse(&o.kind).is_some_and(|k| seen.contains(&(k, o.name.as_str())));
            if !declared {
                out.push(json!({"kind": o.kind, "name": o.name, "status": "OutOfSync",
                    "message": format!("removed in {}, still live: the revision has errors", short(&head.id)),
                    "file": o.file, "line": o.line}));
            }
        }
    }
    json!(out)
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
