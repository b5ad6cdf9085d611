//! `car-runner`: the agent runner on each node (port 8100).
//!
//! It serves its node's health and runs agents — prompts through the real
//! `claude` CLI, Python scripts with the `car_agent` helper — with every
//! tool call decided by the agent's policy. `car-runner agent-helper`
//! prints that helper module.

use std::process::ExitCode;
use std::sync::Arc;

use car_runner::api::{RunnerState, app};
use car_runner::engine::run::NodeFacts;
use car_runner::settings::Settings;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("--version") => {
            println!("car-runner {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        // The helper module of Python agents, to try a script by hand.
        Some("agent-helper") => {
            print!("{}", car_runner::engine::script::HELPER);
            return ExitCode::SUCCESS;
        }
        _ => {}
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
        let node = NodeFacts { name: settings.node_name.clone(), os: os.kind, os_name: os.name, tags: Vec::new() };
        tracing::info!(%addr, node = %node.name, os = %node.os, max_runs = settings.max_runs, "car-runner listening");
        let runs = car_runner::runs::Runs::open(
            settings.data_dir.clone(),
            settings.claude_bin.clone(),
            node,
            settings.max_runs,
        );
        let state = Arc::new(RunnerState::new(runs, settings.token.clone(), host));
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
