//! The run event model, one shape from runner to server to browser:
//! `{seq, ts, type, data}`, with `seq` gapless per run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    /// 1, 2, 3, … within a run, without gaps.
    pub seq: u64,
    pub ts: DateTime<Utc>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data: Value,
}

/// Event types (`type`).
pub mod kind {
    pub const RUN_STARTED: &str = "run.started";
    pub const GATHER_OUTPUT: &str = "gather.output";
    pub const ASSISTANT_TEXT: &str = "assistant.text";
    pub const TOOL_CALL: &str = "tool.call";
    pub const TOOL_RESULT: &str = "tool.result";
    pub const APPROVAL_REQUESTED: &str = "approval.requested";
    pub const APPROVAL_RESOLVED: &str = "approval.resolved";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const LOG: &str = "log";
    pub const USAGE: &str = "usage";
    /// The log reached its size limit; later log lines were dropped.
    pub const LOG_TRUNCATED: &str = "log.truncated";
    pub const RUN_FINISHED: &str = "run.finished";
}

/// Where a run is. `running ⇄ awaiting_approval`, then one of the final ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Dispatched,
    Running,
    AwaitingApproval,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    Lost,
}

impl RunStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::TimedOut | RunStatus::Cancelled | RunStatus::Lost
        )
    }
}
