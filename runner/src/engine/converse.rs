//! One conversation with the model: a claude [`Session`] whose every tool
//! call is decided by the [`Policy`], with held calls waiting on
//! [`Approvals`], and what happens written to the run's log: `tool.call`
//! (tool, input, decision, rule, reason) for every call, `assistant.text`,
//! `tool.result`, `rate_limited` for each API retry, and `usage` at the end.
//! A prompt agent's run is one conversation; a script's `ctx.claude` calls
//! are one each.

use std::time::Instant;

use car_schemas::run::{
    AssistantText, Event, RateLimited, RunError, RunErrorKind, ToolCall, ToolCallDecision, ToolResult, Usage,
};
use serde_json::Value;

use super::EngineError;
use super::approvals::{Approvals, denial};
use super::claude::{Launch, Message, Session};
use crate::eventlog::{EventLog, LogError};
use car_policy::{Decision, Policy};

/// Longest tool output kept in a `tool.result` event.
const MAX_TOOL_OUTPUT: usize = 64 * 1024;
/// The wait suggested after a rate limit when the CLI said none.
const DEFAULT_RETRY_AFTER_MS: u64 = 60_000;

/// How a conversation ended.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// The CLI's `result` message; `None` when the process ended without one.
    pub result: Option<Value>,
    /// The wait of the CLI's last API retry, if there was one.
    pub last_retry_ms: Option<u64>,
    /// The text of the model's last message that had any.
    pub last_text: Option<String>,
}

/// Talks to the model until its result.
pub async fn converse(
    launch: &Launch,
    prompt: &str,
    policy: &Policy,
    approvals: &mut Approvals<'_>,
    log: &EventLog,
) -> Result<Conversation, EngineError> {
    let mut session = Session::start(launch, prompt).await?;
    // Calls the hook sent on to `can_use_tool` for a human, by tool_use_id: the reason.
    let mut held: std::collections::HashMap<String, String> = Default::default();
    let mut done = Conversation::default();
    loop {
        let Some(message) = session.next().await? else { break };
        match message {
            Message::PreToolUse { request_id, tool, input, tool_use_id, cwd } => {
                let v = policy.explain(&tool, &input, cwd.as_deref()).verdict;
                log.append(Event::ToolCall(ToolCall {
                    tool: tool.clone(),
                    input: input.clone(),
                    decision: call_decision(v.decision),
                    rule: v.rule.clone(),
                    reason: v.reason.clone(),
                    tool_use_id: tool_use_id.clone(),
                    source: None,
                }))?;
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
                let answer = approvals.hold(log, &tool, &input, &reason).await?;
                let denied = denial(&answer);
                let decision = if answer.approve { Ok(&input) } else { Err(denied.as_str()) };
                session.answer_permission(&request_id, decision).await?;
            }
            Message::Result(r) => {
                done.result = Some(r);
                break;
            }
            Message::Other(v) => {
                if let Some(text) = assistant_text(&v) {
                    done.last_text = Some(text);
                }
                if let Some(ms) = record(log, &v)? {
                    done.last_retry_ms = Some(ms);
                }
            }
        }
    }
    session.close_input();
    let _ = session.wait().await;
    if let Some(r) = &done.result {
        log.append(Event::Usage(Usage::from_result(r)))?;
    }
    Ok(done)
}

/// The text blocks of an assistant message, joined; `None` for other messages or none.
fn assistant_text(v: &Value) -> Option<String> {
    if v["type"] != "assistant" {
        return None;
    }
    let parts: Vec<&str> = v["message"]["content"]
        .as_array()?
        .iter()
        .filter(|b| b["type"] == "text")
        .filter_map(|b| b["text"].as_str())
        .filter(|t| !t.trim().is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

impl Conversation {
    pub fn usage(&self) -> Usage {
        self.result.as_ref().map(Usage::from_result).unwrap_or_default()
    }

    /// The final answer's text. With a report, the CLI ends the session
    /// when the report arrives and its `result` is the report as JSON; the
    /// summary is then what the model last wrote.
    pub fn text(&self) -> Option<String> {
        match (self.report(), &self.last_text) {
            (Some(_), Some(text)) => Some(text.clone()),
            _ => self.result.as_ref().and_then(|r| r["result"].as_str()).map(String::from),
        }
    }

    /// The structured report, when the model sent one.
    pub fn report(&self) -> Option<Value> {
        self.result.as_ref().map(|r| r["structured_output"].clone()).filter(|v| !v.is_null())
    }

    /// Why the conversation failed, or `None` when it succeeded. Read from
    /// the `result` message, not the exit code; a declared report that never
    /// came is a failure too.
    pub fn error(&self, expects_report: bool) -> Option<RunError> {
        let Some(r) = &self.result else {
            return Some(RunError::new(
                RunErrorKind::Engine,
                "the claude process ended without a result",
                "see the runner's log for the CLI's output",
            ));
        };
        match r["subtype"].as_str() {
            Some("success") if r["is_error"] != true => (expects_report && r["structured_output"].is_null()).then(|| {
                RunError::new(
                    RunErrorKind::NoReport,
                    "the agent declares a report, but the model finished without sending it",
                    "tell the agent's prompt to finish by returning the report; check the report schema is one the model can fill",
                )
            }),
            Some("error_max_turns") => Some(RunError::new(
                RunErrorKind::MaxTurns,
                "the agent used all its turns",
                "raise budget.turns or narrow the task",
            )),
            Some("error_max_budget_usd") => Some(RunError::new(
                RunErrorKind::Budget,
                "the agent reached its budget",
                "raise budget.usd or narrow the task",
            )),
            other => {
                let status = r["api_error_status"].as_u64().and_then(|s| u16::try_from(s).ok());
                let detail = Some(r["result"].clone()).filter(|d| !d.is_null());
                if matches!(status, Some(429 | 529)) {
                    let after = self.last_retry_ms.unwrap_or(DEFAULT_RETRY_AFTER_MS);
                    Some(RunError {
                        api_status: status,
                        retry_after_ms: Some(after),
                        detail,
                        ..RunError::new(
                            RunErrorKind::RateLimited,
                            format!(
                                "the model API is rate limited or overloaded ({}), retries ran out",
                                status.unwrap_or_default()
                            ),
                            format!("run it again after {}s or more", after.div_ceil(1000)),
                        )
                    })
                } else {
                    Some(RunError {
                        api_status: status,
                        detail,
                        ..RunError::new(
                            RunErrorKind::Execution,
                            format!("the run failed ({})", other.unwrap_or("unknown")),
                            "see the run's events for the model's last words",
                        )
                    })
                }
            }
        }
    }
}

/// The policy's decision as a `tool.call` event says it.
pub fn call_decision(d: Decision) -> ToolCallDecision {
    match d {
        Decision::Allow => ToolCallDecision::Allow,
        Decision::Deny => ToolCallDecision::Deny,
        Decision::Approve => ToolCallDecision::Approval,
    }
}

/// Events from the CLI's other messages; returns an API retry's wait.
fn record(log: &EventLog, v: &Value) -> Result<Option<u64>, LogError> {
    match (v["type"].as_str(), v["subtype"].as_str()) {
        (Some("assistant"), _) => {
            for block in v["message"]["content"].as_array().into_iter().flatten() {
                if block["type"] == "text" && block["text"].as_str().is_some_and(|t| !t.is_empty()) {
                    let text = block["text"].as_str().unwrap_or_default().to_string();
                    log.append(Event::AssistantText(AssistantText { text }))?;
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
                let (output, truncated) = cut(&text, MAX_TOOL_OUTPUT);
                log.append(Event::ToolResult(ToolResult {
                    tool_use_id: block["tool_use_id"].as_str().map(String::from),
                    is_error: block["is_error"].as_bool(),
                    exit_code: None,
                    output: output.to_string(),
                    truncated,
                    note: None,
                }))?;
            }
        }
        (Some("system"), Some("api_retry")) => {
            log.append(Event::RateLimited(RateLimited {
                attempt: v["attempt"].as_u64(),
                max_retries: v["max_retries"].as_u64(),
                retry_delay_ms: v["retry_delay_ms"].as_u64(),
                error_status: v["error_status"].as_u64().and_then(|s| u16::try_from(s).ok()),
                error: v["error"].as_str().map(String::from),
            }))?;
            return Ok(Some(v["retry_delay_ms"].as_u64().unwrap_or(DEFAULT_RETRY_AFTER_MS)));
        }
        _ => {}
    }
    Ok(None)
}

/// `text` cut to at most `max` bytes on a character boundary; true when cut.
pub fn cut(text: &str, max: usize) -> (&str, bool) {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], end < text.len())
}

/// Milliseconds since `started`, for events.
pub fn millis(started: Instant) -> u64 {
    started.elapsed().as_millis() as u64
}
