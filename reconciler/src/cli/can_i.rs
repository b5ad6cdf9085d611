//! `car-server can-i AGENT -- COMMAND`: the policy's dry run. It reads the
//! agent from the config (a folder, or `CONFIG_REPO` as the server syncs it)
//! and prints what the runner would decide for one tool call, the rule that
//! decided or why it was held, and what the analysis saw. Nothing runs.
//! Paths are matched as written: symbolic links are followed only where the
//! call would run (`car-runner can-i` on the node).

use std::path::PathBuf;
use std::process::ExitCode;

use car_policy::{Policy, exit_code, input_for};
use car_schemas::Spec;
use car_schemas::diagnostic::{Format, render};

use crate::app::settings::Settings;

/// What to ask.
pub struct Question {
    pub agent: String,
    pub config: Option<PathBuf>,
    pub tool: String,
    pub cwd: Option<String>,
    pub json: bool,
    /// The command (joined by spaces), path, pattern or URL; or the input as JSON.
    pub words: Vec<String>,
}

/// Could not run: exit 2, as `validate` and `plan`.
const COULD_NOT_RUN: u8 = 2;

pub fn run(q: Question) -> ExitCode {
    match answer(&q) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

fn answer(q: &Question) -> Result<u8, String> {
    let settings = Settings::from_lookup(|k| match (k, &q.config) {
        // With a folder given, CONFIG_REPO is not needed.
        ("CONFIG_REPO", Some(d)) => Some(d.display().to_string()),
        _ => std::env::var(k).ok(),
    })
    .map_err(|e| e.to_string())?;
    let loaded = super::load_config(q.config.as_deref(), None, &settings)?;
    let Some(spec) = loaded.documents.iter().find_map(|d| match &d.spec {
        Spec::Agent(a) if d.metadata.name.as_str() == q.agent => Some(a),
        _ => None,
    }) else {
        let agents: Vec<&str> = loaded
            .documents
            .iter()
            .filter(|d| matches!(d.spec, Spec::Agent(_)))
            .map(|d| d.metadata.name.as_str())
            .collect();
        let errors = render(&loaded.diagnostics, Format::Text, q.config.as_deref().unwrap_or(std::path::Path::new("")));
        return Err(format!(
            "{}no agent named {:?} in the config (hint: the agents are {})",
            if errors.is_empty() { String::new() } else { format!("{errors}\n") },
            q.agent,
            if agents.is_empty() { "none".to_string() } else { agents.join(", ") }
        ));
    };
    if q.words.is_empty() {
        return Err("give the call after --: car-server can-i AGENT -- 'zpool status -x'".into());
    }
    let input = input_for(&q.tool, &q.words.join(" "));
    let explanation = Policy::new(spec).explain(&q.tool, &input, q.cwd.as_deref());
    let text = if q.json {
        serde_json::to_string_pretty(&explanation).map_err(|e| e.to_string())? + "\n"
    } else if explanation.parts.iter().any(|p| !p.reads.is_empty()) {
        format!(
            "{explanation}\n(paths are matched as written here; on the node `car-runner can-i` also follows symbolic links)\n"
        )
    } else {
        explanation.to_string()
    };
    // A reader that stopped early (`| head`) is no error: the answer is the exit code.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    Ok(exit_code(explanation.verdict.decision))
}
