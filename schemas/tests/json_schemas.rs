//! The committed JSON Schemas under `schemas/json/` are what the code
//! generates, and they help editors: every field has a description and
//! examples.

use std::collections::BTreeSet;
use std::path::Path;

use car_schemas::schema::all_files;
use serde_json::Value;

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
