//! The car-runner binary over HTTP: runs start idempotently, their events
//! stream as NDJSON (replay, then live; `after=` resumes exactly), approvals
//! arrive over the API, and a runner restart turns an unfinished run `lost`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use car_schemas::run::TypedRunEvent;
use car_testkit::anthropic::{FakeAnthropic, Scenario};
use serde_json::{Value, json};

const TOKEN: &str = "runner-test-token-0123456789";

struct Runner {
    child: Child,
    url: String,
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn runner(data: &std::path::Path) -> Runner {
    runner_with(data, &[]).await
}

async fn runner_with(data: &std::path::Path, env: &[(&str, &str)]) -> Runner {
    runner_in(data, env, &std::env::current_dir().unwrap()).await
}

async fn runner_in(data: &std::path::Path, env: &[(&str, &str)], cwd: &std::path::Path) -> Runner {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_car-runner"))
        .current_dir(cwd)
        .env("RUNNER_TOKEN", TOKEN)
        .env("RUNNER_PORT", port.to_string())
        .env("RUNNER_DATA_DIR", data)
        .env("CLAUDE_BIN", std::env::var("CLAUDE_BIN").expect("CLAUDE_BIN is not set: run `source scripts/claude.sh`"))
        .env("NODE_NAME", "test-node")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Owned by the guard at once, so it is killed and reaped on every path.
    let runner = Runner { child, url: format!("http://127.0.0.1:{port}") };
    for _ in 0..100 {
        if reqwest::get(format!("{}/livez", runner.url)).await.is_ok() {
            return runner;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the runner did not start");
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn agent(marker: &str, mode: &str, allow: &[&str], approve: &[&str]) -> Value {
    json!({"apiVersion": "car/v1", "kind": "Agent", "metadata": {"name": format!("check-{marker}")},
           "spec": {"prompt": format!("[[scenario:{marker}]] Do the task."), "mode": mode,
                    "tools": {"allow": allow, "approve": approve}, "budget": {"turns": 10}}})
}

async fn start(r: &Runner, fake: &FakeAnthropic, id: &str, agent: Value) -> reqwest::StatusCode {
    post_run(
        r,
        json!({"run_id": id, "agent": agent, "files": {}, "context": {},
        "env": {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": fake.url(), "HOME": "/nope"}}),
    )
    .await
    .status()
}

async fn post_run(r: &Runner, body: Value) -> reqwest::Response {
    client().post(format!("{}/v1/runs", r.url)).bearer_auth(TOKEN).json(&body).send().await.unwrap()
}

async fn events(r: &Runner, id: &str, after: u64, until: &str) -> Vec<Value> {
    let mut resp =
        client().get(format!("{}/v1/runs/{id}/events?after={after}", r.url)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let (mut out, mut buf) = (Vec::new(), Vec::new());
    while let Some(chunk) =
        tokio::time::timeout(Duration::from_secs(60), resp.chunk()).await.expect("events in time").unwrap()
    {
        buf.extend_from_slice(&chunk);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let ev: Value = serde_json::from_slice(&line).unwrap();
            assert_typed(&ev);
            let stop = ev["type"] == until;
            out.push(ev);
            if stop {
                return out;
            }
        }
    }
    out
}

/// An event as the runner streamed it fits the typed model
/// (`car_schemas::run::TypedRunEvent`) and is written back as the same JSON.
fn assert_typed(event: &Value) {
    car_testkit::json::assert_round_trips::<TypedRunEvent>(event);
}

#[tokio::test]
async fn runs_stream_their_events_and_start_once_per_id() {
    let data = tempfile::tempdir().unwrap();
    let r = runner(data.path()).await;
    let fake =
        FakeAnthropic::start([Scenario::new("ls").tool_use("Bash", json!({"command": "ls /"})).text("listed")]).await;
    assert_eq!(
        start(&r, &fake, "run-1", agent("ls", "read-only", &["Bash(ls *)"], &[])).await,
        reqwest::StatusCode::ACCEPTED
    );
    assert_eq!(
        start(&r, &fake, "run-1", agent("ls", "read-only", &["Bash(ls *)"], &[])).await,
        reqwest::StatusCode::OK
    );
    let all = events(&r, "run-1", 0, "run.finished").await;
    let seqs: Vec<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=all.len() as u64).collect::<Vec<_>>());
    assert!(all.iter().any(|e| e["type"] == "tool.call" && e["data"]["decision"] == "allow"));
    assert!(
        all.iter().any(|e| e["type"] == "tool.result" && e["data"]["output"].as_str().unwrap_or("").contains("usr"))
    );
    assert_eq!(all.last().unwrap()["data"]["status"], "succeeded");
    let later = events(&r, "run-1", 3, "run.finished").await;
    assert_eq!(later, all[3..].to_vec(), "after=3 does not replay exactly the later events");
    assert_eq!(fake.requests_for("ls").len(), 2, "a repeated POST started the run twice");
    let unauthorized = client().get(format!("{}/v1/runs/run-1", r.url)).send().await.unwrap().status();
    assert_eq!(unauthorized, reqwest::StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_approval_over_the_api_lets_the_command_run_and_a_restart_loses_nothing() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let touched = work.path().join("approved");
    let fake = FakeAnthropic::start([
        Scenario::new("touch")
            .tool_use("Bash", json!({"command": format!("touch {}", touched.display())}))
            .text("done"),
        Scenario::new("held")
            .tool_use("Bash", json!({"command": format!("touch {}/never", work.path().display())}))
            .text("x"),
    ])
    .await;
    let r = runner(data.path()).await;
    start(&r, &fake, "run-a", agent("touch", "read-write", &[], &["Bash(touch *)"])).await;
    let asked = events(&r, "run-a", 0, "approval.requested").await;
    let request_id = asked.last().unwrap()["data"]["request_id"].as_str().unwrap().to_string();
    let status: Value =
        client().get(format!("{}/v1/runs/run-a", r.url)).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["status"], "awaiting_approval");
    let resp = client()
        .post(format!("{}/v1/runs/run-a/approvals/{request_id}", r.url))
        .bearer_auth(TOKEN)
        .json(&json!({"decision": "approve", "comment": "ok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::ACCEPTED);
    let all = events(&r, "run-a", 0, "run.finished").await;
    assert_eq!(all.last().unwrap()["data"]["status"], "succeeded");
    assert!(touched.exists());

    // A run waiting for approval when the runner dies is `lost` after restart.
    start(&r, &fake, "run-b", agent("held", "read-write", &[], &["Bash(touch *)"])).await;
    events(&r, "run-b", 0, "approval.requested").await;
    drop(r);
    let r = runner(data.path()).await;
    let all = events(&r, "run-b", 0, "run.finished").await;
    let last = all.last().unwrap();
    assert_eq!(last["data"]["status"], "lost");
    assert_eq!(last["seq"].as_u64().unwrap(), all.len() as u64);
    let before = events(&r, "run-a", 0, "run.finished").await;
    assert_eq!(before.last().unwrap()["data"]["status"], "succeeded", "a finished run changed on restart");
}

fn leftover(pattern: &str) -> bool {
    Command::new("pgrep").args(["-f", pattern]).output().map(|o| !o.stdout.is_empty()).unwrap_or(false)
}

#[tokio::test]
async fn cancel_kills_the_whole_process_tree() {
    let data = tempfile::tempdir().unwrap();
    let r = runner(data.path()).await;
    let fake = FakeAnthropic::start([Scenario::new("slow")
        .tool_use("Bash", json!({"command": "python3 -c '__import__(\"time\").sleep(331)'"}))
        .text("slept")])
    .await;
    start(&r, &fake, "run-slow", agent("slow", "read-write", &["Bash(python3 *)"], &[])).await;
    events(&r, "run-slow", 0, "tool.call").await;
    for _ in 0..100 {
        if leftover("sleep[(]331[)]") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(leftover("sleep[(]331[)]"), "the tool's process never started");
    let resp = client().post(format!("{}/v1/runs/run-slow/cancel", r.url)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::ACCEPTED);
    let all = events(&r, "run-slow", 0, "run.finished").await;
    assert_eq!(all.last().unwrap()["data"]["status"], "cancelled");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!leftover("sleep[(]331[)]"), "cancel left the tool's process running");
    let again = client().post(format!("{}/v1/runs/run-slow/cancel", r.url)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(again.status(), reqwest::StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_run_over_its_timeout_is_stopped_as_timed_out() {
    let data = tempfile::tempdir().unwrap();
    let r = runner(data.path()).await;
    let fake = FakeAnthropic::start([Scenario::new("long")
        .tool_use("Bash", json!({"command": "python3 -c '__import__(\"time\").sleep(337)'"}))
        .text("slept")])
    .await;
    let mut a = agent("long", "read-write", &["Bash(python3 *)"], &[]);
    a["spec"]["timeout"] = json!("5s");
    start(&r, &fake, "run-long", a).await;
    let all = events(&r, "run-long", 0, "run.finished").await;
    let fin = &all.last().unwrap()["data"];
    assert_eq!(fin["status"], "timed_out");
    assert_eq!(fin["error"]["message"], "the run took longer than its timeout of 5s");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!leftover("sleep[(]337[)]"), "the timeout left the tool's process running");
}

fn script_agent(name: &str, script: &str) -> Value {
    json!({"apiVersion": "car/v1", "kind": "Agent", "metadata": {"name": name},
           "spec": {"script": script, "mode": "read-write", "tools": {"allow": ["Bash(python3 *)"]}}})
}

#[tokio::test]
async fn a_script_agent_brings_its_files_and_a_full_node_refuses_more_runs() {
    let data = tempfile::tempdir().unwrap();
    let r = runner_with(data.path(), &[("RUNNER_MAX_CONCURRENT_RUNS", "1")]).await;
    let slow = "import car_agent\nfrom helpers import NAP\ncar_agent.run(lambda ctx: ctx.sh(NAP))\n";
    let nap = "NAP = \"python3 -c '__import__(\\\"time\\\").sleep(347)'\"\n";
    let body = |id: &str, files: Value| {
        json!({"run_id": id, "agent": script_agent("napper", "scripts/nap.py"),
        "files": files, "context": {"node": {"tags": ["lab"]}}})
    };
    let files = json!({"scripts/nap.py": slow, "scripts/helpers.py": nap});

    // Files must be plain relative paths, and the script must come along.
    let bad = post_run(&r, body("bad", json!({"../nap.py": slow}))).await;
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);
    let missing = post_run(&r, body("missing", json!({"scripts/other.py": slow}))).await;
    assert_eq!(missing.status(), reqwest::StatusCode::BAD_REQUEST);
    let message = missing.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("scripts/nap.py did not come with the run request"), "{message}");

    assert_eq!(post_run(&r, body("nap-1", files.clone())).await.status(), reqwest::StatusCode::ACCEPTED);
    events(&r, "nap-1", 0, "tool.call").await;
    let busy = post_run(&r, body("nap-2", files.clone())).await;
    assert_eq!(busy.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(busy.headers()["retry-after"], "15");
    let health: Value =
        client().get(format!("{}/v1/health", r.url)).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["runs"], json!({"active": 1, "limit": 1}));
    for _ in 0..100 {
        if leftover("sleep[(]347[)]") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(leftover("sleep[(]347[)]"), "the script's command never started");

    // Cancel stops the script and the command it started; the slot is free again.
    client().post(format!("{}/v1/runs/nap-1/cancel", r.url)).bearer_auth(TOKEN).send().await.unwrap();
    let all = events(&r, "nap-1", 0, "run.finished").await;
    assert_eq!(all.last().unwrap()["data"]["status"], "cancelled");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!leftover("sleep[(]347[)]"), "cancel left the script's command running");
    assert!(!leftover("scripts/nap.py"), "cancel left the script running");
    let quick =
        json!({"scripts/nap.py": "import car_agent\ncar_agent.run(lambda ctx: ctx.log('tags', ctx.node['tags']))\n"});
    assert_eq!(post_run(&r, body("nap-3", quick)).await.status(), reqwest::StatusCode::ACCEPTED);
    let all = events(&r, "nap-3", 0, "run.finished").await;
    assert!(all.iter().any(|e| e["data"]["line"] == "tags ['lab']"), "{all:#?}");
    assert_eq!(all.last().unwrap()["data"]["status"], "succeeded");
}

#[tokio::test]
async fn a_relative_data_dir_works_for_scripts() {
    let cwd = tempfile::tempdir().unwrap();
    let r = runner_in(std::path::Path::new("relative-data"), &[], cwd.path()).await;
    let files = json!({"scripts/hello.py": "import car_agent\ncar_agent.run(lambda ctx: ctx.log('hello'))\n"});
    let body = json!({"run_id": "rel-1", "agent": script_agent("hello", "scripts/hello.py"), "files": files});
    assert_eq!(post_run(&r, body).await.status(), reqwest::StatusCode::ACCEPTED);
    let all = events(&r, "rel-1", 0, "run.finished").await;
    assert_eq!(all.last().unwrap()["data"]["status"], "succeeded", "{all:#?}");
    assert!(cwd.path().join("relative-data/runs/rel-1/events.jsonl").exists());
}
