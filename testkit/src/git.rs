//! A config repository made in a temp dir: a bare repository whose `main`
//! gets commits straight from a map of files (no work tree, no git CLI).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{IndexEntry, IndexTime, Repository, Signature};

pub struct ConfigRepo {
    _dir: tempfile::TempDir,
    bare: PathBuf,
    files: BTreeMap<String, Vec<u8>>,
}

impl ConfigRepo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let bare = dir.path().join("config.git");
        Repository::init_bare(&bare).expect("init a bare repository");
        ConfigRepo { _dir: dir, bare, files: BTreeMap::new() }
    }

    /// A repository holding every file under `src` (relative paths kept).
    pub fn from_dir(src: &Path) -> Self {
        let mut repo = Self::new();
        for entry in walkdir::WalkDir::new(src).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()) {
            let rel = entry.path().strip_prefix(src).expect("below src").to_string_lossy().into_owned();
            repo.write(&rel, std::fs::read(entry.path()).expect("read a file"));
        }
        repo
    }

    pub fn path(&self) -> &Path {
        &self.bare
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    pub fn write(&mut self, path: &str, content: impl Into<Vec<u8>>) -> &mut Self {
        self.files.insert(path.to_string(), content.into());
        self
    }

    pub fn read(&self, path: &str) -> String {
        String::from_utf8_lossy(&self.files[path]).into_owned()
    }

    pub fn remove(&mut self, path: &str) -> &mut Self {
        self.files.remove(path);
        self
    }

    /// Takes the files of `main` as it is now (after someone else pushed to it).
    pub fn pull(&mut self) -> &mut Self {
        let repo = Repository::open_bare(&self.bare).expect("open the bare repository");
        let tree = repo.find_reference("refs/heads/main").and_then(|r| r.peel_to_tree()).expect("main's tree");
        self.files.clear();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if let Ok(blob) = entry.to_object(&repo).and_then(|o| o.peel_to_blob()) {
                self.files.insert(format!("{dir}{}", entry.name().unwrap_or_default()), blob.content().to_vec());
            }
            git2::TreeWalkResult::Ok
        })
        .expect("walk main's tree");
        self
    }

    /// Commits the current files on `branch` (default main); returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        self.commit_on("main", message)
    }

    pub fn commit_on(&self, branch: &str, message: &str) -> String {
        let repo = Repository::open_bare(&self.bare).expect("open the bare repository");
        let mut index = git2::Index::new().expect("an in-memory index");
        for (path, content) in &self.files {
            let entry = IndexEntry {
                ctime: IndexTime::new(0, 0),
                mtime: IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: 0o100644,
                uid: 0,
                gid: 0,
                file_size: u32::try_from(content.len()).unwrap_or(u32::MAX),
                id: repo.blob(content).expect("write a blob"),
                flags: 0,
                flags_extended: 0,
                path: path.as_bytes().to_vec(),
            };
            index.add(&entry).expect("add a file");
        }
        let tree = repo.find_tree(index.write_tree_to(&repo).expect("write the tree")).expect("the tree");
        let sig = Signature::now("Test Author", "author@example.org").expect("a signature");
        let refname = format!("refs/heads/{branch}");
        let parent = repo.refname_to_id(&refname).ok().and_then(|id| repo.find_commit(id).ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let id = repo.commit(Some(&refname), &sig, &sig, message, &tree, &parents).expect("commit");
        if branch == "main" {
            repo.set_head("refs/heads/main").expect("HEAD");
        }
        id.to_string()
    }
}

impl Default for ConfigRepo {
    fn default() -> Self {
        Self::new()
    }
}
