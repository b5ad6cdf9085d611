//! `car-server validate` and `car-server schema` as a user runs them: the
//! real binary, real folders, exit codes and the three output formats.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn car_server(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_car-server")).args(args).output().expect("car-server runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const NODE: &str = "apiVersion: car/v1\nkind: Node\nmetadata:\n  name: nas\nspec:\n  os: truenas\n";

use car_testkit::config_dir as repo_with;

#[test]
fn a_valid_repo_exits_zero_and_says_so_on_stderr() {
    let repo = repo_with(&[("nodes/nas.yaml", NODE)]);
    let out = car_server(&["validate", repo.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).ends_with(": 1 documents, 0 errors, 0 warnings\n"), "{}", text(&out.stderr));
}

#[test]
fn warnings_alone_do_not_fail_validation() {
    let repo = repo_with(&[("nodes/nas.yaml", NODE), ("empty.yaml", "")]);
    let root = repo.path().to_str().unwrap();
    let out = car_server(&["validate", root]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{root}/empty.yaml:1:1: warning: file holds no documents (hint: add a document (apiVersion, kind, metadata, spec) or delete the file)\n"
        )
    );
}

#[test]
fn an_invalid_repo_exits_one_with_the_error_in_each_format() {
    let broken = NODE.replace("  os: truenas\n", "  os: truenas\n  adress: http://nas.lan:8100\n");
    let repo = repo_with(&[("nodes/nas.yaml", &broken)]);
    let root = repo.path().to_str().unwrap();

    let out = car_server(&["validate", root]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        format!("{root}/nodes/nas.yaml:7:3: error: unknown field \"adress\" (hint: did you mean \"address\"?)\n")
    );

    let out = car_server(&["validate", root, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(
        json,
        serde_json::json!([{
            "file": format!("{root}/nodes/nas.yaml"), "line": 7, "column": 3, "severity": "error",
            "message": "unknown field \"adress\"", "hint": "did you mean \"address\"?"
        }])
    );

    let out = car_server(&["validate", root, "--format", "github"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        format!(
            "::error file={root}/nodes/nas.yaml,line=7,col=3::unknown field \"adress\" (hint: did you mean \"address\"?)\n"
        )
    );
}

#[test]
fn every_error_of_a_repo_is_reported_in_one_run() {
    let repo = repo_with(&[
        ("a.yaml", &NODE.replace("os: truenas", "os: truenass")),
        (
            "b.yaml",
            "apiVersion: car/v1\nkind: Schedule\nmetadata: {name: s}\nspec:\n  cron: \"0 2 * *\"\n  agents: [ghost]\n  nodes: all\n",
        ),
        ("c.yaml", "key: [unclosed\n"),
    ]);
    let out = car_server(&["validate", repo.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let places: Vec<(String, u64)> = json
        .iter()
        .map(|d| {
            (
                Path::new(d["file"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect();
    // The schedule's bad cron does not hide its unknown agent.
    assert_eq!(places, [("a.yaml".into(), 6), ("b.yaml".into(), 5), ("b.yaml".into(), 6), ("c.yaml".into(), 2)]);
}

#[test]
fn a_missing_directory_exits_two() {
    let out = car_server(&["validate", "/nonexistent/config-repo"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: config directory /nonexistent/config-repo does not exist (hint: pass the folder that holds your YAML files)\n"
    );
}

#[test]
fn an_unknown_format_exits_two() {
    let repo = repo_with(&[("nodes/nas.yaml", NODE)]);
    let out = car_server(&["validate", repo.path().to_str().unwrap(), "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown format \"xml\": use text, json or github"), "{}", text(&out.stderr));
}

#[test]
fn the_file_size_limit_can_be_raised() {
    let big = format!("{NODE}# {}\n", "x".repeat(100));
    let repo = repo_with(&[("big.yaml", &big)]);
    let root = repo.path().to_str().unwrap();
    assert_eq!(car_server(&["validate", root, "--max-file-bytes", "64"]).status.code(), Some(1));
    assert_eq!(car_server(&["validate", root, "--max-file-bytes", "1000"]).status.code(), Some(0));
}

#[test]
fn a_sub_path_limits_what_is_read_and_paths_stay_repo_relative() {
    let broken = NODE.replace("os: truenas", "os: nope");
    let repo = repo_with(&[
        ("config/nodes/nas.yaml", &broken),
        (
            "config/agents/a.yaml",
            "apiVersion: car/v1\nkind: Agent\nmetadata: {name: a}\nspec: {script: ../../scripts/a.py}\n",
        ),
        ("scripts/a.py", "print('hi')\n"),
        ("docs/not-config.yaml", "this: is not a config document\n"),
    ]);
    let root = repo.path().to_str().unwrap();
    let out = car_server(&["validate", root, "--path", "config"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{root}/config/nodes/nas.yaml:6:7: error: unknown value \"nope\" \
             (hint: use one of \"linux\", \"ubuntu\", \"debian\", \"unraid\", \"truenas\", \"proxmox\")\n"
        )
    );
    let out = car_server(&["validate", root, "--path", "../elsewhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("config path ../elsewhere leaves the repository"), "{}", text(&out.stderr));
}

#[test]
fn schema_writes_the_committed_schemas_and_the_api_reference() {
    let out_dir = tempfile::tempdir().unwrap();
    let docs = out_dir.path().join("api.md");
    let out = car_server(&["schema", "--out", out_dir.path().to_str().unwrap(), "--docs", docs.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    assert_eq!(fs::read(&docs).unwrap(), fs::read(root.join("docs/api.md")).unwrap(), "docs/api.md differs");
    fs::remove_file(&docs).unwrap();
    let mut names: Vec<String> =
        fs::read_dir(out_dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    // Seven config schemas, the run events' and the OpenAPI document.
    assert_eq!(names.len(), 9, "{names:?}");
    assert!(names.contains(&"openapi.json".to_string()) && names.contains(&"run-event.schema.json".to_string()));
    for n in names {
        assert_eq!(
            fs::read(out_dir.path().join(&n)).unwrap(),
            fs::read(root.join("schemas/json").join(&n)).unwrap(),
            "{n} differs from schemas/json"
        );
    }
}
