//! The real claude CLI against the fake Messages API, with every tool call
//! decided by the runner's policy through the PreToolUse hook.

use std::path::Path;
use std::time::Duration;

use car_policy::{Decision, Policy};
use car_runner::engine::claude::{Launch, Message, Session};
use car_schemas::document::Manifest;
use car_schemas::kinds::AgentSpec;
use car_testkit::anthropic::{FakeAnthropic, Scenario};
use serde_json::{Value, json};

fn claude_bin() -> String {
    std::env::var("CLAUDE_BIN").expect("CLAUDE_BIN is not set: run `source scripts/claude.sh` first")
}

fn read_only_agent(allow: &[&str]) -> AgentSpec {
    let doc = json!({"apiVersion": "car/v1", "kind": "Agent", "metadata": {"name": "t"},
                     "spec": {"prompt": "x", "mode": "read-only", "tools": {"allow": allow}}});
    car_schemas::de::from_json::<Manifest<AgentSpec>>(&doc).expect("a valid agent").spec
}

/// Runs one scenario to its result; returns the decisions made and the result.
async fn run(
    fake: &FakeAnthropic,
    scenario: &str,
    spec: &AgentSpec,
    workdir: &Path,
) -> (Vec<(String, Decision)>, Value) {
    let config = tempfile::tempdir().unwrap();
    let policy = Policy::new(spec).with_workdir(workdir.display().to_string());
    let launch = Launch {
        bin: claude_bin().into(),
        workdir: workdir.to_path_buf(),
        config_dir: config.path().to_path_buf(),
        env: vec![("ANTHROPIC_BASE_URL".into(), fake.url()), ("ANTHROPIC_API_KEY".into(), "sk-test".into())],
        tools: policy.offered_tools(),
        max_turns: Some(10),
        tmp_dir: config.path().to_path_buf(),
        ..Launch::default()
    };
    let mut session = Session::start(&launch, &format!("[[scenario:{scenario}]] Do the task.")).await.unwrap();
    let mut decisions = Vec::new();
    let result = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            match session.next().await.unwrap().expect("the CLI ended before its result") {
                Message::PreToolUse { request_id, tool, input, .. } => {
                    let verdict = policy.decide(&tool, &input);
                    let answer = match verdict.decision {
                        Decision::Allow => "allow",
                        Decision::Deny => "deny",
                        Decision::Approve => "ask",
                    };
                    decisions.push((tool, verdict.decision));
                    session.answer_hook(&request_id, answer, &verdict.reason).await.unwrap();
                }
                Message::CanUseTool { request_id, .. } => {
                    session.answer_permission(&request_id, Err("no approval in this test")).await.unwrap();
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
    (decisions, result)
}

#[tokio::test]
async fn a_read_only_agent_cannot_delete_and_its_allowed_reads_reach_the_model() {
    let work = tempfile::tempdir().unwrap();
    let victim = work.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    let fake = FakeAnthropic::start([
        Scenario::new("rm").tool_use("Bash", json!({"command": format!("rm -rf {}", victim.display())})).text("tried"),
        Scenario::new("ls")
            .tool_use("Bash", json!({"command": format!("ls {}", work.path().display())}))
            .text("listed"),
        Scenario::new("inject")
            .tool_use("Bash", json!({"command": format!("ls {0}; touch {0}/pwned", work.path().display())}))
            .text("tried"),
    ])
    .await;
    let spec = read_only_agent(&["Bash(ls *)", "Read"]);

    let (decisions, result) = run(&fake, "rm", &spec, work.path()).await;
    assert_eq!(decisions, [("Bash".to_string(), Decision::Deny)]);
    assert_eq!(result["subtype"], "success", "{result}");
    assert!(victim.exists(), "a read-only agent deleted a file");

    let (decisions, _) = run(&fake, "inject", &spec, work.path()).await;
    assert_eq!(decisions, [("Bash".to_string(), Decision::Deny)]);
    assert!(!work.path().join("pwned").exists(), "a compound command slipped past Bash(ls *)");

    let (decisions, result) = run(&fake, "ls", &spec, work.path()).await;
    assert_eq!(decisions, [("Bash".to_string(), Decision::Allow)]);
    assert!(result["usage"]["input_tokens"].as_u64().unwrap() > 0, "{result}");
    let seen = fake.requests_for("ls");
    let outputs: Vec<String> = seen.iter().flat_map(|r| r.tool_results()).map(|t| t.text).collect();
    assert!(outputs.iter().any(|o| o.contains("victim")), "the ls output did not reach the model: {outputs:?}");
}
