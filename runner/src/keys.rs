//! The keys this runner accepts: `RUNNER_TOKEN`, set by hand to match the
//! Node's token in git, and the node keys the server issued when the node
//! enrolled. Those live in `RUNNER_DATA_DIR/keys.json` (0600, replaced
//! atomically) with the server's URL and the node's name; the server
//! replaces them when it rotates or revokes keys (`PUT /v1/keys`), and the
//! runner drops any its heartbeats say no longer count. Comparisons are
//! constant-time.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// The prefix of keys the server issues.
pub const NODE_KEY: &str = "carn_";

/// What enrolling left behind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Enrollment {
    /// The server the node enrolled with.
    pub server: String,
    /// The node's name there.
    pub node: String,
    /// Its keys, oldest first.
    pub keys: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source} (hint: enroll the node again, or restore the file)")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a keys file: {source} (hint: enroll the node again)")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("cannot write {path}: {source} (hint: check RUNNER_DATA_DIR's permissions and free space)")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{0:?} is not a node key (hint: node keys start with carn_)")]
    NotANodeKey(String),
}

pub struct KeyRing {
    token: Option<String>,
    path: PathBuf,
    enrollment: RwLock<Option<Enrollment>>,
}

/// The id part of a node key (`carn_<id>_<mac>`).
pub fn key_id(key: &str) -> Option<&str> {
    key.strip_prefix(NODE_KEY)?.split_once('_').map(|(id, _)| id)
}

impl KeyRing {
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("keys.json")
    }

    /// The ring of `RUNNER_TOKEN` (if set) and the enrollment in `data_dir` (if any).
    pub fn open(data_dir: &Path, token: Option<String>) -> Result<KeyRing, KeyError> {
        let path = Self::path_in(data_dir);
        let enrollment = read(&path)?;
        Ok(KeyRing { token, path, enrollment: RwLock::new(enrollment) })
    }

    /// Whether a request bearing `presented` may call the runner.
    pub fn accepts(&self, presented: &str) -> bool {
        let same = |k: &str| bool::from(k.as_bytes().ct_eq(presented.as_bytes()));
        let by_token = self.token.as_deref().is_some_and(same);
        let by_key = self.enrollment().is_some_and(|e| e.keys.iter().fold(false, |hit, k| same(k) | hit));
        !presented.is_empty() && (by_token | by_key)
    }

    pub fn enrollment(&self) -> Option<Enrollment> {
        self.enrollment.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether anything is accepted at all.
    pub fn is_empty(&self) -> bool {
        self.token.is_none() && self.enrollment().is_none_or(|e| e.keys.is_empty())
    }

    /// The key to present to the server: the newest node key, else `RUNNER_TOKEN`.
    pub fn presented(&self) -> Option<String> {
        self.enrollment().and_then(|e| e.keys.last().cloned()).or_else(|| self.token.clone())
    }

    /// Replaces the node keys (rotation, revocation), keeping the enrollment.
    pub fn set_keys(&self, keys: Vec<String>) -> Result<(), KeyError> {
        if let Some(bad) = keys.iter().find(|k| key_id(k).is_none()) {
            return Err(KeyError::NotANodeKey(bad.chars().take(8).collect()));
        }
        self.update(|e| e.keys = keys)
    }

    /// Keeps only the node keys whose ids are listed; true when one went.
    pub fn retain_ids(&self, ids: &[String]) -> Result<bool, KeyError> {
        let before = self.enrollment().map_or(0, |e| e.keys.len());
        self.update(|e| e.keys.retain(|k| key_id(k).is_some_and(|id| ids.iter().any(|i| i == id))))?;
        Ok(self.enrollment().map_or(0, |e| e.keys.len()) < before)
    }

    /// Forgets one node key (the server refused it).
    pub fn drop_key(&self, key: &str) -> Result<(), KeyError> {
        self.update(|e| e.keys.retain(|k| k != key))
    }

    /// `(name, value)` of every secret here, for redaction.
    pub fn secrets(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self.token.iter().map(|t| ("RUNNER_TOKEN".into(), t.clone())).collect();
        if let Some(e) = self.enrollment() {
            out.extend(e.keys.into_iter().map(|k| ("node key".to_string(), k)));
        }
        out
    }

    fn update(&self, change: impl FnOnce(&mut Enrollment)) -> Result<(), KeyError> {
        let mut guard = self.enrollment.write().unwrap_or_else(|p| p.into_inner());
        let Some(current) = guard.as_ref() else { return Ok(()) };
        let mut next = current.clone();
        change(&mut next);
        if next != *current {
            write(&self.path, &next)?;
            *guard = Some(next);
        }
        Ok(())
    }
}

fn read(path: &Path) -> Result<Option<Enrollment>, KeyError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| KeyError::Parse { path: path.to_path_buf(), source: e }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(KeyError::Read { path: path.to_path_buf(), source: e }),
    }
}

/// Writes the keys file (0600) so that it is always whole: a new file, synced, then renamed over the old.
pub fn write(path: &Path, e: &Enrollment) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| KeyError::Write { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("json.new");
    let mut f =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(err)?;
    f.write_all(&serde_json::to_vec_pretty(e).expect("keys serialize")).and_then(|()| f.sync_all()).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enrolled(dir: &Path, keys: &[&str]) -> KeyRing {
        let e = Enrollment {
            server: "http://car:8000".into(),
            node: "nas".into(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
        };
        write(&KeyRing::path_in(dir), &e).unwrap();
        KeyRing::open(dir, None).unwrap()
    }

    #[test]
    fn the_token_and_the_node_keys_are_accepted_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &KeyRing::path_in(dir.path()),
            &Enrollment { server: "s".into(), node: "n".into(), keys: vec!["carn_a1_mac".into()] },
        )
        .unwrap();
        let ring = KeyRing::open(dir.path(), Some("a-long-runner-token".into())).unwrap();
        assert!(ring.accepts("a-long-runner-token"));
        assert!(ring.accepts("carn_a1_mac"));
        for wrong in ["", "carn_a1_ma", "carn_a1_mac!", "a-long-runner-token "] {
            assert!(!ring.accepts(wrong), "{wrong:?} was accepted");
        }
    }

    #[test]
    fn rotated_keys_survive_a_restart_and_pruned_ones_are_gone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ring = enrolled(dir.path(), &["carn_old_x"]);
        ring.set_keys(vec!["carn_old_x".into(), "carn_new_y".into()]).unwrap();
        assert_eq!(ring.presented().as_deref(), Some("carn_new_y"));
        assert!(ring.retain_ids(&["new".into()]).unwrap());
        let again = KeyRing::open(dir.path(), None).unwrap();
        assert!(again.accepts("carn_new_y") && !again.accepts("carn_old_x"));
        let mode = std::fs::metadata(KeyRing::path_in(dir.path())).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        again.drop_key("carn_new_y").unwrap();
        assert!(again.is_empty(), "a runner whose keys were all revoked accepts nothing");
        assert!(ring.set_keys(vec!["plain".into()]).is_err(), "only node keys are taken");
    }
}
