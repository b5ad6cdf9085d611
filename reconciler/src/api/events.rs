//! The run-event stream in the OpenAPI document. The WebSocket
//! `/api/v1/runs/{id}/stream` (and the runner's NDJSON) carry
//! `car_schemas::run` events, whose JSON Schema car-schemas generates
//! (`schemas/json/run-event.schema.json`); OpenAPI cannot describe a
//! WebSocket, so the document gets those schemas as components
//! (`RunEvent`, one branch per event type, and `RunStreamMessage`, which
//! adds the WebSocket's `gap` marker) and the stream's `101` answer points at
//! them, so generated clients can type the stream.

use serde_json::{Map, Value, json};

/// Names the config and event schemas share with the API's own: the same
/// Rust types, so one component serves both.
const SHARED: &[&str] = &["Usage", "RunStatus"];

/// The stream operation's path.
const STREAM: &str = "/api/v1/runs/{id}/stream";

/// Adds the run events to `doc` (the OpenAPI document as JSON).
pub fn embed(doc: &mut Value) {
    let events = serde_json::to_value(car_schemas::run::event_schema()).unwrap_or_default();
    let Some(components) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else { return };
    let defs = events["$defs"].as_object().cloned().unwrap_or_default();
    // A definition whose name the API uses for something else is renamed.
    let name_of = |def: &str| -> String {
        if components.contains_key(def) && !SHARED.contains(&def) { format!("RunEvent{def}") } else { def.to_string() }
    };
    let renames: Map<String, Value> = defs.keys().map(|d| (d.clone(), Value::String(name_of(d)))).collect();
    let rewrite = |mut v: Value| {
        retarget(&mut v, &renames);
        v
    };
    for (def, schema) in defs {
        let name = renames[&def].as_str().unwrap_or(&def).to_string();
        if !(SHARED.contains(&def.as_str()) && components.contains_key(&name)) {
            components.insert(name, rewrite(schema));
        }
    }
    let branches: Vec<Value> =
        events["oneOf"].as_array().cloned().unwrap_or_default().into_iter().map(rewrite).collect();
    let (logged, markers): (Vec<Value>, Vec<Value>) =
        branches.into_iter().partition(|b| b["required"].as_array().is_some_and(|r| r.contains(&json!("seq"))));
    components.insert("RunEvent".into(), json!({"description": events["description"], "oneOf": logged}));
    let mut messages = vec![json!({"$ref": "#/components/schemas/RunEvent"})];
    messages.extend(markers);
    components.insert(
        "RunStreamMessage".into(),
        json!({"description": "One message of the WebSocket `/api/v1/runs/{id}/stream`: a run event, or a `gap` marker when the viewer fell behind.",
               "oneOf": messages}),
    );
    if let Some(switching) = doc.pointer_mut(&format!("/paths/{}/get/responses/101", STREAM.replace('/', "~1"))) {
        switching["content"] =
            json!({"application/json": {"schema": {"$ref": "#/components/schemas/RunStreamMessage"}}});
    }
}

/// Points every `#/$defs/X` reference at its component.
fn retarget(v: &mut Value, renames: &Map<String, Value>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get_mut("$ref")
                && let Some(def) = r.strip_prefix("#/$defs/")
            {
                let name = renames.get(def).and_then(Value::as_str).unwrap_or(def);
                *r = format!("#/components/schemas/{name}");
            }
            o.values_mut().for_each(|v| retarget(v, renames));
        }
        Value::Array(a) => a.iter_mut().for_each(|v| retarget(v, renames)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_a_component_and_no_reference_dangles() {
        let mut doc = json!({"components": {"schemas": {"Mode": {"type": "string"}}},
            "paths": {STREAM: {"get": {"responses": {"101": {"description": "WebSocket"}}}}}});
        embed(&mut doc);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let kinds: Vec<&str> = schemas["RunEvent"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["properties"]["type"]["const"].as_str())
            .collect();
        for kind in car_schemas::run::kind::ALL {
            assert!(kinds.contains(&kind), "{kind} is missing from RunEvent: {kinds:?}");
        }
        // The API's own `Mode` stays; the event's is renamed.
        assert_eq!(schemas["Mode"], json!({"type": "string"}));
        assert!(schemas.contains_key("RunEventMode"));
        let text = doc.to_string();
        assert!(!text.contains("#/$defs/"), "a reference was left pointing into $defs");
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        for r in refs {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(schemas.contains_key(name), "{r} dangles");
        }
        assert_eq!(
            doc.pointer("/paths/~1api~1v1~1runs~1{id}~1stream/get/responses/101/content/application~1json/schema/$ref"),
            Some(&json!("#/components/schemas/RunStreamMessage"))
        );
    }

    fn collect_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    out.push(r.clone());
                }
                o.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
