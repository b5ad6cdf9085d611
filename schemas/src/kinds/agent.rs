//! `Agent`: what an agent does, and what it may touch while doing it.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor, value::MapAccessDeserializer};
use serde::{Deserialize, Deserializer, Serialize};

use crate::de::{Spanned, recover, recover_each};
use crate::rules::ToolRule;
use crate::values::{Duration, Name};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentSpec {
    /// One line on what the agent is for.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"Checks ZFS pool health, scrubs and SMART data")]
    pub description: Option<String>,

    /// The task for Claude. The output of `gather` commands is added to it.
    /// Give either `prompt` or `script`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"Check the health of every ZFS pool and report problems.")]
    pub prompt: Option<String>,

    /// A Python script beside this file (path relative to it) to run instead
    /// of a prompt. Give either `prompt` or `script`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"scripts/certificate_expiry.py")]
    pub script: Option<Spanned<String>>,

    /// Commands run on the node before the model starts; their output is
    /// given to the model, so it starts with facts instead of guesses.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "recover_each")]
    #[schemars(example = serde_json::json!(["zpool status -x", {"name": "pools", "command": "zpool list -H", "timeout": "30s"}]))]
    pub gather: Vec<GatherStep>,

    /// `read-only` agents can only look; `read-write` agents may change the
    /// machine within their tool rules.
    #[serde(default, deserialize_with = "recover")]
    #[schemars(example = &"read-only")]
    pub mode: Mode,

    /// Which tools the agent may use, which need a human's approval, and
    /// which are refused.
    #[serde(default, skip_serializing_if = "ToolRules::is_empty", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"allow": ["Read", "Bash(zpool status *)"], "approve": ["Bash(zpool clear *)"], "deny": ["Bash(zpool destroy *)"]}))]
    pub tools: ToolRules,

    /// Node capabilities the agent needs (e.g. zfs, docker, systemd).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "recover_each")]
    #[schemars(example = serde_json::json!(["zfs"]))]
    pub requires: Vec<Spanned<Name>>,

    /// The longest a run may take before it is stopped (default 10m).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"15m")]
    pub timeout: Option<Spanned<Duration>>,

    /// How often a failed, lost or rate-limited run is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"max": 2, "backoff": "1m"}))]
    pub retries: Option<Retries>,

    /// Limits on what one run may spend.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"usd": 0.5, "turns": 30}))]
    pub budget: Option<Budget>,

    /// The Claude model to use (default: the CLI's default).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"claude-sonnet-4-5")]
    pub model: Option<String>,

    /// How long a held tool call waits for a human before it is denied (default 1h).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"2h")]
    pub approval_timeout: Option<Spanned<Duration>>,

    /// A JSON Schema (object) for a structured report the run must return;
    /// notification conditions can test its fields.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"type": "object", "properties": {"healthy": {"type": "boolean"}}, "required": ["healthy"]}))]
    pub report: Option<Spanned<serde_json::Value>>,
}

impl AgentSpec {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
    pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(3600);

    pub fn timeout(&self) -> Duration {
        self.timeout.as_ref().map_or(Self::DEFAULT_TIMEOUT, |t| t.value)
    }

    pub fn approval_timeout(&self) -> Duration {
        self.approval_timeout.as_ref().map_or(Self::DEFAULT_APPROVAL_TIMEOUT, |t| t.value)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// May only read: read tools and shell commands its `allow` rules name.
    #[default]
    ReadOnly,
    /// May change the machine: `allow` runs, `approve` waits for a human, `deny` is refused.
    ReadWrite,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolRules {
    /// Tool uses that run without asking.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "recover_each")]
    #[schemars(example = serde_json::json!(["Read", "Grep", "Bash(df -h *)"]))]
    pub allow: Vec<Spanned<ToolRule>>,
    /// Tool uses held until a human approves them (read-write agents only).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "recover_each")]
    #[schemars(example = serde_json::json!(["Bash(docker image prune *)"]))]
    pub approve: Vec<Spanned<ToolRule>>,
    /// Tool uses always refused; deny wins over allow and approve.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "recover_each")]
    #[schemars(example = serde_json::json!(["Bash(rm -rf *)"]))]
    pub deny: Vec<Spanned<ToolRule>>,
}

impl ToolRules {
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.approve.is_empty() && self.deny.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retries {
    /// Attempts after the first (0-10).
    #[schemars(range(max = 10), example = 2)]
    pub max: Spanned<u32>,
    /// Wait before the first retry; doubles each time, with jitter (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"1m")]
    pub backoff: Option<Spanned<Duration>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Most a run may spend, in US dollars (0.01-100).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = 0.5)]
    pub usd: Option<Spanned<f64>>,
    /// Most model turns a run may take (1-500).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(range(min = 1, max = 500), example = 30)]
    pub turns: Option<Spanned<u32>>,
}

/// One gather command: a string, or `{name, command, timeout}`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = command_or_object)]
pub struct GatherStep {
    /// A label for the output (default: the command).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"pool status")]
    pub name: Option<String>,
    /// A shell command run on the node with a read-only intent.
    #[schemars(example = &"zpool status -x")]
    pub command: String,
    /// The longest the command may run (default 60s, at most 10m).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"30s")]
    pub timeout: Option<Spanned<Duration>>,
}

/// The schema of a gather step also admits the short form: just the command.
fn command_or_object(schema: &mut schemars::Schema) {
    let object = std::mem::replace(schema, schemars::json_schema!({}));
    *schema = schemars::json_schema!({
        "description": "A command whose output is given to the model: a string, or {name, command, timeout}.",
        "anyOf": [{"type": "string", "minLength": 1, "examples": ["zpool status -x"]}, object],
        "examples": ["zpool status -x", {"name": "pools", "command": "zpool list -H", "timeout": "30s"}]
    });
}

impl GatherStep {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
}

impl<'de> Deserialize<'de> for GatherStep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            name: Option<String>,
            command: String,
            timeout: Option<Spanned<Duration>>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GatherStep;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command, or {name, command, timeout}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<GatherStep, E> {
                Ok(GatherStep { name: None, command: s.to_string(), timeout: None })
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<GatherStep, A::Error> {
                let f = Full::deserialize(MapAccessDeserializer::new(m))?;
                Ok(GatherStep { name: f.name, command: f.command, timeout: f.timeout })
            }
        }
        d.deserialize_any(V)
    }
}
