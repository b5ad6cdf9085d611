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
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use utoipa::ToSchema;

use crate::config::repo::{Changes, Desired, DesiredScript, LiveKey, Revision};
use crate::config::snapshot::LiveConfig;
use crate::config::source::{Source, SourceError};
use crate::db::StoreError;

/// Why a sync ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = SyncTrigger)]
pub enum Trigger {
    /// The server started.
    Start,
    /// The poll timer.
    Poll,
    /// A push webhook.
    Webhook,
    /// An edit in a watched local folder.
    Watch,
    /// `POST /api/v1/sync/refresh`.
    Refresh,
    /// An edit written back from the dashboard.
    Edit,
}

impl Trigger {
    const ALL: [Trigger; 6] =
        [Trigger::Start, Trigger::Poll, Trigger::Webhook, Trigger::Watch, Trigger::Refresh, Trigger::Edit];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Poll => "poll",
            Trigger::Webhook => "webhook",
            Trigger::Watch => "watch",
            Trigger::Refresh => "refresh",
            Trigger::Edit => "edit",
        }
    }
}

/// Only these are stored (the sync history's `trigger`).
impl TryFrom<String> for Trigger {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == text).ok_or_else(|| format!("{text:?} is not a sync trigger"))
    }
}

/// A problem with the config: where it is written, what is wrong, how to fix it.
/// Stored as JSON with the sync state and history, and shown as such.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConfigDiagnostic {
    /// The file, relative to the config folder; absent when the source itself cannot be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// Absent when the source itself cannot be read (an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    pub message: String,
    /// How to fix it.
    #[serde(default)]
    pub hint: Option<String>,
}

/// Whether a diagnostic stops the revision from being applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = DiagnosticSeverity)]
pub enum Severity {
    /// The revision is not applied.
    Error,
    /// Applied all the same.
    Warning,
}

impl From<&Diagnostic> for ConfigDiagnostic {
    fn from(d: &Diagnostic) -> Self {
        ConfigDiagnostic {
            file: Some(d.file.display().to_string()),
            line: Some(d.line),
            column: Some(d.column),
            severity: Some(if d.is_error() { Severity::Error } else { Severity::Warning }),
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }
}

/// One declared object's status against the revision last attempted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ObjectStatus {
    pub kind: Kind,
    pub name: String,
    pub status: ObjectSync,
    /// Why it is not synced (`file:line:column: message` for an error); empty when synced.
    pub message: String,
    /// Where it is declared (where it was, for one the revision removes).
    pub file: String,
    pub line: u32,
}

/// How a live object relates to the revision last attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ObjectSync {
    /// Live as the revision declares it.
    Synced,
    /// Added, changed or removed by the revision, which is not applied because it has errors elsewhere.
    OutOfSync,
    /// Its own document is wrong.
    Error,
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
    /// Published again after each sync.
    pub live: LiveConfig,
    pub source: Arc<dyn Source>,
    pub load: LoadOptions,
    /// Objects whose live state changed, for the object reconcilers.
    pub on_change: Box<dyn Fn(&Changes) + Send + Sync>,
}

impl Syncer {
    /// Runs forever: one sync per request or poll interval (±10% jitter).
    pub async fn run(&self, requests: SyncRequests, poll: Duration) {
        let mut trigger = Trigger::Start;
        loop {
            match self.sync_once(trigger).await {
                Ok(outcome) => tracing::debug!(?outcome, "sync finished"),
                Err(e) => tracing::error!(error = %e, "sync failed"),
            }
            // Also what another replica applied, or overrides it set.
            if let Err(e) = self.live.reload().await {
                tracing::error!(error = %e, "cannot read the live config");
            }
            let jitter = poll.mul_f64(rand::random_range(0.9..1.1));
            trigger = requests.next(jitter).await;
        }
    }

    /// One sync: fetch, validate, apply or record why not.
    #[tracing::instrument(name = "sync", skip(self), fields(trigger = trigger.as_str(), revision))]
    pub async fn sync_once(&self, trigger: Trigger) -> Result<Outcome, SyncError> {
        let started_at = Utc::now();
        let repo = self.live.repo();
        let source = self.source.clone();
        let head = match tokio::task::spawn_blocking(move || source.head()).await? {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the config source");
                repo.record_fetch_error(&e.to_string()).await?;
                return Err(e.into());
            }
        };
        tracing::Span::current().record("revision", head.id.as_str());
        repo.record_head(&head).await?;
        let state = repo.sync_state().await?;
        if state.attempted_revision.as_deref() == Some(head.id.as_str()) {
            return Ok(Outcome::Unchanged);
        }
        let (source, rev, opts) = (self.source.clone(), head.clone(), self.load.clone());
        let loaded = tokio::task::spawn_blocking(move || source.load(&rev, &opts)).await??;
        let live = repo.live_keys().await?;
        let diagnostics = json!(loaded.diagnostics.iter().map(ConfigDiagnostic::from).collect::<Vec<_>>());
        let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
        let desired = desired(&loaded);
        let objects = json!(object_statuses(&loaded, &desired, &live, &head));
        if errors > 0 {
            tracing::warn!(errors, "revision is invalid; the last good revision stays live");
            repo.record_invalid(&head, trigger, started_at, &diagnostics, &objects).await?;
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
        let changes = repo.apply(&head, trigger, started_at, &desired, &scripts, &diagnostics, &objects).await?;
        tracing::info!(
            added = changes.added.len(),
            changed = changes.changed.len(),
            removed = changes.removed.len(),
            "revision applied"
        );
        self.live.reload().await?;
        (self.on_change)(&changes);
        Ok(Outcome::Applied(changes))
    }
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
fn object_statuses(loaded: &Loaded, desired: &[Desired], live: &[LiveKey], head: &Revision) -> Vec<ObjectStatus> {
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
            (ObjectSync::Error, format!("{}:{}:{}: {}", d.file.display(), d.line, d.column, d.message))
        } else if !has_errors {
            (ObjectSync::Synced, String::new())
        } else {
            match (wanted.get(&key), live_hash.get(&key)) {
                (Some(w), Some(h)) if w.hash == *h => (ObjectSync::Synced, String::new()),
                (_, None) => {
                    (ObjectSync::OutOfSync, format!("new in {}, not applied: the revision has errors", short(&head.id)))
                }
                _ => (
                    ObjectSync::OutOfSync,
                    format!("changed in {}, not applied: the revision has errors", short(&head.id)),
                ),
            }
        };
        out.push(ObjectStatus {
            kind: id.kind,
            name: id.name.clone(),
            status,
            message,
            file: id.file.display().to_string(),
            line: id.start.line,
        });
    }
    if has_errors {
        for o in live {
            let Some(kind) = Kind::parse(&o.kind) else { continue };
            if !seen.contains(&(kind, o.name.as_str())) {
                out.push(ObjectStatus {
                    kind,
                    name: o.name.clone(),
                    status: ObjectSync::OutOfSync,
                    message: format!("removed in {}, still live: the revision has errors", short(&head.id)),
                    file: o.file.clone(),
                    line: u32::try_from(o.line).unwrap_or(0),
                });
            }
        }
    }
    out
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
