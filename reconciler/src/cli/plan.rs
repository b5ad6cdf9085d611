//! `car-server plan`: what the next sync would add, change and remove,
//! field by field, compared with the live database. Exit 0 nothing to do,
//! 1 changes, 2 error (an invalid config counts: it would not apply).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use car_schemas::diagnostic::{Format, render};
use serde_json::Value;

use crate::app::settings::Settings;
use crate::config::repo::{ConfigRepo, Desired, LiveObject};
use crate::config::sync::desired;
use crate::db::Store;

/// One object's fate in the next sync.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Add { kind: String, name: String, file: String, line: i32 },
    Change { kind: String, name: String, file: String, line: i32, fields: Vec<FieldChange> },
    Remove { kind: String, name: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
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

/// `car-server plan [DIR] [--revision REV]`: DIR, or CONFIG_REPO at REV
/// (default its head), against the live database.
pub fn run(dir: Option<PathBuf>, revision: Option<String>) -> ExitCode {
    match run_inner(dir, revision) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(dir: Option<PathBuf>, revision: Option<String>) -> Result<u8, String> {
    if dir.is_some() && revision.is_some() {
        return Err("give a folder or --revision, not both (hint: --revision reads CONFIG_REPO)".into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let settings = Settings::from_lookup(|k| match (k, &dir) {
            // With a folder given, CONFIG_REPO is not needed.
            ("CONFIG_REPO", Some(d)) => Some(d.display().to_string()),
            _ => std::env::var(k).ok(),
        })
        .map_err(|e| e.to_string())?;
        let loaded = {
            let (dir, settings) = (dir.clone(), settings.clone());
            tokio::task::spawn_blocking(move || super::load_config(dir.as_deref(), revision.as_deref(), &settings))
                .await
                .map_err(|e| e.to_string())??
        };
        if loaded.diagnostics.iter().any(|d| d.is_error()) {
            let root = dir.clone().unwrap_or_default();
            print!("{}", render(&loaded.diagnostics, Format::Text, &root));
            return Err("the config is invalid, so the next sync would apply nothing (fix the errors above)".into());
        }
        let options = match &settings.database_url {
            Some(url) => sqlx::postgres::PgConnectOptions::from_str(url).map_err(|e| format!("DATABASE_URL: {e}"))?,
            None => {
                let pg_dir = settings.data_dir.join("postgres");
                let pg = tokio::task::spawn_blocking(move || crate::db::postgres::EmbeddedPostgres::start(&pg_dir))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                pg.options("car")
            }
        };
        let store = Store::connect(options, Duration::from_secs(10)).await.map_err(|e| e.to_string())?;
        let repo = ConfigRepo::new(&store);
        let live = repo.objects(None).await.map_err(|e| e.to_string())?;
        let state = repo.sync_state().await.map_err(|e| e.to_string())?;
        let steps = diff(&live, &desired(&loaded));
        print!("{}", render_plan(&steps, state.applied_revision.as_deref()));
        Ok(u8::from(!steps.is_empty()))
    })
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
