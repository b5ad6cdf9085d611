//! `car-demo-model [PORT]`: the demo model. The scripted fake Messages API
//! of the tests, serving believable sessions for the six built-in agents
//! (`testkit/demo/scenarios.json`; the server marks each demo run's prompt
//! with the agent's script) so that a newcomer without Anthropic credentials
//! sees agents work at once. `scripts/up` starts it and gives car-server its
//! URL as `DEMO_MODEL_URL`; setting a real key switches runs to the real
//! model. It listens on 127.0.0.1 only (default port 8190) and prints its URL.

use car_testkit::anthropic::{FakeAnthropic, Scenario};

const SCENARIOS: &str = include_str!("../../demo/scenarios.json");

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let port = match std::env::args().nth(1).map(|p| p.parse::<u16>()) {
        None => 8190,
        Some(Ok(p)) => p,
        Some(Err(_)) => {
            eprintln!("usage: car-demo-model [PORT]");
            return std::process::ExitCode::from(2);
        }
    };
    let scenarios = match Scenario::from_json_str(SCENARIOS) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: the demo scripts do not read: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {e} (hint: pass another port)");
            return std::process::ExitCode::FAILURE;
        }
    };
    let model = FakeAnthropic::serve(listener, scenarios);
    println!("{}", model.url());
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
