//! `car-runner`: the agent runner on each node (port 8100).
//!
//! It serves its node's health and runs agents — prompts through the real
//! `claude` CLI, Python scripts with the `car_agent` helper — with every
//! tool call decided by the agent's policy. `car-runner agent-helper`
//! prints that helper module; `car-runner enroll` enrolls the node with
//! its server; `car-runner can-i` asks an agent's policy about a call.

use std::process::ExitCode;
use std::sync::Arc;

use car_runner::api::{RunnerState, app};
use car_runner::engine::run::NodeFacts;
use car_runner::keys::KeyRing;
use car_runner::settings::Settings;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "car-runner",
    version,
    about = "Claude Agent Runner: the agent runner on each node",
    after_help = "Settings come from the environment: RUNNER_PORT, RUNNER_DATA_DIR, RUNNER_TOKEN, NODE_NAME, \
                  SERVER_URL, CLAUDE_BIN, RUNNER_MAX_CONCURRENT_RUNS (see the README)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the runner's API on RUNNER_PORT (what it does without a subcommand).
    Serve,
    /// Enroll this node with its server: spend a one-time token, keep the node key it gets.
    Enroll(car_runner::enroll::Args),
    /// What an agent's policy would do with a tool call on this node, without running it.
    /// Exit 0 allowed, 1 denied, 3 held for approval, 2 could not run.
    #[command(
        name = "can-i",
        after_help = "example:\n  car-runner can-i --agent agents/zfs-health.yaml -- 'zpool status -x'"
    )]
    CanI(car_runner::can_i::Question),
    /// Print the helper module of Python agents (`car_agent`), to try a script by hand.
    AgentHelper,
}

fn main() -> ExitCode {
    let command = Cli::parse().command.unwrap_or(Command::Serve);
    match &command {
        Command::AgentHelper => {
            print!("{}", car_runner::engine::script::HELPER);
            return ExitCode::SUCCESS;
        }
        Command::CanI(q) => return car_runner::can_i::run(q),
        Command::Serve | Command::Enroll(_) => {}
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Enroll(a) = &command {
        let name = settings.node_name.clone().unwrap_or_else(|| settings.host_name.clone());
        return match runtime.block_on(car_runner::enroll::run(a, &settings.data_dir, &name)) {
            Ok(said) => {
                println!("{said}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let keys = match KeyRing::open(&settings.data_dir, settings.token.clone()) {
        Ok(k) => Arc::new(k),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let enrollment = keys.enrollment();
    if settings.token.is_none() && enrollment.is_none() {
        eprintln!(
            "error: RUNNER_TOKEN is not set and this runner is not enrolled (hint: run the install script from the \
             server, or `car-runner enroll --server URL --token TOKEN`; or set RUNNER_TOKEN to the Node's token in git)"
        );
        return ExitCode::from(2);
    }
    if keys.is_empty() {
        tracing::warn!("this runner's node keys were revoked: it refuses every call until it is enrolled again");
    }
    let node_name = settings
        .node_name
        .clone()
        .or_else(|| enrollment.as_ref().map(|e| e.node.clone()))
        .unwrap_or_else(|| settings.host_name.clone());
    let server = settings.server_url.clone().or_else(|| enrollment.as_ref().map(|e| e.server.clone()));
    runtime.block_on(async move {
        let addr = std::net::SocketAddr::from(([0, 0, 0, 0], settings.port));
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e} (hint: set RUNNER_PORT to a free port)");
                return ExitCode::from(2);
            }
        };
        let host = std::path::Path::new("/");
        let os = car_runner::health::detect_os(host);
        let node = NodeFacts { name: node_name.clone(), os: os.kind, os_name: os.name, tags: Vec::new() };
        let runs = car_runner::runs::Runs::open(
            settings.data_dir.clone(),
            settings.claude_bin.clone(),
            node,
            settings.max_runs,
        )
        .with_keys(keys.clone());
        let node = runs.node();
        match runs.sandbox().describe() {
            Some(sandbox) => tracing::info!(%addr, node = %node.name, os = %node.os, max_runs = settings.max_runs,
                %sandbox, "car-runner listening"),
            None => tracing::warn!(%addr, node = %node.name, os = %node.os, max_runs = settings.max_runs,
                "car-runner listening, but this kernel has no Landlock: read-only agents are refused here unless \
                 the Node says `sandbox: unenforced` in git (hint: Linux 5.13 or newer with `landlock` in its lsm= \
                 boot option)"),
        }
        if let Some(server) = server {
            tokio::spawn(car_runner::heartbeat::run(keys.clone(), server, node_name));
        }
        let state = Arc::new(RunnerState::new(runs, keys, host));
        // Events go out as they come: no waiting on delayed ACKs for small writes.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let serve = axum::serve(listener, app(state)).with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        });
        match serve.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
