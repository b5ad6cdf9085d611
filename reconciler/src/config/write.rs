//! Write-back: an edit made in the dashboard becomes a commit to the config
//! repository (or a file written in a local folder), which the normal sync
//! then applies. Git stays the one source of truth.
//!
//! An edit names an object (kind and name), its new spec (none deletes it)
//! and the revision the user saw. It is applied to the files of the
//! branch's head in memory with the format-preserving editor
//! ([`car_schemas::edit`]), and the whole result is validated by the same
//! loader as a sync; errors come back all at once with the file:line and
//! the form field. A preview stops there and answers the diff and the plan.
//! A write commits as the user and pushes. When the branch moved since the
//! user's revision (before or during the push), the edit goes onto the new
//! head if that object is the same there, and is refused as a conflict
//! showing both versions if it is not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use car_schemas::edit;
use car_schemas::load::{Files, Overlay};
use car_schemas::{Kind, LoadOptions, Loaded};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::config::changes::NewChange;
use crate::config::forge::{Forge, ForgeError, PullRequest};
use crate::config::plan::{self, Step};
use crate::config::repo::{ConfigRepo, Revision};
use crate::config::source::{Author, FileChange, Source, SourceError};
use crate::config::sync::{SyncRequests, Trigger, desired};
use crate::db::StoreError;
use crate::trust::audit::{self, Action, Actor};
use crate::trust::secrets::Secrets;

/// How many times an edit is put onto a branch that keeps moving under it.
const ATTEMPTS: usize = 3;

/// The kind a write path names (`schedules`, `notification-channels`, …).
pub fn kind_of_path(segment: &str) -> Option<Kind> {
    Kind::ALL.iter().copied().find(|k| path_of_kind(*k) == segment)
}

/// The path segment of a kind: `notification-rules`.
pub fn path_of_kind(kind: Kind) -> &'static str {
    match kind {
        Kind::Node => "nodes",
        Kind::Agent => "agents",
        Kind::Schedule => "schedules",
        Kind::NotificationChannel => "notification-channels",
        Kind::NotificationRule => "notification-rules",
        Kind::Trigger => "triggers",
    }
}

/// Where objects of a kind go when the repository has none yet.
fn default_folder(kind: Kind) -> &'static str {
    match kind {
        Kind::NotificationChannel => "notifications/channels",
        Kind::NotificationRule => "notifications/rules",
        other => path_of_kind(other),
    }
}

/// Where an edit goes: onto the config branch, or onto a new branch with a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WriteMode {
    Commit,
    PullRequest,
}

/// One edit of one object.
#[derive(Debug, Clone)]
pub struct Edit {
    pub kind: Kind,
    pub name: String,
    /// The new spec; `None` deletes the object.
    pub spec: Option<Value>,
    /// The revision the user saw.
    pub base_revision: String,
    /// Why, in the user's words (the commit message's subject).
    pub message: Option<String>,
    /// This edit's choice; `None`: the server's `CONFIG_WRITE_MODE`.
    pub mode: Option<WriteMode>,
}

/// What an edit would do, or did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EditResult {
    /// The commit made (null for a preview, or when nothing changed); for a
    /// local folder that is not a git work tree, the folder's new revision.
    pub commit: Option<String>,
    /// The pull request opened for it, in pull-request mode (the config branch is untouched until it is merged).
    pub pull_request: Option<PullRequest>,
    /// The revision the edit was applied to: the one the user saw, or the
    /// branch's newer head when the object did not change since.
    pub revision: String,
    /// True when the branch had moved and the edit was put onto its new head.
    pub rebased: bool,
    /// The file written (relative to the repository).
    pub file: String,
    /// The change to the file, as a unified diff (empty: nothing changes).
    pub diff: String,
    /// What the result would do to live state.
    pub plan: Vec<Step>,
    /// Warnings of the resulting config (errors refuse the edit).
    pub warnings: Vec<FieldError>,
}

/// A problem of the edited config: where a user sees it (file:line:column)
/// and where a form shows it (`field`, when it is in the edited object).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// The field of the edited object, as a path: `spec.cron`, `spec.agents[1]`.
    pub field: Option<String>,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub hint: Option<String>,
}

/// An edit of an object that changed upstream since the user's revision.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Conflict {
    pub kind: Kind,
    pub name: String,
    /// The revision the edit was made against.
    pub base_revision: String,
    /// The branch's head now.
    pub head_revision: String,
    /// Who made the head and why.
    pub head_author: Option<String>,
    pub head_message: Option<String>,
    /// The edit's spec (null: the edit deletes the object).
    pub yours: Option<Value>,
    /// The object's spec at the head now (null: it is gone).
    pub theirs: Option<Value>,
    /// The object's spec at the revision the edit was made against (null: it did not exist).
    pub base: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{message}")]
    BadRequest { message: String, hint: String },
    #[error("{message}")]
    NotFound { message: String, hint: String },
    #[error("the edit leaves the config invalid ({} errors)", .0.len())]
    Invalid(Vec<FieldError>),
    #[error("{} {} changed since {}", .0.kind, .0.name, .0.base_revision)]
    Conflict(Box<Conflict>),
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The branch is pushed, but the forge did not open the pull request.
    #[error("the edit is on branch {branch}, but no pull request was opened: {error}")]
    Forge { branch: String, error: ForgeError },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the edit stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// An edit applied in memory to the branch's head: not written yet.
struct Prepared {
    target: Revision,
    rebased: bool,
    change: FileChange,
    /// The object's fields that change, for the commit message.
    fields: Vec<plan::FieldChange>,
    diff: String,
    loaded: Loaded,
}

pub struct Writer {
    pub source: Arc<dyn Source>,
    pub load: LoadOptions,
    pub repo: ConfigRepo,
    pub sync: SyncRequests,
    pub secrets: Arc<Secrets>,
    /// `CONFIG_WRITE_MODE`.
    pub mode: WriteMode,
    /// The forge, when known: pull requests and their reviews.
    pub forge: Option<Arc<Forge>>,
    /// `CONFIG_BRANCH`: where pull requests go.
    pub branch: String,
    /// The dashboard, for links from the forge (`PUBLIC_URL`).
    pub dashboard: String,
}

impl Writer {
    /// What `edit` would do: the diff, the plan, the warnings; writes nothing.
    pub async fn preview(&self, edit: &Edit) -> Result<EditResult, WriteError> {
        let mut edit = edit.clone();
        typed_secrets(&mut edit);
        let prepared = self.prepare(&edit).await?;
        self.result(&prepared, None).await
    }

    /// Writes `edit` as a commit by `author` (or, in pull-request mode, a
    /// commit on a new branch and a pull request), stores the secrets typed
    /// into it, asks for a sync, and records it in the audit log.
    pub async fn write(&self, edit: &Edit, by: &Actor, author: &Author) -> Result<EditResult, WriteError> {
        let mut edit = edit.clone();
        let typed = typed_secrets(&mut edit);
        let forge = match edit.mode.unwrap_or(self.mode) {
            WriteMode::Commit => None,
            WriteMode::PullRequest => Some(self.forge.clone().ok_or_else(|| WriteError::BadRequest {
                message: "pull requests need to know the forge".into(),
                hint:
                    "set CONFIG_FORGE (github, gitlab or gitea) and CONFIG_FORGE_TOKEN on the server, or commit".into(),
            })?),
        };
        let branch = forge.as_ref().map(|_| {
            let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
            format!("car/{}-{}-{stamp}", path_of_kind(edit.kind), edit.name)
        });
        let mut stored = false;
        for attempt in 1..=ATTEMPTS {
            let prepared = self.prepare(&edit).await?;
            if prepared.diff.is_empty() {
                return self.result(&prepared, None).await;
            }
            if !stored {
                for (name, value) in &typed {
                    self.secrets.put(name, value, by).await.map_err(|e| WriteError::BadRequest {
                        message: format!("cannot store the secret {name}: {e}"),
                        hint: "check the server's SECRET_KEY and database".into(),
                    })?;
                }
                stored = true;
            }
            let message = commit_message(&edit, &prepared, by);
            let (source, target, change, who, to) =
                (self.source.clone(), prepared.target.clone(), prepared.change.clone(), author.clone(), branch.clone());
            let committed =
                tokio::task::spawn_blocking(move || source.commit(&target, &[change], &who, &message, to.as_deref()))
                    .await?;
            let rev = match committed {
                Ok(rev) => rev,
                Err(SourceError::Moved(why)) if attempt < ATTEMPTS => {
                    tracing::info!(%why, attempt, "the config branch moved during an edit; trying on its new head");
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let file = prepared.change.path.display().to_string();
            let mut detail = json!({"commit": rev.id, "file": file, "message": edit.message,
                "deleted": edit.spec.is_none(), "rebased": prepared.rebased || attempt > 1});
            let mut result = self.result(&prepared, Some(rev.id.clone())).await?;
            match (&forge, &branch) {
                (Some(forge), Some(branch)) => {
                    let pr = self.propose(forge, branch, &edit, &prepared, &result, by).await?;
                    detail["pull_request"] = json!(pr.url);
                    result.pull_request = Some(pr);
                }
                _ => self.sync.request(Trigger::Edit),
            }
            let target = format!("{}/{}", edit.kind, edit.name);
            audit::record(self.repo.pool(), by, Action::ConfigWritten, Some(&target), detail)
                .await
                .map_err(StoreError::from)?;
            return Ok(result);
        }
        unreachable!("the last attempt returns")
    }

    /// Opens the pull request of an edit pushed to `branch` (its description holds the plan), and notes it as proposed.
    async fn propose(
        &self,
        forge: &Forge,
        branch: &str,
        edit: &Edit,
        prepared: &Prepared,
        result: &EditResult,
        by: &Actor,
    ) -> Result<PullRequest, WriteError> {
        let title = commit_message(edit, prepared, by).lines().next().unwrap_or_default().to_string();
        let body = pull_body(edit, prepared, by, &result.plan);
        let pr = forge
            .open_pull(branch, &self.branch, &title, &body)
            .await
            .map_err(|error| WriteError::Forge { branch: branch.to_string(), error })?;
        NewChange {
            kind: edit.kind.as_str(),
            name: &edit.name,
            title: &title,
            branch,
            commit: result.commit.as_deref().unwrap_or_default(),
            forge: forge.settings.kind.as_str(),
            number: pr.number,
            url: &pr.url,
            created_by: &by.label(),
        }
        .record(self.repo.pool())
        .await?;
        Ok(pr)
    }

    async fn result(&self, p: &Prepared, commit: Option<String>) -> Result<EditResult, WriteError> {
        let live = self.repo.objects(None).await?;
        Ok(EditResult {
            commit,
            pull_request: None,
            revision: p.target.id.clone(),
            rebased: p.rebased,
            file: p.change.path.display().to_string(),
            diff: p.diff.clone(),
            plan: plan::diff(&live, &desired(&p.loaded)),
            warnings: p.loaded.diagnostics.iter().filter(|d| !d.is_error()).map(|d| field_error(d, None)).collect(),
        })
    }

    async fn prepare(&self, edit: &Edit) -> Result<Prepared, WriteError> {
        if edit.name.parse::<car_schemas::values::Name>().is_err() {
            return Err(WriteError::BadRequest {
                message: format!("{:?} is not a {} name", edit.name, edit.kind),
                hint: "use lowercase letters, digits and '-'".into(),
            });
        }
        if edit.spec.as_ref().is_some_and(|s| !s.is_object()) {
            return Err(WriteError::BadRequest {
                message: "`spec` must be an object".into(),
                hint: format!("send the {}'s spec as it is written under `spec:` in git", edit.kind),
            });
        }
        // The live revision's object, for a base a local folder cannot show any more.
        let state = self.repo.sync_state().await?;
        let live = match &state.applied_revision {
            Some(r) if *r == edit.base_revision => {
                Some(self.repo.object(edit.kind.as_str(), &edit.name).await?.map(|o| o.document["spec"].clone()))
            }
            _ => None,
        };
        let (source, load, edit) = (self.source.clone(), self.load.clone(), edit.clone());
        tokio::task::spawn_blocking(move || prepare(&*source, &load, &edit, live)).await?
    }
}

/// A repository revision read for editing.
struct Snapshot {
    files: Box<dyn Files>,
    loaded: Loaded,
}

impl Snapshot {
    fn read(source: &dyn Source, rev: &Revision, opts: &LoadOptions) -> Result<Snapshot, WriteError> {
        let files = source.files(rev, opts.max_file_bytes)?;
        let loaded = source.check(&*files, opts)?;
        Ok(Snapshot { files, loaded })
    }

    /// Where the object is declared (the first declaration of its kind and name).
    fn find(&self, kind: Kind, name: &str) -> Option<&car_schemas::document::Identity> {
        self.loaded.declared.iter().find(|i| i.kind == kind && i.name == name)
    }

    fn text(&self, path: &Path) -> Result<String, WriteError> {
        let bytes = self.files.read(path).map_err(SourceError::from)?;
        String::from_utf8(bytes).map_err(|_| WriteError::BadRequest {
            message: format!("{} is not UTF-8 text", path.display()),
            hint: "fix the file's encoding in git".into(),
        })
    }

    /// The kind of the (first) object `file` declares.
    fn find_kind_in(&self, file: &Path) -> Option<Kind> {
        self.loaded.declared.iter().find(|i| i.file == file).map(|i| i.kind)
    }

    /// The object's spec: as the sync types it, or as written when it does not type.
    fn spec(&self, kind: Kind, name: &str) -> Result<Option<Value>, WriteError> {
        if let Some(d) = self.loaded.documents.iter().find(|d| d.kind() == kind && d.name() == name) {
            return Ok(Some(d.to_json()["spec"].clone()));
        }
        let Some(id) = self.find(kind, name) else { return Ok(None) };
        let text = self.text(&id.file)?;
        Ok(edit::document_index(&text, id.start).and_then(|i| edit::raw_spec(&text, i)))
    }
}

fn prepare(
    source: &dyn Source,
    opts: &LoadOptions,
    e: &Edit,
    live: Option<Option<Value>>,
) -> Result<Prepared, WriteError> {
    let head = source.head()?;
    let now = Snapshot::read(source, &head, opts)?;
    // The object as the head has it: compared with the user's revision, edited, and told in the commit.
    let head_spec = now.spec(e.kind, &e.name)?;
    let rebased = head.id != e.base_revision;
    if rebased {
        let base_spec = match (source.revision(&e.base_revision), live) {
            (Ok(rev), _) => Snapshot::read(source, &rev, opts)?.spec(e.kind, &e.name)?,
            (Err(_), Some(live)) => live,
            (Err(err), None) => {
                return Err(WriteError::BadRequest {
                    message: format!("the base revision {} is unknown: {err}", e.base_revision),
                    hint: "reload the page and make the edit again on the revision it shows".into(),
                });
            }
        };
        if base_spec != head_spec {
            return Err(WriteError::Conflict(Box::new(Conflict {
                kind: e.kind,
                name: e.name.clone(),
                base_revision: e.base_revision.clone(),
                head_revision: head.id.clone(),
                head_author: head.author.clone(),
                head_message: head.message.clone(),
                yours: e.spec.clone(),
                theirs: head_spec.clone(),
                base: base_spec,
            })));
        }
    }
    let (path, before, after) = match (now.find(e.kind, &e.name), &e.spec) {
        (Some(id), spec) => {
            let text = now.text(&id.file)?;
            let index = edit::document_index(&text, id.start).ok_or_else(|| WriteError::BadRequest {
                message: format!("{}:{} cannot be found again to edit", id.file.display(), id.start),
                hint: "report this; the file may use YAML the editor does not handle".into(),
            })?;
            let after = match spec {
                Some(new) => {
                    let old = head_spec.clone().unwrap_or(Value::Null);
                    Some(edit::change_spec(&id.file, &text, index, &old, new).map_err(unprovable)?)
                }
                None => edit::remove_document(&id.file, &text, index).map_err(unprovable)?,
            };
            (id.file.clone(), Some(text), after)
        }
        (None, Some(spec)) => {
            let path = new_path(&now, source.sub_path(), e.kind, &e.name)?;
            let manifest = json!({"apiVersion": car_schemas::document::API_VERSION, "kind": e.kind.as_str(),
                "metadata": {"name": e.name}, "spec": spec});
            let modeline = modeline(&now, &path, e.kind);
            (path, None, Some(edit::new_file(modeline.as_deref(), &manifest)))
        }
        (None, None) => {
            return Err(WriteError::NotFound {
                message: format!("{} {} is not declared in {}", e.kind, e.name, short(&head.id)),
                hint: "nothing to delete; it may have been removed already".into(),
            });
        }
    };
    let diff = unified_diff(&path, before.as_deref(), after.as_deref());
    let change = FileChange { path: path.clone(), after: after.clone().map(String::into_bytes) };
    let overlay = Overlay { base: &*now.files, changes: BTreeMap::from([(path.clone(), change.after.clone())]) };
    let loaded = source.check(&overlay, opts)?;
    let errors: Vec<FieldError> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let place = (d.file == path).then_some(()).and(after.as_deref()).and_then(|text| {
                // The document the error is in, and so the field.
                let id = loaded.declared.iter().find(|i| i.kind == e.kind && i.name == e.name && i.file == path)?;
                let index = edit::document_index(text, id.start)?;
                edit::field_at(text, index, car_schemas::Span::new(d.line, d.column))
            });
            field_error(d, place)
        })
        .collect();
    if !errors.is_empty() {
        return Err(WriteError::Invalid(errors));
    }
    let new =
        loaded.documents.iter().find(|d| d.kind() == e.kind && d.name() == e.name).map(|d| d.to_json()["spec"].clone());
    let fields = plan::changed_fields("spec", head_spec.as_ref(), new.as_ref());
    Ok(Prepared { target: head, rebased, change, fields, diff, loaded })
}

fn unprovable(e: edit::EditError) -> WriteError {
    WriteError::BadRequest {
        message: e.to_string(),
        hint: "edit this file in git by hand; the editor keeps files as written and could not here".into(),
    }
}

fn field_error(d: &car_schemas::Diagnostic, field: Option<String>) -> FieldError {
    FieldError {
        field,
        file: d.file.display().to_string(),
        line: d.line,
        column: d.column,
        message: d.message.clone(),
        hint: d.hint.clone(),
    }
}

/// A new object's file: `<name>.yaml` in the folder where most objects of
/// its kind live (or the kind's usual folder under the config path).
fn new_path(now: &Snapshot, sub_path: Option<PathBuf>, kind: Kind, name: &str) -> Result<PathBuf, WriteError> {
    let mut folders: BTreeMap<&Path, usize> = BTreeMap::new();
    for id in now.loaded.declared.iter().filter(|i| i.kind == kind) {
        *folders.entry(id.file.parent().unwrap_or(Path::new(""))).or_default() += 1;
    }
    let folder = match folders.into_iter().max_by_key(|(_, n)| *n) {
        Some((f, _)) => f.to_path_buf(),
        None => sub_path.unwrap_or_default().join(default_folder(kind)),
    };
    let free = |p: &PathBuf| matches!(now.files.stat(p), Ok(car_schemas::load::Stat::Missing));
    [format!("{name}.yaml"), format!("{name}.{}.yaml", kind.as_str().to_lowercase())]
        .into_iter()
        .map(|f| folder.join(f))
        .find(free)
        .ok_or_else(|| WriteError::BadRequest {
            message: format!("{}/{name}.yaml already exists and declares something else", folder.display()),
            hint: "rename or move that file in git first".into(),
        })
}

/// The schema modeline for a new file at `path`: a sibling's when it has one,
/// else any file's, pointed at the kind's schema from the new file's folder.
fn modeline(now: &Snapshot, path: &Path, kind: Kind) -> Option<String> {
    const PREFIX: &str = "# yaml-language-server: $schema=";
    let folder = path.parent().unwrap_or(Path::new(""));
    let mut files: Vec<&Path> = now.loaded.declared.iter().map(|i| i.file.as_path()).collect();
    // Siblings of the same kind first.
    files.sort_by_key(|f| (f.parent() != Some(folder), now.find_kind_in(f) != Some(kind)));
    files.dedup();
    for f in files {
        let Ok(text) = now.text(f) else { continue };
        let Some(target) = text.lines().next().and_then(|l| l.strip_prefix(PREFIX)) else { continue };
        let target = target.trim();
        let schema = car_schemas::schema::file_name(kind);
        if target.contains("://") {
            let base = target.rsplit_once('/').map_or(target, |(b, _)| b);
            return Some(format!("{PREFIX}{base}/{schema}"));
        }
        let dir = Path::new(target).parent().unwrap_or(Path::new(""));
        // The schema folder as seen from the repository's root (it may lie
        // above it: `..` that climb out stay), then from the new file's folder.
        let mut up = 0usize;
        let mut down: Vec<std::ffi::OsString> = Vec::new();
        for c in f.parent().unwrap_or(Path::new("")).join(dir).components() {
            match c {
                std::path::Component::ParentDir if down.pop().is_none() => up += 1,
                std::path::Component::ParentDir | std::path::Component::CurDir => {}
                other => down.push(other.as_os_str().to_owned()),
            }
        }
        let depth = folder.components().count() + up;
        let relative: PathBuf =
            std::iter::repeat_n(std::ffi::OsString::from(".."), depth).chain(down).collect::<PathBuf>().join(schema);
        return Some(format!("{PREFIX}{}", relative.display()));
    }
    None
}

fn unified_diff(path: &Path, before: Option<&str>, after: Option<&str>) -> String {
    let (a, b) = (before.unwrap_or(""), after.unwrap_or(""));
    if a == b {
        return String::new();
    }
    let name = path.display().to_string();
    let old = if before.is_some() { format!("a/{name}") } else { "/dev/null".into() };
    let new = if after.is_some() { format!("b/{name}") } else { "/dev/null".into() };
    similar::TextDiff::from_lines(a, b).unified_diff().context_radius(3).header(&old, &new).to_string()
}

/// The commit message: the user's reason as the subject (or what changed),
/// then what changed, field by field, and who made the edit.
fn commit_message(e: &Edit, p: &Prepared, by: &Actor) -> String {
    let what = match &e.spec {
        None => format!("Remove {} {}", e.kind, e.name),
        Some(_) if p.diff.starts_with("--- /dev/null") => format!("Add {} {}", e.kind, e.name),
        Some(_) => format!("Change {} {}", e.kind, e.name),
    };
    let subject = e.message.as_deref().map(str::trim).filter(|m| !m.is_empty()).unwrap_or(&what);
    let mut out =
        format!("{subject}\n\n{what} in {}, edited in the dashboard by {}.\n", p.change.path.display(), by.label());
    let show = |v: &Option<Value>| v.as_ref().map_or("(unset)".to_string(), Value::to_string);
    for f in &p.fields {
        out.push_str(&format!("\n  {}: {} -> {}", f.path, show(&f.old), show(&f.new)));
    }
    if !p.fields.is_empty() {
        out.push('\n');
    }
    out
}

/// A pull request's description: why, who, the plan and the diff.
fn pull_body(e: &Edit, p: &Prepared, by: &Actor, steps: &[Step]) -> String {
    let why = e.message.as_deref().map(str::trim).filter(|m| !m.is_empty()).unwrap_or("(no reason given)");
    format!(
        "{why}\n\nEdited in the car-server dashboard by {}; merging applies it at the next sync.\n\n### Plan\n\n```\n{}```\n\n### {}\n\n```diff\n{}```\n",
        by.label(),
        plan::render_plan(steps, None),
        p.change.path.display(),
        p.diff
    )
}

/// Secrets typed into a form arrive as `{"secret": NAME, "value": "…"}`:
/// the value goes to the secret store, only `{secret: NAME}` to git.
fn typed_secrets(e: &mut Edit) -> Vec<(String, String)> {
    fn walk(v: &mut Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                if m.len() == 2
                    && let (Some(Value::String(name)), Some(Value::String(value))) = (m.get("secret"), m.get("value"))
                {
                    out.push((name.clone(), value.clone()));
                    *v = json!({"secret": name});
                    return;
                }
                m.values_mut().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(spec) = &mut e.spec {
        walk(spec, &mut out);
    }
    out
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
