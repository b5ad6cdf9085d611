//! Runs end to end with the real parts: the `car-server` and `car-runner`
//! binaries, PostgreSQL, and the real `claude` CLI against the scripted
//! fake Messages API. A run goes from the API to the node and back; its
//! events reach every viewer and the download alike; approvals pass through
//! the server; a server killed mid-run loses nothing; a runner that dies
//! leaves its run `lost`.

mod common;

use std::path::Path;
use std::time::Duration;

use car_schemas::run::StreamMessage;
use car_testkit::anthropic::{FakeAnthropic, Scenario};
use futures_util::StreamExt;
use serde_json::{Value, json};

use common::live::{self, Proc, Server, free_port};

const RUNNER_TOKEN: &str = "runs-test-runner-token-0123456789";

struct Runner {
    proc: Proc,
    data: tempfile::TempDir,
}

async fn start_runner(port: u16, data: tempfile::TempDir) -> Runner {
    let proc = live::start_runner(port, data.path(), &[("RUNNER_TOKEN", RUNNER_TOKEN), ("NODE_NAME", "local")]).await;
    Runner { proc, data }
}

fn agent(name: &str, mode: &str, allow: &[&str], approve: &[&str]) -> String {
    format!(
        "---\napiVersion: car/v1\nkind: Agent\nmetadata: {{name: {name}}}\nspec:\n  prompt: \"[[scenario:{name}]] Do the task.\"\n  \
         mode: {mode}\n  tools: {{allow: {allow:?}, approve: {approve:?}}}\n  budget: {{turns: 10}}\n"
    )
}

fn config(runner_port: u16) -> tempfile::TempDir {
    let node = format!(
        "apiVersion: car/v1\nkind: Node\nmetadata: {{name: local}}\nspec:\n  address: http://127.0.0.1:{runner_port}\n  \
         token: {{env: TEST_RUNNER_TOKEN}}\n  os: linux\n  tags: [lab]\n"
    );
    let agents = [
        agent("lister", "read-only", &["Bash(ls *)"], &[]),
        agent("toucher", "read-write", &[], &["Bash(touch *)"]),
        agent("sleeper", "read-write", &["Bash(python3 *)"], &[]),
    ]
    .concat();
    let chatty =
        "---\napiVersion: car/v1\nkind: Agent\nmetadata: {name: chatty}\nspec: {script: chatty.py, mode: read-only}\n";
    let script = "import sys\nfor i in range(100000):\n    sys.stdout.write('line %d of a chatty agent\\n' % i)\n";
    car_testkit::config_dir(&[("nodes.yaml", &node), ("agents.yaml", &(agents + chatty)), ("chatty.py", script)])
}

struct Setup {
    fake: FakeAnthropic,
    db: String,
    data: tempfile::TempDir,
    config: tempfile::TempDir,
    api_port: u16,
    extra: Vec<(String, String)>,
}

impl Setup {
    async fn new(runner_port: u16, scenarios: Vec<Scenario>) -> Setup {
        Setup {
            fake: FakeAnthropic::start(scenarios).await,
            db: common::database_url().await,
            data: tempfile::tempdir().unwrap(),
            config: config(runner_port),
            api_port: free_port(),
            extra: Vec::new(),
        }
    }

    async fn server(&self) -> Server {
        let mut env = vec![
            ("TEST_RUNNER_TOKEN".to_string(), RUNNER_TOKEN.to_string()),
            ("ANTHROPIC_BASE_URL".to_string(), self.fake.url()),
            ("ANTHROPIC_API_KEY".to_string(), "sk-runs-test".to_string()),
        ];
        env.extend(self.extra.iter().cloned());
        let spec = live::ServerSpec {
            config: self.config.path(),
            db: &self.db,
            data: self.data.path(),
            api_port: self.api_port,
            env,
            log: None,
        };
        let server = live::start_server(&spec).await;
        // The config is applied and the node answered.
        server.eventually("/api/v1/nodes/local", |n| n["connection"] == "connected", 30).await;
        server
    }
}

async fn start_run(s: &Server, agent: &str) -> String {
    let (status, run) = s.post("/api/v1/runs", json!({"agent": agent, "node": "local"})).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{run}");
    run["id"].as_str().unwrap().to_string()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A run's event stream (WebSocket), with the server's key.
async fn stream(s: &Server, id: &str, query: &str) -> Socket {
    socket(s, &format!("/api/v1/runs/{id}/stream{query}")).await
}

/// A WebSocket of the server at `path`, with the server's key.
async fn socket(s: &Server, path: &str) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("{}{path}", s.ws).into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {}", s.key).parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// A message as the server sent or stored it (the runner's events, the
/// server's own `run.finished`, the WebSocket's `gap`) fits the typed model
/// (`car_schemas::run::StreamMessage`) and is written back as the same JSON.
fn assert_typed(message: &Value) {
    car_testkit::json::assert_round_trips::<StreamMessage>(message);
}

/// Every event of a run over the WebSocket until `run.finished`.
async fn watch(s: &Server, id: &str) -> Vec<Value> {
    let mut socket = stream(s, id, "").await;
    let mut events = Vec::new();
    while let Some(msg) = tokio::time::timeout(Duration::from_secs(60), socket.next()).await.expect("events in time") {
        let tokio_tungstenite::tungstenite::Message::Text(text) = msg.unwrap() else { continue };
        let event: Value = serde_json::from_str(&text).unwrap();
        assert_typed(&event);
        let done = event["type"] == "run.finished";
        events.push(event);
        if done {
            break;
        }
    }
    events
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

fn log_file(data: &Path, id: &str) -> Vec<Value> {
    let events: Vec<Value> = std::fs::read_to_string(data.join("logs").join(format!("{id}.jsonl")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    events.iter().for_each(assert_typed);
    events
}

#[tokio::test]
async fn a_manual_run_reaches_two_viewers_and_the_download_alike() {
    let runner_port = free_port();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("marker-file"), "x").unwrap();
    let setup = Setup::new(
        runner_port,
        vec![
            Scenario::new("lister")
                .tool_use("Bash", json!({"command": format!("ls {}", work.path().display())}))
                .text("listed the files: all good"),
        ],
    )
    .await;
    let _runner = start_runner(runner_port, tempfile::tempdir().unwrap()).await;
    let server = setup.server().await;

    let mut live = socket(&server, "/api/v1/live").await;
    let id = start_run(&server, "lister").await;
    let (a, b) = tokio::join!(watch(&server, &id), watch(&server, &id));
    let run = server.status_is(&id, "succeeded", 60).await;
    assert_eq!(a, b, "two viewers saw different events");
    assert_eq!(seqs(&a), (1..=a.len() as u64).collect::<Vec<_>>(), "events have gaps");
    assert_eq!(a, log_file(setup.data.path(), &id), "the viewers and the server's log differ");
    assert!(a.iter().any(|e| e["type"] == "assistant.text"));

    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/runs/{id}/log", server.url))
        .bearer_auth(&server.key)
        .send()
        .await
        .unwrap();
    let disposition = resp.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.contains("lister-local-") && disposition.ends_with(&format!("{id}.log\"")), "{disposition}");
    let text = resp.text().await.unwrap();
    assert!(text.contains("marker-file") && text.contains("listed the files: all good"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with('[')).count(), a.len(), "{text}");

    // The record: transitions, usage, summary; the list; the agent's record; usage.
    let statuses: Vec<&str> =
        run["transitions"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["queued", "dispatched", "running", "succeeded"]);
    assert_eq!(run["summary"], "listed the files: all good");
    assert!(run["usage"]["input_tokens"].as_i64().unwrap() > 0, "{run}");
    assert!(run["cost_usd"].as_f64().unwrap() > 0.0);
    let list = server.get("/api/v1/runs?limit=50&agent=lister").await;
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert!(server.get("/api/v1/runs?agent=toucher").await["items"].as_array().unwrap().is_empty());
    let agent = server.get("/api/v1/agents/lister").await;
    assert_eq!(agent["stats"]["runs"], 1);
    assert_eq!(agent["stats"]["success_rate"], 1.0);
    assert_eq!(agent["last_runs"][0]["id"], id.as_str());
    let metrics = server.get("/api/v1/nodes/local/metrics?range=1h").await;
    assert_eq!(metrics["resolution"], "minute");
    assert!(metrics["points"][0]["memory_percent"].as_f64().unwrap() > 0.0, "{metrics}");
    let usage = server.get("/api/v1/usage?group_by=agent").await;
    assert_eq!(usage["groups"][0]["key"], "lister");
    assert_eq!(usage["total"]["input_tokens"], run["usage"]["input_tokens"]);
    let agents = server.get("/api/v1/agents").await;
    let lister = agents["agents"].as_array().unwrap().iter().find(|a| a["name"] == "lister").unwrap();
    assert_eq!(lister["nodes"], json!(["local"]), "the node that may run it");

    // Run again: the same agent, node and context, as a manual run naming the first.
    let (status, again) = server.post(&format!("/api/v1/runs/{id}/again"), json!({})).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{again}");
    assert_eq!((again["agent"].as_str(), again["node"].as_str()), (Some("lister"), Some("local")));
    assert_eq!(again["context"]["again_of"], id.as_str(), "{again}");
    assert_eq!(server.get("/api/v1/runs?trigger=manual&agent=lister").await["items"].as_array().unwrap().len(), 2);
    assert!(server.get("/api/v1/runs?trigger=schedule").await["items"].as_array().unwrap().is_empty());
    let (status, _) = server.post("/api/v1/runs/run_nope/again", json!({})).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);

    // The dashboards' live feed said it started and ended, and nothing more of it. Other
    // events share the feed (the server's first sync may commit after the socket opened).
    let mut told = Vec::new();
    while told.len() < 2 {
        let next = tokio::time::timeout(Duration::from_secs(10), live.next()).await.expect("the live feed went quiet");
        let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) = next else {
            panic!("the live feed closed")
        };
        let item: Value = serde_json::from_str(&text).unwrap();
        assert!(item.get("data").is_none(), "the feed carries no event data: {item}");
        if item["run_id"].is_null() {
            continue;
        }
        told.push((item["type"].as_str().unwrap().to_string(), item["run_id"].as_str().unwrap().to_string()));
    }
    assert_eq!(told, [("run.started".to_string(), id.clone()), ("run.succeeded".to_string(), id.clone())]);

    // The replay in one piece, as NDJSON: the same events; `after` skips what the viewer has.
    let ndjson = |query: &'static str| {
        let (url, key, id) = (server.url.clone(), server.key.clone(), id.clone());
        async move {
            let resp = reqwest::Client::new()
                .get(format!("{url}/api/v1/runs/{id}/events{query}"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
            let text = resp.text().await.unwrap();
            text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(ndjson("").await, a, "the NDJSON replay differs from the stream");
    assert_eq!(ndjson("?after=2").await[0]["seq"], 3);

    // A viewer that reconnects with `after` gets only what follows.
    let mut socket = stream(&server, &id, "?after=2").await;
    let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(first))) = socket.next().await else {
        panic!("no event")
    };
    assert_eq!(serde_json::from_str::<Value>(&first).unwrap()["seq"], 3);
}

#[tokio::test]
async fn an_approval_passes_through_the_server_and_is_recorded() {
    let runner_port = free_port();
    let work = tempfile::tempdir().unwrap();
    let touched = work.path().join("approved");
    let setup = Setup::new(
        runner_port,
        vec![
            Scenario::new("toucher")
                .tool_use("Bash", json!({"command": format!("touch {}", touched.display())}))
                .text("touched"),
        ],
    )
    .await;
    let _runner = start_runner(runner_port, tempfile::tempdir().unwrap()).await;
    let server = setup.server().await;
    let id = start_run(&server, "toucher").await;
    server.status_is(&id, "awaiting_approval", 60).await;
    let pending = server.get("/api/v1/approvals?status=pending").await;
    let approval =
        pending["approvals"].as_array().unwrap().iter().find(|a| a["run_id"] == id.as_str()).unwrap().clone();
    assert_eq!(approval["tool"], "Bash");
    // It is denied unanswered after the default approvalTimeout (an hour): the dashboard counts down.
    let at = |k: &str| chrono::DateTime::parse_from_rfc3339(approval[k].as_str().unwrap()).unwrap();
    assert_eq!(at("expires_at") - at("requested_at"), chrono::TimeDelta::hours(1), "{approval}");
    assert!(!touched.exists());
    let path = format!("/api/v1/approvals/{}", approval["id"].as_str().unwrap());
    let (status, _) = server.post(&path, json!({"decision": "maybe"})).await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST);
    let (status, body) = server.post(&path, json!({"decision": "approve", "comment": "go ahead"})).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{body}");
    let run = server.status_is(&id, "succeeded", 60).await;
    assert!(touched.exists(), "the approved command did not run");
    let a = &run["approvals"][0];
    assert_eq!(
        (a["status"].as_str(), a["decided_by"].as_str(), a["comment"].as_str()),
        (Some("approved"), Some("api_key:test"), Some("go ahead"))
    );
    let (status, _) = server.post(&path, json!({"decision": "deny"})).await;
    assert_eq!(status, reqwest::StatusCode::CONFLICT, "a decided approval was decided again");
}

fn sleeper(secs: u32) -> Scenario {
    Scenario::new("sleeper")
        .tool_use("Bash", json!({"command": format!("python3 -c 'import time; [print(i, flush=True) or time.sleep(0.5) for i in range({})]'", secs * 2)}))
        .text("slept well")
}

#[tokio::test]
async fn a_server_killed_mid_run_loses_no_event() {
    server_stopped_mid_run(nix::sys::signal::Signal::SIGKILL).await; // no goodbye: a crash
}

#[tokio::test]
async fn a_server_stopped_mid_run_loses_no_event() {
    server_stopped_mid_run(nix::sys::signal::Signal::SIGTERM).await; // an upgrade
}

async fn server_stopped_mid_run(signal: nix::sys::signal::Signal) {
    let runner_port = free_port();
    let setup = Setup::new(runner_port, vec![sleeper(4)]).await;
    let runner = start_runner(runner_port, tempfile::tempdir().unwrap()).await;
    let server = setup.server().await;
    let id = start_run(&server, "sleeper").await;
    server.status_is(&id, "running", 60).await;
    let mut server = server;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.proc.0.id() as i32), signal).unwrap();
    let _ = server.proc.0.wait();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let server = setup.server().await;
    server.status_is(&id, "succeeded", 60).await;
    let ours = log_file(setup.data.path(), &id);
    let theirs: Vec<Value> = std::fs::read_to_string(runner.data.path().join("runs").join(&id).join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(ours, theirs, "the server's copy differs from the runner's log");
    assert_eq!(seqs(&ours), (1..=ours.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_run_whose_runner_dies_is_lost_after_the_grace_period() {
    let runner_port = free_port();
    let mut setup = Setup::new(runner_port, vec![sleeper(30)]).await;
    setup.extra.push(("RUN_LOST_GRACE".into(), "3s".into()));
    let runner = start_runner(runner_port, tempfile::tempdir().unwrap()).await;
    let server = setup.server().await;
    let id = start_run(&server, "sleeper").await;
    server.status_is(&id, "running", 60).await;
    drop(runner);
    let run = server.status_is(&id, "lost", 30).await;
    assert_eq!(run["error"]["kind"], "lost", "{run}");
    assert!(run["error"]["message"].as_str().unwrap().contains("node local was away"), "{run}");
    let events = log_file(setup.data.path(), &id);
    assert_eq!(events.last().unwrap()["type"], "run.finished");
    assert_eq!(seqs(&events), (1..=events.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_run_whose_runner_freezes_is_lost_not_timed_out() {
    let runner_port = free_port();
    let mut setup = Setup::new(runner_port, vec![sleeper(30)]).await;
    setup.extra.push(("RUN_LOST_GRACE".into(), "3s".into()));
    setup.extra.push(("RUN_STREAM_SILENCE".into(), "2s".into()));
    let runner = start_runner(runner_port, tempfile::tempdir().unwrap()).await;
    let server = setup.server().await;
    let id = start_run(&server, "sleeper").await;
    server.status_is(&id, "running", 60).await;
    // Stopped, not killed: its connections stay open and say nothing, like a half-open one.
    let pid = nix::unistd::Pid::from_raw(runner.proc.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let run = server.status_is(&id, "lost", 40).await;
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    assert_eq!(run["error"]["kind"], "lost", "{run}");
    assert!(run["error"]["message"].as_str().unwrap().contains("did not answer"), "{run}");
}

#[tokio::test]
async fn runs_are_cancelled_queued_or_going_and_bad_starts_say_why() {
    let runner_port = free_port();
    let setup = Setup::new(runner_port, vec![sleeper(30)]).await;
    let _runner = start_runner(runner_port, tempfile::tempdir().unwrap()).await;
    let server = setup.server().await;
    let (status, body) = server.post("/api/v1/runs", json!({"agent": "nope", "node": "local"})).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    assert!(body["error"]["message"].as_str().unwrap().contains("no agent named \"nope\""), "{body}");
    let id = start_run(&server, "sleeper").await;
    server.status_is(&id, "running", 60).await;
    let (status, _) = server.post(&format!("/api/v1/runs/{id}/cancel"), json!({})).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED);
    let run = server.status_is(&id, "cancelled", 30).await;
    assert_eq!(run["error"]["kind"], "cancelled");
    let (status, _) = server.post(&format!("/api/v1/runs/{id}/cancel"), json!({})).await;
    assert_eq!(status, reqwest::StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_lost_run_is_retried_as_a_linked_run_that_succeeds() {
    let runner_port = free_port();
    let flag = tempfile::tempdir().unwrap();
    let ready = flag.path().join("ready");
    // The first attempt hangs until `ready` exists; the retry finds it and finishes.
    let wait =
        format!("python3 -c 'import os, time\nwhile not os.path.exists(\"{}\"): time.sleep(0.2)'", ready.display());
    let mut setup = Setup::new(
        runner_port,
        vec![Scenario::new("retrier").tool_use("Bash", json!({"command": wait})).text("done at last")],
    )
    .await;
    setup.extra.push(("RUN_LOST_GRACE".into(), "3s".into()));
    let retrier = agent("retrier", "read-write", &["Bash(python3 *)"], &[]) + "  retries: {max: 1, backoff: 1s}\n";
    std::fs::write(setup.config.path().join("retrier.yaml"), retrier).unwrap();
    let runner = start_runner(runner_port, tempfile::tempdir().unwrap()).await;
    let server = setup.server().await;
    let first = start_run(&server, "retrier").await;
    server.status_is(&first, "running", 60).await;
    drop(runner);
    server.status_is(&first, "lost", 30).await;
    std::fs::write(&ready, "").unwrap();
    let _runner = start_runner(runner_port, tempfile::tempdir().unwrap()).await;
    let runs = server
        .eventually("/api/v1/runs?agent=retrier", |l| l["items"].as_array().is_some_and(|r| r.len() == 2), 30)
        .await;
    let retry = runs["items"][0]["id"].as_str().unwrap().to_string();
    let done = server.status_is(&retry, "succeeded", 60).await;
    assert_eq!(done["attempt"], 2);
    assert_eq!(done["first_run_id"], first.as_str());
    let attempts: Vec<&str> =
        done["attempts"].as_array().unwrap().iter().map(|a| a["status"].as_str().unwrap()).collect();
    assert_eq!(attempts, ["lost", "succeeded"]);
}

#[tokio::test]
async fn past_the_budget_model_runs_wait_and_say_why() {
    let runner_port = free_port();
    let mut setup = Setup::new(runner_port, vec![Scenario::new("lister").text("nothing to list")]).await;
    setup.extra.push(("BUDGET_DAILY_USD".into(), "0.000001".into()));
    let _runner = start_runner(runner_port, tempfile::tempdir().unwrap()).await;
    let server = setup.server().await;
    let first = start_run(&server, "lister").await;
    server.status_is(&first, "succeeded", 60).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = start_run(&server, "lister").await;
    let held = server.eventually(&format!("/api/v1/runs/{second}"), |r| r["held"].is_string(), 10).await;
    assert!(held["held"].as_str().unwrap().contains("daily budget"), "{held}");
    let budget = server.get("/api/v1/budget").await;
    assert_eq!((budget["daily_limit_usd"].as_f64(), budget["monthly_limit_usd"].as_f64()), (Some(0.000001), None));
    assert!(budget["spent_today_usd"].as_f64().unwrap() > 0.000001, "{budget}");
    assert_eq!(budget["spent_this_month_usd"], budget["spent_today_usd"]);
    assert!(budget["held"].as_str().unwrap().contains("daily budget"), "{budget}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(server.get(&format!("/api/v1/runs/{second}")).await["status"], "queued", "a held run was dispatched");
}

#[tokio::test]
async fn a_viewer_that_falls_behind_gets_a_gap_marker_and_never_holds_up_the_run() {
    let runner_port = free_port();
    let setup = Setup::new(runner_port, vec![]).await;
    let _runner = start_runner(runner_port, tempfile::tempdir().unwrap()).await;
    let server = setup.server().await;
    let id = start_run(&server, "chatty").await;
    let mut slow = stream(&server, &id, "").await;
    // The viewer reads nothing while the run goes: the run finishes all the same.
    let run = server.status_is(&id, "succeeded", 60).await;
    assert_eq!(run["last_seq"].as_i64().unwrap(), log_file(setup.data.path(), &id).len() as i64);
    let mut seqs = Vec::new();
    let mut gaps = Vec::new();
    while let Some(msg) = tokio::time::timeout(Duration::from_secs(30), slow.next()).await.expect("events in time") {
        let tokio_tungstenite::tungstenite::Message::Text(text) = msg.unwrap() else { continue };
        let event: Value = serde_json::from_str(&text).unwrap();
        assert_typed(&event);
        if event["type"] == "gap" {
            gaps.push(event["data"].clone());
            continue;
        }
        seqs.push(event["seq"].as_u64().unwrap());
        if event["type"] == "run.finished" {
            break;
        }
    }
    assert!(!gaps.is_empty(), "a viewer 100,000 events behind got no gap marker");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "events out of order");
    let gap = &gaps[0];
    let (from, to) = (gap["from"].as_u64().unwrap(), gap["to"].as_u64().unwrap());
    assert!(from <= to && !seqs.iter().any(|s| (from..=to).contains(s)), "events inside the gap were sent: {gap}");
    assert_eq!(*seqs.last().unwrap(), run["last_seq"].as_u64().unwrap());
}
