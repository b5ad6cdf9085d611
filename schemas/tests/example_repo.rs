//! The example config repository is complete and clean: it validates with no
//! diagnostic at all, covers every kind and the six built-in agents, and the
//! committed JSON Schemas accept each file in `check-jsonschema` (the
//! third-party validator editors' schemas are judged by) while rejecting a
//! typo'd field.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use car_schemas::kinds::schedule::NodeSelector;
use car_schemas::{Kind, LoadOptions, Spec, check};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-config-repo")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(yaml_files(&p));
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn the_example_repo_validates_without_any_diagnostic() {
    let loaded = check(&example(), &LoadOptions::default()).unwrap();
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let count = |k: Kind| loaded.documents.iter().filter(|d| d.kind() == k).count();
    for k in Kind::ALL {
        assert!(count(k) > 0, "no {k} in the example repo");
    }
    let names: Vec<&str> = loaded.documents.iter().filter(|d| d.kind() == Kind::Agent).map(|d| d.name()).collect();
    for built_in in
        ["zfs-health", "docker-manager", "backup-verifier", "security-scanner", "disk-space", "service-monitor"]
    {
        assert!(names.contains(&built_in), "built-in agent {built_in} missing from {names:?}");
    }
    assert!(!loaded.scripts.is_empty(), "no agent is a Python script");
}

#[test]
fn the_product_routines_are_in_the_example() {
    let loaded = check(&example(), &LoadOptions::default()).unwrap();
    let schedules: Vec<_> = loaded
        .documents
        .iter()
        .filter_map(|d| match &d.spec {
            Spec::Schedule(s) => Some(s),
            _ => None,
        })
        .collect();
    let daily =
        schedules.iter().find(|s| s.cron.as_ref().is_some_and(|c| c.as_str() == "0 2 * * *")).expect("0 2 * * *");
    let notify = daily.notify.as_ref().expect("daily maintenance notifies");
    assert_eq!(notify.on_success.as_ref().map(|n| n.priority), Some(car_schemas::values::Priority::Low));
    assert_eq!(notify.on_failure.as_ref().map(|n| n.priority), Some(car_schemas::values::Priority::High));
    let six_hourly = schedules
        .iter()
        .find(|s| s.every.as_ref().is_some_and(|e| e.get() == std::time::Duration::from_secs(6 * 3600)))
        .expect("every 6h");
    assert!(matches!(&six_hourly.nodes, NodeSelector::Names(n) if n.len() == 1 && n[0].as_str() == "truenas"));
    let triggered = loaded.documents.iter().any(|d| match &d.spec {
        Spec::Trigger(t) => t.condition.as_ref().is_some_and(|c| c.as_str() == "payload.alert == \"critical\""),
        _ => false,
    });
    assert!(triggered, "no trigger on payload.alert == \"critical\"");
}

#[test]
fn documents_survive_the_trip_to_json_and_back() {
    // The server sends agents to runners as JSON "as written in git".
    let loaded = check(&example(), &LoadOptions::default()).unwrap();
    for doc in &loaded.documents {
        let json = doc.to_json();
        let again = car_schemas::document::parse(
            &doc.file,
            &car_schemas::yaml::YamlDocument {
                start: doc.start,
                root: Some(car_schemas::yaml::Node::from_json(&json)),
            },
        );
        assert!(again.diagnostics.is_empty(), "{}: {:?}", doc.name(), again.diagnostics);
        let again = again.document.expect("a document");
        assert_eq!((&again.metadata, &again.spec), (&doc.metadata, &doc.spec), "{} changed on the way", doc.name());
    }
}

/// The schema each file's modeline names, as a path.
fn modeline_schema(file: &Path) -> PathBuf {
    let text = fs::read_to_string(file).unwrap();
    let first = text.lines().next().unwrap_or_default();
    let rel = first
        .strip_prefix("# yaml-language-server: $schema=")
        .unwrap_or_else(|| panic!("{} does not start with a schema modeline", file.display()));
    let schema = file.parent().unwrap().join(rel);
    assert!(schema.is_file(), "{}: modeline points at missing {}", file.display(), schema.display());
    schema
}

fn check_jsonschema() -> String {
    std::env::var("CAR_CHECK_JSONSCHEMA").unwrap_or_else(|_| {
        let on_path = Command::new("check-jsonschema").arg("--version").output().is_ok();
        assert!(on_path, "check-jsonschema is needed: run scripts/test (it installs it) or set CAR_CHECK_JSONSCHEMA");
        "check-jsonschema".into()
    })
}

#[test]
fn check_jsonschema_accepts_every_example_file_by_its_modeline() {
    let mut by_schema: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for f in yaml_files(&example()) {
        by_schema.entry(modeline_schema(&f)).or_default().push(f);
    }
    assert!(by_schema.len() >= 6, "files should name their kind's schema: {:?}", by_schema.keys());
    for (schema, files) in &by_schema {
        let out = Command::new(check_jsonschema()).arg("--schemafile").arg(schema).args(files).output().unwrap();
        assert!(out.status.success(), "{}: {}", schema.display(), String::from_utf8_lossy(&out.stdout));
    }
    let any = Path::new(env!("CARGO_MANIFEST_DIR")).join("json/document.schema.json");
    let out =
        Command::new(check_jsonschema()).arg("--schemafile").arg(&any).args(yaml_files(&example())).output().unwrap();
    assert!(out.status.success(), "document.schema.json: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn check_jsonschema_rejects_a_typo_in_an_example_file() {
    let schedule = yaml_files(&example().join("schedules")).into_iter().next().expect("a schedule file");
    let text = fs::read_to_string(&schedule).unwrap();
    let typo = text.replacen("\nspec:\n", "\nspec:\n  shedule_typo: true\n", 1);
    assert_ne!(typo, text);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("typo.yaml");
    fs::write(&bad, typo).unwrap();
    for schema in ["schedule.schema.json", "document.schema.json"] {
        let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("json").join(schema);
        let out = Command::new(check_jsonschema()).arg("--schemafile").arg(&schema).arg(&bad).output().unwrap();
        assert!(!out.status.success(), "{} accepted an unknown field", schema.display());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("shedule_typo"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
