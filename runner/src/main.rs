//! `car-runner`: the agent runner on each node (port 8100).
//!
//! It serves its node's health and runs prompt agents through the real
//! `claude` CLI, with every tool call decided by the agent's policy.

use std::process::ExitCode;
use std::sync::Arc;

use car_runner::api::{RunnerState, app};
use car_runner::settings::Settings;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("car-runner {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
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
        let runs = car_runner::runs::Runs::open(
            settings.data_dir.clone(),
            settings.claude_bin.clone(),
            settings.node_name.clone(),
        );
        let state = Arc::new(RunnerState::new(
            runs,
            settings.token.clone(),
            settings.node_name.clone(),
            std::path::Path::new("/"),
        ));
        tracing::info!(%addr, node = %settings.node_name, os = %state.os.kind, "car-runner listening");
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
