//! `car-runner`: the agent runner on each node (port 8100).
//!
//! A skeleton for now: the engine (the real `claude` CLI in SDK mode), tool
//! policy, approvals and the durable event log arrive with the runner issue.
//! It already depends on `car-schemas`, whose Agent type it will execute.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("car-runner {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "car-runner {}: the runner is not built yet; this binary only reserves its place in the workspace",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
