//! Tool calls held for a human: each gets a request id (`approval-1`, …), an
//! `approval.requested` event, and waits for [`Answer`] from
//! `POST /v1/runs/{id}/approvals/{request_id}` or the agent's approval
//! timeout (then it is denied); the outcome is an `approval.resolved` event.
//! Claude's held calls and a script's `ctx.sh` go through the same door.

use std::time::Duration;

use car_schemas::run::{ApprovalDecision, ApprovalRequested, ApprovalResolved, Event};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::eventlog::{EventLog, LogError};

/// A human's answer to a held tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub request_id: String,
    pub approve: bool,
    pub comment: Option<String>,
}

pub struct Approvals<'a> {
    answers: &'a mut mpsc::Receiver<Answer>,
    agent: String,
    timeout: Duration,
    issued: u32,
}

impl<'a> Approvals<'a> {
    pub fn new(answers: &'a mut mpsc::Receiver<Answer>, agent: &str, timeout: Duration) -> Self {
        Approvals { answers, agent: agent.to_string(), timeout, issued: 0 }
    }

    /// Holds one call until a human answers or the timeout passes.
    pub async fn hold(&mut self, log: &EventLog, tool: &str, input: &Value, reason: &str) -> Result<Answer, LogError> {
        self.issued += 1;
        let id = format!("approval-{}", self.issued);
        log.append(Event::ApprovalRequested(ApprovalRequested {
            request_id: id.clone(),
            tool: tool.to_string(),
            input: input.clone(),
            agent: self.agent.clone(),
            reason: reason.to_string(),
            timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
        }))?;
        let answer = self.wait_for(&id).await;
        log.append(Event::ApprovalResolved(ApprovalResolved {
            request_id: id,
            decision: if answer.approve { ApprovalDecision::Approve } else { ApprovalDecision::Deny },
            comment: answer.comment.clone(),
        }))?;
        Ok(answer)
    }

    /// The answer for `id`, or a denial when the approval timeout passes first.
    async fn wait_for(&mut self, id: &str) -> Answer {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.answers.recv()).await {
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
}

/// What the model or script is told when a human says no.
pub fn denial(answer: &Answer) -> String {
    format!("a human denied this: {}", answer.comment.as_deref().unwrap_or("no reason given"))
}
