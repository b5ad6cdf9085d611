//! The real `claude` CLI (the pinned version, `CLAUDE_BIN` from
//! `source scripts/claude.sh`) in SDK mode against the fake Messages API:
//! proof that the fake speaks the API well enough for the CLI to stream
//! replies, call tools, ask permission, retry and report usage — and a record
//! of the stdin/stdout protocol the runner depends on.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use car_testkit::anthropic::{FakeAnthropic, Scenario};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const API_KEY: &str = "sk-ant-car-testkit-key";
/// The longest wait for any one line of output.
const LINE_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a whole test may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(150);

/// Runs a test body with a deadline; on timeout the body (and the child it
/// owns, killed on drop) is dropped and the test fails.
async fn bounded(body: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_TIMEOUT, body).await.expect("the test ran past its deadline");
}

fn claude_bin() -> PathBuf {
    match std::env::var_os("CLAUDE_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => panic!(
            "CLAUDE_BIN is not set: run `source scripts/claude.sh` first \
             (it installs the pinned claude CLI and exports CLAUDE_BIN)"
        ),
    }
}

/// One `claude` process in SDK mode, with its own config dir, home and
/// working directory. Killed when dropped.
struct Claude {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<String>>,
    /// Every stdout message so far.
    seen: Vec<Value>,
    workdir: tempfile::TempDir,
    _config: tempfile::TempDir,
    _home: tempfile::TempDir,
}

impl Claude {
    fn start(fake: &FakeAnthropic) -> Claude {
        let (config, home, workdir) = (tempdir(), tempdir(), tempdir());
        let mut child = Command::new(claude_bin())
            .args(["-p", "--output-format", "stream-json", "--verbose", "--input-format", "stream-json"])
            .args(["--permission-prompt-tool", "stdio"])
            // Nothing of the developer's environment (keys, tokens, settings)
            // may leak into the run.
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("ANTHROPIC_BASE_URL", fake.url())
            .env("ANTHROPIC_API_KEY", API_KEY)
            .env("CLAUDE_CONFIG_DIR", config.path())
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("HOME", home.path())
            .current_dir(workdir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", claude_bin().display()));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = String::new();
            let _ = err.read_to_string(&mut buf).await;
            sink.lock().unwrap().push_str(&buf);
        });
        Claude { child, stdin, stdout, stderr, seen: Vec::new(), workdir, _config: config, _home: home }
    }

    fn workdir(&self) -> &Path {
        self.workdir.path()
    }

    async fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(format!("{message}\n").as_bytes()).await.expect("write to claude's stdin");
        stdin.flush().await.expect("flush claude's stdin");
    }

    /// Sends `initialize` (registering a `PreToolUse` hook for every tool
    /// when `hook` is set) and returns the CLI's `control_response`.
    async fn initialize(&mut self, hook: bool) -> Value {
        let mut request = json!({"subtype": "initialize"});
        if hook {
            request["hooks"] = json!({"PreToolUse": [{"matcher": "*", "hookCallbackIds": ["policy"]}]});
        }
        self.send(json!({"type": "control_request", "request_id": "init-1", "request": request})).await;
        let response = self.until("the initialize control_response", |m| m["type"] == "control_response").await;
        assert_eq!(response["response"]["subtype"], "success", "{response}");
        assert_eq!(response["response"]["request_id"], "init-1", "{response}");
        response
    }

    async fn prompt(&mut self, text: &str) {
        self.send(json!({"type": "user", "message": {"role": "user", "content": text}})).await;
    }

    /// Answers a `control_request` of the CLI.
    async fn answer(&mut self, request: &Value, response: Value) {
        let request_id = request["request_id"].clone();
        self.send(json!({"type": "control_response",
                         "response": {"subtype": "success", "request_id": request_id, "response": response}}))
            .await;
    }

    /// The next stdout message; fails the test (showing what came so far and
    /// stderr) on end of output, bad JSON or a stall.
    async fn next(&mut self, waiting_for: &str) -> Value {
        let line = match tokio::time::timeout(LINE_TIMEOUT, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => self.fail(&format!("stdout ended while waiting for {waiting_for}")),
            Ok(Err(e)) => self.fail(&format!("reading stdout: {e}")),
            Err(_) => self.fail(&format!("no output for {LINE_TIMEOUT:?} while waiting for {waiting_for}")),
        };
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| self.fail(&format!("stdout line is not JSON ({e}): {line}")));
        self.seen.push(message.clone());
        message
    }

    /// Reads until a message matches.
    async fn until(&mut self, waiting_for: &str, matches: impl Fn(&Value) -> bool) -> Value {
        loop {
            let message = self.next(waiting_for).await;
            if matches(&message) {
                return message;
            }
        }
    }

    /// Reads until the `result` message.
    async fn result(&mut self) -> Value {
        self.until("the result message", |m| m["type"] == "result").await
    }

    /// The messages seen so far of this type (and subtype, if given).
    fn seen(&self, kind: &str, subtype: Option<&str>) -> Vec<&Value> {
        self.seen.iter().filter(|m| m["type"] == kind && subtype.is_none_or(|s| m["subtype"] == s)).collect()
    }

    /// Closes stdin, which ends the session, and waits for the exit.
    async fn finish(mut self) -> ExitStatus {
        drop(self.stdin.take());
        match tokio::time::timeout(LINE_TIMEOUT, self.child.wait()).await {
            Ok(status) => status.expect("wait for claude"),
            Err(_) => self.fail("claude did not exit after its stdin closed"),
        }
    }

    fn fail(&self, what: &str) -> ! {
        let kinds: Vec<String> = self
            .seen
            .iter()
            .map(|m| format!("{}/{}", m["type"].as_str().unwrap_or("?"), m["subtype"].as_str().unwrap_or("-")))
            .collect();
        let stderr = self.stderr.lock().unwrap().clone();
        panic!("claude: {what}\nstdout messages so far: {kinds:?}\nstderr: {stderr}");
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temp dir")
}

/// The `id` of the first `tool_use` block in the CLI's `assistant` messages.
fn first_tool_use_id(claude: &Claude) -> String {
    claude
        .seen("assistant", None)
        .iter()
        .flat_map(|m| m["message"]["content"].as_array().cloned().unwrap_or_default())
        .find(|b| b["type"] == "tool_use")
        .and_then(|b| b["id"].as_str().map(str::to_owned))
        .expect("an assistant message with a tool_use block")
}

#[tokio::test]
async fn text_only_scenario_ends_in_a_success_result_with_usage_and_cost() {
    bounded(async {
        let text = "Hello from the fake Messages API, long enough to stream in several deltas.";
        let scenario = Scenario::new("hello").text(text);
        let fake = FakeAnthropic::start([scenario.clone()]).await;
        let mut claude = Claude::start(&fake);

        let init = claude.initialize(false).await;
        assert!(init["response"]["response"]["commands"].is_array(), "{init}");
        claude.prompt(&format!("{} Say hello.", scenario.marker())).await;
        let result = claude.result().await;

        let system_init = claude.seen("system", Some("init"));
        assert_eq!(system_init.len(), 1);
        assert_eq!(system_init[0]["apiKeySource"], "ANTHROPIC_API_KEY");
        assert_eq!(system_init[0]["claude_code_version"], include_str!("../../claude-code.version").trim());
        assert!(system_init[0]["session_id"].is_string());
        assert!(system_init[0]["tools"].as_array().unwrap().iter().any(|t| t == "Bash"));
        let assistant = claude.seen("assistant", None);
        assert_eq!(assistant.len(), 1);
        assert_eq!(assistant[0]["message"]["content"], json!([{"type": "text", "text": text}]));

        assert_eq!(result["subtype"], "success", "{result}");
        assert_eq!(result["is_error"], false);
        assert_eq!(result["result"], text);
        assert_eq!(result["num_turns"], 1);
        assert_eq!(result["session_id"], system_init[0]["session_id"]);
        let usage = &result["usage"];
        assert_eq!(usage["input_tokens"], 100, "{result}");
        assert_eq!(usage["output_tokens"], 20, "{result}");
        assert_eq!(usage["cache_creation_input_tokens"], 1000, "{result}");
        assert_eq!(usage["cache_read_input_tokens"], 0, "{result}");
        let cost = result["total_cost_usd"].as_f64().expect("total_cost_usd");
        assert!(cost > 0.0, "{result}");

        let requests = fake.requests_for("hello");
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request.key(), Some(API_KEY));
        assert!(request.stream);
        assert!(request.tools.iter().any(|t| t == "Bash"), "{:?}", request.tools);
        assert_eq!(result["modelUsage"][request.model.as_deref().unwrap()]["costUSD"].as_f64(), Some(cost));

        let status = claude.finish().await;
        assert!(status.success(), "{status}");
    })
    .await;
}

#[tokio::test]
async fn bash_tool_use_asks_can_use_tool_and_the_allowed_result_reaches_the_fake() {
    bounded(async {
        let fake_dir = tempdir();
        let victim = fake_dir.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        let command = format!("rm -rf {}", victim.display());
        let scenario = Scenario::new("ro-rm").tool_use("Bash", json!({"command": command})).text("removed");
        let fake = FakeAnthropic::start([scenario.clone()]).await;
        let mut claude = Claude::start(&fake);

        claude.initialize(false).await;
        claude.prompt(&format!("{} Clean up.", scenario.marker())).await;
        let ask = claude.until("a control_request", |m| m["type"] == "control_request").await;
        let request = &ask["request"];
        assert_eq!(request["subtype"], "can_use_tool", "{ask}");
        assert_eq!(request["tool_name"], "Bash");
        assert_eq!(request["input"], json!({"command": command}));
        let tool_use_id = first_tool_use_id(&claude);
        assert_eq!(request["tool_use_id"], tool_use_id.as_str());
        assert!(victim.exists(), "the tool ran before it was allowed");

        claude.answer(&ask, json!({"behavior": "allow", "updatedInput": request["input"]})).await;
        let result = claude.result().await;
        assert_eq!(result["subtype"], "success", "{result}");
        assert_eq!(result["result"], "removed");
        assert_eq!(result["num_turns"], 2);
        assert_eq!(result["permission_denials"], json!([]));
        assert!(!victim.exists(), "the allowed rm did not run");

        // The tool's result goes back to the model, and out on stdout.
        let requests = fake.requests_for("ro-rm");
        assert_eq!(requests.iter().map(|r| r.turn).collect::<Vec<_>>(), [0, 1]);
        let results = requests[1].tool_results();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].tool_use_id, tool_use_id);
        assert!(!results[0].is_error, "{results:?}");
        let user = claude.seen("user", None);
        assert_eq!(user.len(), 1);
        assert_eq!(user[0]["message"]["content"][0]["type"], "tool_result");
        assert_eq!(user[0]["message"]["content"][0]["tool_use_id"], tool_use_id.as_str());

        let usage = &result["usage"];
        assert_eq!(usage["input_tokens"], 100 + 101);
        assert_eq!(usage["output_tokens"], 20 + 20);
        assert_eq!(usage["cache_read_input_tokens"], 1000);
        claude.finish().await;
    })
    .await;
}

#[tokio::test]
async fn pre_tool_use_hook_sees_a_call_that_needs_no_permission() {
    bounded(async {
        let scenario = Scenario::new("ls").tool_use("Bash", json!({"command": "ls"})).text("listed");
        let fake = FakeAnthropic::start([scenario.clone()]).await;
        let mut claude = Claude::start(&fake);
        std::fs::write(claude.workdir().join("marker-file.txt"), "x").unwrap();

        let init = claude.initialize(true).await;
        assert!(init["response"]["response"].get("hooks_applied").is_some(), "{init}");
        claude.prompt(&format!("{} List the files.", scenario.marker())).await;
        let hook = claude.until("a control_request", |m| m["type"] == "control_request").await;
        let request = &hook["request"];
        assert_eq!(request["subtype"], "hook_callback", "{hook}");
        assert_eq!(request["callback_id"], "policy");
        assert_eq!(request["input"]["hook_event_name"], "PreToolUse");
        assert_eq!(request["input"]["tool_name"], "Bash");
        assert_eq!(request["input"]["tool_input"], json!({"command": "ls"}));
        assert_eq!(request["tool_use_id"], first_tool_use_id(&claude).as_str());

        let allow = json!({"hookEventName": "PreToolUse", "permissionDecision": "allow",
                           "permissionDecisionReason": "policy: Bash(ls) is allowed"});
        claude.answer(&hook, json!({"hookSpecificOutput": allow})).await;
        let result = claude.result().await;
        assert_eq!(result["subtype"], "success", "{result}");
        assert_eq!(result["result"], "listed");
        // `ls` in the working directory is auto-allowed: no can_use_tool.
        assert_eq!(claude.seen("control_request", None).len(), 1);

        let results = fake.requests_for("ls")[1].tool_results();
        assert_eq!(results.len(), 1);
        assert!(results[0].text.contains("marker-file.txt"), "{results:?}");
        claude.finish().await;
    })
    .await;
}

#[tokio::test]
async fn hook_ask_turns_into_can_use_tool_whose_deny_message_reaches_the_model() {
    bounded(async {
        let scenario = Scenario::new("ask").tool_use("Bash", json!({"command": "ls"})).text("understood");
        let fake = FakeAnthropic::start([scenario.clone()]).await;
        let mut claude = Claude::start(&fake);

        claude.initialize(true).await;
        claude.prompt(&format!("{} List the files.", scenario.marker())).await;
        let hook = claude.until("the hook_callback", |m| m["type"] == "control_request").await;
        assert_eq!(hook["request"]["subtype"], "hook_callback", "{hook}");
        let ask = json!({"hookEventName": "PreToolUse", "permissionDecision": "ask",
                         "permissionDecisionReason": "policy: needs approval"});
        claude.answer(&hook, json!({"hookSpecificOutput": ask})).await;

        let permission = claude.until("can_use_tool", |m| m["type"] == "control_request").await;
        let request = &permission["request"];
        assert_eq!(request["subtype"], "can_use_tool", "{permission}");
        assert_eq!(request["tool_name"], "Bash");
        assert_eq!(request["input"], json!({"command": "ls"}));
        assert_eq!(request["decision_reason"], "policy: needs approval");
        assert_eq!(request["decision_reason_type"], "hook");
        claude.answer(&permission, json!({"behavior": "deny", "message": "not today"})).await;

        let result = claude.result().await;
        assert_eq!(result["subtype"], "success", "{result}");
        assert_eq!(result["result"], "understood");
        let denials = result["permission_denials"].as_array().expect("permission_denials");
        assert_eq!(denials.len(), 1, "{result}");
        assert_eq!(denials[0]["tool_name"], "Bash");
        assert_eq!(denials[0]["tool_input"], json!({"command": "ls"}));

        let results = fake.requests_for("ask")[1].tool_results();
        assert_eq!(results.len(), 1);
        assert!(results[0].is_error);
        assert_eq!(results[0].text, "not today");
        claude.finish().await;
    })
    .await;
}

#[tokio::test]
async fn hook_deny_blocks_the_call_and_its_reason_reaches_the_model() {
    bounded(async {
        let fake_dir = tempdir();
        let made = fake_dir.path().join("made");
        let command = format!("touch {}", made.display());
        let scenario = Scenario::new("deny").tool_use("Bash", json!({"command": command})).text("blocked");
        let fake = FakeAnthropic::start([scenario.clone()]).await;
        let mut claude = Claude::start(&fake);

        claude.initialize(true).await;
        claude.prompt(&format!("{} Touch a file.", scenario.marker())).await;
        let hook = claude.until("the hook_callback", |m| m["type"] == "control_request").await;
        assert_eq!(hook["request"]["subtype"], "hook_callback", "{hook}");
        let deny = json!({"hookEventName": "PreToolUse", "permissionDecision": "deny",
                          "permissionDecisionReason": "policy: touch is denied"});
        claude.answer(&hook, json!({"hookSpecificOutput": deny})).await;

        let result = claude.result().await;
        assert_eq!(result["subtype"], "success", "{result}");
        assert_eq!(claude.seen("control_request", None).len(), 1, "a denied call still asked can_use_tool");
        assert!(!made.exists(), "the denied command ran");
        let results = fake.requests_for("deny")[1].tool_results();
        assert_eq!(results.len(), 1);
        assert!(results[0].is_error);
        assert!(results[0].text.contains("policy: touch is denied"), "{results:?}");
        claude.finish().await;
    })
    .await;
}

#[tokio::test]
async fn rate_limited_request_is_retried_after_retry_after_and_succeeds() {
    bounded(async {
        let scenario = Scenario::new("ratelimited").error(429, 1, 2).text("after the retries");
        let fake = FakeAnthropic::start([scenario.clone()]).await;
        let mut claude = Claude::start(&fake);

        claude.initialize(false).await;
        let started = Instant::now();
        claude.prompt(&format!("{} Hi.", scenario.marker())).await;
        let result = claude.result().await;
        assert_eq!(result["subtype"], "success", "{result}");
        assert_eq!(result["result"], "after the retries");
        assert!(started.elapsed() >= Duration::from_secs(2), "the CLI did not wait retry-after between attempts");

        let retries = claude.seen("system", Some("api_retry"));
        assert_eq!(retries.len(), 2, "{retries:?}");
        for (i, retry) in retries.iter().enumerate() {
            assert_eq!(retry["attempt"], i + 1);
            assert_eq!(retry["error_status"], 429);
            assert_eq!(retry["error"], "rate_limit");
            assert!(retry["max_retries"].as_u64().unwrap() >= 2, "{retry}");
            assert!(retry["retry_delay_ms"].as_u64().unwrap() >= 1000, "{retry}");
        }
        let statuses: Vec<u16> = fake.requests_for("ratelimited").iter().map(|r| r.status).collect();
        assert_eq!(statuses, [429, 429, 200]);
        claude.finish().await;
    })
    .await;
}
