//! One `claude` CLI process in SDK mode, spoken to over stdin/stdout JSON
//! lines (`--input-format/--output-format stream-json`,
//! `--permission-prompt-tool stdio`).
//!
//! The session registers a `PreToolUse` hook for every tool in its
//! initialize request, so the CLI asks before EVERY tool call (a
//! `hook_callback`), including the reads it would otherwise run unasked; a
//! hook answered `ask` comes back as `can_use_tool`, where approvals are
//! held. Never `--bare`: it switches those hooks off. Each run gets its own
//! working directory, `CLAUDE_CONFIG_DIR` and temp folder, a cleared
//! environment with only what the run needs, and no telemetry; a read-only
//! agent's CLI runs in the run's Landlock jail.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::sandbox::{Jail, SandboxError};

/// The hook callback id the session registers.
pub const HOOK_ID: &str = "policy";

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot start {bin}: {source} (hint: set CLAUDE_BIN to the claude CLI, e.g. installed with npm)")]
    Spawn { bin: String, source: std::io::Error },
    #[error("lost the claude process's {what}: {source}")]
    Io { what: &'static str, source: std::io::Error },
    #[error(
        "cannot start {bin} in the run's jail: {source} (hint: check that the kernel's Landlock works, or see the runner's log)"
    )]
    Jail { bin: String, source: crate::sandbox::SandboxError },
}

/// How to start claude for one run.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    pub bin: PathBuf,
    pub workdir: PathBuf,
    pub config_dir: PathBuf,
    /// Variables for the child besides PATH, HOME and the fixed ones (credentials, base URL).
    pub env: Vec<(String, String)>,
    pub model: Option<String>,
    pub max_turns: Option<u32>,
    pub max_budget_usd: Option<f64>,
    /// Tools offered to the model (`--tools`).
    pub tools: Vec<String>,
    /// JSON Schema of a structured report (`--json-schema`).
    pub report_schema: Option<Value>,
    pub append_system_prompt: Option<String>,
    /// The run's private temp folder (`TMPDIR`).
    pub tmp_dir: PathBuf,
    /// The jail of a read-only agent: everything the run starts runs in it.
    pub jail: Option<Jail>,
}

impl Launch {
    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(["-p", "--output-format", "stream-json", "--verbose", "--input-format", "stream-json"]);
        c.args(["--permission-prompt-tool", "stdio"]);
        if !self.tools.is_empty() {
            c.arg("--tools").arg(self.tools.join(","));
        }
        if let Some(m) = &self.model {
            c.arg("--model").arg(m);
        }
        if let Some(t) = self.max_turns {
            c.arg("--max-turns").arg(t.to_string());
        }
        if let Some(b) = self.max_budget_usd {
            c.arg("--max-budget-usd").arg(b.to_string());
        }
        if let Some(s) = &self.report_schema {
            c.arg("--json-schema").arg(s.to_string());
        }
        if let Some(p) = &self.append_system_prompt {
            c.arg("--append-system-prompt").arg(p);
        }
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()))
            .env("HOME", &self.config_dir)
            .env("CLAUDE_CONFIG_DIR", &self.config_dir)
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("TMPDIR", &self.tmp_dir)
            // The policy parses commands as bash does.
            .env("SHELL", "/bin/bash")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.workdir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        c
    }

    /// Starts `command` as this run starts everything: in its jail, if it has one.
    pub async fn spawn(&self, mut command: Command) -> Result<Child, SandboxError> {
        match &self.jail {
            Some(jail) => jail.spawn(command).await,
            None => command.spawn().map_err(SandboxError::Spawn),
        }
    }
}

/// What the CLI says, sorted by what the runner must do about it.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Before a tool call: answer with [`Session::answer_hook`]. `cwd`: where
    /// the call runs (the CLI keeps a shell's directory between calls).
    PreToolUse { request_id: Value, tool: String, input: Value, tool_use_id: Option<String>, cwd: Option<String> },
    /// A tool call the hook sent on (`ask`): answer with [`Session::answer_permission`].
    CanUseTool { request_id: Value, tool: String, input: Value, tool_use_id: Option<String> },
    /// The run's outcome (`subtype`, `is_error`, `result`, `usage`, `total_cost_usd`, …).
    Result(Value),
    /// Anything else (`system`, `assistant`, `user`, control responses), as sent.
    Other(Value),
}

pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Session {
    /// Starts claude, registers the hook and sends the prompt.
    pub async fn start(launch: &Launch, prompt: &str) -> Result<Self, SessionError> {
        let bin = launch.bin.display().to_string();
        let mut child = match launch.spawn(launch.command()).await {
            Ok(child) => child,
            Err(SandboxError::Spawn(source)) => return Err(SessionError::Spawn { bin, source }),
            Err(source) => return Err(SessionError::Jail { bin, source }),
        };
        let io = |what| move |source| SessionError::Io { what, source };
        let stdin = child.stdin.take().ok_or_else(|| io("stdin")(std::io::ErrorKind::BrokenPipe.into()))?;
        let stdout = child.stdout.take().ok_or_else(|| io("stdout")(std::io::ErrorKind::BrokenPipe.into()))?;
        let mut s = Session { child, stdin: Some(stdin), lines: BufReader::new(stdout).lines() };
        let hooks = json!({"PreToolUse": [{"matcher": "*", "hookCallbackIds": [HOOK_ID]}]});
        s.send(json!({"type": "control_request", "request_id": "initialize",
                      "request": {"subtype": "initialize", "hooks": hooks}}))
            .await?;
        s.send(json!({"type": "user", "message": {"role": "user", "content": prompt}})).await?;
        Ok(s)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn send(&mut self, message: Value) -> Result<(), SessionError> {
        let Some(stdin) = self.stdin.as_mut() else { return Ok(()) };
        let mut line = message.to_string();
        line.push('\n');
        stdin.write_all(line.as_bytes()).await.map_err(|e| SessionError::Io { what: "stdin", source: e })?;
        stdin.flush().await.map_err(|e| SessionError::Io { what: "stdin", source: e })
    }

    /// The next message; `None` when the CLI closed its output.
    pub async fn next(&mut self) -> Result<Option<Message>, SessionError> {
        loop {
            let Some(line) =
                self.lines.next_line().await.map_err(|e| SessionError::Io { what: "stdout", source: e })?
            else {
                return Ok(None);
            };
            let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
            return Ok(Some(classify(v)));
        }
    }

    /// Answers a `PreToolUse` hook: `allow`, `deny` or `ask` (send it on to `can_use_tool`).
    pub async fn answer_hook(&mut self, request_id: &Value, decision: &str, reason: &str) -> Result<(), SessionError> {
        let output = json!({"hookSpecificOutput": {"hookEventName": "PreToolUse",
            "permissionDecision": decision, "permissionDecisionReason": reason}});
        self.respond(request_id, output).await
    }

    /// Answers a `can_use_tool`: allow (with the input unchanged) or deny with a message for the model.
    pub async fn answer_permission(
        &mut self,
        request_id: &Value,
        allow: Result<&Value, &str>,
    ) -> Result<(), SessionError> {
        let response = match allow {
            Ok(input) => json!({"behavior": "allow", "updatedInput": input}),
            Err(message) => json!({"behavior": "deny", "message": message}),
        };
        self.respond(request_id, response).await
    }

    async fn respond(&mut self, request_id: &Value, response: Value) -> Result<(), SessionError> {
        self.send(json!({"type": "control_response",
            "response": {"subtype": "success", "request_id": request_id, "response": response}}))
            .await
    }

    /// No more input: the CLI exits after its result.
    pub fn close_input(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to end.
    pub async fn wait(mut self) -> std::io::Result<std::process::ExitStatus> {
        self.stdin = None;
        self.child.wait().await
    }
}

fn classify(v: Value) -> Message {
    let request = &v["request"];
    let text = |x: &Value| x.as_str().map(String::from);
    match (v["type"].as_str(), request["subtype"].as_str()) {
        (Some("control_request"), Some("hook_callback")) => Message::PreToolUse {
            request_id: v["request_id"].clone(),
            tool: text(&request["input"]["tool_name"]).unwrap_or_default(),
            input: request["input"]["tool_input"].clone(),
            tool_use_id: text(&request["tool_use_id"]).or_else(|| text(&request["input"]["tool_use_id"])),
            cwd: text(&request["input"]["cwd"]),
        },
        (Some("control_request"), Some("can_use_tool")) => Message::CanUseTool {
            request_id: v["request_id"].clone(),
            tool: text(&request["tool_name"]).unwrap_or_default(),
            input: request["input"].clone(),
            tool_use_id: text(&request["tool_use_id"]),
        },
        (Some("result"), _) => Message::Result(v),
        _ => Message::Other(v),
    }
}
