//! Test fixtures shared by the crates' tests (a dev-dependency only).
//!
//! So far: config folders written from `(path, text)` pairs. The scripted
//! fake Messages API, the fake Gotify and PostgreSQL/git fixtures join as the
//! server and runner grow.

use std::fs;

/// A temporary config folder holding `files` (paths relative to it; folders
/// are created). It is deleted when the value is dropped.
pub fn config_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    for (name, body) in files {
        let p = dir.path().join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("create folders");
        }
        fs::write(p, body).expect("write a config file");
    }
    dir
}
