//! A git repository as the config source: fetched into a bare mirror, read
//! straight out of the commit's tree (no checkout).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use car_schemas::load::{Files, MemFile, Memory};
use chrono::{TimeZone, Utc};
use git2::{Cred, Direction, FetchOptions, ObjectType, RemoteCallbacks, Repository, TreeWalkMode, TreeWalkResult};

use super::SourceSettings;
use super::{Author, FileChange, Source, SourceError};
use crate::config::repo::Revision;

pub struct GitSource {
    mirror: Mutex<Repository>,
    url: String,
    branch: String,
    sub_path: Option<PathBuf>,
    token: Option<crate::trust::secrets::Secret>,
    ssh_key: Option<PathBuf>,
}

impl GitSource {
    pub fn open(s: &SourceSettings, data_dir: &Path) -> Result<Self, SourceError> {
        // Each revision is read once; libgit2's object cache would only hold
        // every blob of the last tree in memory between syncs.
        git2::opts::enable_caching(false);
        let url = match Path::new(&s.repo).canonicalize() {
            Ok(p) if !s.repo.contains("://") => p.display().to_string(),
            _ => s.repo.clone(),
        };
        let dir = data_dir.join("git").join(mirror_name(&url));
        let err = |e: git2::Error| SourceError::Git {
            repo: redact(&url),
            message: e.message().to_string(),
            hint: format!("check that DATA_DIR ({}) is writable", data_dir.display()),
        };
        let mirror = match Repository::open_bare(&dir) {
            Ok(r) => r,
            Err(_) => {
                std::fs::create_dir_all(&dir).map_err(|e| SourceError::Io { path: dir.clone(), source: e })?;
                Repository::init_bare(&dir).map_err(err)?
            }
        };
        Ok(GitSource {
            mirror: Mutex::new(mirror),
            url,
            branch: s.branch.clone(),
            sub_path: s.path.clone(),
            token: s.token.clone(),
            ssh_key: s.ssh_key.clone(),
        })
    }

    fn callbacks(&self) -> RemoteCallbacks<'_> {
        let mut cb = RemoteCallbacks::new();
        cb.credentials(move |_url, username, allowed| {
            if allowed.is_ssh_key()
                && let Some(key) = &self.ssh_key
            {
                return Cred::ssh_key(username.unwrap_or("git"), None, key, None);
            }
            if allowed.is_user_pass_plaintext()
                && let Some(token) = &self.token
            {
                return Cred::userpass_plaintext("x-access-token", token.expose());
            }
            Err(git2::Error::from_str("no credentials: set CONFIG_REPO_TOKEN (https) or CONFIG_SSH_KEY (ssh)"))
        });
        cb
    }

    fn error(&self, e: &git2::Error) -> SourceError {
        let hint = match e.class() {
            git2::ErrorClass::Http | git2::ErrorClass::Net | git2::ErrorClass::Ssh => {
                "check the URL and network; private repositories need CONFIG_REPO_TOKEN or CONFIG_SSH_KEY"
            }
            _ => "check CONFIG_REPO and CONFIG_BRANCH",
        };
        SourceError::Git { repo: redact(&self.url), message: e.message().to_string(), hint: hint.into() }
    }

    fn write_error(&self, e: &git2::Error) -> SourceError {
        let hint = match e.class() {
            git2::ErrorClass::Http | git2::ErrorClass::Net | git2::ErrorClass::Ssh => {
                "pushing needs CONFIG_REPO_TOKEN (https) or CONFIG_SSH_KEY (ssh) with write access"
            }
            _ => "check that DATA_DIR is writable and the repository is reachable",
        };
        SourceError::Write { repo: redact(&self.url), message: e.message().to_string(), hint: hint.into() }
    }

    fn tracking_ref(&self) -> String {
        format!("refs/remotes/origin/{}", self.branch)
    }
}

impl Source for GitSource {
    fn head(&self) -> Result<Revision, SourceError> {
        let repo = self.mirror.lock().unwrap_or_else(|p| p.into_inner());
        let mut remote = repo.remote_anonymous(&self.url).map_err(|e| self.error(&e))?;
        let wanted = format!("refs/heads/{}", self.branch);
        // Ask for the remote head first: fetch only when it moved.
        let remote_head = {
            let conn =
                remote.connect_auth(Direction::Fetch, Some(self.callbacks()), None).map_err(|e| self.error(&e))?;
            let refs = conn.list().map_err(|e| self.error(&e))?;
            let head = refs.iter().find(|r| r.name() == wanted).map(|r| r.oid());
            let branches: Vec<String> =
                refs.iter().filter_map(|r| r.name().strip_prefix("refs/heads/").map(String::from)).collect();
            head.ok_or_else(|| SourceError::Git {
                repo: redact(&self.url),
                message: format!("branch {:?} not found", self.branch),
                hint: format!("set CONFIG_BRANCH to one of: {}", branches.join(", ")),
            })?
        };
        if repo.refname_to_id(&self.tracking_ref()).ok() != Some(remote_head) {
            let refspec = format!("+{wanted}:{}", self.tracking_ref());
            let mut opts = FetchOptions::new();
            opts.remote_callbacks(self.callbacks()).depth(1);
            if remote.fetch(&[&refspec], Some(&mut opts), None).is_err() {
                // Some transports (the local one) cannot fetch shallow.
                let mut opts = FetchOptions::new();
                opts.remote_callbacks(self.callbacks());
                remote.fetch(&[&refspec], Some(&mut opts), None).map_err(|e| self.error(&e))?;
            }
        }
        let commit = repo.find_commit(remote_head).map_err(|e| self.error(&e))?;
        Ok(revision_of(&commit))
    }

    fn revision(&self, rev: &str) -> Result<Revision, SourceError> {
        self.head()?;
        let repo = self.mirror.lock().unwrap_or_else(|p| p.into_inner());
        let find =
            |repo: &Repository| repo.revparse_single(rev).and_then(|o| o.peel_to_commit()).map(|c| revision_of(&c));
        if let Ok(r) = find(&repo) {
            return Ok(r);
        }
        // Not in the (shallow) mirror yet: ask the remote for it.
        let mut remote = repo.remote_anonymous(&self.url).map_err(|e| self.error(&e))?;
        let mut opts = FetchOptions::new();
        opts.remote_callbacks(self.callbacks());
        let _ = remote.fetch(&[rev], Some(&mut opts), None);
        find(&repo).map_err(|e| SourceError::Git {
            repo: redact(&self.url),
            message: format!("revision {rev:?} not found: {}", e.message()),
            hint: "give a commit id, tag or branch of CONFIG_REPO".into(),
        })
    }

    fn files(&self, revision: &Revision, max_bytes: u64) -> Result<Box<dyn Files>, SourceError> {
        let repo = self.mirror.lock().unwrap_or_else(|p| p.into_inner());
        let oid = git2::Oid::from_str(&revision.id).map_err(|e| self.error(&e))?;
        let tree = repo.find_commit(oid).and_then(|c| c.tree()).map_err(|e| self.error(&e))?;
        Ok(Box::new(tree_files(&repo, &tree, max_bytes).map_err(|e| self.error(&e))?))
    }

    fn commit(
        &self,
        parent: &Revision,
        changes: &[FileChange],
        author: &Author,
        message: &str,
        branch: Option<&str>,
    ) -> Result<Revision, SourceError> {
        let repo = self.mirror.lock().unwrap_or_else(|p| p.into_inner());
        let fail = |e: git2::Error| self.write_error(&e);
        let parent = repo.find_commit(git2::Oid::from_str(&parent.id).map_err(fail)?).map_err(fail)?;
        let mut update = git2::build::TreeUpdateBuilder::new();
        for c in changes {
            match &c.after {
                Some(bytes) => update.upsert(&c.path, repo.blob(bytes).map_err(fail)?, git2::FileMode::Blob),
                None => update.remove(&c.path),
            };
        }
        let tree = update.create_updated(&repo, &parent.tree().map_err(fail)?).and_then(|t| repo.find_tree(t));
        let tree = tree.map_err(fail)?;
        let author = git2::Signature::now(&author.name, &author.email).map_err(fail)?;
        let committer = git2::Signature::now("car-server", "car-server@localhost").map_err(fail)?;
        let oid = repo.commit(None, &author, &committer, message, &tree, &[&parent]).map_err(fail)?;
        // libgit2 pushes references, not commit ids: name the commit first.
        let local = "refs/car/write-back";
        repo.reference(local, oid, true, "an edit to push").map_err(fail)?;
        let target = format!("refs/heads/{}", branch.unwrap_or(&self.branch));
        // A ref the remote refuses is reported only here, not as an error of `push`.
        let refused = std::cell::RefCell::new(None::<String>);
        let pushed = {
            let mut cb = self.callbacks();
            cb.push_update_reference(|_, status| {
                if let Some(s) = status {
                    *refused.borrow_mut() = Some(s.to_string());
                }
                Ok(())
            });
            let mut opts = git2::PushOptions::new();
            opts.remote_callbacks(cb);
            let mut remote = repo.remote_anonymous(&self.url).map_err(fail)?;
            remote.push(&[format!("{local}:{target}")], Some(&mut opts))
        };
        let moved = |why: &str| {
            ["fast-forward", "fastforward", "fetch first", "stale", "not present locally"]
                .iter()
                .any(|m| why.contains(m))
        };
        match (pushed, refused.into_inner()) {
            (Err(e), _) if e.code() == git2::ErrorCode::NotFastForward || moved(e.message()) => {
                return Err(SourceError::Moved(e.message().to_string()));
            }
            (Err(e), _) => return Err(fail(e)),
            (Ok(()), Some(why)) if moved(&why) => return Err(SourceError::Moved(why)),
            (Ok(()), Some(why)) => {
                return Err(SourceError::Write {
                    repo: redact(&self.url),
                    message: format!("the remote refused {target}: {why}"),
                    hint: "check that the token or key may push to the branch and that it is not protected".into(),
                });
            }
            (Ok(()), None) => {}
        }
        if branch.is_none() {
            repo.reference(&self.tracking_ref(), oid, true, "pushed by car-server").map_err(fail)?;
        }
        Ok(revision_of(&repo.find_commit(oid).map_err(fail)?))
    }

    fn fetch_ref(&self, name: &str) -> Result<Revision, SourceError> {
        let repo = self.mirror.lock().unwrap_or_else(|p| p.into_inner());
        let mut remote = repo.remote_anonymous(&self.url).map_err(|e| self.error(&e))?;
        let local = format!("refs/car/fetched/{}", name.trim_start_matches("refs/"));
        let mut opts = FetchOptions::new();
        opts.remote_callbacks(self.callbacks());
        remote.fetch(&[format!("+{name}:{local}")], Some(&mut opts), None).map_err(|e| self.error(&e))?;
        let commit = repo.find_reference(&local).and_then(|r| r.peel_to_commit()).map_err(|e| SourceError::Git {
            repo: redact(&self.url),
            message: format!("{name} was not found: {}", e.message()),
            hint: "the pull request may be closed, or the forge keeps its heads elsewhere".into(),
        })?;
        Ok(revision_of(&commit))
    }

    fn sub_path(&self) -> Option<PathBuf> {
        self.sub_path.clone()
    }

    fn watch_dir(&self) -> Option<PathBuf> {
        None
    }

    fn describe(&self) -> String {
        format!("{} ({})", redact(&self.url), self.branch)
    }
}

fn revision_of(commit: &git2::Commit<'_>) -> Revision {
    let author = commit.author();
    Revision {
        id: commit.id().to_string(),
        author: Some(match author.email() {
            Some(email) => format!("{} <{email}>", author.name().unwrap_or("")),
            None => author.name().unwrap_or("").to_string(),
        }),
        message: commit.summary().map(String::from),
        committed_at: Utc.timestamp_opt(commit.time().seconds(), 0).single(),
    }
}

/// The files of a tree the loader may read: YAML and Python contents (up to
/// `max` bytes each), symlinks, and the size of everything else.
fn tree_files(repo: &Repository, tree: &git2::Tree<'_>, max: u64) -> Result<Memory, git2::Error> {
    let mut files = Memory::default();
    let mut failure = None;
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() != Some(ObjectType::Blob) {
            return TreeWalkResult::Ok;
        }
        let path = PathBuf::from(dir).join(entry.name().unwrap_or_default());
        let file = repo.find_blob(entry.id()).map(|blob| {
            let size = blob.size() as u64;
            let wanted = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "py"));
            if entry.filemode() == 0o120000 {
                MemFile::Symlink(String::from_utf8_lossy(blob.content()).into_owned())
            } else if wanted && size <= max {
                MemFile::Bytes(blob.content().to_vec())
            } else {
                MemFile::Unread { size }
            }
        });
        match file {
            Ok(f) => {
                files.insert(path, f);
                TreeWalkResult::Ok
            }
            Err(e) => {
                failure = Some(e);
                TreeWalkResult::Abort
            }
        }
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(files),
    }
}

/// A folder name for the mirror of `url`.
fn mirror_name(url: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(url.as_bytes());
    let tail: String = url
        .rsplit(['/', ':'])
        .find(|s| !s.is_empty())
        .unwrap_or("repo")
        .trim_end_matches(".git")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    format!("{tail}-{}.git", &hex::encode(digest)[..12])
}

/// The URL without a password or token, for logs and messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    match authority.rsplit_once('@') {
        Some((_, host)) => match path {
            Some(p) => format!("{scheme}://***@{host}/{p}"),
            None => format!("{scheme}://***@{host}"),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_not_shown() {
        assert_eq!(redact("https://user:tok@github.com/me/homelab.git"), "https://***@github.com/me/homelab.git");
        assert_eq!(redact("https://github.com/me/homelab.git"), "https://github.com/me/homelab.git");
        assert_eq!(redact("/srv/config.git"), "/srv/config.git");
    }

    #[test]
    fn mirrors_are_named_after_the_repository() {
        let n = mirror_name("https://github.com/me/homelab.git");
        assert!(n.starts_with("homelab-") && n.ends_with(".git"), "{n}");
        assert_ne!(n, mirror_name("https://github.com/you/homelab.git"));
    }
}
