//! The run event model, one shape from runner to server to browser:
//! `{seq, ts, type, data}`, with `seq` gapless per run.
//!
//! The runner writes events to its NDJSON log, the server copies them (and
//! writes a `run.finished` of its own for runs it ends), and the WebSocket
//! `/api/v1/runs/{id}/stream` adds a `gap` marker for a viewer that fell
//! behind. [`RunEvent`] carries `data` untyped, as it travels; [`Event`] is
//! the typed union of every payload, [`TypedRunEvent`] the typed envelope,
//! [`StreamMessage`] what a WebSocket viewer reads, and [`event_schema`] the
//! JSON Schema (`run-event.schema.json`) clients type the stream with.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::kinds::agent::Mode;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    /// 1, 2, 3, … within a run, without gaps.
    pub seq: u64,
    /// When the event was written.
    pub ts: DateTime<Utc>,
    /// The event type: one of [`kind`], or `gap` on the WebSocket.
    #[serde(rename = "type")]
    pub kind: String,
    /// The payload, as [`Event`] describes it for each type.
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

    /// Every type a run's log holds, in the order they are described.
    pub const ALL: [&str; 12] = [
        RUN_STARTED,
        GATHER_OUTPUT,
        ASSISTANT_TEXT,
        TOOL_CALL,
        TOOL_RESULT,
        APPROVAL_REQUESTED,
        APPROVAL_RESOLVED,
        RATE_LIMITED,
        LOG,
        USAGE,
        LOG_TRUNCATED,
        RUN_FINISHED,
    ];

    /// The WebSocket's marker for events a slow viewer skipped (not in a run's log).
    pub const GAP: &str = "gap";
}

/// A runner's event stream (`GET /v1/runs/{id}/events`) sends a blank line
/// when a run has been quiet this long; a follower that hears nothing for
/// three times as long takes the connection for dead.
pub const STREAM_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// Credentials and endpoints a run may hand the claude CLI: the server
/// sends them from its environment (or secret store), the runner passes
/// these and nothing else.
pub const RUN_ENV: [&str; 4] =
    ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_BASE_URL"];

/// `POST /v1/runs`: what the server asks a runner to run (idempotent by `run_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    pub run_id: String,
    /// The Agent document, as written in git (`apiVersion`, `kind`, `metadata`, `spec`).
    pub agent: Value,
    /// A script agent's files by name (`check.py`), as the applied revision holds them.
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, String>,
    /// Credentials, by the names of [`RUN_ENV`].
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub context: RunContext,
}

/// What a run is told about where and why it runs; scripts read it whole
/// (`CAR_CONTEXT`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunContext {
    #[serde(default)]
    pub node: NodeContext,
    /// What started it: `manual`, `schedule` or `trigger` (a retry keeps its first attempt's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Who or what started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// More, by what started it: a schedule's name and slot, a trigger's payload.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// The node a run runs on, as git declares it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeContext {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `unenforced`: git accepts running read-only agents without the
    /// kernel's jail where the kernel has none.
    #[serde(default)]
    pub sandbox: crate::kinds::node::Sandbox,
}

/// Where a run is: `queued → dispatched → running ⇄ awaiting_approval`,
/// then one of the final ones (`succeeded`, `failed`, `timed_out`,
/// `cancelled`, `lost`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "snake_case"))]
pub enum RunStatus {
    /// Waiting to be sent to its node.
    Queued,
    /// Sent to its node's runner, not started yet.
    Dispatched,
    /// Going.
    Running,
    /// A tool call waits for a human's answer.
    AwaitingApproval,
    /// Finished and did its task.
    Succeeded,
    /// Finished without doing its task; the error says why.
    Failed,
    /// Stopped at the agent's timeout.
    TimedOut,
    /// Stopped by a person.
    Cancelled,
    /// Its runner or node went away while it went; nobody knows how it ended.
    Lost,
}

impl RunStatus {
    /// The statuses a run can still leave.
    pub const OPEN: [RunStatus; 4] =
        [RunStatus::Queued, RunStatus::Dispatched, RunStatus::Running, RunStatus::AwaitingApproval];
    /// The statuses a run ends in.
    pub const FINAL: [RunStatus; 5] =
        [RunStatus::Succeeded, RunStatus::Failed, RunStatus::TimedOut, RunStatus::Cancelled, RunStatus::Lost];

    /// The status as stored and sent: `awaiting_approval`.
    pub fn parse(text: &str) -> Option<RunStatus> {
        serde_json::from_value(Value::String(text.to_string())).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Dispatched => "dispatched",
            RunStatus::Running => "running",
            RunStatus::AwaitingApproval => "awaiting_approval",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Lost => "lost",
        }
    }

    pub fn is_final(self) -> bool {
        Self::FINAL.contains(&self)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tokens and cost of a run (or of one model conversation within it), as
/// `usage` events and `run.finished` carry them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"input_tokens": 1830, "output_tokens": 412, "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 12004, "cost_usd": 0.0214, "turns": 3}))]
pub struct Usage {
    /// Input tokens the model read (not from the prompt cache).
    #[schemars(example = 1830)]
    pub input_tokens: u64,
    /// Tokens the model wrote.
    #[schemars(example = 412)]
    pub output_tokens: u64,
    /// Input tokens written to the prompt cache.
    #[schemars(example = 0)]
    pub cache_creation_input_tokens: u64,
    /// Input tokens read from the prompt cache.
    #[schemars(example = 12004)]
    pub cache_read_input_tokens: u64,
    /// What the model calls cost, in US dollars.
    #[schemars(example = 0.0214)]
    pub cost_usd: f64,
    /// Model turns.
    #[schemars(example = 3)]
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

/// A run event with its payload typed: `{seq, ts, type, data}`, as the
/// runner's NDJSON, the server's log file and the WebSocket carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypedRunEvent {
    /// 1, 2, 3, … within a run, without gaps.
    pub seq: u64,
    /// When the event was written.
    pub ts: DateTime<Utc>,
    /// `type` and `data`.
    #[serde(flatten)]
    pub event: Event,
}

impl TryFrom<&RunEvent> for TypedRunEvent {
    type Error = serde_json::Error;

    /// Types an event as it travels; fails on an unknown type or field.
    fn try_from(e: &RunEvent) -> Result<Self, Self::Error> {
        serde_json::from_value(serde_json::to_value(e)?)
    }
}

impl From<TypedRunEvent> for RunEvent {
    fn from(e: TypedRunEvent) -> Self {
        let (kind, data) = e.event.into_parts();
        RunEvent { seq: e.seq, ts: e.ts, kind: kind.to_string(), data }
    }
}

/// What happened in a run: one variant per event type (`type`), its payload
/// in `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data", deny_unknown_fields)]
pub enum Event {
    /// The runner started the run (always the first event).
    #[serde(rename = "run.started")]
    RunStarted(RunStarted),
    /// One of the agent's `gather` commands ran, before the model or script started.
    #[serde(rename = "gather.output")]
    GatherOutput(GatherOutput),
    /// The model wrote text.
    #[serde(rename = "assistant.text")]
    AssistantText(AssistantText),
    /// The model or a script (`ctx.sh`) called a tool, and the agent's policy decided.
    #[serde(rename = "tool.call")]
    ToolCall(ToolCall),
    /// What a tool call that ran (or was refused) returned.
    #[serde(rename = "tool.result")]
    ToolResult(ToolResult),
    /// A tool call is held until a human approves or denies it.
    #[serde(rename = "approval.requested")]
    ApprovalRequested(ApprovalRequested),
    /// A held call was answered, by a human or by the approval timeout.
    #[serde(rename = "approval.resolved")]
    ApprovalResolved(ApprovalResolved),
    /// The model API refused or failed a request; the claude CLI waits and retries.
    #[serde(rename = "rate_limited")]
    RateLimited(RateLimited),
    /// A line of a script's output, or a note from the runner.
    #[serde(rename = "log")]
    Log(LogLine),
    /// Tokens and cost of one conversation with the model, at its end.
    #[serde(rename = "usage")]
    Usage(Usage),
    /// The run's log reached its size limit: later output (`log`,
    /// `gather.output`, `assistant.text`, `tool.result`) is not kept.
    #[serde(rename = "log.truncated")]
    LogTruncated(LogTruncated),
    /// The run ended (always the last event).
    #[serde(rename = "run.finished")]
    RunFinished(RunFinished),
}

impl Event {
    /// The event type, as in [`kind`].
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RunStarted(_) => kind::RUN_STARTED,
            Event::GatherOutput(_) => kind::GATHER_OUTPUT,
            Event::AssistantText(_) => kind::ASSISTANT_TEXT,
            Event::ToolCall(_) => kind::TOOL_CALL,
            Event::ToolResult(_) => kind::TOOL_RESULT,
            Event::ApprovalRequested(_) => kind::APPROVAL_REQUESTED,
            Event::ApprovalResolved(_) => kind::APPROVAL_RESOLVED,
            Event::RateLimited(_) => kind::RATE_LIMITED,
            Event::Log(_) => kind::LOG,
            Event::Usage(_) => kind::USAGE,
            Event::LogTruncated(_) => kind::LOG_TRUNCATED,
            Event::RunFinished(_) => kind::RUN_FINISHED,
        }
    }

    /// The type and the untyped `data`, as [`RunEvent`] carries them.
    pub fn into_parts(self) -> (&'static str, Value) {
        let kind = self.kind();
        let mut v = serde_json::to_value(self).expect("events serialize");
        (kind, v["data"].take())
    }
}

/// `run.started`: the runner took the run and starts the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"agent": "zfs-health", "mode": "read-only", "body": "prompt", "node": "tower",
    "sandbox": "landlock v7"}))]
pub struct RunStarted {
    /// The agent's name.
    #[schemars(example = &"zfs-health")]
    pub agent: String,
    /// What the agent may do.
    #[schemars(example = &"read-only")]
    pub mode: Mode,
    /// What the agent runs: a prompt for the model or a Python script.
    #[schemars(example = &"prompt")]
    pub body: AgentBody,
    /// The node it runs on.
    #[schemars(example = &"tower")]
    pub node: String,
    /// How a read-only run is held to reading: the kernel's jail
    /// (`landlock v7`), or `unenforced` on a node that accepts running it
    /// without one. Null for a read-write run (the policy and approvals hold
    /// it). Always present.
    #[schemars(example = &"landlock v7")]
    pub sandbox: Option<String>,
}

/// What an agent runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AgentBody {
    /// A prompt: one conversation with the model.
    Prompt,
    /// A Python script, with the `car_agent` helper.
    Script,
}

/// `gather.output`: one `gather` command's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"name": "pools", "command": "zpool list -H", "exit_code": 0,
    "output": "tank\t7.25T\t3.1T\t4.15T\t-\t-\t2%\t42%\t1.00x\tONLINE\t-\n", "note": null}))]
pub struct GatherOutput {
    /// The step's name (its command when it has none).
    #[schemars(example = &"pools")]
    pub name: String,
    /// The shell command that ran.
    #[schemars(example = &"zpool list -H")]
    pub command: String,
    /// Its exit code; null when it was stopped (timeout) or killed by a signal. Always present.
    #[schemars(example = 0)]
    pub exit_code: Option<i32>,
    /// Its stdout followed by its stderr, at most 32 KiB.
    #[schemars(example = &"tank\t7.25T\t3.1T\t4.15T\t-\t-\t2%\t42%\t1.00x\tONLINE\t-\n")]
    pub output: String,
    /// Why the output is incomplete (`stopped after 30s`, `output cut at
    /// 32768 bytes`), or null. Always present.
    #[schemars(example = &"output cut at 32768 bytes")]
    pub note: Option<String>,
}

/// `assistant.text`: a text block of the model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"text": "All three pools are ONLINE; the last scrub found no errors."}))]
pub struct AssistantText {
    /// The text, never empty.
    #[schemars(example = &"All three pools are ONLINE; the last scrub found no errors.")]
    pub text: String,
}

/// `tool.call`: a tool call and the policy's decision on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"tool": "Bash", "input": {"command": "zpool status -x"}, "decision": "allow",
    "rule": "Bash(zpool status *)", "reason": "allowed by the rule Bash(zpool status *)",
    "tool_use_id": "toolu_01A09q90qw90lq917835lq9"}))]
pub struct ToolCall {
    /// The tool: `Bash`, `Read`, `Edit`, an MCP tool, …; a script's `ctx.sh` is `Bash`.
    #[schemars(example = &"Bash")]
    pub tool: String,
    /// The tool's input, as the model or script sent it (`{"command": …}` for Bash).
    #[schemars(example = json!({"command": "zpool status -x"}))]
    pub input: Value,
    /// What the policy decided.
    #[schemars(example = &"allow")]
    pub decision: ToolCallDecision,
    /// What decided: a rule as written (`Bash(zpool status *)`), `built-in: …`
    /// (a fact the policy knows) or `default: …` (no rule matched).
    #[schemars(example = &"Bash(zpool status *)")]
    pub rule: String,
    /// One sentence: for a denial, what to do instead; for an approval,
    /// what the human is asked to allow.
    #[schemars(example = &"allowed by the rule Bash(zpool status *)")]
    pub reason: String,
    /// Links the call to its `tool.result`: the model's `toolu_…` id (null
    /// when the CLI sent none), or `ctx-N` for a script's N-th `ctx.sh`.
    /// Always present.
    #[schemars(example = &"toolu_01A09q90qw90lq917835lq9")]
    pub tool_use_id: Option<String>,
    /// `script` for a script's `ctx.sh`; absent for the model's calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"script")]
    pub source: Option<CallSource>,
}

/// What happens to a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ToolCallDecision {
    /// It runs.
    Allow,
    /// It is refused; the model or script is told why.
    Deny,
    /// It waits for a human (an `approval.requested` follows).
    Approval,
}

/// Who made a tool call other than the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CallSource {
    /// A script agent, through `ctx.sh`.
    Script,
}

/// `tool.result`: what a tool call returned. The model's results carry
/// `tool_use_id`, `is_error`, `output` and `truncated`; a script's `ctx.sh`
/// adds `exit_code` and `note`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"tool_use_id": "ctx-1", "is_error": false, "exit_code": 0,
    "output": "all pools are healthy\n", "truncated": false, "note": null}))]
pub struct ToolResult {
    /// The `tool_use_id` of its `tool.call`; null when the CLI sent none. Always present.
    #[schemars(example = &"toolu_01A09q90qw90lq917835lq9")]
    pub tool_use_id: Option<String>,
    /// Whether the tool failed (or was refused); null when the CLI did not
    /// say. For `ctx.sh`: the exit code was not 0. Always present.
    #[schemars(example = false)]
    pub is_error: Option<bool>,
    /// `ctx.sh` only: the command's exit code, null when it was stopped or
    /// killed by a signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 0)]
    pub exit_code: Option<i32>,
    /// The output (for `ctx.sh`, its stdout followed by its stderr), at most 64 KiB.
    #[schemars(example = &"all pools are healthy\n")]
    pub output: String,
    /// Whether `output` was cut (for `ctx.sh`, also when the script got only part of it).
    #[schemars(example = false)]
    pub truncated: bool,
    /// `ctx.sh` only: why the output is incomplete (`stopped after 10m`), or null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"stopped after 10m")]
    pub note: Option<String>,
}

/// `approval.requested`: a held tool call waits for a human. Answer it with
/// `POST /api/v1/approvals/{run_id}-{request_id}` (server) or
/// `POST /v1/runs/{id}/approvals/{request_id}` (runner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"request_id": "approval-1", "tool": "Bash", "input": {"command": "docker restart plex"},
    "agent": "docker-manager", "reason": "restarting a container needs a human's approval",
    "timeout_ms": 3_600_000}))]
pub struct ApprovalRequested {
    /// The request's id within the run: `approval-1`, `approval-2`, …
    #[schemars(example = &"approval-1")]
    pub request_id: String,
    /// The tool called.
    #[schemars(example = &"Bash")]
    pub tool: String,
    /// The tool's input.
    #[schemars(example = json!({"command": "docker restart plex"}))]
    pub input: Value,
    /// The agent's name.
    #[schemars(example = &"docker-manager")]
    pub agent: String,
    /// What the human is asked to allow (the policy's reason).
    #[schemars(example = &"restarting a container needs a human's approval")]
    pub reason: String,
    /// How long it waits before it is denied, in milliseconds (the agent's `approvalTimeout`).
    #[schemars(example = 3_600_000)]
    pub timeout_ms: u64,
}

/// `approval.resolved`: a held call was answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"request_id": "approval-1", "decision": "approve", "comment": "go ahead"}))]
pub struct ApprovalResolved {
    /// The `request_id` of its `approval.requested`.
    #[schemars(example = &"approval-1")]
    pub request_id: String,
    /// The answer; the approval timeout denies.
    #[schemars(example = &"approve")]
    pub decision: ApprovalDecision,
    /// The human's comment (`no answer before the approval timeout` when
    /// none came), or null. Always present.
    #[schemars(example = &"go ahead")]
    pub comment: Option<String>,
}

/// A human's answer to a held tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalDecision {
    /// The call runs.
    Approve,
    /// The call is refused.
    Deny,
}

/// `rate_limited`: the claude CLI's `api_retry` message, copied: a model API
/// request failed and the CLI retries after a wait. Every field is always
/// present; each is null when the CLI left it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"attempt": 1, "max_retries": 10, "retry_delay_ms": 2000, "error_status": 429,
    "error": "rate_limit"}))]
pub struct RateLimited {
    /// Which retry this is, from 1.
    #[schemars(example = 1)]
    pub attempt: Option<u64>,
    /// How many retries the CLI makes in all.
    #[schemars(example = 10)]
    pub max_retries: Option<u64>,
    /// How long the CLI waits before this retry, in milliseconds.
    #[schemars(example = 2000)]
    pub retry_delay_ms: Option<u64>,
    /// The API's HTTP status (429 rate limited, 529 overloaded, …); null when there was no answer.
    #[schemars(example = 429)]
    pub error_status: Option<u16>,
    /// The CLI's word for the failure: `rate_limit`, `overloaded`,
    /// `server_error`, `authentication_failed`, `unknown`, …
    #[schemars(example = &"rate_limit")]
    pub error: Option<String>,
}

/// `log`: one line of a script's output, or a note from the runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"stream": "stdout", "line": "checked 3 pools"}))]
pub struct LogLine {
    /// Where the line came from.
    #[schemars(example = &"stdout")]
    pub stream: LogStream,
    /// The line, without its newline, at most 16 KiB.
    #[schemars(example = &"checked 3 pools")]
    pub line: String,
    /// True when the line was cut to 16 KiB; absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schemars(example = true)]
    pub truncated: bool,
}

/// Where a `log` line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    /// The script's standard output.
    Stdout,
    /// The script's standard error.
    Stderr,
    /// The runner itself (a warning about the run).
    Runner,
}

/// `log.truncated`: the run's log reached its size limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"message": "the run's log reached its limit of 67108864 bytes; later output is not kept"}))]
pub struct LogTruncated {
    /// What happened, for people.
    #[schemars(example = &"the run's log reached its limit of 67108864 bytes; later output is not kept")]
    pub message: String,
}

/// `run.finished`: how the run ended. Its shape depends on who ended it:
///
/// - the runner, when the agent finished: `status` (`succeeded` or
///   `failed`), `summary`, `report`, `usage`, `cost_usd`, `turns`,
///   `duration_ms` and `error` (null when it succeeded);
/// - the runner, when it was cancelled or timed out: `status`,
///   `duration_ms`, `processes_killed` and `error`;
/// - the runner, when its engine failed, or it restarted while the run
///   went (`lost`); and the server, when it ended the run itself (cancelled
///   before dispatch, could not be dispatched, lost, timed out): `status`
///   and `error` only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"status": "succeeded", "summary": "All three pools are ONLINE.",
    "report": {"healthy": true}, "usage": {"input_tokens": 1830, "output_tokens": 412,
    "cache_creation_input_tokens": 0, "cache_read_input_tokens": 12004, "cost_usd": 0.0214, "turns": 3},
    "cost_usd": 0.0214, "turns": 3, "duration_ms": 48213, "error": null}))]
pub struct RunFinished {
    /// How it ended: one of the final statuses.
    #[schemars(example = &"succeeded")]
    pub status: RunStatus,
    /// The model's final answer, or the script's reported summary (else its
    /// last line of output); null when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"All three pools are ONLINE.")]
    pub summary: Option<String>,
    /// The structured report, when the agent declares one and sent it
    /// (a JSON value of the agent's `report` schema); else null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = json!({"healthy": true}))]
    pub report: Option<Value>,
    /// Tokens and cost of the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = json!({"input_tokens": 1830, "output_tokens": 412, "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 12004, "cost_usd": 0.0214, "turns": 3}))]
    pub usage: Option<Usage>,
    /// `usage.cost_usd`, repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 0.0214)]
    pub cost_usd: Option<f64>,
    /// `usage.turns`, repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 3)]
    pub turns: Option<u64>,
    /// How long the run went on its runner, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 48213)]
    pub duration_ms: Option<u64>,
    /// How many of the run's processes were killed when it was cancelled or timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 2)]
    pub processes_killed: Option<u64>,
    /// Why it did not succeed; null when it succeeded. Always present.
    #[schemars(example = json!({"kind": "max_turns", "message": "the agent used all its turns",
        "hint": "raise budget.turns or narrow the task"}))]
    pub error: Option<RunError>,
}

/// Why a run did not succeed: what happened and what to do next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"kind": "rate_limited", "api_status": 429, "retry_after_ms": 60000,
    "message": "the model API is rate limited or overloaded (429), retries ran out",
    "hint": "run it again after 60s or more", "detail": "API Error: 429 rate_limit_error"}))]
pub struct RunError {
    /// What kind of failure.
    #[schemars(example = &"rate_limited")]
    pub kind: RunErrorKind,
    /// What happened.
    #[schemars(example = &"the model API is rate limited or overloaded (429), retries ran out")]
    pub message: String,
    /// What to do next.
    #[schemars(example = &"run it again after 60s or more")]
    pub hint: String,
    /// More to read: the model's last words (`execution`, `rate_limited`;
    /// may be null) or the last lines of a script's stderr (`script`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"Traceback (most recent call last):\n  ...\nRuntimeError: the NAS is on fire")]
    pub detail: Option<Value>,
    /// `execution` and `rate_limited`: the model API's HTTP status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 429)]
    pub api_status: Option<u16>,
    /// `rate_limited`: how long to wait before running it again, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = 60000)]
    pub retry_after_ms: Option<u64>,
}

impl RunError {
    pub fn new(kind: RunErrorKind, message: impl Into<String>, hint: impl Into<String>) -> RunError {
        RunError {
            kind,
            message: message.into(),
            hint: hint.into(),
            detail: None,
            api_status: None,
            retry_after_ms: None,
        }
    }
}

impl RunFinished {
    /// A run that ended with `status` and nothing more to say yet.
    pub fn new(status: RunStatus) -> RunFinished {
        RunFinished {
            status,
            summary: None,
            report: None,
            usage: None,
            cost_usd: None,
            turns: None,
            duration_ms: None,
            processes_killed: None,
            error: None,
        }
    }

    /// A run that ended without its agent finishing (cancelled, timed out,
    /// lost, refused): its status and why.
    pub fn ended(status: RunStatus, error: RunError) -> RunFinished {
        RunFinished { error: Some(error), ..RunFinished::new(status) }
    }
}

/// What kind of failure ended a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunErrorKind {
    /// The model's conversation failed (the CLI's result was an error).
    Execution,
    /// The model used all its turns (`budget.turns`).
    MaxTurns,
    /// The agent reached its budget (`budget.usd`).
    Budget,
    /// The model API stayed rate limited or overloaded until the retries ran out.
    RateLimited,
    /// The agent declares a report but none came.
    NoReport,
    /// The script exited with a non-zero status or was killed.
    Script,
    /// The script reported failure (`ctx.report("failed", …)`).
    Reported,
    /// The runner could not run the agent (claude ended without a result, a folder could not be made, …).
    Engine,
    /// A person cancelled the run.
    Cancelled,
    /// The run went past its timeout.
    TimedOut,
    /// The runner or node went away while the run went.
    Lost,
    /// The server could not send it: the node's config is wrong.
    Config,
    /// The server could not send it: the node's runner did not answer.
    Unreachable,
    /// The node's runner refused the run.
    Refused,
}

/// `gap` (WebSocket only, without `seq` and `ts`): the viewer fell so far
/// behind that the events `from`..=`to` were skipped. Fetch them from the
/// run's log, or reconnect with `?after=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = json!({"from": 1201, "to": 96540,
    "hint": "this viewer fell behind; GET the run's log, or reconnect with ?after= to fetch the gap"}))]
pub struct Gap {
    /// The first event skipped.
    #[schemars(example = 1201)]
    pub from: u64,
    /// The last event skipped.
    #[schemars(example = 96540)]
    pub to: u64,
    /// What to do about it.
    #[schemars(example = &"this viewer fell behind; GET the run's log, or reconnect with ?after= to fetch the gap")]
    pub hint: String,
}

/// One message of the WebSocket `/api/v1/runs/{id}/stream`: an event, or a
/// `gap` marker (`{"type": "gap", "data": {…}}`, with no `seq` or `ts`).
#[derive(Debug, Clone, PartialEq)]
pub enum StreamMessage {
    /// An event of the run's log.
    Event(Box<TypedRunEvent>),
    /// Events the viewer skipped.
    Gap(Gap),
}

/// The wire form of a gap marker.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", content = "data", deny_unknown_fields)]
enum GapMarker {
    #[serde(rename = "gap")]
    Gap(Gap),
}

impl Serialize for StreamMessage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StreamMessage::Event(e) => e.serialize(s),
            StreamMessage::Gap(g) => GapMarker::Gap(g.clone()).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for StreamMessage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = Value::deserialize(d)?;
        if v["type"] == "gap" {
            let GapMarker::Gap(g) = serde_json::from_value(v).map_err(D::Error::custom)?;
            Ok(StreamMessage::Gap(g))
        } else {
            serde_json::from_value(v).map(|e| StreamMessage::Event(Box::new(e))).map_err(D::Error::custom)
        }
    }
}

/// The file name of the run event schema.
pub const EVENT_SCHEMA_FILE: &str = "run-event.schema.json";

/// The JSON Schema (draft 2020-12) of one message of a run's event stream:
/// a union tagged by `type`, one branch per event type with its `data`,
/// and the WebSocket's `gap` marker. Payload schemas live under `$defs`
/// (referenced as `#/$defs/…`), so they can be moved into an OpenAPI
/// document's components with the references rewritten.
pub fn event_schema() -> schemars::Schema {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let gap = generator.subschema_for::<Gap>();
    let mut root = generator.into_root_schema_for::<Event>().to_value();
    let defs = root["$defs"].as_object().cloned().unwrap_or_default();
    let data = |reference: &Value| {
        let name = reference["$ref"].as_str().and_then(|r| r.strip_prefix("#/$defs/")).expect("a payload is a $ref");
        let def = &defs[name];
        let mut d = json!({"$ref": reference["$ref"], "description": def["description"]});
        d["examples"] = def["examples"].clone();
        d
    };
    let seq = json!({"type": "integer", "minimum": 1, "description": "1, 2, 3, … within a run, without gaps.",
        "examples": [1]});
    let ts = json!({"type": "string", "format": "date-time", "description": "When the event was written (RFC 3339, UTC).",
        "examples": ["2025-06-01T03:00:04.512Z"]});
    let tag = |name: &Value| json!({"const": name, "description": "The event type.", "examples": [name]});
    let mut branches = Vec::new();
    for branch in root["oneOf"].as_array().expect("events are a oneOf").iter() {
        let name = &branch["properties"]["type"]["const"];
        branches.push(json!({
            "title": name,
            "description": branch["description"],
            "type": "object",
            "properties": {"seq": seq, "ts": ts, "type": tag(name), "data": data(&branch["properties"]["data"])},
            "required": ["seq", "ts", "type", "data"],
            "additionalProperties": false,
        }));
    }
    let gap_doc = defs["Gap"]["description"].clone();
    branches.push(json!({
        "title": "gap",
        "description": gap_doc,
        "type": "object",
        "properties": {"type": tag(&json!("gap")), "data": data(&gap.to_value())},
        "required": ["type", "data"],
        "additionalProperties": false,
    }));
    let obj = root.as_object_mut().expect("a root schema is an object");
    obj.remove("oneOf");
    obj.remove("description");
    obj.insert("title".into(), json!("Claude Agent Runner run event"));
    obj.insert(
        "description".into(),
        json!(
            "One event of a run, as the runner's NDJSON (`GET /v1/runs/{id}/events`), the server's run log and the \
               WebSocket `/api/v1/runs/{id}/stream` carry it: `{seq, ts, type, data}`, `seq` gapless per run, \
               `data` as `type` says. The WebSocket also sends `gap` markers, which have no `seq` or `ts`."
        ),
    );
    obj.insert("oneOf".into(), Value::Array(branches));
    let defs = obj.remove("$defs");
    if let Some(defs) = defs {
        obj.insert("$defs".into(), defs);
    }
    root.try_into().expect("a schema is an object")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `v` without object entries whose value is null: a field written as
    /// null and one left out mean the same.
    fn without_nulls(v: &Value) -> Value {
        match v {
            Value::Object(o) => Value::Object(
                o.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
            other => other.clone(),
        }
    }

    /// One event of every type, in every shape its producers write.
    fn examples() -> Vec<Value> {
        let ts = "2025-06-01T03:00:04.512345678Z";
        let usage = json!({"input_tokens": 1830, "output_tokens": 412, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 12004, "cost_usd": 0.0214, "turns": 3});
        let data = [
            (
                "run.started",
                json!({"agent": "zfs-health", "mode": "read-only", "body": "prompt", "node": "tower",
                "sandbox": "landlock v7"}),
            ),
            (
                "run.started",
                json!({"agent": "docker-manager", "mode": "read-write", "body": "script", "node": "tower",
                "sandbox": null}),
            ),
            (
                "gather.output",
                json!({"name": "pools", "command": "zpool list -H", "exit_code": 0, "output": "tank\n",
                "note": null}),
            ),
            (
                "gather.output",
                json!({"name": "slow", "command": "sleep 60", "exit_code": null, "output": "",
                "note": "stopped after 30s"}),
            ),
            ("assistant.text", json!({"text": "All pools are ONLINE."})),
            (
                "tool.call",
                json!({"tool": "Bash", "input": {"command": "zpool status -x"}, "decision": "allow",
                "rule": "Bash(zpool status *)", "reason": "allowed", "tool_use_id": "toolu_01"}),
            ),
            (
                "tool.call",
                json!({"tool": "Bash", "input": {"command": "rm -rf /tank"}, "decision": "deny",
                "rule": "default: read-only", "reason": "a read-only agent cannot delete", "tool_use_id": "ctx-2",
                "source": "script"}),
            ),
            (
                "tool.call",
                json!({"tool": "Bash", "input": {"command": "docker restart plex"}, "decision": "approval",
                "rule": "Bash(docker restart *)", "reason": "restart plex", "tool_use_id": null}),
            ),
            (
                "tool.result",
                json!({"tool_use_id": "toolu_01", "is_error": false, "output": "all pools are healthy",
                "truncated": false}),
            ),
            ("tool.result", json!({"tool_use_id": "toolu_02", "is_error": null, "output": "", "truncated": false})),
            (
                "tool.result",
                json!({"tool_use_id": "ctx-1", "is_error": true, "exit_code": 2, "output": "no such pool\n",
                "truncated": true, "note": "stopped after 10m"}),
            ),
            (
                "approval.requested",
                json!({"request_id": "approval-1", "tool": "Bash",
                "input": {"command": "docker restart plex"}, "agent": "docker-manager", "reason": "restart plex",
                "timeout_ms": 3_600_000}),
            ),
            ("approval.resolved", json!({"request_id": "approval-1", "decision": "approve", "comment": "ok"})),
            ("approval.resolved", json!({"request_id": "approval-2", "decision": "deny", "comment": null})),
            (
                "rate_limited",
                json!({"attempt": 1, "max_retries": 10, "retry_delay_ms": 2000, "error_status": 429,
                "error": "rate_limit"}),
            ),
            (
                "rate_limited",
                json!({"attempt": 2, "max_retries": 10, "retry_delay_ms": 4000, "error_status": null,
                "error": "unknown"}),
            ),
            ("log", json!({"stream": "stdout", "line": "checked 3 pools"})),
            ("log", json!({"stream": "stderr", "line": "xxxx", "truncated": true})),
            ("log", json!({"stream": "runner", "line": "warning: node tower has no Landlock"})),
            ("usage", usage.clone()),
            ("log.truncated", json!({"message": "the run's log reached its limit of 67108864 bytes"})),
            (
                "run.finished",
                json!({"status": "succeeded", "summary": "All pools are ONLINE.", "report": {"healthy": true},
                "usage": usage, "cost_usd": 0.0214, "turns": 3, "duration_ms": 48213, "error": null}),
            ),
            (
                "run.finished",
                json!({"status": "failed", "summary": null, "report": null, "usage": usage,
                "cost_usd": 0.0214, "turns": 3, "duration_ms": 913, "error": {"kind": "rate_limited",
                "api_status": 429, "retry_after_ms": 60000, "message": "retries ran out", "hint": "run it again later",
                "detail": "API Error: 429"}}),
            ),
            (
                "run.finished",
                json!({"status": "failed", "summary": "did the work", "report": null, "usage": usage,
                "cost_usd": 0.0, "turns": 0, "duration_ms": 120, "error": {"kind": "execution", "api_status": null,
                "message": "the run failed (error_during_execution)", "hint": "see the run's events",
                "detail": null}}),
            ),
            (
                "run.finished",
                json!({"status": "cancelled", "duration_ms": 5000, "processes_killed": 3,
                "error": {"kind": "cancelled", "message": "the run was cancelled", "hint": "start it again when needed"}}),
            ),
            (
                "run.finished",
                json!({"status": "timed_out", "duration_ms": 600_000, "processes_killed": 1,
                "error": {"kind": "timed_out", "message": "the run took longer than its timeout of 10m",
                "hint": "raise the agent's timeout or narrow its task"}}),
            ),
            (
                "run.finished",
                json!({"status": "lost", "error": {"kind": "lost",
                "message": "the runner stopped while this run was going", "hint": "start the run again"}}),
            ),
            (
                "run.finished",
                json!({"status": "failed", "error": {"kind": "unreachable",
                "message": "node tower's runner does not answer", "hint": "check that car-runner runs there"}}),
            ),
        ];
        data.into_iter().enumerate().map(|(i, (t, d))| json!({"seq": i + 1, "ts": ts, "type": t, "data": d})).collect()
    }

    #[test]
    fn an_event_of_every_type_and_shape_is_typed_and_written_back_alike() {
        let examples = examples();
        for example in &examples {
            let typed: TypedRunEvent =
                serde_json::from_value(example.clone()).unwrap_or_else(|e| panic!("{e}: {example}"));
            assert_eq!(without_nulls(&serde_json::to_value(&typed).unwrap()), without_nulls(example));
            let untyped: RunEvent = serde_json::from_value(example.clone()).unwrap();
            assert_eq!(TypedRunEvent::try_from(&untyped).unwrap(), typed);
            let back = RunEvent::from(typed.clone());
            assert_eq!((back.seq, back.ts, back.kind.as_str()), (untyped.seq, untyped.ts, typed.event.kind()));
            assert_eq!(without_nulls(&back.data), without_nulls(&untyped.data));
            let message: StreamMessage = serde_json::from_value(example.clone()).unwrap();
            assert_eq!(message, StreamMessage::Event(Box::new(typed)));
        }
        let seen: std::collections::BTreeSet<&str> = examples.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(seen, kind::ALL.into_iter().collect());
    }

    #[test]
    fn a_gap_marker_is_a_stream_message_without_seq_or_ts() {
        let gap = json!({"type": "gap", "data": {"from": 12, "to": 4000, "hint": "reconnect with ?after="}});
        let message: StreamMessage = serde_json::from_value(gap.clone()).unwrap();
        assert_eq!(message, StreamMessage::Gap(Gap { from: 12, to: 4000, hint: "reconnect with ?after=".into() }));
        assert_eq!(serde_json::to_value(&message).unwrap(), gap);
        assert!(serde_json::from_value::<TypedRunEvent>(gap.clone()).is_err(), "a gap is not a log event");
        let mut with_seq = gap;
        with_seq["seq"] = json!(3);
        assert!(serde_json::from_value::<StreamMessage>(with_seq).is_err());
    }

    #[test]
    fn an_unknown_field_or_type_is_refused() {
        let good = json!({"seq": 1, "ts": "2025-06-01T03:00:00Z", "type": "assistant.text", "data": {"text": "hi"}});
        serde_json::from_value::<TypedRunEvent>(good.clone()).unwrap();
        let mut field = good.clone();
        field["data"]["mood"] = json!("cheerful");
        let mut kind = good.clone();
        kind["type"] = json!("assistant.thought");
        let mut top = good.clone();
        top["node"] = json!("tower");
        let mut nested = examples().into_iter().find(|e| e["data"]["error"]["kind"] == "lost").unwrap();
        nested["data"]["error"]["retry"] = json!(true);
        let mut status = nested.clone();
        status["data"]["status"] = json!("exploded");
        let mut missing = good.clone();
        missing["data"] = json!({});
        for bad in [field, kind, top, nested, status, missing] {
            assert!(serde_json::from_value::<TypedRunEvent>(bad.clone()).is_err(), "accepted {bad}");
            assert!(serde_json::from_value::<StreamMessage>(bad.clone()).is_err(), "accepted {bad}");
            let untyped: RunEvent = serde_json::from_value(bad.clone()).unwrap();
            assert!(TypedRunEvent::try_from(&untyped).is_err() || bad.get("node").is_some(), "accepted {bad}");
        }
    }

    #[test]
    fn the_schema_has_a_branch_per_type_whose_examples_are_typed() {
        let schema = event_schema().to_value();
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        let branches = schema["oneOf"].as_array().unwrap();
        let titles: Vec<&str> = branches.iter().map(|b| b["title"].as_str().unwrap()).collect();
        let mut expected = kind::ALL.to_vec();
        expected.push(kind::GAP);
        assert_eq!(titles, expected);
        for b in branches {
            assert_eq!(b["properties"]["type"]["const"], b["title"]);
            let data = &b["properties"]["data"];
            let def = data["$ref"].as_str().unwrap().strip_prefix("#/$defs/").unwrap();
            assert!(schema["$defs"][def].is_object(), "{def} is not under $defs");
            let example = data["examples"][0].clone();
            let message = if b["title"] == kind::GAP {
                json!({"type": "gap", "data": example})
            } else {
                json!({"seq": 1, "ts": "2025-06-01T03:00:00Z", "type": b["title"], "data": example})
            };
            serde_json::from_value::<StreamMessage>(message.clone()).unwrap_or_else(|e| panic!("{e}: {message}"));
        }
        let text = schema.to_string();
        assert!(!text.contains("#/definitions/"), "every reference points under $defs");
    }
}
