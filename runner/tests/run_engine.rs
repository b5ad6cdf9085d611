//! A prompt agent's run with the real claude CLI against the fake Messages
//! API: every decision, approval, retry and the outcome land in the event log.

use car_testkit::json::without_nulls;
use std::path::Path;
use std::sync::Arc;

use car_runner::engine::approvals::Answer;
use car_runner::engine::claude::Launch;
use car_runner::engine::run::{Body, Job, NodeFacts, run_agent};
use car_runner::eventlog::{DEFAULT_QUOTA, EventLog, read_all};
use car_schemas::document::Manifest;
use car_schemas::kinds::AgentSpec;
use car_schemas::run::{EVENT_SCHEMA_FILE, RunEvent, TypedRunEvent};
use car_testkit::anthropic::{FakeAnthropic, Reply, Scenario, Step, ToolUse};
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
    start_with(fake, scenario, spec, workdir, &[])
}

fn start_with(fake: &FakeAnthropic, scenario: &str, spec: AgentSpec, workdir: &Path, env: &[(&str, &str)]) -> Run {
    let body = Body::Prompt(format!("[[scenario:{scenario}]] Do the task."));
    start_job(fake, body, spec, workdir, env)
}

fn start_job(fake: &FakeAnthropic, body: Body, spec: AgentSpec, workdir: &Path, env: &[(&str, &str)]) -> Run {
    start_in_context(fake, body, spec, workdir, env, json!({"payload": {"hosts": ["a", "b"]}}))
}

fn start_in_context(
    fake: &FakeAnthropic,
    body: Body,
    spec: AgentSpec,
    workdir: &Path,
    env: &[(&str, &str)],
    context: Value,
) -> Run {
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let log = Arc::new(EventLog::open(&data.path().join("events.jsonl"), DEFAULT_QUOTA).unwrap());
    let launch = Launch {
        bin: std::env::var("CLAUDE_BIN").expect("CLAUDE_BIN is not set: run `source scripts/claude.sh` first").into(),
        workdir: workdir.to_path_buf(),
        config_dir: config.path().to_path_buf(),
        env: [("ANTHROPIC_BASE_URL".into(), fake.url()), ("ANTHROPIC_API_KEY".into(), "sk-test".into())]
            .into_iter()
            .chain(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .collect(),
        max_turns: Some(10),
        tmp_dir: config.path().to_path_buf(),
        ..Launch::default()
    };
    let (tx, mut rx) = mpsc::channel(4);
    let task_log = log.clone();
    let (_cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let _keep = _cancel_tx;
        let node = NodeFacts {
            name: "tower".into(),
            os: "unraid".into(),
            os_name: "Unraid 7.0.1".into(),
            tags: vec!["storage".into(), "media".into()],
        };
        let context = serde_json::from_value(context).expect("a run context");
        let job = Job { run_id: "r", agent_name: "t", spec: &spec, body, launch, node, context, sandbox: None };
        let finished = run_agent(job, &task_log, &mut rx, cancel_rx).await.expect("the run");
        serde_json::to_value(finished).expect("run.finished serializes")
    });
    Run { log, answers: tx, task, _dirs: (data, config) }
}

/// The run's events, each checked against the published model.
fn events(log: &EventLog) -> Vec<RunEvent> {
    let events = read_all(log.path()).unwrap();
    assert_typed(&events);
    events
}

/// Every event the runner really wrote fits the typed model
/// (`car_schemas::run::TypedRunEvent`) and is written back as the same
/// JSON, and the committed `run-event.schema.json` accepts it.
fn assert_typed(events: &[RunEvent]) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for e in events {
        let json = serde_json::to_value(e).unwrap();
        let typed = TypedRunEvent::try_from(e).unwrap_or_else(|err| panic!("{err}: the typed model refuses {json}"));
        let back = serde_json::to_value(RunEvent::from(typed)).unwrap();
        assert_eq!(without_nulls(&back), without_nulls(&json), "the typed model changes {json}");
        let file = dir.path().join(format!("{}.json", e.seq));
        std::fs::write(&file, json.to_string()).unwrap();
        files.push(file);
    }
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/json").join(EVENT_SCHEMA_FILE);
    let check = std::env::var("CAR_CHECK_JSONSCHEMA").unwrap_or_else(|_| "check-jsonschema".into());
    let out = std::process::Command::new(&check)
        .arg("--schemafile")
        .arg(schema)
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {check} ({e}): run scripts/test or set CAR_CHECK_JSONSCHEMA"));
    assert!(
        out.status.success(),
        "run-event.schema.json refuses a real event: {}",
        String::from_utf8_lossy(&out.stdout)
    );
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
    let mut spec = agent("read-only", &["Bash(ls *)"], &[]);
    let gather = json!({"apiVersion": "car/v1", "kind": "Agent", "metadata": {"name": "t"}, "spec": {"prompt": "x",
        "gather": ["echo pools ok", {"name": "slow", "command": "sleep 5", "timeout": "1s"}]}});
    spec.gather = car_schemas::de::from_json::<Manifest<AgentSpec>>(&gather).expect("a valid agent").spec.gather;
    let run = start(&fake, "rm", spec, work.path());
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    assert!(victim.exists());
    let evs = events(&log);
    let gathered: Vec<&Value> = of(&evs, "gather.output").iter().map(|e| &e.data["exit_code"]).collect();
    assert_eq!(gathered, [&json!(0), &Value::Null], "{evs:#?}");
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
    let usage = of(&evs, "usage");
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].data, finished["usage"]);
    // The model is told where it runs.
    let system = fake.requests_for("rm")[0].system();
    assert!(system.contains("\"tower\" (Unraid 7.0.1; os: unraid, tagged storage, media)"), "{system}");
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

fn with_report(mut spec: AgentSpec) -> AgentSpec {
    let schema = json!({"type": "object", "required": ["healthy"], "properties": {"healthy": {"type": "boolean"}}});
    spec.report = Some(car_schemas::de::Spanned::new(Default::default(), schema));
    spec
}

#[tokio::test]
async fn a_declared_report_arrives_as_the_runs_report() {
    let work = tempfile::tempdir().unwrap();
    let fake = FakeAnthropic::start([Scenario::new("rep")
        .tool_use("StructuredOutput", json!({"healthy": true}))
        .text("all pools are fine")])
    .await;
    let run = start(&fake, "rep", with_report(agent("read-only", &[], &[])), work.path());
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    events(&log);
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["report"], json!({"healthy": true}));
}

#[tokio::test]
async fn with_a_report_the_summary_is_what_the_model_wrote_not_the_reports_json() {
    let work = tempfile::tempdir().unwrap();
    // The CLI ends the session when the report arrives, so the text that goes with it is the last word.
    let fake = FakeAnthropic::start([Scenario::new("rep-text").step(Step::Reply(Reply {
        text: Some("ZFS OK: both pools online".into()),
        tool_uses: vec![ToolUse { name: "StructuredOutput".into(), input: json!({"healthy": true}) }],
        ..Reply::default()
    }))])
    .await;
    let run = start(&fake, "rep-text", with_report(agent("read-only", &[], &[])), work.path());
    let finished = run.task.await.unwrap();
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["summary"], "ZFS OK: both pools online");
    assert_eq!(finished["report"], json!({"healthy": true}));
}

#[tokio::test]
async fn a_declared_report_that_never_arrives_fails_the_run() {
    let work = tempfile::tempdir().unwrap();
    let fake = FakeAnthropic::start([Scenario::new("norep").text("I forgot the report")]).await;
    let run = start(&fake, "norep", with_report(agent("read-only", &[], &[])), work.path());
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    events(&log);
    assert_eq!(finished["status"], "failed", "{finished}");
    assert_eq!(finished["error"]["kind"], "no_report");
    assert_eq!(finished["summary"], "I forgot the report");
}

#[tokio::test]
async fn a_run_that_stays_rate_limited_fails_as_rate_limited_with_the_wait() {
    let work = tempfile::tempdir().unwrap();
    let fake = FakeAnthropic::start([Scenario::new("limited").error(429, 2, 10).text("never")]).await;
    let spec = agent("read-only", &[], &[]);
    let run = start_with(&fake, "limited", spec, work.path(), &[("CLAUDE_CODE_MAX_RETRIES", "1")]);
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    let evs = events(&log);
    assert_eq!(of(&evs, "rate_limited").len(), 1);
    assert_eq!(finished["status"], "failed", "{finished}");
    let error = &finished["error"];
    assert_eq!(error["kind"], "rate_limited", "{error}");
    assert_eq!(error["api_status"], 429);
    assert!(error["retry_after_ms"].as_u64().unwrap() >= 1000, "{error}");
}

/// A script agent whose Python source is `source`, written beside the work dir.
fn script_run(fake: &FakeAnthropic, source: &str, spec: AgentSpec, work: &Path) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.py");
    std::fs::write(&path, source).unwrap();
    (start_job(fake, Body::Script(path), spec, work, &[]), dir)
}

fn script_agent(mode: &str, allow: &[&str], approve: &[&str]) -> AgentSpec {
    let doc = json!({"apiVersion": "car/v1", "kind": "Agent", "metadata": {"name": "t"},
        "spec": {"script": "agent.py", "mode": mode, "approvalTimeout": "1m",
                 "tools": {"allow": allow, "approve": approve}}});
    car_schemas::de::from_json::<Manifest<AgentSpec>>(&doc).expect("a valid agent").spec
}

#[tokio::test]
async fn a_python_agent_runs_commands_through_the_policy_and_asks_the_model() {
    let work = tempfile::tempdir().unwrap();
    let victim = work.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let fake = FakeAnthropic::start([Scenario::new("py").text("the pools look healthy")]).await;
    let source = format!(
        r#"
import car_agent

async def main(ctx):
    ctx.log("node", ctx.node["name"], ctx.node["os"], ",".join(ctx.node["tags"]), "hosts", ctx.context["payload"]["hosts"])
    listed = ctx.sh("echo pools: tank && echo warn >&2")
    ctx.log("exit", listed.exit_code, "stdout", listed.stdout.strip(), "stderr", listed.stderr.strip())
    try:
        ctx.sh("rm -rf {victim}")
        ctx.log("rm ran")
    except car_agent.Denied as e:
        ctx.log("rm denied:", e.kind)
    reply = await ctx.claude("[[scenario:py]] Judge this: " + listed.stdout)
    print("model said:", reply.text)
    ctx.report("succeeded", "checked: " + reply.text, {{"healthy": True}})

car_agent.run(main)
"#,
        victim = victim.display()
    );
    let (run, _dir) =
        script_run(&fake, &source, with_report(script_agent("read-only", &["Bash(echo *)"], &[])), work.path());
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    let evs = events(&log);
    let lines: Vec<&str> = of(&evs, "log").iter().map(|e| e.data["line"].as_str().unwrap()).collect();
    assert!(victim.exists(), "a read-only script deleted a file");
    assert_eq!(
        lines,
        [
            "node tower unraid storage,media hosts ['a', 'b']",
            "exit 0 stdout pools: tank stderr warn",
            "rm denied: denied",
            "model said: the pools look healthy"
        ],
        "{evs:#?}"
    );
    let calls = of(&evs, "tool.call");
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].data["decision"].as_str(), calls[0].data["source"].as_str()), (Some("allow"), Some("script")));
    assert_eq!(calls[1].data["decision"], "deny");
    assert_eq!(of(&evs, "tool.result")[0].data["output"], "pools: tank\nwarn\n");
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["summary"], "checked: the pools look healthy");
    assert_eq!(finished["report"], json!({"healthy": true}));
    assert!(finished["usage"]["output_tokens"].as_u64().unwrap() > 0, "{finished}");
    assert_eq!(fake.requests_for("py").len(), 1);
}

#[tokio::test]
async fn a_python_agents_held_command_waits_for_a_human() {
    let work = tempfile::tempdir().unwrap();
    let touched = work.path().join("approved");
    let fake = FakeAnthropic::start([]).await;
    let source = format!(
        "import car_agent\n\ndef main(ctx):\n    r = ctx.sh('touch {}', check=True)\n    ctx.log('touched', r.exit_code)\n\ncar_agent.run(main)\n",
        touched.display()
    );
    let (run, _dir) = script_run(&fake, &source, script_agent("read-write", &[], &["Bash(touch *)"]), work.path());
    let id = held(&run).await;
    assert!(!touched.exists(), "the held command ran before approval");
    run.answers.send(Answer { request_id: id, approve: true, comment: None }).await.unwrap();
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert!(touched.exists());
    assert_eq!(of(&events(&log), "log")[0].data["line"], "touched 0");
}

#[tokio::test]
async fn a_python_agent_that_raises_fails_with_its_traceback() {
    let work = tempfile::tempdir().unwrap();
    let fake = FakeAnthropic::start([]).await;
    let source = "import car_agent\n\ndef main(ctx):\n    ctx.log('starting')\n    raise RuntimeError('the NAS is on fire')\n\ncar_agent.run(main)\n";
    let (run, _dir) = script_run(&fake, source, script_agent("read-only", &[], &[]), work.path());
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    assert_eq!(finished["status"], "failed");
    assert_eq!(finished["error"]["kind"], "script");
    assert_eq!(finished["error"]["message"], "the script exited with status 1");
    assert!(finished["error"]["detail"].as_str().unwrap().ends_with("RuntimeError: the NAS is on fire"), "{finished}");
    let stderr = of(&events(&log), "log").into_iter().filter(|e| e.data["stream"] == "stderr").count();
    assert!(stderr >= 3, "the traceback is not in the log");
}

#[tokio::test]
async fn a_python_agent_fails_when_it_reports_failure_or_never_reports() {
    let work = tempfile::tempdir().unwrap();
    let fake = FakeAnthropic::start([]).await;
    let failing = "import car_agent\ncar_agent.run(lambda ctx: ctx.report('failed', 'backup is 9 days old', {'healthy': False}))\n";
    let (run, _dir) = script_run(&fake, failing, with_report(script_agent("read-only", &[], &[])), work.path());
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    events(&log);
    assert_eq!((finished["status"].as_str(), finished["error"]["kind"].as_str()), (Some("failed"), Some("reported")));
    assert_eq!(finished["report"], json!({"healthy": false}));
    assert_eq!(finished["summary"], "backup is 9 days old");

    let silent = "print('did the work')\n";
    let (run, _dir) = script_run(&fake, silent, with_report(script_agent("read-only", &[], &[])), work.path());
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    events(&log);
    assert_eq!((finished["status"].as_str(), finished["error"]["kind"].as_str()), (Some("failed"), Some("no_report")));
    assert_eq!(finished["summary"], "did the work");
}

#[tokio::test]
async fn the_example_script_agent_runs_with_the_helper_and_reports_what_it_found() {
    let work = tempfile::tempdir().unwrap();
    let fake = FakeAnthropic::start([]).await;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-config-repo");
    let loaded = car_schemas::load::load(&repo, &Default::default()).expect("the example repo loads");
    let spec = loaded
        .documents
        .iter()
        .find_map(|d| match &d.spec {
            car_schemas::document::Spec::Agent(a) if d.name() == "cert-expiry" => Some(a.clone()),
            _ => None,
        })
        .expect("the example has cert-expiry");
    // Port 1 on loopback refuses at once: the script must report it, not crash.
    let script = Body::Script(repo.join("agents/scripts/cert_expiry.py"));
    let run = start_in_context(&fake, script, spec, work.path(), &[], json!({"hosts": ["127.0.0.1:1"]}));
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    events(&log);
    assert_eq!(finished["error"]["kind"], "reported", "{finished}");
    assert_eq!(finished["summary"], "Certificate check failed: none of 1 hosts could be reached");
    assert_eq!(finished["report"]["unreachable"], json!(["127.0.0.1:1"]));
    assert_eq!(finished["report"]["checked"], 0);
}

#[tokio::test]
async fn calls_the_cli_would_run_unasked_are_still_decided_and_logged() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("notes.txt"), "the wifi password is hunter2").unwrap();
    let fake = FakeAnthropic::start([Scenario::new("quiet")
        .tool_use("Bash", json!({"command": "echo hello"}))
        .tool_use("Bash", json!({"command": "pwd"}))
        .tool_use("Bash", json!({"command": "cat notes.txt"}))
        .text("done")])
    .await;
    let doc = json!({"apiVersion": "car/v1", "kind": "Agent", "metadata": {"name": "t"},
        "spec": {"prompt": "x", "mode": "read-only",
                 "tools": {"allow": ["Bash(echo *)", "Bash(pwd)"], "deny": ["Bash(cat *)"]}}});
    let spec = car_schemas::de::from_json::<Manifest<AgentSpec>>(&doc).expect("a valid agent").spec;
    let run = start(&fake, "quiet", spec, work.path());
    let log = run.log.clone();
    let finished = run.task.await.unwrap();
    assert_eq!(finished["status"], "succeeded", "{finished}");
    let evs = events(&log);
    let calls: Vec<(String, String)> = of(&evs, "tool.call")
        .iter()
        .map(|e| (e.data["tool"].as_str().unwrap().to_string(), e.data["decision"].as_str().unwrap().to_string()))
        .collect();
    let expected = [("Bash", "allow"), ("Bash", "allow"), ("Bash", "deny")];
    assert_eq!(calls, expected.map(|(t, d)| (t.to_string(), d.to_string())));
    let outputs: Vec<String> =
        fake.requests_for("quiet").iter().flat_map(|r| r.tool_results()).map(|t| t.text).collect();
    assert!(outputs.iter().any(|o| o.contains("hello")), "{outputs:?}");
    assert!(!outputs.iter().any(|o| o.contains("hunter2")), "a denied read reached the model: {outputs:?}");
}
