//! JSON Schemas of the config language, generated from the Rust types with
//! `schemars` so they cannot drift from what `validate` accepts.
//!
//! One schema per kind (`node.schema.json`, …) and `document.schema.json`
//! for any document, dispatching on `kind`. They are draft-07, which every
//! editor integration understands (yaml-language-server, VS Code, JetBrains)
//! and `check-jsonschema` validates with. Files of the config repo point at
//! them with a `# yaml-language-server: $schema=…` modeline.
//!
//! `run-event.schema.json` describes the run event stream instead (see
//! [`crate::run::event_schema`]); it is draft 2020-12, as OpenAPI 3.1 is, so
//! the API document can embed its `$defs`.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use crate::document::{API_VERSION, Kind, Manifest};
use crate::kinds::{AgentSpec, NodeSpec, NotificationChannelSpec, NotificationRuleSpec, ScheduleSpec, TriggerSpec};

/// The file name of a kind's schema.
pub fn file_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Node => "node.schema.json",
        Kind::Agent => "agent.schema.json",
        Kind::Schedule => "schedule.schema.json",
        Kind::NotificationChannel => "notification-channel.schema.json",
        Kind::NotificationRule => "notification-rule.schema.json",
        Kind::Trigger => "trigger.schema.json",
    }
}

/// The schema that accepts any document.
pub const DOCUMENT_FILE: &str = "document.schema.json";

fn about(kind: Kind) -> &'static str {
    match kind {
        Kind::Node => "A machine of the homelab with a car-runner on it.",
        Kind::Agent => "What an agent does (a prompt for Claude or a Python script) and which tools it may use.",
        Kind::Schedule => "When agents run (cron or every), on which nodes, and who is told about the outcome.",
        Kind::NotificationChannel => "Where notifications go: a Gotify server or a generic webhook.",
        Kind::NotificationRule => "Which events send notifications, to which channels, how loudly.",
        Kind::Trigger => "A webhook endpoint /api/v1/hooks/{name} that starts agents when its condition holds.",
    }
}

fn generate<S: JsonSchema>() -> Schema {
    SchemaSettings::draft07().into_generator().into_root_schema_for::<Manifest<S>>()
}

/// The schema of one kind.
pub fn for_kind(kind: Kind) -> Value {
    let schema = match kind {
        Kind::Node => generate::<NodeSpec>(),
        Kind::Agent => generate::<AgentSpec>(),
        Kind::Schedule => generate::<ScheduleSpec>(),
        Kind::NotificationChannel => generate::<NotificationChannelSpec>(),
        Kind::NotificationRule => generate::<NotificationRuleSpec>(),
        Kind::Trigger => generate::<TriggerSpec>(),
    };
    let mut v = schema.to_value();
    let obj = v.as_object_mut().expect("a root schema is an object");
    obj.insert("title".into(), json!(kind.as_str()));
    obj.insert("description".into(), json!(about(kind)));
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            "kind".into(),
            json!({"const": kind.as_str(), "description": "What the document declares.", "examples": [kind.as_str()]}),
        );
        props.insert(
            "apiVersion".into(),
            json!({"const": API_VERSION, "description": "The config language version.", "examples": [API_VERSION]}),
        );
        if let Some(spec) = props.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("description".into(), json!(format!("The {kind}'s settings.")));
        }
    }
    v
}

/// The schema of any document: the kind's schema, chosen by `kind`.
pub fn for_any() -> Value {
    let mut definitions = Map::new();
    let mut branches = Vec::new();
    for kind in Kind::ALL {
        let mut s = for_kind(kind);
        let obj = s.as_object_mut().expect("a root schema is an object");
        if let Some(Value::Object(defs)) = obj.remove("definitions") {
            definitions.extend(defs);
        }
        obj.remove("$schema");
        definitions.insert(kind.as_str().to_string(), s);
        branches.push(json!({
            "if": {"properties": {"kind": {"const": kind.as_str()}}, "required": ["kind"]},
            "then": {"$ref": format!("#/definitions/{}", kind.as_str())}
        }));
    }
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Claude Agent Runner document",
        "description": "Any document of a Claude Agent Runner config repository; `kind` says which.",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": API_VERSION, "description": "The config language version.", "examples": [API_VERSION]},
            "kind": {"enum": kinds, "description": "What the document declares.", "examples": ["Agent"]}
        },
        "allOf": branches,
        "definitions": definitions
    })
}

/// Every schema file: (file name, pretty JSON with a final newline).
pub fn all_files() -> Vec<(&'static str, String)> {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("JSON values serialize") + "\n";
    let mut files: Vec<(&'static str, String)> =
        Kind::ALL.iter().map(|k| (file_name(*k), pretty(&for_kind(*k)))).collect();
    files.push((DOCUMENT_FILE, pretty(&for_any())));
    files.push((crate::run::EVENT_SCHEMA_FILE, pretty(&crate::run::event_schema().to_value())));
    files
}
