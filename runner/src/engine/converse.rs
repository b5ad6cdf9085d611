//! One conversation with the model: a claude [`Session`] whose every tool
//! call is decided by the [`Policy`], with held calls waiting on
//! [`Approvals`], and what happens written to the run's log: `tool.call`
//! (tool, input, decision, rule, reason) for every call, `assistant.text`,
//! `tool.result`, `rate_limited` for each API retry, and `usage` at the end.
//! A prompt agent's run is one conversation; a script's `ctx.claude` calls
//! are one each.

use std::time::Instant;

use car_schemas::run::{Usage, kind};
use serde_json::{Value, json};

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
                if let Some(ms) = record(log, &v)? {
                    done.last_retry_ms = Some(ms);
                }
            }
        }
    }
    session.close_input();
    let _ = session.wait().await;
    if let Some(r) = &done.result {
        log.append(kind::USAGE, serde_json::to_value(Usage::from_result(r)).unwrap_or_default())?;
    }
    Ok(done)
}

impl Conversation {
    pub fn usage(&self) -> Usage {
        self.result.as_ref().map(Usage::from_result).unwrap_or_default()
    }

    /// The final answer's text.
    pub fn text(&self) -> Value {
        self.result.as_ref().map_or(Value::Null, |r| r["result"].clone())
    }

    /// The structured report, when the model sent one.
    pub fn report(&self) -> Value {
        self.result.as_ref().map_or(Value::Null, |r| r["structured_output"].clone())
    }

    /// Why the conversation failed (`{kind, message, hint, …}`), or `None`
    /// when it succeeded. Read from the `result` message, not the exit code;
    /// a declared report that never came is a failure too.
    pub fn error(&self, expects_report: bool) -> Option<Value> {
        let Some(r) = &self.result else {
            return Some(json!({"kind": "engine", "message": "the claude process ended without a result",
                "hint": "see the runner's log for the CLI's output"}));
        };
        match r["subtype"].as_str() {
            Some("success") if r["is_error"] != true => (expects_report && r["structured_output"].is_null()).then(|| {
                json!({"kind": "no_report",
                    "message": "the agent declares a report, but the model finished without sending it",
                    "hint": "tell the agent's prompt to finish by returning the report; check the report schema is one the model can fill"})
            }),
            Some("error_max_turns") => Some(json!({"kind": "max_turns", "message": "the agent used all its turns",
                "hint": "raise budget.turns or narrow the task"})),
            Some("error_max_budget_usd") => Some(json!({"kind": "budget", "message": "the agent reached its budget",
                "hint": "raise budget.usd or narrow the task"})),
            other => {
                let status = r["api_error_status"].as_u64();
                if matches!(status, Some(429 | 529)) {
                    let after = self.last_retry_ms.unwrap_or(DEFAULT_RETRY_AFTER_MS);
                    Some(json!({"kind": "rate_limited", "api_status": status, "retry_after_ms": after,
                        "message": format!("the model API is rate limited or overloaded ({}), retries ran out",
                            status.unwrap_or_default()),
                        "hint": format!("run it again after {}s or more", after.div_ceil(1000)),
                        "detail": r["result"]}))
                } else {
                    Some(json!({"kind": "execution", "api_status": status,
                        "message": format!("the run failed ({})", other.unwrap_or("unknown")),
                        "hint": "see the run's events for the model's last words", "detail": r["result"]}))
                }
            }
        }
    }
}

/// Events from the CLI's other messages; returns an API retry's wait.
fn record(log: &EventLog, v: &Value) -> Result<Option<u64>, LogError> {
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
                let (output, truncated) = cut(&text, MAX_TOOL_OUTPUT);
                log.append(
                    kind::TOOL_RESULT,
                    json!({"tool_use_id": block["tool_use_id"], "is_error": block["is_error"],
                    "output": output, "truncated": truncated}),
                )?;
            }
        }
        (Some("system"), Some("api_retry")) => {
            log.append(
                kind::RATE_LIMITED,
                json!({"attempt": v["attempt"], "max_retries": v["max_retries"], "retry_delay_ms": v["retry_delay_ms"],
                "error_status": v["error_status"], "error": v["error"]}),
            )?;
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
