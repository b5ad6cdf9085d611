//! The dashboard end to end in a real browser: `ui/e2e/dashboard.mjs`
//! (Playwright driving Debian's chromium) against a real car-server (with
//! the dashboard built in), a real car-runner and the real claude CLI on the
//! fake Messages API. The script logs in, watches runs live, approves a held
//! command, downloads a log, sees a broken commit's error, checks a viewer's
//! rights, that agent output stays text, and scans every page with axe-core;
//! it saves screenshots under `ui/e2e/screenshots/`.

mod common;

use std::path::Path;
use std::process::Command;

use car_testkit::anthropic::{FakeAnthropic, Scenario};
use common::live::{self, free_port};
use serde_json::json;

const RUNNER_TOKEN: &str = "dashboard-runner-token";

fn agent(name: &str, mode: &str, allow: &[&str], approve: &[&str]) -> String {
    format!(
        "---\napiVersion: car/v1\nkind: Agent\nmetadata: {{name: {name}}}\nspec:\n  description: The {name} of the browser test.\n  \
         prompt: \"[[scenario:{name}]] Do the task.\"\n  mode: {mode}\n  tools: {{allow: {allow:?}, approve: {approve:?}}}\n  budget: {{turns: 10}}\n"
    )
}

#[tokio::test]
async fn the_dashboard_works_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).exists(), "{chromium} is missing: apt-get install chromium (.ci/run does)");

    let fake = FakeAnthropic::start([
        Scenario::new("lister").tool_use("Bash", json!({"command": "ls /"})).text("Listed the root folder."),
        Scenario::new("toucher")
            .tool_use("Bash", json!({"command": "touch /tmp/car-dashboard-e2e"}))
            .text("Touched it."),
        Scenario::new("shouter").text("<img src=x onerror=alert(1)><script>alert(2)</script> stays text"),
    ])
    .await;
    let runner_port = free_port();
    let config = tempfile::tempdir().unwrap();
    let node = format!(
        "apiVersion: car/v1\nkind: Node\nmetadata: {{name: local}}\nspec:\n  address: http://127.0.0.1:{runner_port}\n  \
         token: {{env: TEST_RUNNER_TOKEN}}\n  os: linux\n  tags: [lab]\n"
    );
    std::fs::write(config.path().join("node.yaml"), node).unwrap();
    let agents = [
        agent("lister", "read-only", &["Bash(ls *)"], &[]),
        agent("toucher", "read-write", &[], &["Bash(touch *)"]),
        agent("shouter", "read-only", &[], &[]),
    ]
    .concat();
    std::fs::write(config.path().join("agents.yaml"), agents).unwrap();
    // A Gotify that is not there, and a hook: the notifications page shows a failing test, the schedules page the URL.
    let notify = "apiVersion: car/v1\nkind: NotificationChannel\nmetadata: {name: phone}\nspec:\n  \
                  gotify: {url: 'http://127.0.0.1:9', token: {env: TEST_GOTIFY_TOKEN}}\n\
                  ---\napiVersion: car/v1\nkind: Trigger\nmetadata: {name: disk-alert}\nspec:\n  \
                  secret: {env: TEST_HOOK_SECRET}\n  condition: 'payload.status == \"firing\"'\n  agents: [lister]\n  nodes: [local]\n  cooldown: 10m\n";
    std::fs::write(config.path().join("notify.yaml"), notify).unwrap();

    let runner_data = tempfile::tempdir().unwrap();
    let _runner =
        live::start_runner(runner_port, runner_data.path(), &[("RUNNER_TOKEN", RUNNER_TOKEN), ("NODE_NAME", "local")])
            .await;
    let db = common::database_url().await;
    let data = tempfile::tempdir().unwrap();
    let spec = live::ServerSpec {
        config: config.path(),
        db: &db,
        data: data.path(),
        api_port: free_port(),
        env: vec![
            ("TEST_RUNNER_TOKEN".into(), RUNNER_TOKEN.into()),
            ("ANTHROPIC_BASE_URL".into(), fake.url()),
            ("ANTHROPIC_API_KEY".into(), "sk-dashboard-test".into()),
            ("TEST_GOTIFY_TOKEN".into(), "Adashboard-gotify-token".into()),
            ("TEST_HOOK_SECRET".into(), "dashboard-hook-secret".into()),
        ],
        log: None,
    };
    let server = live::start_server(&spec).await;
    server.eventually("/api/v1/nodes/local", |n| n["connection"] == "connected", 30).await;
    let (status, _) = server
        .post("/api/v1/users", json!({"username": "vera", "password": "viewer-password", "role": "viewer"}))
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED);

    let ui = server.ui.clone();
    let config_dir = config.path().display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("e2e/dashboard.mjs")
            .current_dir(root.join("ui"))
            .env("CAR_UI", ui)
            .env("CAR_ADMIN", format!("admin:{}", common::live::ADMIN_PASSWORD))
            .env("CAR_VIEWER", "vera:viewer-password")
            .env("CAR_CONFIG_DIR", config_dir)
            .env("CHROMIUM", chromium)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser test failed:\n{said}");
    assert!(Path::new("/tmp/car-dashboard-e2e").exists(), "the approved touch did not run");
    let _ = std::fs::remove_file("/tmp/car-dashboard-e2e");
}
