//! Loading a config repository from disk.
//!
//! A directory enters; every `*.yaml`/`*.yml` below it (dot-folders skipped)
//! is read in parallel, guarded against hostile files (too big, binary, not
//! UTF-8, symlinks that leave the repository), parsed into [`Document`]s, and
//! the Python scripts that agents name are read beside them. What leaves is a
//! [`Loaded`] repo with every diagnostic found on the way; only a repository
//! that cannot be read at all is an `Err`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use crate::diagnostic::{Diagnostic, Span};
use crate::document::{self, Document, Identity, Spec};
use crate::yaml;

/// Files larger than this are refused unless the caller raises the limit.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub max_file_bytes: u64,
    /// Read only the YAML under this folder of the repository (`CONFIG_PATH`);
    /// paths in diagnostics stay relative to the repository root, and
    /// scripts and symlinks may point anywhere inside the repository.
    pub sub_path: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { max_file_bytes: DEFAULT_MAX_FILE_BYTES, sub_path: None }
    }
}

/// The repository could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("config directory {0} does not exist (hint: pass the folder that holds your YAML files)")]
    NotFound(PathBuf),
    #[error("{0} is not a directory (hint: pass the folder that holds your YAML files)")]
    NotADirectory(PathBuf),
    #[error("config path {0} leaves the repository (hint: give a folder inside it, such as config/)")]
    SubPathOutside(PathBuf),
    #[error("cannot read {path}: {source} (hint: check that the file exists and car-server may read it)")]
    Io { path: PathBuf, source: io::Error },
}

/// A loaded repository: the valid documents, every object that was declared
/// (valid or not), the agents' scripts, and what was wrong.
#[derive(Debug, Default)]
pub struct Loaded {
    pub documents: Vec<Document>,
    /// Documents with problems of their own, as far as they could be read:
    /// only their references to other objects are checked.
    pub partial: Vec<Document>,
    pub declared: Vec<Identity>,
    /// Script sources by path relative to the repo root.
    pub scripts: BTreeMap<PathBuf, String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Where a repository's files come from: a folder on disk ([`Disk`]) or, in
/// the server, the tree of a git commit. Paths are relative to the root.
pub trait Files: Sync {
    /// Every `*.yaml`/`*.yml` below `dir` (dot-folders skipped), sorted, and
    /// the entries that cannot be read as config (symlinks out of the repo).
    fn yaml_files(&self, dir: &Path) -> Result<Vec<Entry>, LoadError>;
    /// What is at `rel`, following symlinks inside the repository.
    fn stat(&self, rel: &Path) -> Result<Stat, LoadError>;
    /// The bytes of the file at `rel` (which `stat` found to be a file).
    fn read(&self, rel: &Path) -> Result<Vec<u8>, LoadError>;
}

#[derive(Debug)]
pub enum Entry {
    Yaml(PathBuf),
    Problem(Diagnostic),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Stat {
    Missing,
    Dir,
    File {
        size: u64,
    },
    /// A symlink whose target leaves the repository.
    Outside {
        target: String,
    },
}

/// Loads every YAML file of the folder `root` (or of its `opts.sub_path`).
pub fn load(root: &Path, opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let meta = fs::metadata(root).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => LoadError::NotFound(root.to_path_buf()),
        _ => LoadError::Io { path: root.to_path_buf(), source: e },
    })?;
    if !meta.is_dir() {
        return Err(LoadError::NotADirectory(root.to_path_buf()));
    }
    load_from(&Disk::new(root)?, opts)
}

/// Loads every YAML file of a repository, from wherever its files are.
pub fn load_from(files: &dyn Files, opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let top = match &opts.sub_path {
        Some(sub) => normalize(sub).ok_or_else(|| LoadError::SubPathOutside(sub.clone()))?,
        None => PathBuf::new(),
    };
    match files.stat(&top)? {
        Stat::Dir => {}
        Stat::Missing => return Err(LoadError::NotFound(top)),
        _ => return Err(LoadError::NotADirectory(top)),
    }
    let mut loaded = Loaded::default();
    let mut yaml = Vec::new();
    for entry in files.yaml_files(&top)? {
        match entry {
            Entry::Yaml(rel) => yaml.push(rel),
            Entry::Problem(d) => loaded.diagnostics.push(d),
        }
    }
    let results: Vec<Result<FileResult, LoadError>> = yaml.par_iter().map(|rel| read_file(files, rel, opts)).collect();
    for r in results {
        let r = r?;
        loaded.diagnostics.extend(r.diagnostics);
        loaded.documents.extend(r.documents);
        loaded.partial.extend(r.partial);
        loaded.declared.extend(r.declared);
    }
    load_scripts(files, opts, &mut loaded);
    Ok(loaded)
}

/// A repository in a folder on disk.
#[derive(Debug)]
pub struct Disk {
    root: PathBuf,
    canonical_root: PathBuf,
}

impl Disk {
    pub fn new(root: &Path) -> Result<Self, LoadError> {
        let canonical_root = fs::canonicalize(root).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => LoadError::NotFound(root.to_path_buf()),
            _ => LoadError::Io { path: root.to_path_buf(), source: e },
        })?;
        Ok(Disk { root: root.to_path_buf(), canonical_root })
    }
}

impl Files for Disk {
    fn yaml_files(&self, dir: &Path) -> Result<Vec<Entry>, LoadError> {
        let mut out = Vec::new();
        let walker = walkdir::WalkDir::new(self.root.join(dir))
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walker {
            let entry = entry.map_err(|e| {
                let path = e.path().unwrap_or(&self.root).to_path_buf();
                LoadError::Io { path, source: e.into_io_error().unwrap_or_else(|| io::Error::other("filesystem loop")) }
            })?;
            if !is_yaml(entry.path()) {
                continue;
            }
            let rel = entry.path().strip_prefix(&self.root).unwrap_or(entry.path()).to_path_buf();
            if entry.file_type().is_file() {
                out.push(Entry::Yaml(rel));
            } else if entry.path_is_symlink() {
                match self.stat(&rel)? {
                    Stat::File { .. } => out.push(Entry::Yaml(rel)),
                    Stat::Dir => {}
                    Stat::Missing => out.push(Entry::Problem(
                        Diagnostic::error(&rel, Span::new(1, 1), "broken symlink")
                            .with_hint("point it at a file or remove it"),
                    )),
                    Stat::Outside { target } => out.push(Entry::Problem(outside(&rel, &target))),
                }
            }
        }
        Ok(out)
    }

    fn stat(&self, rel: &Path) -> Result<Stat, LoadError> {
        let target = match fs::canonicalize(self.root.join(rel)) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Stat::Missing),
            Err(e) => return Err(LoadError::Io { path: self.root.join(rel), source: e }),
        };
        if !target.starts_with(&self.canonical_root) {
            return Ok(Stat::Outside { target: target.display().to_string() });
        }
        let meta = fs::metadata(&target).map_err(|e| LoadError::Io { path: target.clone(), source: e })?;
        Ok(if meta.is_dir() { Stat::Dir } else { Stat::File { size: meta.len() } })
    }

    fn read(&self, rel: &Path) -> Result<Vec<u8>, LoadError> {
        let path = self.root.join(rel);
        fs::read(&path).map_err(|e| LoadError::Io { path, source: e })
    }
}

/// The diagnostic for a symlink that leaves the repository.
pub fn outside(rel: &Path, target: &str) -> Diagnostic {
    Diagnostic::error(rel, Span::new(1, 1), format!("symlink points outside the config repository, to {target}"))
        .with_hint("copy the file into the repository instead; only files inside it are read")
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

#[derive(Default)]
struct FileResult {
    documents: Vec<Document>,
    partial: Vec<Document>,
    declared: Vec<Identity>,
    diagnostics: Vec<Diagnostic>,
}

fn read_file(files: &dyn Files, rel: &Path, opts: &LoadOptions) -> Result<FileResult, LoadError> {
    let mut out = FileResult::default();
    let text = match read_text(files, rel, opts.max_file_bytes)? {
        Ok(text) => text,
        Err(d) => {
            out.diagnostics.push(d);
            return Ok(out);
        }
    };
    let parsed = yaml::parse(&text);
    let mut any = false;
    for doc in &parsed.documents {
        any |= doc.root.is_some();
        let p = document::parse(rel, doc);
        out.diagnostics.extend(p.diagnostics);
        out.declared.extend(p.identity);
        out.documents.extend(p.document);
        out.partial.extend(p.partial);
    }
    match parsed.error {
        Some(e) => out.diagnostics.push(Diagnostic::error(rel, e.span, e.message).with_optional_hint(e.hint)),
        None if !any => out.diagnostics.push(
            Diagnostic::warning(rel, Span::new(1, 1), "file holds no documents")
                .with_hint("add a document (apiVersion, kind, metadata, spec) or delete the file"),
        ),
        None => {}
    }
    Ok(out)
}

/// The text of a file, or a diagnostic saying why it is not config text.
fn read_text(files: &dyn Files, rel: &Path, max: u64) -> Result<Result<String, Diagnostic>, LoadError> {
    if let Stat::File { size } = files.stat(rel)?
        && size > max
    {
        return Ok(Err(Diagnostic::error(
            rel,
            Span::new(1, 1),
            format!("file is {size} bytes, more than the limit of {max}"),
        )
        .with_hint("split it into several files; config files are small")));
    }
    let bytes = files.read(rel)?;
    if let Some(i) = bytes.iter().position(|&b| b == 0) {
        let span = position(&bytes[..i]);
        return Ok(Err(Diagnostic::error(rel, span, "binary file: it contains a NUL byte")
            .with_hint("only YAML text belongs in .yaml files; rename or remove it")));
    }
    match String::from_utf8(bytes) {
        Ok(mut s) => {
            if s.starts_with('\u{feff}') {
                s.drain(..3);
            }
            Ok(Ok(s))
        }
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let span = position(&e.as_bytes()[..at]);
            Ok(Err(Diagnostic::error(rel, span, "file is not UTF-8 text")
                .with_hint("save it as UTF-8 (most editors offer this under the file's encoding)")))
        }
    }
}

/// 1-based line and column just after `prefix` (a valid UTF-8 prefix).
fn position(prefix: &[u8]) -> Span {
    let text = String::from_utf8_lossy(prefix);
    let line = text.matches('\n').count() + 1;
    let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Span::new(u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(col).unwrap_or(u32::MAX))
}

/// Reads each agent's `script`, which must be a `.py` file inside the repo.
fn load_scripts(files: &dyn Files, opts: &LoadOptions, loaded: &mut Loaded) {
    for doc in &loaded.documents {
        let Spec::Agent(agent) = &doc.spec else { continue };
        let Some(script) = &agent.script else { continue };
        let error = |msg: String, hint: &str| Diagnostic::error(&doc.file, script.span, msg).with_hint(hint);
        let rel = normalize(&doc.file.parent().unwrap_or(Path::new("")).join(script.as_str()));
        let rel = match rel {
            Some(rel) if !Path::new(script.as_str()).is_absolute() => rel,
            _ => {
                loaded.diagnostics.push(error(
                    format!("script {:?} is outside the config repository", script.as_str()),
                    "give a path relative to this file, inside the repository",
                ));
                continue;
            }
        };
        if rel.extension().and_then(|e| e.to_str()) != Some("py") {
            loaded.diagnostics.push(error(
                format!("script {:?} is not a Python file", script.as_str()),
                "scripts are Python files ending in .py",
            ));
            continue;
        }
        if loaded.scripts.contains_key(&rel) {
            continue;
        }
        let problem = match files.stat(&rel) {
            Ok(Stat::File { .. }) => match read_text(files, &rel, opts.max_file_bytes) {
                Ok(Ok(source)) => {
                    loaded.scripts.insert(rel, source);
                    continue;
                }
                Ok(Err(d)) => {
                    error(format!("script {}: {}", rel.display(), d.message), d.hint.as_deref().unwrap_or(""))
                }
                Err(e) => error(e.to_string(), "check the script's permissions"),
            },
            Ok(Stat::Missing | Stat::Dir) => error(
                format!("script {} does not exist", rel.display()),
                "the path is relative to this YAML file; check its spelling or add the script",
            ),
            Ok(Stat::Outside { .. }) => error(
                format!("script {} points outside the config repository", rel.display()),
                "copy the script into the repository",
            ),
            Err(e) => error(e.to_string(), "check the script's permissions"),
        };
        loaded.diagnostics.push(problem);
    }
}

/// `a/./b/../c` as `a/c`; `None` when it climbs above the root.
pub fn normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// A repository held in memory: what the server reads out of a git commit.
/// Symlinks are resolved within it, as on disk.
#[derive(Debug, Default)]
pub struct Memory {
    files: BTreeMap<PathBuf, MemFile>,
    dirs: std::collections::BTreeSet<PathBuf>,
}

#[derive(Debug)]
pub enum MemFile {
    /// A file with its content.
    Bytes(Vec<u8>),
    /// A file whose content was not read (too big, or not a kind of file the loader reads).
    Unread { size: u64 },
    /// A symlink and its target as written.
    Symlink(String),
}

impl Memory {
    pub fn insert(&mut self, path: PathBuf, file: MemFile) {
        let mut parent = path.parent();
        while let Some(p) = parent {
            if !self.dirs.insert(p.to_path_buf()) {
                break;
            }
            parent = p.parent();
        }
        self.files.insert(path, file);
    }

    /// Follows symlinks (at most 8) to what `rel` finally names.
    fn resolve<'a>(&'a self, rel: &Path) -> Result<(PathBuf, Option<&'a MemFile>), String> {
        let mut path = rel.to_path_buf();
        for _ in 0..8 {
            match self.files.get(&path) {
                Some(MemFile::Symlink(target)) => {
                    let joined = path.parent().unwrap_or(Path::new("")).join(target);
                    path = match (Path::new(target).is_absolute(), normalize(&joined)) {
                        (false, Some(p)) => p,
                        _ => return Err(target.clone()),
                    };
                }
                other => return Ok((path, other)),
            }
        }
        Err(format!("{} (a symlink loop)", rel.display()))
    }
}

impl Files for Memory {
    fn yaml_files(&self, dir: &Path) -> Result<Vec<Entry>, LoadError> {
        let mut out = Vec::new();
        for (path, file) in self.files.range(dir.to_path_buf()..) {
            let Ok(below) = path.strip_prefix(dir) else { break };
            let hidden = below
                .parent()
                .is_some_and(|p| p.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.')));
            if hidden || !is_yaml(path) {
                continue;
            }
            match file {
                MemFile::Symlink(_) => match self.stat(path)? {
                    Stat::File { .. } => out.push(Entry::Yaml(path.clone())),
                    Stat::Dir => {}
                    Stat::Missing => out.push(Entry::Problem(
                        Diagnostic::error(path, Span::new(1, 1), "broken symlink")
                            .with_hint("point it at a file or remove it"),
                    )),
                    Stat::Outside { target } => out.push(Entry::Problem(outside(path, &target))),
                },
                _ => out.push(Entry::Yaml(path.clone())),
            }
        }
        Ok(out)
    }

    fn stat(&self, rel: &Path) -> Result<Stat, LoadError> {
        Ok(match self.resolve(rel) {
            Err(target) => Stat::Outside { target },
            Ok((_, Some(MemFile::Bytes(b)))) => Stat::File { size: b.len() as u64 },
            Ok((_, Some(MemFile::Unread { size }))) => Stat::File { size: *size },
            Ok((p, _)) if p.as_os_str().is_empty() || self.dirs.contains(&p) => Stat::Dir,
            Ok(_) => Stat::Missing,
        })
    }

    fn read(&self, rel: &Path) -> Result<Vec<u8>, LoadError> {
        match self.resolve(rel) {
            Ok((_, Some(MemFile::Bytes(b)))) => Ok(b.clone()),
            _ => Err(LoadError::Io { path: rel.to_path_buf(), source: io::Error::other("content not available") }),
        }
    }
}

/// A repository with some files written or removed (`None`): an edit seen
/// before it is committed, read by the same loader as the sync.
pub struct Overlay<'a> {
    pub base: &'a dyn Files,
    pub changes: BTreeMap<PathBuf, Option<Vec<u8>>>,
}

impl Files for Overlay<'_> {
    fn yaml_files(&self, dir: &Path) -> Result<Vec<Entry>, LoadError> {
        let mut yaml = Vec::new();
        let mut problems = Vec::new();
        for e in self.base.yaml_files(dir)? {
            match e {
                Entry::Yaml(p) if self.changes.contains_key(&p) => {}
                Entry::Yaml(p) => yaml.push(p),
                problem => problems.push(problem),
            }
        }
        let written = self.changes.iter().filter(|(p, b)| b.is_some() && is_yaml(p) && p.starts_with(dir));
        yaml.extend(written.map(|(p, _)| p.clone()));
        yaml.sort();
        Ok(yaml.into_iter().map(Entry::Yaml).chain(problems).collect())
    }

    fn stat(&self, rel: &Path) -> Result<Stat, LoadError> {
        match self.changes.get(rel) {
            Some(Some(b)) => Ok(Stat::File { size: b.len() as u64 }),
            Some(None) => Ok(Stat::Missing),
            None if self.changes.iter().any(|(p, b)| b.is_some() && p.starts_with(rel)) => Ok(Stat::Dir),
            None => self.base.stat(rel),
        }
    }

    fn read(&self, rel: &Path) -> Result<Vec<u8>, LoadError> {
        match self.changes.get(rel) {
            Some(Some(b)) => Ok(b.clone()),
            Some(None) => Err(LoadError::Io { path: rel.to_path_buf(), source: io::ErrorKind::NotFound.into() }),
            None => self.base.read(rel),
        }
    }
}
