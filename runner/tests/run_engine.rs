//! A prompt agent's run with the real claude CLI against the fake Messages
//! API: every decision, approval, retry and the outcome land in the event log.

use std::path::Path;
use std::sync::Arc;

use car_runner::engine::claude::Launch;
use car_runner::engine::run::{Answer, Prompt, run_prompt};
use car_runner::eventlog::{DEFAULT_QUOTA, EventLog, read_all};
use car_schemas::document::Manifest;
use car_schemas::kinds::AgentSpec;
use car_schemas::run::RunEvent;
use car_testkit::anthropic::{FakeAnthropic, Scenario};
use serde_json::{Value, json};
use tokio::sync::mpsc;

fn agent(mode: &str, allow: &[&str], approve: &[&str]) -> AgentSpec {
    let doc = json!({"apiVersion": "car/v1", "kind": "Agent", "metadata": {"name": "t"},
        "spec": {"prompt": "x", "mode": mode, "approvalTimeout": "1m", "tools": {"allow": allow, "approve": approve}}});
    car_schemas::de::from_json::<Manifest<AgentSpec>>(&doc).expect("a valid agent").spec
}

struct Run {
    log: Arc<EventLog>,
    answers: mpsc::Sender<Answer>,
    task: tokio::task::JoinHandle<Value>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn start(fake: &FakeAnthropic, scenario: &str, spec: AgentSpec, workdir: &Path) -> Run {
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let log = Arc::new(EventLog::open(&data.path().join("events.jsonl"), DEFAULT_QUOTA).unwrap());
    let launch = Launch {
        bin: std::env::var("CLAUDE_BIN").expect("CLAUDE_BIN is not set: run `source scripts/claude.sh` first").into(),
        workdir: workdir.to_path_buf(),
        config_dir: config.path().to_path_buf(),
        env: vec![("ANTHROPIC_BASE_URL".into(), fake.url()), ("ANTHROPIC_API_KEY".into(), "sk-test".into())],
        max_turns: Some(10),
        ..Launch::default()
    };
    let (tx, mut rx) = mpsc::channel(4);
    let prompt = format!("[[scenario:{scenario}]] Do the task.");
    let task_log = log.clone();
    let (_cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let _keep = _cancel_tx;
        let p = Prompt { run_id: "r", agent_name: "t", spec: &spec, prompt, launch };
        run_prompt(p, &task_log, &mut rx, cancel_rx).await.expect("the run")
    });
    Run { log, answers: tx, task, _dirs: (data, config) }
}

fn events(log: &EventLog) -> Vec<RunEvent> {
    read_all(log.path()).unwrap()
}

fn of<'a>(events: &'a [RunEvent], kind: &str) -> Vec<&'a RunEvent> {
    events.iter().filter(|e| e.kind == kind).collect()
}

#[tokio::test]
async fn a_denied_call_is_logged_with_its_rule_and_the_run_still_finishes_with_usage() {
    let work = tempfile::tempdir().unwrap();
    let victim = work.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let fake = FakeAnthropic::start([Scenario::new("rm")
        .tool_use("Bash", json!({"command": format!("rm -rf {}", victim.display())}))
        .text("I could not delete it.")])
    .await;
    let run = start(&fake, "rm", agent("read-only", &["Bash(ls *)"], &[]), work.path());
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    assert!(victim.exists());
    let evs = events(&log);
    let seqs: Vec<u64> = evs.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=evs.len() as u64).collect::<Vec<_>>());
    assert_eq!(evs[0].kind, "run.started");
    let call = of(&evs, "tool.call")[0];
    assert_eq!(call.data["decision"], "deny");
    assert_eq!(call.data["tool"], "Bash");
    assert!(call.data["reason"].as_str().unwrap().contains("read-only"), "{}", call.data);
    assert!(!of(&evs, "assistant.text").is_empty());
    assert_eq!(finished["status"], "succeeded");
    assert_eq!(finished["summary"], "I could not delete it.");
    assert!(finished["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert!(finished["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(evs.last().unwrap().kind, "run.finished");
}

async fn held(run: &Run) -> String {
    let mut reader = run.log.reader(0).unwrap();
    while let Some(e) = reader.next().await {
        if e.kind == "approval.requested" {
            return e.data["request_id"].as_str().unwrap().to_string();
        }
    }
    panic!("no approval was requested");
}

#[tokio::test]
async fn a_held_call_runs_only_once_approved() {
    let work = tempfile::tempdir().unwrap();
    let touched = work.path().join("approved");
    let fake = FakeAnthropic::start([Scenario::new("touch")
        .tool_use("Bash", json!({"command": format!("touch {}", touched.display())}))
        .text("touched")])
    .await;
    let run = start(&fake, "touch", agent("read-write", &["Read"], &["Bash(touch *)"]), work.path());
    let id = held(&run).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!touched.exists(), "the held command ran before approval");
    run.answers.send(Answer { request_id: id, approve: true, comment: Some("ok".into()) }).await.unwrap();
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    assert_eq!(finished["status"], "succeeded");
    assert!(touched.exists(), "the approved command did not run");
    let evs = events(&log);
    assert_eq!(of(&evs, "tool.call")[0].data["decision"], "approval");
    assert_eq!(of(&evs, "approval.resolved")[0].data["decision"], "approve");
}

#[tokio::test]
async fn a_denied_approval_does_not_run() {
    let work = tempfile::tempdir().unwrap();
    let touched = work.path().join("denied");
    let fake = FakeAnthropic::start([Scenario::new("touch2")
        .tool_use("Bash", json!({"command": format!("touch {}", touched.display())}))
        .text("not touched")])
    .await;
    let run = start(&fake, "touch2", agent("read-write", &[], &["Bash(touch *)"]), work.path());
    let id = held(&run).await;
    run.answers.send(Answer { request_id: id, approve: false, comment: Some("not tonight".into()) }).await.unwrap();
    let log = run.log.clone();
    run.task.await.unwrap();
    assert!(!touched.exists());
    let evs = events(&log);
    assert_eq!(of(&evs, "approval.resolved")[0].data["decision"], "deny");
    let results = of(&evs, "tool.result");
    assert!(results[0].data["output"].as_str().unwrap().contains("not tonight"), "{}", results[0].data);
}

#[tokio::test]
async fn api_retries_show_as_rate_limited_before_success() {
    let work = tempfile::tempdir().unwrap();
    let fake = FakeAnthropic::start([Scenario::new("busy").error(429, 1, 1).text("done after a wait")]).await;
    let run = start(&fake, "busy", agent("read-only", &[], &[]), work.path());
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    let evs = events(&log);
    let limited = of(&evs, "rate_limited");
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].data["error_status"], 429);
    assert_eq!(finished["status"], "succeeded");
}
