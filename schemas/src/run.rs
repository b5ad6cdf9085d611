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

/// Where a run is: `queued → dispatched → running ⇄ awaiting_approval`,
/// then one of the final ones (`succeeded`, `failed`, `timed_out`,
/// `cancelled`, `lost`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The status as stored and sent: `awaiting_approval`.
    pub fn parse(text: &str) -> Option<RunStatus> {
        serde_json::from_value(Value::String(text.to_string())).ok()
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::TimedOut | RunStatus::Cancelled | RunStatus::Lost
        )
    }
}

/// Tokens and cost of a run (or of one model conversation within it), as
/// `usage` events and `run.finished` carry them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    /// What the model calls cost, in US dollars.
    pub cost_usd: f64,
    /// Model turns.
    pub turns: u64,
}

impl Usage {
    /// From the claude CLI's `result` message (`usage`, `total_cost_usd`, `num_turns`).
    pub fn from_result(result: &Value) -> Usage {
        let tokens = |k: &str| result["usage"][k].as_u64().unwrap_or(0);
        Usage {
            input_tokens: tokens("input_tokens"),
            output_tokens: tokens("output_tokens"),
            cache_creation_input_tokens: tokens("cache_creation_input_tokens"),
            cache_read_input_tokens: tokens("cache_read_input_tokens"),
            cost_usd: result["total_cost_usd"].as_f64().unwrap_or(0.0),
            turns: result["num_turns"].as_u64().unwrap_or(0),
        }
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.cache_creation_input_tokens += o.cache_creation_input_tokens;
        self.cache_read_input_tokens += o.cache_read_input_tokens;
        self.cost_usd += o.cost_usd;
        self.turns += o.turns;
    }
}
