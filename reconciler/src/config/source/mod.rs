//! Where the config comes from: a git repository (fetched into a mirror
//! under `DATA_DIR/git`) or a local folder (read in place and watched, for hot
//! reload while writing agents).
//!
//! A source answers two questions, both blocking (callers use
//! `spawn_blocking`): what is the head revision now, and what does a revision
//! hold. Loading goes through `car-schemas` exactly as `validate` does.

mod git;
mod local;

use std::path::{Path, PathBuf};
use std::time::Duration;

use car_schemas::load::Files;
use car_schemas::{LoadOptions, Loaded};

use crate::config::repo::Revision;
use crate::trust::secrets::Secret;

pub use git::GitSource;
pub use local::LocalSource;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read the config repository {repo}: {message} (hint: {hint})")]
    Git { repo: String, message: String, hint: String },
    #[error(transparent)]
    Load(#[from] car_schemas::LoadError),
    #[error("cannot read the config folder {path}: {source} (hint: check that CONFIG_REPO exists and is readable)")]
    Io { path: PathBuf, source: std::io::Error },
    /// The remote refused the push because the branch moved: fetch and try again on the new head.
    #[error("the config branch moved while the edit was written: {0}")]
    Moved(String),
    #[error("cannot write to the config repository {repo}: {message} (hint: {hint})")]
    Write { repo: String, message: String, hint: String },
}

/// A file an edit writes (`after: None` removes it), by its path in the repository.
#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: PathBuf,
    pub after: Option<Vec<u8>>,
}

/// Who made an edit, as the commit's author.
#[derive(Debug, Clone)]
pub struct Author {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone)]
pub struct SourceSettings {
    /// `CONFIG_REPO`: a local folder, a bare repository, or a file://, https:// or ssh:// URL.
    pub repo: String,
    /// `CONFIG_BRANCH` (default main).
    pub branch: String,
    /// `CONFIG_PATH`: the folder of the repository that holds the config (default: all of it).
    pub path: Option<PathBuf>,
    /// `CONFIG_POLL_INTERVAL` (default 60s).
    pub poll_interval: Duration,
    /// `CONFIG_REPO_TOKEN`: token for https repositories.
    pub token: Option<Secret>,
    /// `CONFIG_SSH_KEY`: private key file for ssh repositories.
    pub ssh_key: Option<PathBuf>,
}

pub trait Source: Send + Sync {
    /// The head revision now (fetching it when the remote moved).
    fn head(&self) -> Result<Revision, SourceError>;
    /// A revision other than the head (a commit id, tag or branch), for `plan`.
    fn revision(&self, rev: &str) -> Result<Revision, SourceError>;
    /// Loads and validates everything `revision` declares.
    fn load(&self, revision: &Revision, opts: &LoadOptions) -> Result<Loaded, SourceError> {
        self.check(&*self.files(revision, opts.max_file_bytes)?, opts)
    }
    /// Loads and validates the config in `files` (a revision's, or one with an edit over it), under `CONFIG_PATH`.
    fn check(&self, files: &dyn Files, opts: &LoadOptions) -> Result<Loaded, SourceError> {
        Ok(car_schemas::check_from(files, &LoadOptions { sub_path: self.sub_path(), ..opts.clone() })?)
    }
    /// The files of `revision`, for reading and editing in memory.
    /// Files larger than `max_bytes` are listed with their size only.
    fn files(&self, revision: &Revision, max_bytes: u64) -> Result<Box<dyn Files>, SourceError>;
    /// Writes `changes` on top of `parent` as one commit by `author` and
    /// pushes it to `branch` (the config branch, or a new one for a pull
    /// request); a folder is written in place. [`SourceError::Moved`] when
    /// the branch is no longer at `parent`.
    fn commit(
        &self,
        parent: &Revision,
        changes: &[FileChange],
        author: &Author,
        message: &str,
        branch: Option<&str>,
    ) -> Result<Revision, SourceError>;
    /// Fetches a ref the branch does not hold (a pull request's head, `refs/pull/7/head`).
    fn fetch_ref(&self, name: &str) -> Result<Revision, SourceError>;
    /// `CONFIG_PATH`: the folder of the repository that holds the config.
    fn sub_path(&self) -> Option<PathBuf>;
    /// A folder to watch for edits, when the config is read in place.
    fn watch_dir(&self) -> Option<PathBuf>;
    /// What to call the source in logs and messages.
    fn describe(&self) -> String;
}

/// Opens the source `CONFIG_REPO` names: a local folder that is not a bare
/// repository is read in place; anything else is fetched with git.
pub fn open(settings: &SourceSettings, data_dir: &Path) -> Result<Box<dyn Source>, SourceError> {
    let repo = settings.repo.as_str();
    let is_url = ["http://", "https://", "ssh://", "git://", "file://"].iter().any(|p| repo.starts_with(p))
        || (repo.contains('@') && repo.contains(':') && !Path::new(repo).exists());
    if !is_url {
        let path = Path::new(repo);
        if !path.exists() {
            return Err(SourceError::Git {
                repo: repo.into(),
                message: "no such folder".into(),
                hint: "set CONFIG_REPO to a folder or a git URL (file://, https://, ssh://)".into(),
            });
        }
        if !is_bare_repository(path) {
            return Ok(Box::new(LocalSource::new(path, settings.path.clone())?));
        }
    }
    Ok(Box::new(GitSource::open(settings, data_dir)?))
}

fn is_bare_repository(path: &Path) -> bool {
    git2::Repository::open_bare(path).is_ok_and(|r| r.is_bare())
}
