//! `car-server`: the management server of Claude Agent Runner.
//!
//! Subcommands: `serve` (the server), `plan` (what the next sync would do),
//! `validate` (check a config repository), `can-i` (an agent's policy, dry
//! run) and `schema` (write the JSON Schemas editors use).

use std::path::PathBuf;
use std::process::ExitCode;

use car_schemas::LoadOptions;
use car_schemas::diagnostic::Format;
use clap::{Parser, Subcommand};

// jemalloc (with background purging) hands memory freed after a sync back to
// the system within seconds; glibc's per-thread arenas kept ~20 MiB more of
// an idle server's memory resident (bench/sync_latency.py, BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "car-server", version, about = "Claude Agent Runner management server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a config repository: exit 0 valid (warnings allowed), 1 invalid, 2 could not run.
    Validate {
        /// The folder that holds the YAML files.
        dir: PathBuf,
        /// Output format: text (path:line:col: error: …), json, or github (Actions annotations).
        #[arg(long, default_value = "text")]
        format: Format,
        /// Refuse YAML files larger than this many bytes.
        #[arg(long, default_value_t = car_schemas::load::DEFAULT_MAX_FILE_BYTES)]
        max_file_bytes: u64,
        /// Read only the YAML under this folder of DIR (like CONFIG_PATH); paths stay relative to DIR.
        #[arg(long)]
        path: Option<PathBuf>,
    },
    /// Run the server: sync the config repository, serve the API (API_PORT) and dashboard (UI_PORT).
    Serve,
    /// Show what the next sync would add, change and remove: exit 0 nothing, 1 changes, 2 error.
    Plan {
        /// A config folder to compare with the live database (default: CONFIG_REPO).
        dir: Option<PathBuf>,
        /// A commit, tag or branch of CONFIG_REPO to compare instead of its head.
        #[arg(long)]
        revision: Option<String>,
    },
    /// What an agent's policy would do with a tool call, without running it: the decision, the
    /// rule that decided, and what the analysis saw. Exit 0 allowed, 1 denied, 3 held for approval,
    /// 2 could not run.
    #[command(
        name = "can-i",
        after_help = "examples:\n  car-server can-i zfs-health -- 'zpool status -x'\n  car-server can-i --config example-config-repo security-scanner --tool Read -- /etc/shadow"
    )]
    CanI {
        /// The agent's name, as declared in git.
        agent: String,
        /// A config folder (default: CONFIG_REPO at its head, as the server syncs it).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The tool the model would call: Bash, Read, Write, Edit, Grep, Glob, WebFetch, …
        #[arg(long, default_value = "Bash")]
        tool: String,
        /// The folder the call runs in, for relative paths (default: the run's working folder).
        #[arg(long)]
        cwd: Option<String>,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
        /// The command (Bash), path (Read, Write, Edit), pattern (Grep, Glob) or URL (WebFetch); or the
        /// tool's input as a JSON object.
        #[arg(last = true)]
        call: Vec<String>,
    },
    /// Write the JSON Schemas of the config language into a folder.
    Schema {
        /// Where to write them (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Also write the API reference (Markdown) to this file, e.g. docs/api.md.
        #[arg(long)]
        docs: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { dir, format, max_file_bytes, path } => {
            car_server::cli::validate::run(&dir, format, LoadOptions { max_file_bytes, sub_path: path })
        }
        Command::Schema { out, docs } => car_server::cli::schema::run(&out, docs.as_deref()),
        Command::Serve => serve(),
        Command::Plan { dir, revision } => car_server::cli::plan::run(dir, revision),
        Command::CanI { agent, config, tool, cwd, json, call } => {
            car_server::cli::can_i::run(car_server::cli::can_i::Question {
                agent,
                config,
                tool,
                cwd,
                json,
                words: call,
            })
        }
    }
}

fn serve() -> ExitCode {
    car_server::app::telemetry::init();
    let settings = match car_server::app::settings::Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(car_server::app::startup::serve(settings, car_server::app::startup::signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
