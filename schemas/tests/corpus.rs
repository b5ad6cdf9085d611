//! The broken-repo corpus: each folder under `tests/corpus/` is a config repo
//! with mistakes, and its `expected.txt` holds exactly what `validate` must
//! report (text format, paths relative to the folder). Run with
//! `UPDATE_EXPECTED=1` to rewrite the files after a deliberate change, then
//! read the diff.

use std::fs;
use std::path::{Path, PathBuf};

use car_schemas::diagnostic::{Format, render};
use car_schemas::{LoadOptions, check};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn report(dir: &Path, opts: &LoadOptions) -> String {
    let loaded = check(dir, opts).expect("the corpus folder is readable");
    render(&loaded.diagnostics, Format::Text, Path::new(""))
}

#[test]
fn every_broken_repo_is_reported_exactly() {
    let update = std::env::var_os("UPDATE_EXPECTED").is_some();
    let mut cases: Vec<PathBuf> =
        fs::read_dir(corpus()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(cases.len() >= 15, "the corpus is missing");
    let mut failures = Vec::new();
    for case in cases {
        let got = report(&case, &LoadOptions::default());
        let expected_file = case.join("expected.txt");
        if update {
            fs::write(&expected_file, &got).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_file).unwrap_or_default();
        if got != expected {
            failures.push(format!("== {}\n-- expected\n{expected}-- got\n{got}", case.display()));
        }
        assert!(!got.is_empty(), "{} reports nothing", case.display());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_file_over_the_size_limit_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "apiVersion: car/v1\nkind: Node\nmetadata: {name: n}\nspec: {os: linux}\n";
    fs::write(dir.path().join("big.yaml"), format!("{doc}# {}\n", "x".repeat(2 * 1024 * 1024))).unwrap();
    fs::write(dir.path().join("small.yaml"), doc.replace("name: n", "name: m")).unwrap();
    assert_eq!(
        report(dir.path(), &LoadOptions::default()),
        "big.yaml:1:1: error: file is 2097223 bytes, more than the limit of 1048576 (hint: split it into several files; config files are small)\n"
    );
    assert_eq!(report(dir.path(), &LoadOptions { max_file_bytes: 4 * 1024 * 1024, ..LoadOptions::default() }), "");
}

#[test]
fn symlinks_that_leave_the_repo_are_refused_and_inner_ones_are_read() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(
        outside.path().join("secret.yaml"),
        "apiVersion: car/v1\nkind: Node\nmetadata: {name: x}\nspec: {os: linux}\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.yaml"), dir.path().join("escape.yaml")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("escape-dir")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("missing.yaml"), dir.path().join("dangling.yaml")).unwrap();
    fs::create_dir(dir.path().join("real")).unwrap();
    fs::write(
        dir.path().join("real/node.yml"),
        "apiVersion: car/v1\nkind: Node\nmetadata: {name: y}\nspec: {os: linux}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(dir.path().join("real/node.yml"), dir.path().join("alias.yaml")).unwrap();
    let got = report(dir.path(), &LoadOptions::default());
    let target = fs::canonicalize(outside.path().join("secret.yaml")).unwrap();
    assert_eq!(
        got,
        format!(
            "dangling.yaml:1:1: error: broken symlink (hint: point it at a file or remove it)\n\
             escape.yaml:1:1: error: symlink points outside the config repository, to {} (hint: copy the file into the repository instead; only files inside it are read)\n\
             real/node.yml:3:18: error: duplicate Node name \"y\" (hint: it is already declared at alias.yaml:3:18; names are unique per kind)\n",
            target.display()
        )
    );
}

#[test]
fn a_missing_directory_cannot_be_loaded() {
    let err = check(Path::new("/nonexistent/config"), &LoadOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config directory /nonexistent/config does not exist (hint: pass the folder that holds your YAML files)"
    );
}

#[test]
fn a_repository_in_memory_is_reported_exactly_like_on_disk() {
    use car_schemas::load::{MemFile, Memory, load_from};
    for case in fs::read_dir(corpus()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        let mut mem = Memory::default();
        for e in walk(&case) {
            mem.insert(e.strip_prefix(&case).unwrap().to_path_buf(), MemFile::Bytes(fs::read(&e).unwrap()));
        }
        let mut loaded = load_from(&mem, &LoadOptions::default()).unwrap();
        loaded.diagnostics.extend(car_schemas::validate::validate(&loaded));
        car_schemas::diagnostic::sort(&mut loaded.diagnostics);
        let expected = fs::read_to_string(case.join("expected.txt")).unwrap();
        assert_eq!(render(&loaded.diagnostics, Format::Text, Path::new("")), expected, "{}", case.display());
    }
}

#[test]
fn symlinks_in_memory_resolve_inside_the_repo_only() {
    use car_schemas::load::{MemFile, Memory, load_from};
    let node = |n: &str| format!("apiVersion: car/v1\nkind: Node\nmetadata: {{name: {n}}}\nspec: {{os: linux}}\n");
    let mut mem = Memory::default();
    mem.insert(PathBuf::from("nodes/a.yaml"), MemFile::Bytes(node("a").into_bytes()));
    mem.insert(PathBuf::from(".github/ci.yaml"), MemFile::Bytes(b"on: push".to_vec()));
    mem.insert(PathBuf::from("up.yaml"), MemFile::Symlink("../outside.yaml".into()));
    mem.insert(PathBuf::from("abs.yaml"), MemFile::Symlink("/etc/passwd".into()));
    mem.insert(PathBuf::from("gone.yaml"), MemFile::Symlink("nowhere.yaml".into()));
    mem.insert(PathBuf::from("loop.yaml"), MemFile::Symlink("loop.yaml".into()));
    mem.insert(PathBuf::from("x/b.yaml"), MemFile::Symlink("../nodes/a.yaml".into()));
    let loaded = load_from(&mem, &LoadOptions::default()).unwrap();
    let mut diags = loaded.diagnostics.clone();
    car_schemas::diagnostic::sort(&mut diags);
    assert_eq!(
        render(&diags, Format::Text, Path::new("")),
        "abs.yaml:1:1: error: symlink points outside the config repository, to /etc/passwd (hint: copy the file into the repository instead; only files inside it are read)\n\
         gone.yaml:1:1: error: broken symlink (hint: point it at a file or remove it)\n\
         loop.yaml:1:1: error: symlink points outside the config repository, to loop.yaml (a symlink loop) (hint: copy the file into the repository instead; only files inside it are read)\n\
         up.yaml:1:1: error: symlink points outside the config repository, to ../outside.yaml (hint: copy the file into the repository instead; only files inside it are read)\n"
    );
    let files: Vec<_> = loaded.documents.iter().map(|d| d.file.display().to_string()).collect();
    assert_eq!(files, ["nodes/a.yaml", "x/b.yaml"]);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
