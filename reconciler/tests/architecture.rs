//! The server's domains import one another in one direction only: each may
//! use the layers below it, never one beside or above it, so there are no
//! import circles. Read from the source itself: every `crate::<domain>`
//! path outside comments.

use std::path::{Path, PathBuf};

/// Lowest first; the domains of one layer do not use each other.
const LAYERS: &[&[&str]] = &[
    &["db", "tasks"],
    &["trust", "events"],
    &["config"],
    &["nodes"],
    &["runs"],
    &["schedule", "hooks", "notify"],
    &["api"],
    &["app"],
    &["cli"],
];

fn layer(domain: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&domain))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each `crate::<name>` in `line`, outside a `//` comment.
fn references(line: &str) -> Vec<&str> {
    let code = line.split("//").next().unwrap_or_default();
    code.match_indices("crate::")
        .map(|(i, m)| {
            let rest = &code[i + m.len()..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn domains_only_use_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_str().unwrap();
        let domain = first.trim_end_matches(".rs");
        if matches!(domain, "lib" | "main") {
            continue;
        }
        let Some(own) = layer(domain) else {
            wrong.push(format!("src/{domain} is in no layer: add it to LAYERS in tests/architecture.rs"));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let at = format!("src/{}:{}", rel.display(), n + 1);
            if line.split("//").next().unwrap_or_default().contains("super::super") {
                wrong.push(format!("{at} reaches out with super::super: name the domain with crate::"));
            }
            for used in references(line) {
                match layer(used) {
                    _ if used == domain => {}
                    None => wrong.push(format!("{at} uses crate::{used}, which is in no layer")),
                    Some(l) if l < own => {}
                    Some(_) => wrong.push(format!(
                        "{at}: {domain} uses crate::{used}, which is not below it; move what both need down a layer"
                    )),
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_domain_of_the_crate_is_in_a_layer_and_the_check_sees_grouped_paths() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let declared: Vec<&str> = lib.lines().filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';')).collect();
    let mut layered: Vec<&str> = LAYERS.iter().flat_map(|l| l.iter().copied()).collect();
    layered.sort();
    let mut declared_sorted = declared.clone();
    declared_sorted.sort();
    assert_eq!(declared_sorted, layered, "lib.rs's modules and LAYERS differ");
    assert_eq!(references("use crate::runs::Runs; // crate::api"), ["runs"]);
    assert_eq!(references("x(crate::trust::audit::Actor::system(\"a\"), crate::db::Store)"), ["trust", "db"]);
    // `use crate::{a, b}` would hide its domains from the check: none may be written.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("crate::{"),
            "{} groups crate paths (`crate::{{…}}`): write one per domain",
            f.display()
        );
    }
}
