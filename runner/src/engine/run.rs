//! One prompt agent's run: a claude [`Session`] whose every tool call is
//! decided by the [`Policy`], held calls waiting for a human's answer, and
//! everything that happens written to the run's [`EventLog`] as events.
//!
//! Events: `run.started`; `assistant.text`; `tool.call` (tool, input,
//! decision, rule, reason) for every call; `approval.requested` and
//! `approval.resolved`; `tool.result`; `rate_limited` for each API retry;
//! `usage` and `run.finished` (status, summary, report, usage, cost, turns,
//! error) classified from the CLI's `result` message, not its exit code.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use car_schemas::kinds::AgentSpec;
use car_schemas::run::kind;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::claude::{Launch, Message, Session, SessionError};
use crate::eventlog::{EventLog, LogError};
use crate::policy::{Decision, Policy};

/// Longest tool output kept in a `tool.result` event.
const MAX_TOOL_OUTPUT: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// A human's answer to a held tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub request_id: String,
    pub approve: bool,
    pub comment: Option<String>,
}

pub struct Prompt<'a> {
    pub run_id: &'a str,
    pub agent_name: &'a str,
    pub spec: &'a AgentSpec,
    pub prompt: String,
    pub launch: Launch,
}

/// Why a run stopped before its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Cancelled,
    TimedOut,
}

/// Marks every process of a run, inherited through forks and new sessions.
pub const RUN_MARKER: &str = "CAR_RUN_ID";

/// Runs `p` to its end, writing events to `log`; held calls wait on
/// `answers`; `cancel` stops it (as does the agent's timeout), killing every
/// process the run started.
pub async fn run_prompt(
    p: Prompt<'_>,
    log: &EventLog,
    answers: &mut mpsc::Receiver<Answer>,
    mut cancel: tokio::sync::watch::Receiver<bool>,
) -> Result<Value, RunError> {
    let timeout = p.spec.timeout().get();
    let run_id = p.run_id.to_string();
    let started = Instant::now();
    let stop = tokio::select! {
        r = drive(p, log, answers, started) => return r,
        _ = cancel.wait_for(|c| *c) => Stop::Cancelled,
        _ = tokio::time::sleep(timeout) => Stop::TimedOut,
    };
    let killed = kill_run(&run_id);
    let (status, message, hint) = match stop {
        Stop::Cancelled => ("cancelled", "the run was cancelled".to_string(), "start it again when needed"),
        Stop::TimedOut => (
            "timed_out",
            format!(
                "the run took longer than its timeout of {}",
                car_schemas::values::Duration::from_secs(timeout.as_secs())
            ),
            "raise the agent's timeout or narrow its task",
        ),
    };
    let finished = json!({"status": status, "duration_ms": started.elapsed().as_millis(), "processes_killed": killed,
        "error": {"kind": status, "message": message, "hint": hint}});
    log.append(kind::RUN_FINISHED, finished.clone())?;
    Ok(finished)
}

/// The run until its result: the session, the policy, approvals, events.
async fn drive(
    p: Prompt<'_>,
    log: &EventLog,
    answers: &mut mpsc::Receiver<Answer>,
    started: Instant,
) -> Result<Value, RunError> {
    let policy = Policy::new(p.spec).with_workdir(p.launch.workdir.display().to_string());
    log.append(kind::RUN_STARTED, json!({"agent": p.agent_name, "mode": p.spec.mode}))?;
    let mut launch = p.launch;
    launch.tools = policy.offered_tools();
    launch.env.push((RUN_MARKER.into(), p.run_id.into()));
    let facts =
        super::gather::gather(&p.spec.gather, &launch.workdir, &[(RUN_MARKER.into(), p.run_id.into())], log).await?;
    let prompt = if facts.is_empty() {
        p.prompt
    } else {
        format!(
            "{}

## What the gather commands found on this node
{facts}",
            p.prompt
        )
    };
    let mut session = Session::start(&launch, &prompt).await?;
    // Tool calls held for approval, by tool_use_id: (request id for humans, reason).
    let mut held: HashMap<String, String> = HashMap::new();
    let mut next_request = 0u32;
    let result = loop {
        let Some(message) = session.next().await? else { break None };
        match message {
            Message::PreToolUse { request_id, tool, input, tool_use_id } => {
                let v = policy.decide(&tool, &input);
                log.append(
                    kind::TOOL_CALL,
                    json!({"tool": tool, "input": input, "decision": v.decision.as_str(),
                    "rule": v.rule, "reason": v.reason, "tool_use_id": tool_use_id}),
                )?;
                let answer = match v.decision {
                    Decision::Allow => "allow",
                    Decision::Deny => "deny",
                    Decision::Approve => {
                        held.insert(tool_use_id.clone().unwrap_or_default(), v.reason.clone());
                        "ask"
                    }
                };
                session.answer_hook(&request_id, answer, &v.reason).await?;
            }
            Message::CanUseTool { request_id, tool, input, tool_use_id } => {
                // Only calls the hook held come here; anything else is refused.
                let Some(reason) = held.remove(&tool_use_id.clone().unwrap_or_default()) else {
                    session
                        .answer_permission(&request_id, Err("refused: the runner's policy did not hold this call"))
                        .await?;
                    continue;
                };
                next_request += 1;
                let id = format!("approval-{next_request}");
                log.append(
                    kind::APPROVAL_REQUESTED,
                    json!({"request_id": id, "tool": tool, "input": input,
                    "agent": p.agent_name, "reason": reason}),
                )?;
                let answer = wait_for(answers, &id, p.spec.approval_timeout().get()).await;
                log.append(
                    kind::APPROVAL_RESOLVED,
                    json!({"request_id": id, "decision":
                    if answer.approve { "approve" } else { "deny" }, "comment": answer.comment}),
                )?;
                let denial = format!("a human denied this: {}", answer.comment.as_deref().unwrap_or("no reason given"));
                let decision = if answer.approve { Ok(&input) } else { Err(denial.as_str()) };
                session.answer_permission(&request_id, decision).await?;
            }
            Message::Result(r) => break Some(r),
            Message::Other(v) => record(log, &v)?,
        }
    };
    session.close_input();
    let _ = session.wait().await;
    let finished = finish(result.as_ref(), started.elapsed());
    log.append(kind::RUN_FINISHED, finished.clone())?;
    Ok(finished)
}

/// The answer for `id`, or a denial when the approval timeout passes first.
async fn wait_for(answers: &mut mpsc::Receiver<Answer>, id: &str, timeout: Duration) -> Answer {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, answers.recv()).await {
            Ok(Some(a)) if a.request_id == id => return a,
            Ok(Some(_)) => continue, // an answer to a request that is no longer open
            Ok(None) | Err(_) => {
                return Answer {
                    request_id: id.into(),
                    approve: false,
                    comment: Some("no answer before the approval timeout".into()),
                };
            }
        }
    }
}

/// Events from the CLI's other messages.
fn record(log: &EventLog, v: &Value) -> Result<(), LogError> {
    match (v["type"].as_str(), v["subtype"].as_str()) {
        (Some("assistant"), _) => {
            for block in v["message"]["content"].as_array().into_iter().flatten() {
                if block["type"] == "text" && block["text"].as_str().is_some_and(|t| !t.is_empty()) {
                    log.append(kind::ASSISTANT_TEXT, json!({"text": block["text"]}))?;
                }
            }
        }
        (Some("user"), _) => {
            for block in v["message"]["content"].as_array().into_iter().flatten().filter(|b| b["type"] == "tool_result")
            {
                let text = match &block["content"] {
                    Value::String(s) => s.clone(),
                    Value::Array(parts) => {
                        parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n")
                    }
                    other => other.to_string(),
                };
                let cut = text.len() > MAX_TOOL_OUTPUT;
                let mut end = MAX_TOOL_OUTPUT.min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                log.append(
                    kind::TOOL_RESULT,
                    json!({"tool_use_id": block["tool_use_id"], "is_error": block["is_error"],
                    "output": &text[..end], "truncated": cut}),
                )?;
            }
        }
        (Some("system"), Some("api_retry")) => {
            log.append(
                kind::RATE_LIMITED,
                json!({"attempt": v["attempt"], "retry_delay_ms": v["retry_delay_ms"],
                "error_status": v["error_status"], "error": v["error"]}),
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// `run.finished` from the CLI's `result` (or its absence).
fn finish(result: Option<&Value>, elapsed: Duration) -> Value {
    let Some(r) = result else {
        return json!({"status": "failed", "error": {"kind": "engine",
            "message": "the claude process ended without a result", "hint": "see the runner's log for the CLI's output"},
            "duration_ms": elapsed.as_millis()});
    };
    let (status, error) = match r["subtype"].as_str() {
        Some("success") if r["is_error"] != true => ("succeeded", Value::Null),
        Some("error_max_turns") => (
            "failed",
            json!({"kind": "max_turns", "message": "the agent used all its turns",
            "hint": "raise budget.turns or narrow the task"}),
        ),
        Some("error_max_budget_usd") => (
            "failed",
            json!({"kind": "budget", "message": "the agent reached its budget",
            "hint": "raise budget.usd or narrow the task"}),
        ),
        other => {
            let status = r["api_error_status"].as_u64();
            let kind = if matches!(status, Some(429 | 529)) { "rate_limited" } else { "execution" };
            (
                "failed",
                json!({"kind": kind, "message": format!("the run failed ({})", other.unwrap_or("unknown")),
                "api_status": status, "detail": r["result"]}),
            )
        }
    };
    json!({
        "status": status,
        "summary": r["result"],
        "report": r["structured_output"],
        "usage": r["usage"],
        "cost_usd": r["total_cost_usd"],
        "turns": r["num_turns"],
        "duration_ms": elapsed.as_millis(),
        "error": error,
    })
}

/// Kills every process carrying this run's marker (claude, and the tool
/// commands it started in sessions of their own); returns how many.
/// The environment is inherited through `setsid` and re-parenting, which a
/// process group is not.
pub fn kill_run(run_id: &str) -> usize {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let marker = format!("{RUN_MARKER}={run_id}");
    let mut killed = 0;
    // Twice: a process forked while the first pass ran is caught by the second.
    for _ in 0..2 {
        let Ok(entries) = std::fs::read_dir("/proc") else { return killed };
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
            if environ.split(|b| *b == 0).any(|kv| kv == marker.as_bytes())
                && kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok()
            {
                killed += 1;
            }
        }
    }
    killed
}
