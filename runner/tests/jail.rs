//! The kernel holds read-only agents to reading even where the policy errs:
//! the real claude CLI, a Python script agent and gather commands, each
//! jailed by Landlock, cannot write outside their run; and a node without
//! Landlock refuses read-only agents unless it accepts the risk.

use std::path::{Path, PathBuf};
use std::time::Duration;

use car_runner::engine::claude::{Launch, Message, Session};
use car_runner::engine::run::NodeFacts;
use car_runner::eventlog::read_all;
use car_runner::runs::{RunRequestError, Runs};
use car_runner::sandbox::{Jail, Support};
use car_schemas::run::RunRequest;
use car_testkit::anthropic::{FakeAnthropic, Scenario};
use serde_json::{Value, json};

fn claude_bin() -> PathBuf {
    std::env::var("CLAUDE_BIN").expect("CLAUDE_BIN is not set: run `source scripts/claude.sh` first").into()
}

fn landlock() -> bool {
    let ok = Support::detect().available();
    if !ok {
        eprintln!("skipped: this kernel has no Landlock");
    }
    ok
}

/// A folder outside every run, with a file an attacker wants gone.
fn victim() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("victim");
    std::fs::write(&file, "keep me").unwrap();
    (dir, file)
}

#[tokio::test]
async fn writes_the_policy_wrongly_allows_are_stopped_by_the_kernel() {
    if !landlock() {
        return;
    }
    let (outside, victim) = victim();
    let run = tempfile::tempdir().unwrap();
    let (work, config, tmp) = (run.path().join("work"), run.path().join("claude"), run.path().join("tmp"));
    for d in [&work, &config, &tmp] {
        std::fs::create_dir_all(d).unwrap();
    }
    let o = outside.path().display();
    let fake = FakeAnthropic::start([Scenario::new("attack")
        .tool_use("Bash", json!({"command": format!("rm -f {}", victim.display())}))
        .tool_use("Bash", json!({"command": format!("echo pwned > {o}/planted; echo pwned > {}", victim.display())}))
        .tool_use("Write", json!({"file_path": format!("{o}/written"), "content": "pwned"}))
        .tool_use("Bash", json!({"command": format!("mv {} {o}/moved", victim.display())}))
        .tool_use("Bash", json!({"command": "echo mine > ./inside.txt"}))
        .text("done")])
    .await;
    let launch = Launch {
        bin: claude_bin(),
        workdir: work.clone(),
        config_dir: config.clone(),
        tmp_dir: tmp.clone(),
        env: vec![("ANTHROPIC_BASE_URL".into(), fake.url()), ("ANTHROPIC_API_KEY".into(), "sk-test".into())],
        tools: vec!["Bash".into(), "Read".into(), "Write".into()],
        max_turns: Some(10),
        jail: Some(Jail::new(vec![work.clone(), config, tmp])),
        ..Launch::default()
    };
    // A policy that allows everything: the worst mistake the analysis could make.
    let mut session = Session::start(&launch, "[[scenario:attack]] Do the task.").await.unwrap();
    let mut allowed = 0;
    let result = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            match session.next().await.unwrap().expect("the CLI ended before its result") {
                Message::PreToolUse { request_id, .. } => {
                    allowed += 1;
                    session.answer_hook(&request_id, "allow", "allowed by a mistaken policy").await.unwrap();
                }
                Message::CanUseTool { request_id, input, .. } => {
                    session.answer_permission(&request_id, Ok(&input)).await.unwrap();
                }
                Message::Result(r) => return r,
                Message::Other(_) => {}
            }
        }
    })
    .await
    .expect("a result within 120 s");
    session.close_input();
    let _ = session.wait().await;
    assert_eq!(result["subtype"], "success", "{result}");
    assert_eq!(allowed, 5, "every call reached the hook and was allowed");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me", "a jailed agent changed a file outside its run");
    let left: Vec<String> =
        std::fs::read_dir(outside.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert_eq!(left, ["victim"], "a jailed agent made files outside its run");
    // Inside its working directory it writes as before.
    assert_eq!(std::fs::read_to_string(work.join("inside.txt")).unwrap(), "mine\n");
    // The CLI kept its state and temp files where the jail lets it.
    assert!(std::fs::read_dir(run.path().join("tmp")).unwrap().next().is_some(), "nothing in the run's TMPDIR");
}

fn runs(data: &Path, sandbox: Support) -> Runs {
    let node = NodeFacts { name: "nas".into(), os: "linux".into(), os_name: "Linux".into(), tags: vec![] };
    Runs::open(data.to_path_buf(), claude_bin(), node, 4).with_sandbox(sandbox)
}

fn script_agent(mode: &str) -> Value {
    json!({"apiVersion": "car/v1", "kind": "Agent", "metadata": {"name": "writer"},
           "spec": {"script": "writer.py", "mode": mode}})
}

fn writer_source(victim: &Path) -> String {
    let v = victim.display();
    format!(
        r#"import os, car_agent

def main(ctx):
    results = []
    for path in ["{v}", os.path.join(os.path.dirname("{v}"), "planted")]:
        try:
            with open(path, "w") as f:
                f.write("pwned")
            results.append("wrote " + path)
        except OSError as e:
            results.append("refused: " + e.strerror)
    with open("inside.txt", "w") as f:
        f.write("mine")
    try:
        ctx.sh("rm -f {v}")
    except car_agent.Denied:
        results.append("rm denied")
    ctx.report("succeeded", "; ".join(results), {{}})

car_agent.run(main)
"#
    )
}

async fn run_to_end(runs: &Runs, request: RunRequest) -> Vec<car_schemas::run::RunEvent> {
    let (handle, _) = runs.start(request).unwrap();
    tokio::time::timeout(Duration::from_secs(60), async {
        while !handle.log.is_finished() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the run ends within 60 s");
    read_all(handle.log.path()).unwrap()
}

fn request(id: &str, agent: Value, files: &[(&str, String)], context: Value) -> RunRequest {
    RunRequest {
        run_id: id.into(),
        agent,
        files: files.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        env: Default::default(),
        context: serde_json::from_value(context).expect("a run context"),
    }
}

#[tokio::test]
async fn a_read_only_script_and_its_gather_commands_cannot_write_outside_their_run() {
    if !landlock() {
        return;
    }
    let (outside, victim) = victim();
    let data = tempfile::tempdir().unwrap();
    let runs = runs(data.path(), Support::detect());
    let mut agent = script_agent("read-only");
    agent["spec"]["gather"] = json!([{"name": "planting", "command": format!("echo gathered > {}/gathered; echo exit=$?", outside.path().display())}]);
    let source = writer_source(&victim);
    let events = run_to_end(&runs, request("ro-script", agent, &[("writer.py", source.clone())], json!({}))).await;
    let started = &events[0];
    assert_eq!(started.data["sandbox"], Value::from(Support::detect().describe()), "{}", started.data);
    let gathered = events.iter().find(|e| e.kind == "gather.output").unwrap();
    assert!(gathered.data["output"].as_str().unwrap().contains("Permission denied"), "{}", gathered.data);
    let finished = events.last().unwrap();
    let summary = finished.data["summary"].as_str().unwrap_or_default();
    assert_eq!(summary.matches("refused: Permission denied").count(), 2, "{}", finished.data);
    // The policy refused the ctx.sh rm; the kernel refused the plain writes.
    let call = events.iter().find(|e| e.kind == "tool.call").unwrap();
    assert_eq!(call.data["decision"], "deny");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    assert!(data.path().join("runs/ro-script/work/inside.txt").exists());
    // The same script in a read-write agent is not jailed (the policy and approvals hold it).
    let mut rw = script_agent("read-write");
    rw["spec"]["tools"] = json!({"allow": ["Bash(rm -f *)"]});
    let events = run_to_end(&runs, request("rw-script", rw, &[("writer.py", source)], json!({}))).await;
    assert_eq!(events[0].data["sandbox"], Value::Null);
    assert_eq!(
        events.last().unwrap().data["summary"],
        format!("wrote {}; wrote {}", victim.display(), outside.path().join("planted").display())
    );
    assert!(!victim.exists(), "the allowed rm did not run");
}

#[tokio::test]
async fn a_node_without_landlock_refuses_read_only_agents_unless_it_accepts_the_risk() {
    let data = tempfile::tempdir().unwrap();
    let runs = runs(data.path(), Support::Missing);
    let source = "import car_agent\ncar_agent.run(lambda ctx: ctx.report('succeeded', 'ran', {}))\n".to_string();
    let agent = script_agent("read-only");
    let Err(err) = runs.start(request("refused", agent.clone(), &[("writer.py", source.clone())], json!({}))) else {
        panic!("a read-only agent started on a node without Landlock");
    };
    assert!(matches!(err, RunRequestError::NoSandbox { .. }), "{err}");
    let message = err.to_string();
    assert!(message.starts_with("node nas cannot hold read-only agent writer to reading: its kernel has no Landlock"));
    assert!(message.contains("`sandbox: unenforced`"), "{message}");
    // Read-write agents run: the policy and approvals hold them.
    let mut rw = agent.clone();
    rw["spec"]["mode"] = Value::from("read-write");
    let events = run_to_end(&runs, request("rw", rw, &[("writer.py", source.clone())], json!({}))).await;
    assert_eq!(events.last().unwrap().data["status"], "succeeded", "{:?}", events.last());
    // A node that accepts the risk runs it, and every such run says so.
    let context = json!({"node": {"name": "nas", "tags": [], "sandbox": "unenforced"}});
    let events = run_to_end(&runs, request("unenforced", agent, &[("writer.py", source)], context)).await;
    assert_eq!(events[0].data["sandbox"], "unenforced");
    let warning = events.iter().find(|e| e.kind == "log").unwrap();
    assert!(warning.data["line"].as_str().unwrap().contains("runs without the kernel's jail"), "{}", warning.data);
    assert_eq!(events.last().unwrap().data["status"], "succeeded");
}
