//! The committed JSON Schemas under `schemas/json/` are what the code
//! generates, and they help editors: every field has a description and
//! examples. `check-jsonschema` judges the run event schema by events of
//! every type.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use car_schemas::schema::all_files;
use serde_json::{Value, json};

fn committed_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/json"))
}

#[test]
fn committed_schemas_are_current() {
    let generated = all_files();
    for (name, text) in &generated {
        let committed = std::fs::read_to_string(committed_dir().join(name)).unwrap_or_default();
        assert!(
            committed == *text,
            "schemas/json/{name} is stale: run `cargo run -p car-server -- schema --out schemas/json` and commit the result"
        );
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(committed_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        // The server writes the API's document beside these; its own tests (reconciler/tests/api.rs) check it.
        .filter(|name| name != "openapi.json")
        .collect();
    let expected: BTreeSet<String> = generated.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, expected, "schemas/json holds files the generator no longer writes");
}

/// Every entry of every `properties` map, with its path.
fn properties<'a>(v: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Object(props)) = o.get("properties") {
                for (k, p) in props {
                    out.push((format!("{path}.{k}"), p));
                }
            }
            // Example values and `if` tests are data, not field definitions.
            for (k, child) in o.iter().filter(|(k, _)| !matches!(k.as_str(), "examples" | "if" | "const" | "default")) {
                properties(child, format!("{path}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                properties(child, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_field_has_a_description_and_examples() {
    let mut missing = Vec::new();
    for (name, text) in all_files() {
        let schema: Value = serde_json::from_str(&text).unwrap();
        let mut props = Vec::new();
        properties(&schema, name.to_string(), &mut props);
        assert!(props.len() > 3, "{name} has no properties");
        for (path, p) in props {
            let has = |k: &str| p.get(k).is_some_and(|v| !v.is_null());
            // `spec` is described; its fields carry the examples.
            if !has("description") || (!has("examples") && !path.ends_with(".spec")) {
                missing.push(path);
            }
        }
    }
    assert!(missing.is_empty(), "fields without description or examples: {missing:#?}");
}

#[test]
fn the_document_schema_dispatches_on_kind() {
    let any: Value = serde_json::from_str(&car_schemas::schema::for_any().to_string()).unwrap();
    let branches = any["allOf"].as_array().unwrap();
    assert_eq!(branches.len(), 6);
    for b in branches {
        let kind = b["if"]["properties"]["kind"]["const"].as_str().unwrap();
        let target = b["then"]["$ref"].as_str().unwrap().trim_start_matches("#/definitions/");
        assert_eq!(kind, target);
        assert_eq!(any["definitions"][target]["properties"]["kind"]["const"], kind);
    }
}

fn check_jsonschema() -> String {
    std::env::var("CAR_CHECK_JSONSCHEMA").unwrap_or_else(|_| {
        let on_path = Command::new("check-jsonschema").arg("--version").output().is_ok();
        assert!(on_path, "check-jsonschema is needed: run scripts/test (it installs it) or set CAR_CHECK_JSONSCHEMA");
        "check-jsonschema".into()
    })
}

/// Writes each value to its own file under `dir`; runs check-jsonschema on
/// them with the committed run event schema.
fn check_events(dir: &Path, name: &str, events: &[Value]) -> (bool, String) {
    let files: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let f = dir.join(format!("{name}-{i}.json"));
            std::fs::write(&f, e.to_string()).unwrap();
            f
        })
        .collect();
    let schema = committed_dir().join(car_schemas::run::EVENT_SCHEMA_FILE);
    let out = Command::new(check_jsonschema()).arg("--schemafile").arg(schema).args(&files).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn check_jsonschema_accepts_events_of_every_type_and_refuses_strays() {
    let ts = "2025-06-01T03:00:04.512345678Z";
    let event = |seq: u64, kind: &str, data: Value| json!({"seq": seq, "ts": ts, "type": kind, "data": data});
    let usage = json!({"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0, "cost_usd": 0.001, "turns": 1});
    let good = [
        event(
            1,
            "run.started",
            json!({"agent": "a", "mode": "read-write", "body": "script", "node": "n", "sandbox": null}),
        ),
        event(
            2,
            "gather.output",
            json!({"name": "df", "command": "df -h", "exit_code": null, "output": "", "note": "stopped after 30s"}),
        ),
        event(3, "assistant.text", json!({"text": "looking"})),
        event(
            4,
            "tool.call",
            json!({"tool": "Bash", "input": {"command": "ls"}, "decision": "approval",
            "rule": "Bash(ls *)", "reason": "r", "tool_use_id": "ctx-1", "source": "script"}),
        ),
        event(5, "tool.result", json!({"tool_use_id": "toolu_1", "is_error": null, "output": "x", "truncated": false})),
        event(
            6,
            "tool.result",
            json!({"tool_use_id": "ctx-1", "is_error": false, "exit_code": 0, "output": "x",
            "truncated": false, "note": null}),
        ),
        event(
            7,
            "approval.requested",
            json!({"request_id": "approval-1", "tool": "Bash", "input": {"command": "ls"},
            "agent": "a", "reason": "r", "timeout_ms": 60000}),
        ),
        event(8, "approval.resolved", json!({"request_id": "approval-1", "decision": "deny", "comment": null})),
        event(
            9,
            "rate_limited",
            json!({"attempt": 1, "max_retries": 2, "retry_delay_ms": 1000, "error_status": 529,
            "error": "overloaded"}),
        ),
        event(10, "log", json!({"stream": "runner", "line": "warning", "truncated": true})),
        event(11, "usage", usage.clone()),
        event(12, "log.truncated", json!({"message": "full"})),
        event(
            13,
            "run.finished",
            json!({"status": "succeeded", "summary": "ok", "report": null, "usage": usage,
            "cost_usd": 0.001, "turns": 1, "duration_ms": 10, "error": null}),
        ),
        event(14, "run.finished", json!({"status": "lost", "error": {"kind": "lost", "message": "m", "hint": "h"}})),
        json!({"type": "gap", "data": {"from": 3, "to": 9, "hint": "reconnect with ?after="}}),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = check_events(dir.path(), "good", &good);
    assert!(ok, "check-jsonschema refused a real event shape: {out}");

    let bad = [
        event(1, "assistant.text", json!({"text": "hi", "mood": "cheerful"})),
        event(1, "assistant.thought", json!({"text": "hi"})),
        json!({"ts": ts, "type": "assistant.text", "data": {"text": "hi"}}),
        event(
            1,
            "tool.call",
            json!({"tool": "Bash", "input": {}, "decision": "maybe", "rule": "r", "reason": "r",
            "tool_use_id": null}),
        ),
        event(1, "run.finished", json!({"status": "exploded", "error": null})),
        json!({"seq": 4, "type": "gap", "data": {"from": 3, "to": 9, "hint": "h"}}),
    ];
    for (i, e) in bad.iter().enumerate() {
        let (ok, out) = check_events(dir.path(), &format!("bad{i}"), std::slice::from_ref(e));
        assert!(!ok, "check-jsonschema accepted {e}: {out}");
    }
}
