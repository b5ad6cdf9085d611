//! A local folder as the config source: read in place, so edits apply as
//! soon as they are saved (the sync loop watches the folder). The revision
//! is the enclosing git commit when the folder has no uncommitted changes,
//! and otherwise names the commit plus a hash of the folder's content.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use sha2::{Digest, Sha256};

use super::{Author, FileChange, Source, SourceError};
use crate::config::repo::Revision;

pub struct LocalSource {
    root: PathBuf,
    sub_path: Option<PathBuf>,
}

impl LocalSource {
    pub fn new(root: &Path, sub_path: Option<PathBuf>) -> Result<Self, SourceError> {
        let root = root.canonicalize().map_err(|e| SourceError::Io { path: root.to_path_buf(), source: e })?;
        Ok(LocalSource { root, sub_path })
    }

    fn config_dir(&self) -> PathBuf {
        self.sub_path.as_ref().map_or_else(|| self.root.clone(), |p| self.root.join(p))
    }

    /// A hash of every file the loader may read, so any edit is a new revision.
    fn content_hash(&self) -> Result<String, SourceError> {
        let mut h = Sha256::new();
        let dir = self.config_dir();
        let walker = walkdir::WalkDir::new(&dir)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walker {
            let entry = entry.map_err(|e| SourceError::Io { path: dir.clone(), source: e.into() })?;
            let relevant = matches!(entry.path().extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "py"));
            if relevant && !entry.file_type().is_dir() {
                h.update(entry.path().strip_prefix(&dir).unwrap_or(entry.path()).to_string_lossy().as_bytes());
                h.update([0]);
                // Unreadable files change the hash too; the loader reports them.
                h.update(std::fs::read(entry.path()).unwrap_or_default());
                h.update([0]);
            }
        }
        Ok(hex::encode(h.finalize()))
    }
}

impl Source for LocalSource {
    fn head(&self) -> Result<Revision, SourceError> {
        let hash = self.content_hash()?;
        let Ok(repo) = git2::Repository::discover(&self.root) else {
            return Ok(Revision {
                id: format!("local-{}", &hash[..12]),
                author: None,
                message: Some(format!("the files in {}", self.root.display())),
                committed_at: None,
            });
        };
        let commit = repo.head().and_then(|h| h.peel_to_commit());
        let dirty = repo
            .workdir()
            .and_then(|w| self.config_dir().strip_prefix(w).ok().map(Path::to_path_buf))
            .is_none_or(|rel| {
                let mut opts = git2::StatusOptions::new();
                opts.include_untracked(true).pathspec(rel.join("*").to_string_lossy().as_ref());
                repo.statuses(Some(&mut opts)).map_or(true, |s| !s.is_empty())
            });
        Ok(match commit {
            Ok(c) if !dirty => {
                let author = c.author();
                Revision {
                    id: c.id().to_string(),
                    author: author.name().map(String::from),
                    message: c.summary().map(String::from),
                    committed_at: Utc.timestamp_opt(c.time().seconds(), 0).single(),
                }
            }
            Ok(c) => Revision {
                id: format!("{}+local-{}", &c.id().to_string()[..12], &hash[..12]),
                author: None,
                message: Some(format!("uncommitted changes in {}", self.config_dir().display())),
                committed_at: None,
            },
            Err(_) => Revision {
                id: format!("local-{}", &hash[..12]),
                author: None,
                message: Some(format!("the files in {}", self.root.display())),
                committed_at: None,
            },
        })
    }

    fn revision(&self, rev: &str) -> Result<Revision, SourceError> {
        Err(SourceError::Git {
            repo: self.root.display().to_string(),
            message: format!("cannot pick revision {rev:?}: a local folder is read as it is"),
            hint: "set CONFIG_REPO to a git URL, or check out the revision and pass its folder".into(),
        })
    }

    fn files(&self, _revision: &Revision, _max_bytes: u64) -> Result<Box<dyn car_schemas::load::Files>, SourceError> {
        Ok(Box::new(car_schemas::load::Disk::new(&self.root)?))
    }

    /// Writes the files in place (the watcher applies them); in a git work
    /// tree they are also committed there, by `author`. Nothing is pushed.
    fn commit(
        &self,
        parent: &Revision,
        changes: &[FileChange],
        author: &Author,
        message: &str,
        _branch: Option<&str>,
    ) -> Result<Revision, SourceError> {
        if self.head()?.id != parent.id {
            return Err(SourceError::Moved(format!("the files in {} changed", self.root.display())));
        }
        let io = |path: &Path, e: std::io::Error| SourceError::Io { path: path.to_path_buf(), source: e };
        for c in changes {
            let path = self.root.join(&c.path);
            match &c.after {
                Some(bytes) => {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
                    }
                    // Written beside and renamed, so the watcher never reads half a file.
                    let tmp = path.with_extension("car-edit");
                    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
                    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
                }
                None => std::fs::remove_file(&path).map_err(|e| io(&path, e))?,
            }
        }
        if let Ok(repo) = git2::Repository::discover(&self.root)
            && let Some(workdir) = repo.workdir().map(Path::to_path_buf)
        {
            let fail = |e: git2::Error| SourceError::Write {
                repo: workdir.display().to_string(),
                message: e.message().to_string(),
                hint: "the files are written; commit them by hand, or check the work tree's permissions".into(),
            };
            let mut index = repo.index().map_err(fail)?;
            let prefix = self.root.strip_prefix(&workdir).unwrap_or(Path::new(""));
            for c in changes {
                let rel = prefix.join(&c.path);
                match c.after {
                    Some(_) => index.add_path(&rel).map_err(fail)?,
                    None => index.remove_path(&rel).map_err(fail)?,
                }
            }
            index.write().map_err(fail)?;
            let tree = repo.find_tree(index.write_tree().map_err(fail)?).map_err(fail)?;
            let author = git2::Signature::now(&author.name, &author.email).map_err(fail)?;
            let committer = git2::Signature::now("car-server", "car-server@localhost").map_err(fail)?;
            let parents: Vec<git2::Commit<'_>> = repo.head().and_then(|h| h.peel_to_commit()).into_iter().collect();
            let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
            repo.commit(Some("HEAD"), &author, &committer, message, &tree, &parents).map_err(fail)?;
        }
        self.head()
    }

    fn fetch_ref(&self, name: &str) -> Result<Revision, SourceError> {
        self.revision(name)
    }

    fn sub_path(&self) -> Option<PathBuf> {
        self.sub_path.clone()
    }

    fn watch_dir(&self) -> Option<PathBuf> {
        Some(self.config_dir())
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}
