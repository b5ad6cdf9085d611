//! A Python agent's run: `python3 <script>` in the run's working directory,
//! with the runner's `car_agent` helper module on its path.
//!
//! Every line the script prints becomes a `log` event (stdout and stderr).
//! A line `::ctx:: {json}` on stdout is a request from the helper instead,
//! answered with one JSON line on the script's stdin — a pipe only this
//! process holds, so no socket path, port or token is needed:
//!
//! - `sh {command, timeout_s}`: goes through the agent's policy like a
//!   model's Bash call (`tool.call` event; denied, run, or held for a human),
//!   then runs with bash and answers its exit code and output;
//! - `claude {prompt, report, model}`: one conversation with the model,
//!   run by the runner (policy, approvals, usage and events in one place);
//!   the script gets its text and report, and the run's usage adds up;
//! - `report {status, summary, data}`: the run's outcome as the script sees
//!   it, its summary and its structured report.
//!
//! The exit status decides the rest: non-zero fails the run, with the last
//! lines of stderr (a traceback) in the error.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;

use car_schemas::kinds::AgentSpec;
use car_schemas::run::{
    CallSource, Event, LogLine, LogStream, RunContext, RunError, RunErrorKind, ToolCall, ToolResult, Usage,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::EngineError;
use super::approvals::{Approvals, denial};
use super::claude::Launch;
use super::command;
use super::converse::{call_decision, converse, cut};
use super::run::{NodeFacts, Outcome, RUN_MARKER};
use crate::eventlog::EventLog;
use car_policy::{Decision, Policy};

/// The helper module scripts import (`import car_agent`).
pub const HELPER: &str = include_str!("car_agent.py");
/// Marks a helper request on the script's stdout.
const REQUEST: &[u8] = b"::ctx:: ";
/// Longest line read from the script; longer ones are cut.
const MAX_LINE: usize = 1024 * 1024;
/// Longest log line kept in an event.
const MAX_LOG_LINE: usize = 16 * 1024;
/// Most output of one `ctx.sh` command handed back to the script.
const MAX_SH_OUTPUT: usize = 1024 * 1024;
/// Most of a command's output kept in its `tool.result` event.
const MAX_RESULT_EVENT: usize = 64 * 1024;
/// Most output lines written to the log at once.
const MAX_BATCH: usize = 4096;
/// Lines of stderr kept for the error of a failed script.
const STDERR_TAIL: usize = 20;

pub struct Script<'a> {
    pub run_id: &'a str,
    pub agent_name: &'a str,
    pub spec: &'a AgentSpec,
    pub path: PathBuf,
    pub node: &'a NodeFacts,
    pub context: &'a RunContext,
    /// The gather step's output.
    pub gathered: &'a str,
    /// How `ctx.claude` starts claude.
    pub launch: &'a Launch,
    pub policy: &'a Policy,
}

/// What the script told the runner so far.
#[derive(Default)]
struct Told {
    usage: Usage,
    /// The last `ctx.report`: status, summary, data.
    reported: Option<(String, Option<String>, Option<Value>)>,
    last_line: Option<String>,
    commands: u32,
}

impl Script<'_> {
    pub async fn run(self, approvals: &mut Approvals<'_>, log: &EventLog) -> Result<Outcome, EngineError> {
        // The run's own folder for what the runner hands the script.
        let lib = self.launch.workdir.join(".car");
        std::fs::create_dir_all(&lib).map_err(EngineError::Script)?;
        std::fs::write(lib.join("car_agent.py"), HELPER).map_err(EngineError::Script)?;
        let gathered = lib.join("gathered.txt");
        std::fs::write(&gathered, self.gathered).map_err(EngineError::Script)?;
        let mut python = tokio::process::Command::new("python3");
        python
            .arg(&self.path)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()))
            .env("HOME", &self.launch.workdir)
            .env("TMPDIR", &self.launch.tmp_dir)
            .env("LANG", "C.UTF-8")
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONPATH", &lib)
            .env(RUN_MARKER, self.run_id)
            .env("CAR_AGENT", self.agent_name)
            .env("CAR_NODE_NAME", &self.node.name)
            .env("CAR_NODE_OS", &self.node.os)
            .env("CAR_NODE_TAGS", self.node.tags.join(","))
            .env("CAR_CONTEXT", serde_json::to_string(self.context).expect("a context serializes"))
            .env("CAR_GATHERED", &gathered)
            .env("CAR_CTX", "stdio")
            .current_dir(&self.launch.workdir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = match self.launch.spawn(python).await {
            Ok(child) => child,
            Err(crate::sandbox::SandboxError::Spawn(e)) => return Err(EngineError::Script(e)),
            Err(e) => return Err(e.into()),
        };
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(EngineError::Script(std::io::ErrorKind::BrokenPipe.into()));
        };
        let mut told = Told::default();
        let serve = async {
            let mut out = BufReader::with_capacity(64 * 1024, stdout);
            let (mut line, mut lines) = (Vec::new(), Vec::new());
            while read_line(&mut out, &mut line).await {
                if let Some(request) = line.strip_prefix(REQUEST) {
                    log.append_all(lines.drain(..))?;
                    let answer = self.answer(request, &mut told, approvals, log).await?;
                    let mut text = answer.to_string();
                    text.push('\n');
                    // A script that stopped listening simply gets no answer.
                    let _ = stdin.write_all(text.as_bytes()).await;
                    let _ = stdin.flush().await;
                    continue;
                }
                let text = String::from_utf8_lossy(&line);
                if !text.trim().is_empty() {
                    told.last_line = Some(text.trim().to_string());
                }
                lines.push(log_line(LogStream::Stdout, &text));
                // A burst goes in one write; nothing waits for more output to come.
                if out.buffer().is_empty() || lines.len() >= MAX_BATCH {
                    log.append_all(lines.drain(..))?;
                }
            }
            log.append_all(lines)?;
            Ok::<_, EngineError>(())
        };
        let tail = async {
            let mut err = BufReader::new(stderr);
            let (mut line, mut lines, mut tail) = (Vec::new(), Vec::new(), VecDeque::new());
            while read_line(&mut err, &mut line).await {
                let text = String::from_utf8_lossy(&line).into_owned();
                lines.push(log_line(LogStream::Stderr, &text));
                if err.buffer().is_empty() || lines.len() >= MAX_BATCH {
                    log.append_all(lines.drain(..))?;
                }
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(text);
            }
            log.append_all(lines)?;
            Ok::<_, EngineError>(tail)
        };
        let (served, tail) = tokio::join!(serve, tail);
        served?;
        let tail = tail?;
        let status = child.wait().await.map_err(EngineError::Script)?;
        Ok(self.outcome(status, told, tail))
    }

    /// Answers one helper request: `{"id", "ok": true, "result"}` or `{"id", "ok": false, "error"}`.
    async fn answer(
        &self,
        request: &[u8],
        told: &mut Told,
        approvals: &mut Approvals<'_>,
        log: &EventLog,
    ) -> Result<Value, EngineError> {
        let Ok(req) = serde_json::from_slice::<Value>(request) else {
            return Ok(json!({"ok": false, "error": {"kind": "bad_request",
                "message": "a ::ctx:: line that is not JSON", "hint": "use the car_agent module, not raw ::ctx:: lines"}}));
        };
        let reply = match req["op"].as_str() {
            Some("sh") => self.sh(&req, told, approvals, log).await?,
            Some("claude") => self.claude(&req, told, approvals, log).await?,
            Some("report") => report(&req, told),
            other => Err(json!({"kind": "bad_request", "message": format!("unknown request {other:?}"),
                "hint": "the car_agent module and the runner disagree: update the runner"})),
        };
        Ok(match reply {
            Ok(result) => json!({"id": req["id"], "ok": true, "result": result}),
            Err(error) => json!({"id": req["id"], "ok": false, "error": error}),
        })
    }

    /// `ctx.sh`: the policy decides, a human may be asked, then bash runs it.
    async fn sh(
        &self,
        req: &Value,
        told: &mut Told,
        approvals: &mut Approvals<'_>,
        log: &EventLog,
    ) -> Result<Result<Value, Value>, EngineError> {
        let Some(cmd) = req["command"].as_str() else {
            return Ok(Err(json!({"kind": "bad_request", "message": "sh needs a command"})));
        };
        told.commands += 1;
        let call_id = format!("ctx-{}", told.commands);
        let input = json!({"command": cmd});
        let verdict = self.policy.decide("Bash", &input);
        log.append(Event::ToolCall(ToolCall {
            tool: "Bash".into(),
            input: input.clone(),
            decision: call_decision(verdict.decision),
            rule: verdict.rule.clone(),
            reason: verdict.reason.clone(),
            tool_use_id: Some(call_id.clone()),
            source: Some(CallSource::Script),
        }))?;
        match verdict.decision {
            Decision::Allow => {}
            Decision::Deny => return Ok(Err(json!({"kind": "denied", "message": verdict.reason}))),
            Decision::Approve => {
                let answer = approvals.hold(log, "Bash", &input, &verdict.reason).await?;
                if !answer.approve {
                    return Ok(Err(json!({"kind": "denied", "message": denial(&answer)})));
                }
            }
        }
        let timeout = req["timeout_s"]
            .as_f64()
            .filter(|s| *s > 0.0)
            .map_or(self.spec.timeout().get(), std::time::Duration::from_secs_f64);
        let marker = [(RUN_MARKER.to_string(), self.run_id.to_string())];
        let out = command::run("/bin/bash", cmd, self.launch, &marker, timeout, MAX_SH_OUTPUT).await;
        let both = format!("{}{}", out.stdout, out.stderr);
        let (shown, truncated) = cut(&both, MAX_RESULT_EVENT);
        log.append(Event::ToolResult(ToolResult {
            tool_use_id: Some(call_id),
            is_error: Some(out.exit_code != Some(0)),
            exit_code: out.exit_code,
            output: shown.to_string(),
            truncated: truncated || out.cut,
            note: out.note.clone(),
        }))?;
        Ok(Ok(json!({"exit_code": out.exit_code, "stdout": out.stdout, "stderr": out.stderr,
                     "truncated": out.cut, "note": out.note})))
    }

    /// `ctx.claude`: one conversation, within what is left of the agent's budget.
    async fn claude(
        &self,
        req: &Value,
        told: &mut Told,
        approvals: &mut Approvals<'_>,
        log: &EventLog,
    ) -> Result<Result<Value, Value>, EngineError> {
        let Some(prompt) = req["prompt"].as_str() else {
            return Ok(Err(json!({"kind": "bad_request", "message": "claude needs a prompt"})));
        };
        let mut launch = self.launch.clone();
        launch.report_schema = req["report"].is_object().then(|| req["report"].clone());
        if let Some(model) = req["model"].as_str() {
            launch.model = Some(model.to_string());
        }
        if let Some(budget) = launch.max_budget_usd {
            let left = budget - told.usage.cost_usd;
            if left <= 0.0 {
                return Ok(Err(json!({"kind": "budget", "message": "the agent's budget is spent",
                    "hint": "raise budget.usd or make fewer ctx.claude calls"})));
            }
            launch.max_budget_usd = Some(left);
        }
        let conversation = converse(&launch, prompt, self.policy, approvals, log).await?;
        let usage = conversation.usage();
        told.usage += usage;
        Ok(match conversation.error(launch.report_schema.is_some()) {
            None => Ok(json!({"text": conversation.text(), "report": conversation.report(), "usage": usage})),
            Some(error) => Err(serde_json::to_value(error).expect("errors serialize")),
        })
    }

    fn outcome(&self, status: std::process::ExitStatus, told: Told, tail: VecDeque<String>) -> Outcome {
        let (reported_status, summary, report) = match told.reported {
            Some((s, summary, report)) => (Some(s), summary, report),
            None => (None, told.last_line, None),
        };
        let error = if !status.success() {
            let message = match status.code() {
                Some(code) => format!("the script exited with status {code}"),
                None => "the script was killed by a signal".to_string(),
            };
            Some(RunError {
                detail: Some(Value::String(tail.into_iter().collect::<Vec<_>>().join("\n"))),
                ..RunError::new(
                    RunErrorKind::Script,
                    message,
                    "its last lines of stderr are in `detail`; run it by hand with the same CAR_* variables to debug",
                )
            })
        } else if reported_status.as_deref() == Some("failed") {
            Some(RunError::new(
                RunErrorKind::Reported,
                format!("the script reported failure: {}", summary.as_deref().unwrap_or("no summary")),
                "see the run's log and report",
            ))
        } else if self.spec.report.is_some() && report.is_none() {
            Some(RunError::new(
                RunErrorKind::NoReport,
                "the agent declares a report, but the script never sent one",
                "call ctx.report(status, summary, data) before the script ends",
            ))
        } else {
            None
        };
        Outcome { usage: told.usage, summary, report, error }
    }
}

/// `ctx.report`: keeps the last one.
fn report(req: &Value, told: &mut Told) -> Result<Value, Value> {
    let status = req["status"].as_str().unwrap_or_default();
    if !matches!(status, "succeeded" | "failed") {
        return Err(
            json!({"kind": "bad_request", "message": format!("report status {status:?} is not succeeded or failed")}),
        );
    }
    if !(req["data"].is_object() || req["data"].is_null()) {
        return Err(json!({"kind": "bad_request", "message": "report data must be a JSON object"}));
    }
    let summary = match &req["summary"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    };
    told.reported = Some((status.to_string(), summary, Some(req["data"].clone()).filter(|d| !d.is_null())));
    Ok(json!({}))
}

/// A `log` event of one line of output.
fn log_line(stream: LogStream, text: &str) -> Event {
    let (line, truncated) = cut(text, MAX_LOG_LINE);
    Event::Log(LogLine { stream, line: line.to_string(), truncated })
}

/// Reads one line (without its newline) into `line`, keeping at most
/// [`MAX_LINE`] bytes of it; false at the end of the stream.
async fn read_line(r: &mut (impl AsyncBufRead + Unpin), line: &mut Vec<u8>) -> bool {
    line.clear();
    let mut any = false;
    loop {
        let buf = match r.fill_buf().await {
            Ok(b) if !b.is_empty() => b,
            _ => return any,
        };
        any = true;
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], i + 1),
            None => (buf, buf.len()),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let newline = done > chunk.len();
        r.consume(done);
        if newline {
            return true;
        }
    }
}
