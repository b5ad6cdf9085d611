//! Trust end to end with the real `car-server` and `car-runner` binaries,
//! PostgreSQL and the real `claude` CLI against the scripted fake Messages
//! API: a runner enrolled with a one-time token is reached with its node
//! key, keeps working while the key rotates and is cut off when it is
//! revoked; and no secret the server or the runner knows reaches a run's
//! events, the data folders, the database, the server's log or the API.

mod common;

use std::path::Path;
use std::process::Command;

use car_testkit::anthropic::{FakeAnthropic, Scenario};
use common::live::{self, ServerSpec, free_port};
use serde_json::{Value, json};

const HELLO: &str =
    "---\napiVersion: car/v1\nkind: Agent\nmetadata: {name: hello}\nspec: {script: hello.py, mode: read-only}\n";
const HELLO_PY: &str = "import os\nprint('hello from', os.environ['CAR_NODE_NAME'])\n";

/// A config whose node `homeserver` is declared without address or token: it enrolls.
fn enrolled_config() -> tempfile::TempDir {
    let node = "apiVersion: car/v1\nkind: Node\nmetadata: {name: homeserver}\nspec: {os: linux, tags: [lab]}\n";
    car_testkit::config_dir(&[("nodes.yaml", node), ("agents.yaml", HELLO), ("hello.py", HELLO_PY)])
}

fn keys_of(runner_data: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(runner_data.join("keys.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect()
}

/// The runner's answer to `/v1/health` with `key`.
async fn health_with(port: u16, key: &str) -> reqwest::StatusCode {
    let url = format!("http://127.0.0.1:{port}/v1/health");
    reqwest::Client::new().get(url).bearer_auth(key).send().await.unwrap().status()
}

fn enroll(server: &str, token: &str, data: &Path, port: u16) -> std::process::Output {
    Command::new(live::bin("car-runner"))
        .args(["enroll", "--server", server, "--token", token, "--name", "homeserver"])
        .args(["--address", &format!("http://127.0.0.1:{port}")])
        .env("RUNNER_DATA_DIR", data)
        .output()
        .unwrap()
}

async fn run_on(server: &live::Server, agent: &str, node: &str) -> Value {
    let (status, run) = server.post("/api/v1/runs", json!({"agent": agent, "node": node})).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    server.eventually(&format!("/api/v1/runs/{id}"), |r| r["finished_at"].is_string(), 60).await
}

#[tokio::test]
async fn an_enrolled_runner_works_with_its_key_through_a_rotation_and_is_cut_off_when_revoked() {
    let (db, data, config) = (common::database_url().await, tempfile::tempdir().unwrap(), enrolled_config());
    let spec =
        ServerSpec { config: config.path(), db: &db, data: data.path(), api_port: free_port(), env: vec![], log: None };
    let server = live::start_server(&spec).await;
    let (status, made) = server.post("/api/v1/enrollment-tokens", json!({"node": "homeserver"})).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().unwrap();

    let (port, runner_data) = (free_port(), tempfile::tempdir().unwrap());
    let out = enroll(&server.url, token, runner_data.path(), port);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("enrolled node homeserver"));
    let first = keys_of(runner_data.path());
    assert_eq!(first.len(), 1);
    // No RUNNER_TOKEN: the runner has its key, and finds its server and name in keys.json.
    let _runner = live::start_runner(port, runner_data.path(), &[]).await;
    server.eventually("/api/v1/nodes/homeserver", |n| n["connection"] == "connected", 30).await;
    let run = run_on(&server, "hello", "homeserver").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(health_with(port, &first[0]).await, reqwest::StatusCode::OK);
    assert_eq!(health_with(port, "carn_0000_made-up").await, reqwest::StatusCode::UNAUTHORIZED);

    // Enrolling again keeps the key that works; the spent token could not buy another.
    let again = enroll(&server.url, token, runner_data.path(), port);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(String::from_utf8_lossy(&again.stdout).contains("keeps its key"));
    assert_eq!(keys_of(runner_data.path()), first);

    // Rotation: the runner takes the new key, the old one stops working, runs go on.
    let (status, rotated) = server.post("/api/v1/nodes/homeserver/keys/rotate", json!({})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{rotated}");
    let second = keys_of(runner_data.path());
    assert_eq!(second.len(), 1, "the old key was not dropped");
    assert_ne!(second, first);
    assert_eq!(health_with(port, &first[0]).await, reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(health_with(port, &second[0]).await, reqwest::StatusCode::OK);
    assert_eq!(run_on(&server, "hello", "homeserver").await["status"], "succeeded");
    let keys = server.get("/api/v1/nodes/homeserver/keys").await;
    let states: Vec<&str> = keys["keys"].as_array().unwrap().iter().map(|k| k["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["current", "revoked"]);

    // Revocation: cut off at once, on both sides.
    let (status, _) = server.post("/api/v1/nodes/homeserver/keys/revoke", json!({})).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(health_with(port, &second[0]).await, reqwest::StatusCode::UNAUTHORIZED, "the runner still takes it");
    let beat = server.call_as(&second[0], reqwest::Method::POST, "/api/v1/nodes/homeserver/heartbeat", None).await;
    assert_eq!(
        (beat.0, beat.1["error"]["code"].clone()),
        (reqwest::StatusCode::UNAUTHORIZED, json!("node_key_revoked"))
    );
    let run = run_on(&server, "hello", "homeserver").await;
    assert_eq!(run["status"], "failed");
    assert!(run["error"]["message"].as_str().unwrap().contains("has not enrolled"), "{run}");
}

#[tokio::test]
async fn no_known_secret_reaches_run_events_data_folders_the_database_the_log_or_the_api() {
    let anthropic_key = "sk-ant-leaktest-0123456789";
    let runner_token = "runner-token-leaktest-0123";
    let hook_secret = "hook-secret-leaktest-4567";
    let stored = "stored-secret-leaktest-89";
    let talk = format!(
        "the key is {anthropic_key}, the vault holds {stored}, the hook {hook_secret}, the runner {runner_token}, \
         the admin {}",
        live::ADMIN_PASSWORD
    );
    let fake = FakeAnthropic::start(vec![
        Scenario::new("blabber").tool_use("Bash", json!({"command": "printenv ANTHROPIC_API_KEY"})).text(&talk),
    ])
    .await;
    let node = "apiVersion: car/v1\nkind: Node\nmetadata: {name: local}\nspec:\n  address: http://127.0.0.1:PORT\n  \
                token: {env: LEAK_RUNNER_TOKEN}\n  os: linux\n";
    let agent = "---\napiVersion: car/v1\nkind: Agent\nmetadata: {name: blabber}\nspec:\n  prompt: \"[[scenario:blabber]] Talk.\"\n  \
                 mode: read-only\n  tools: {allow: [\"Bash(printenv *)\"]}\n  budget: {turns: 10}\n";
    let port = free_port();
    let config =
        car_testkit::config_dir(&[("nodes.yaml", &node.replace("PORT", &port.to_string())), ("agents.yaml", agent)]);
    let (db, data, logs) = (common::database_url().await, tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = logs.path().join("server.log");
    let spec = ServerSpec {
        config: config.path(),
        db: &db,
        data: data.path(),
        api_port: free_port(),
        env: vec![
            ("ANTHROPIC_API_KEY".into(), anthropic_key.into()),
            ("ANTHROPIC_BASE_URL".into(), fake.url()),
            ("LEAK_RUNNER_TOKEN".into(), runner_token.into()),
            ("GIT_WEBHOOK_SECRET".into(), hook_secret.into()),
            ("RUST_LOG".into(), "debug".into()),
        ],
        log: Some(log.clone()),
    };
    let runner_data = tempfile::tempdir().unwrap();
    let _runner =
        live::start_runner(port, runner_data.path(), &[("RUNNER_TOKEN", runner_token), ("NODE_NAME", "local")]).await;
    let server = live::start_server(&spec).await;
    let (status, _) =
        server.call(reqwest::Method::PUT, "/api/v1/secrets/vault-value", Some(json!({"value": stored}))).await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    server.eventually("/api/v1/nodes/local", |n| n["connection"] == "connected", 30).await;
    let run = run_on(&server, "blabber", "local").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let id = run["id"].as_str().unwrap();

    // What people see: redacted, with the name of what was there.
    let text = reqwest::Client::new()
        .get(format!("{}/api/v1/runs/{id}/log", server.url))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for label in [
        "[redacted ANTHROPIC_API_KEY]",
        "[redacted secret vault-value]",
        "[redacted GIT_WEBHOOK_SECRET]",
        "[redacted RUNNER_TOKEN]",
        "[redacted ADMIN_PASSWORD]",
    ] {
        assert!(text.contains(label), "{label} is not in the log: {text}");
    }
    let mut shown = text.clone();
    for path in [
        format!("/api/v1/runs/{id}"),
        "/api/v1/runs".into(),
        "/api/v1/audit?limit=500".into(),
        "/api/v1/secrets".into(),
        "/api/v1/approvals".into(),
    ] {
        shown.push_str(&server.get(&path).await.to_string());
    }
    drop(server); // its log is complete
    let server_known = [anthropic_key, runner_token, hook_secret, stored, live::ADMIN_PASSWORD];
    let places = [
        ("the API", shown),
        ("the server's DATA_DIR", everything_in(data.path())),
        ("the database", common::dump(&common::store_at(&db).await).await),
        ("the server's log", std::fs::read_to_string(&log).unwrap()),
    ];
    for (place, content) in &places {
        for secret in server_known {
            assert!(!content.contains(secret), "{secret} is in {place}");
        }
    }
    // The runner redacts what it knows itself: the run's credentials and its own token.
    let on_node = everything_in(runner_data.path());
    for secret in [anthropic_key, runner_token] {
        assert!(!on_node.contains(secret), "{secret} is in the runner's data folder");
    }
    assert!(on_node.contains("[redacted ANTHROPIC_API_KEY]"));
    assert!(!runner_data.path().join("runs").join(id).join("claude").exists(), "the CLI's transcripts stay behind");
}

/// Every file under `dir`, as text.
fn everything_in(dir: &Path) -> String {
    let files = walkdir::WalkDir::new(dir).into_iter().flatten().filter(|e| e.file_type().is_file());
    files.filter_map(|e| std::fs::read(e.path()).ok()).map(|b| String::from_utf8_lossy(&b).into_owned()).collect()
}
