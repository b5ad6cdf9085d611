//! The API reference (`docs/api.md`), rendered from the OpenAPI document
//! so it cannot say anything the server does not do: every operation with
//! the role it needs, its parameters, request and response shapes and
//! errors; every schema with its fields; and the run-event stream's event
//! types with an example of each. `car-server schema --docs docs/api.md`
//! writes it; a test fails when the committed file is stale.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

/// The reference for `doc` (the OpenAPI document as JSON).
pub fn render(doc: &Value) -> String {
    let mut out = String::new();
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let _ = writeln!(out, "# {title}: API reference\n");
    let _ = writeln!(
        out,
        "<!-- Generated from schemas/json/openapi.json by `car-server schema --out schemas/json --docs docs/api.md`. \
         Do not edit: change the server and regenerate. -->\n"
    );
    if let Some(d) = doc["info"]["description"].as_str() {
        let _ = writeln!(out, "{d}\n");
    }
    let _ = writeln!(
        out,
        "- **Where**: port 8000, and under the same paths on the dashboard's port 3000 (same origin as the dashboard).\n\
         - **Errors**: every error answer is [`ErrorBody`](#errorbody): `{{\"error\": {{\"code\", \"message\", \"hint\"}}}}`, \
         with the status below.\n\
         - **Pages**: lists that come in pages answer `{{items, next}}`; pass `next` as `before` for the next page.\n\
         - **Machine-readable**: [`schemas/json/openapi.json`](../schemas/json/openapi.json) (OpenAPI 3.1), the TypeScript \
         types in [`ui/src/api/`](../ui/src/api/), the run events in \
         [`schemas/json/run-event.schema.json`](../schemas/json/run-event.schema.json).\n"
    );
    let ops = operations(doc);
    let mut by_tag: BTreeMap<String, Vec<&Operation>> = BTreeMap::new();
    for op in &ops {
        by_tag.entry(op.tag.clone()).or_default().push(op);
    }
    let _ = writeln!(out, "## Operations\n");
    for (tag, ops) in &by_tag {
        let _ = writeln!(out, "- **{tag}**: {}", ops.iter().map(|o| link(o)).collect::<Vec<_>>().join(", "));
    }
    out.push('\n');
    for (tag, ops) in &by_tag {
        let _ = writeln!(out, "## {}\n", capitalised(tag));
        for op in ops {
            write_operation(&mut out, op);
        }
    }
    write_events(&mut out, doc);
    let _ = writeln!(out, "## Schemas\n");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            write_schema(&mut out, name, schema);
        }
    }
    out
}

struct Operation<'a> {
    method: String,
    path: String,
    tag: String,
    op: &'a Value,
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if let Some(op) = item.get(method) {
                let tag = op["tags"][0].as_str().unwrap_or("other").to_string();
                out.push(Operation { method: method.to_uppercase(), path: path.clone(), tag, op });
            }
        }
    }
    out
}

/// A link to an operation's section (GitHub's anchors: lowercase, punctuation dropped, spaces as dashes).
fn link(op: &Operation) -> String {
    let title = format!("{} {}", op.method, op.path);
    format!("[`{title}`](#{})", anchor(&title))
}

fn anchor(title: &str) -> String {
    title
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn write_operation(out: &mut String, o: &Operation) {
    let op = o.op;
    let _ = writeln!(out, "### {} {}\n", o.method, o.path);
    // The role sentence the document adds to the description is the line below instead.
    let description = op["description"].as_str().map(|d| match d.rfind("Needs ") {
        Some(i) => &d[..i],
        None => d,
    });
    for text in [op["summary"].as_str(), description].into_iter().flatten() {
        let text = text.trim();
        if !text.is_empty() {
            let _ = writeln!(out, "{}\n", text.replace('\n', " "));
        }
    }
    let role = match op["x-required-role"].as_str() {
        Some("node") => "the node's own key (or its token from git), or an operator".to_string(),
        Some(role) => format!("the {role} role, with an API key or the dashboard's session"),
        None => "anyone: no login".to_string(),
    };
    let _ = writeln!(out, "**Who may call it**: {role}\n");
    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        let _ = writeln!(out, "| parameter | in | type | required | description |\n| --- | --- | --- | --- | --- |");
        for p in params {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                p["name"].as_str().unwrap_or("?"),
                p["in"].as_str().unwrap_or("?"),
                type_of(&p["schema"]),
                if p["required"] == true { "yes" } else { "no" },
                cell(p["description"].as_str().unwrap_or("")),
            );
        }
        out.push('\n');
    }
    if let Some(body) = op["requestBody"]["content"].as_object() {
        for (media, content) in body {
            let _ = writeln!(out, "**Request body** ({media}): {}\n", type_of(&content["schema"]));
        }
    }
    let _ = writeln!(out, "| status | answer | when |\n| --- | --- | --- |");
    for (status, response) in op["responses"].as_object().into_iter().flatten() {
        let answer = match response["content"].as_object() {
            Some(content) if !content.is_empty() => content
                .iter()
                .map(|(media, c)| format!("{} ({media})", type_of(&c["schema"])))
                .collect::<Vec<_>>()
                .join(", "),
            _ => "no body".to_string(),
        };
        let _ = writeln!(out, "| {status} | {answer} | {} |", cell(response["description"].as_str().unwrap_or("")));
    }
    out.push('\n');
}

/// A schema as a short type: `string`, `[RunView](#runview)`, `integer | null`, `"a" | "b"`.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[`{name}`](#{})", anchor(name));
    }
    if let Some(values) = schema["enum"].as_array() {
        return values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(" \\| ");
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(list) = schema[key].as_array() {
            return list.iter().map(type_of).collect::<Vec<_>>().join(" \\| ");
        }
    }
    if let Some(list) = schema["allOf"].as_array() {
        return list.iter().map(type_of).collect::<Vec<_>>().join(" and ");
    }
    let one = |t: &str| match t {
        "array" => format!("array of {}", type_of(&schema["items"])),
        "string" => match schema["format"].as_str() {
            Some(f) => format!("string ({f})"),
            None => "string".into(),
        },
        other => other.to_string(),
    };
    match &schema["type"] {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).map(one).collect::<Vec<_>>().join(" \\| "),
        _ if schema.as_object().is_some_and(|o| o.is_empty()) => "any JSON".into(),
        _ => "object".into(),
    }
}

/// Text for a table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

fn write_schema(out: &mut String, name: &str, schema: &Value) {
    let _ = writeln!(out, "### {name}\n");
    if let Some(d) = schema["description"].as_str() {
        let _ = writeln!(out, "{}\n", d.replace('\n', " "));
    }
    write_fields(out, schema);
}

/// A schema's fields as a table (with those of what it is `allOf`), or its shape in one line.
fn write_fields(out: &mut String, schema: &Value) {
    let mut rows = Vec::new();
    let mut parts = vec![schema];
    parts.extend(schema["allOf"].as_array().into_iter().flatten());
    for part in parts {
        let required: Vec<&str> = part["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for (field, s) in part["properties"].as_object().into_iter().flatten() {
            rows.push(format!(
                "| `{field}` | {} | {} | {} |",
                type_of(s),
                if required.contains(&field.as_str()) { "yes" } else { "no" },
                cell(s["description"].as_str().unwrap_or("")),
            ));
        }
    }
    if rows.is_empty() {
        let _ = writeln!(out, "Shape: {}\n", type_of(schema));
        return;
    }
    let _ = writeln!(out, "| field | type | required | description |\n| --- | --- | --- | --- |");
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
    out.push('\n');
}

/// The run-event stream: each event type with its `data` and an example,
/// from the `RunEvent` and `RunStreamMessage` schemas the document embeds.
fn write_events(out: &mut String, doc: &Value) {
    let schemas = &doc["components"]["schemas"];
    let Some(logged) = schemas["RunEvent"]["oneOf"].as_array() else { return };
    let markers = schemas["RunStreamMessage"]["oneOf"].as_array().into_iter().flatten().filter(|m| m["$ref"].is_null());
    let _ = writeln!(out, "## Run events\n");
    let _ = writeln!(
        out,
        "`GET /api/v1/runs/{{id}}/stream` is a WebSocket: one JSON message at a time, every event so far (or after \
         `?after=SEQ`), then live until `run.finished` ([`RunStreamMessage`](#runstreammessage)). The runner's \
         `GET /v1/runs/{{id}}/events` sends the same events as NDJSON. Each event is `{{seq, ts, type, data}}` with \
         `seq` gapless per run; `type` says what `data` holds ([`RunEvent`](#runevent); the JSON Schema is \
         `schemas/json/run-event.schema.json`).\n"
    );
    let resolve = |v: &Value| -> Value {
        match v["$ref"].as_str() {
            Some(r) => schemas[r.rsplit('/').next().unwrap_or(r)].clone(),
            None => v.clone(),
        }
    };
    for branch in logged.iter().chain(markers) {
        let props = &branch["properties"];
        let kind = props["type"]["const"].as_str().unwrap_or("?");
        let _ = writeln!(out, "### `{kind}`\n");
        if let Some(d) = branch["description"].as_str() {
            let _ = writeln!(out, "{}\n", d.replace('\n', " "));
        }
        write_fields(out, &resolve(&props["data"]));
        let mut example = serde_json::Map::new();
        for key in ["seq", "ts"] {
            if let Some(v) = props[key]["examples"].get(0) {
                example.insert(key.into(), v.clone());
            }
        }
        example.insert("type".into(), Value::from(kind));
        if let Some(data) = props["data"]["examples"].get(0) {
            example.insert("data".into(), data.clone());
        }
        let text = serde_json::to_string(&example).unwrap_or_default();
        let _ = writeln!(out, "```json\n{text}\n```\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_as_people_write_them() {
        let t = |v: Value| type_of(&v);
        assert_eq!(t(serde_json::json!({"$ref": "#/components/schemas/RunView"})), "[`RunView`](#runview)");
        assert_eq!(
            t(serde_json::json!({"type": ["string", "null"], "format": "date-time"})),
            "string (date-time) \\| null"
        );
        assert_eq!(t(serde_json::json!({"type": "array", "items": {"type": "integer"}})), "array of integer");
        assert_eq!(t(serde_json::json!({"enum": ["a", "b"]})), "`\"a\"` \\| `\"b\"`");
        assert_eq!(t(serde_json::json!({})), "any JSON");
        assert_eq!(anchor("GET /api/v1/runs/{id}"), "get-apiv1runsid");
    }
}
