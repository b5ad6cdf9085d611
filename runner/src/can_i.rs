//! `car-runner can-i --agent FILE -- COMMAND`: the policy's dry run on the
//! node itself, for an agent file (as written in git). Unlike the server's
//! `can-i`, it follows symbolic links on this machine, as the runner does
//! when the call comes for real. Nothing runs.

use std::path::PathBuf;
use std::process::ExitCode;

use car_policy::{Policy, exit_code, input_for};
use car_schemas::load::{MemFile, Memory};
use car_schemas::{LoadOptions, Spec};
use clap::Args;

/// A tool call to ask an agent's policy about.
#[derive(Debug, Args)]
pub struct Question {
    /// An Agent document (YAML, as in the config repository).
    #[arg(long = "agent", value_name = "FILE")]
    file: PathBuf,
    /// The agent to ask, when FILE holds several.
    #[arg(long)]
    name: Option<String>,
    /// The tool the model would call: Bash, Read, Write, Edit, Grep, Glob, WebFetch, …
    #[arg(long, default_value = "Bash")]
    tool: String,
    /// The folder the call runs in, for relative paths (default: this one).
    #[arg(long)]
    cwd: Option<String>,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
    /// The command (Bash), path (Read, Write, Edit), pattern (Grep, Glob) or URL (WebFetch); or
    /// the tool's input as a JSON object.
    #[arg(last = true, required = true, value_name = "CALL")]
    call: Vec<String>,
}

/// Answers `q`: exit 0 allowed, 1 denied, 3 held for approval, 2 could not run.
pub fn run(q: &Question) -> ExitCode {
    match answer(q) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn answer(q: &Question) -> Result<u8, String> {
    let text = std::fs::read(&q.file).map_err(|e| format!("cannot read {}: {e}", q.file.display()))?;
    let rel = PathBuf::from(q.file.file_name().unwrap_or(q.file.as_os_str()));
    let mut files = Memory::default();
    files.insert(rel.clone(), MemFile::Bytes(text));
    let loaded = car_schemas::load::load_from(&files, &LoadOptions::default()).map_err(|e| e.to_string())?;
    let errors: Vec<String> = loaded.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    if !errors.is_empty() {
        return Err(format!("{} is not a valid agent:\n{}", q.file.display(), errors.join("\n")));
    }
    let agents: Vec<(&str, &car_schemas::kinds::AgentSpec)> = loaded
        .documents
        .iter()
        .filter_map(|d| match &d.spec {
            Spec::Agent(a) => Some((d.metadata.name.as_str(), a)),
            _ => None,
        })
        .collect();
    let spec = match (&q.name, agents.as_slice()) {
        (None, [(_, spec)]) => *spec,
        (Some(name), _) => agents
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
            .ok_or_else(|| format!("no agent named {name:?} in {}", q.file.display()))?,
        (None, []) => return Err(format!("{} holds no Agent document", q.file.display())),
        (None, _) => return Err(format!("{} holds several agents: pick one with --name", q.file.display())),
    };
    let input = input_for(&q.tool, &q.call.join(" "));
    let cwd = q.cwd.clone().or_else(|| std::env::current_dir().ok().map(|d| d.display().to_string()));
    let explanation = Policy::new(spec).resolving_links().explain(&q.tool, &input, cwd.as_deref());
    if q.json {
        println!("{}", serde_json::to_string_pretty(&explanation).map_err(|e| e.to_string())?);
    } else {
        print!("{explanation}");
    }
    Ok(exit_code(explanation.verdict.decision))
}
