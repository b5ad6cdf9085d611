//! What a revision would do to live state: the objects it adds, changes
//! (field by field) and removes, compared with the live database. `car-server
//! plan` prints it; a write-back preview answers it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::config::repo::{Desired, LiveObject};

/// One object's fate in the next sync.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "action", rename_all = "lowercase")]
#[schema(as = PlanStep)]
pub enum Step {
    /// A new object, where it is declared.
    Add { kind: String, name: String, file: String, line: i32 },
    /// A changed object and each field that changes.
    Change { kind: String, name: String, file: String, line: i32, fields: Vec<FieldChange> },
    /// An object that goes away.
    Remove { kind: String, name: String },
}

/// One field of a changed object: its path in the document, and its values before and after (absent: unset).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldChange {
    /// `spec.timeout`, `spec.tools.allow[1]`.
    pub path: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// The steps that turn `live` into `wanted`, sorted by kind and name.
pub fn diff(live: &[LiveObject], wanted: &[Desired]) -> Vec<Step> {
    let live: BTreeMap<(&str, &str), &LiveObject> =
        live.iter().map(|o| ((o.kind.as_str(), o.name.as_str()), o)).collect();
    let wanted_map: BTreeMap<(&str, &str), &Desired> =
        wanted.iter().map(|d| ((d.kind.as_str(), d.name.as_str()), d)).collect();
    let mut steps = Vec::new();
    for (key, d) in &wanted_map {
        let (kind, name, file, line) = (d.kind.clone(), d.name.clone(), d.file.clone(), d.line);
        match live.get(key) {
            None => steps.push(Step::Add { kind, name, file, line }),
            Some(o) if o.hash != d.hash => {
                let mut fields = Vec::new();
                fields_diff("", Some(&o.document), Some(&d.document), &mut fields);
                steps.push(Step::Change { kind, name, file, line, fields });
            }
            Some(_) => {}
        }
    }
    for (kind, name) in live.keys().filter(|k| !wanted_map.contains_key(*k)) {
        steps.push(Step::Remove { kind: kind.to_string(), name: name.to_string() });
    }
    steps
}

/// The fields that differ between two values, by path under `path`.
pub fn changed_fields(path: &str, old: Option<&Value>, new: Option<&Value>) -> Vec<FieldChange> {
    let mut out = Vec::new();
    fields_diff(path, old, new, &mut out);
    out
}

fn fields_diff(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<FieldChange>) {
    let child = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
    match (old, new) {
        (Some(a), Some(b)) if a == b => {}
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                fields_diff(&child(k), a.get(k), b.get(k), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                fields_diff(&format!("{path}[{i}]"), Some(x), Some(y), out);
            }
        }
        _ => out.push(FieldChange { path: path.to_string(), old: old.cloned(), new: new.cloned() }),
    }
}

/// The plan as people read it.
pub fn render_plan(steps: &[Step], live_revision: Option<&str>) -> String {
    let count = |f: fn(&Step) -> bool| steps.iter().filter(|s| f(s)).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan: {} to add, {} to change, {} to remove (live revision: {})",
        count(|s| matches!(s, Step::Add { .. })),
        count(|s| matches!(s, Step::Change { .. })),
        count(|s| matches!(s, Step::Remove { .. })),
        live_revision.map_or("none", |r| r.get(..12).unwrap_or(r)),
    );
    let show = |v: &Option<Value>| v.as_ref().map_or("(unset)".to_string(), Value::to_string);
    for s in steps {
        let _ = match s {
            Step::Add { kind, name, file, line } => writeln!(out, "  + {kind} {name}  ({file}:{line})"),
            Step::Change { kind, name, file, line, fields } => {
                let _ = writeln!(out, "  ~ {kind} {name}  ({file}:{line})");
                for f in fields {
                    let _ = writeln!(out, "      {}: {} -> {}", f.path, show(&f.old), show(&f.new));
                }
                Ok(())
            }
            Step::Remove { kind, name } => writeln!(out, "  - {kind} {name}"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(kind: &str, name: &str, doc: Value) -> LiveObject {
        LiveObject {
            kind: kind.into(),
            name: name.into(),
            revision: "r1".into(),
            file: "f.yaml".into(),
            line: 1,
            hash: doc.to_string(),
            document: doc,
            applied_at: chrono::Utc::now(),
        }
    }

    fn want(kind: &str, name: &str, doc: Value) -> Desired {
        Desired {
            kind: kind.into(),
            name: name.into(),
            file: "f.yaml".into(),
            line: 3,
            hash: doc.to_string(),
            document: doc,
        }
    }

    #[test]
    fn a_plan_lists_adds_changes_by_field_and_removals() {
        let old = json!({"spec": {"timeout": "10m", "tools": {"allow": ["Read", "Grep"]}}});
        let new = json!({"spec": {"timeout": "15m", "tools": {"allow": ["Read", "Glob"]}, "model": "x"}});
        let steps = diff(
            &[live("Agent", "a", old), live("Node", "gone", json!({})), live("Node", "same", json!({"x": 1}))],
            &[want("Agent", "a", new), want("Node", "new", json!({})), want("Node", "same", json!({"x": 1}))],
        );
        assert_eq!(
            render_plan(&steps, Some("0123456789abcdef")),
            "Plan: 1 to add, 1 to change, 1 to remove (live revision: 0123456789ab)\n\
             \x20 ~ Agent a  (f.yaml:3)\n\
             \x20     spec.model: (unset) -> \"x\"\n\
             \x20     spec.timeout: \"10m\" -> \"15m\"\n\
             \x20     spec.tools.allow[1]: \"Grep\" -> \"Glob\"\n\
             \x20 + Node new  (f.yaml:3)\n\
             \x20 - Node gone\n"
        );
    }

    #[test]
    fn nothing_to_do_is_an_empty_plan() {
        let doc = json!({"a": 1});
        assert!(diff(&[live("Node", "n", doc.clone())], &[want("Node", "n", doc)]).is_empty());
    }
}
