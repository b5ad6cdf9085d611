//! Test fixtures shared by the crates' tests (a dev-dependency), and the
//! demo model (`car-demo-model`, the scripted Messages API serving the
//! built-in agents' demo sessions when there are no model credentials).
//!
//! Config folders written from `(path, text)` pairs, config git repositories
//! ([`git::ConfigRepo`]), and the scenario-scripted fake of the Anthropic
//! Messages API ([`anthropic::FakeAnthropic`]) the real `claude` CLI runs
//! against, and a fake Gotify server ([`gotify::FakeGotify`]) notifications
//! are delivered to.

pub mod anthropic;
pub mod forge;
pub mod git;
pub mod gotify;
pub mod json;

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
