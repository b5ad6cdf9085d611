//! Scripts for the fake Messages API: a named [`Scenario`] is a list of
//! [`Step`]s, written with the builder or read from JSON.
//!
//! The JSON form is the one the black-box checks use, an object mapping a
//! scenario name to its steps:
//!
//! ```json
//! {"ro-rm": [{"tool_use": {"name": "Bash", "input": {"command": "rm -rf /tmp/x"}}},
//!            {"text": "done"}],
//!  "slow": [{"text": "x", "delay": 5}],
//!  "ratelimited": [{"status": 429, "retry_after": 1, "times": 2}, {"text": "ok"}]}
//! ```
//!
//! A step is a reply (`text`, `tool_use` — one call or an array of them — or
//! both, text first) or a scripted error (`status`, `retry_after` seconds,
//! `times`). `delay` (seconds) and `usage` may go on any step.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// A named script. The fake picks it for a request whose system prompt or
/// messages hold the marker `[[scenario:NAME]]` ([`Scenario::marker`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    name: String,
    steps: Vec<Step>,
}

/// One step of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// The assistant's answer for one turn.
    Reply(Reply),
    /// An error returned before the next reply (see [`ScriptedError`]).
    Error(ScriptedError),
}

/// An assistant message: optional text, then any tool calls.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply {
    pub text: Option<String>,
    pub tool_uses: Vec<ToolUse>,
    /// How long the fake waits before answering.
    pub delay: Duration,
    /// Token counts to report instead of the defaults ([`Usage::for_turn`]).
    pub usage: Option<Usage>,
}

/// A tool call the scripted model makes.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolUse {
    pub name: String,
    pub input: Value,
}

/// An HTTP error the fake returns `times` times (counted per scenario and
/// turn) before it serves the reply that follows it in the script.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptedError {
    /// 429 (`rate_limit_error`), 529 (`overloaded_error`), 500 (`api_error`),
    /// or another status (400, 401, 403, 404, 413 get their API error type).
    pub status: u16,
    /// Sent as the `retry-after` header, in seconds.
    pub retry_after: u64,
    pub times: u32,
    /// How long the fake waits before returning the error.
    pub delay: Duration,
}

/// The token counts a reply reports (the `usage` of the Messages API).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl Usage {
    /// What a reply reports unless its step says otherwise: like a real
    /// conversation, the first turn writes the prompt cache and later turns
    /// read it.
    pub fn for_turn(turn: usize) -> Usage {
        let first = turn == 0;
        Usage {
            input_tokens: 100 + turn as u64,
            output_tokens: 20,
            cache_creation_input_tokens: if first { 1000 } else { 0 },
            cache_read_input_tokens: if first { 0 } else { 1000 },
        }
    }
}

/// A scenario file or value that is not a valid script.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenarios JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("scenario {scenario:?}, step {step}: {message}")]
    Step { scenario: String, step: usize, message: String },
}

impl Scenario {
    pub fn new(name: impl Into<String>) -> Scenario {
        Scenario { name: name.into(), steps: Vec::new() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The marker to put in a prompt so the fake picks this scenario.
    pub fn marker(&self) -> String {
        format!("[[scenario:{}]]", self.name)
    }

    /// Adds a reply holding one tool call.
    pub fn tool_use(self, name: impl Into<String>, input: Value) -> Scenario {
        self.tool_uses([(name, input)])
    }

    /// Adds a reply holding several tool calls (parallel tool use).
    pub fn tool_uses<N: Into<String>>(self, calls: impl IntoIterator<Item = (N, Value)>) -> Scenario {
        let tool_uses = calls.into_iter().map(|(name, input)| ToolUse { name: name.into(), input }).collect();
        self.step(Step::Reply(Reply { tool_uses, ..Reply::default() }))
    }

    /// Adds a text-only reply (the model ends its turn).
    pub fn text(self, text: impl Into<String>) -> Scenario {
        self.step(Step::Reply(Reply { text: Some(text.into()), ..Reply::default() }))
    }

    /// Adds an error returned `times` times before the next reply.
    pub fn error(self, status: u16, retry_after_secs: u64, times: u32) -> Scenario {
        self.step(Step::Error(ScriptedError { status, retry_after: retry_after_secs, times, delay: Duration::ZERO }))
    }

    /// Delays the answer of the step added last.
    ///
    /// # Panics
    /// When no step has been added yet.
    pub fn delay(mut self, delay: Duration) -> Scenario {
        match self.steps.last_mut().expect("Scenario::delay needs a step before it") {
            Step::Reply(reply) => reply.delay = delay,
            Step::Error(error) => error.delay = delay,
        }
        self
    }

    /// Sets the token counts the reply added last reports.
    ///
    /// # Panics
    /// When the step added last is not a reply.
    pub fn usage(mut self, usage: Usage) -> Scenario {
        match self.steps.last_mut() {
            Some(Step::Reply(reply)) => reply.usage = Some(usage),
            _ => panic!("Scenario::usage needs a reply before it"),
        }
        self
    }

    /// Adds any step.
    pub fn step(mut self, step: Step) -> Scenario {
        self.steps.push(step);
        self
    }

    /// Reads scenarios in the JSON form (an object of name → steps).
    pub fn from_json(value: &Value) -> Result<Vec<Scenario>, ScenarioError> {
        let raw: BTreeMap<String, Vec<RawStep>> = serde_json::from_value(value.clone())?;
        raw.into_iter()
            .map(|(name, steps)| {
                let steps = steps
                    .into_iter()
                    .enumerate()
                    .map(|(i, raw)| {
                        raw.into_step().map_err(|message| ScenarioError::Step {
                            scenario: name.clone(),
                            step: i,
                            message,
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Scenario { name, steps })
            })
            .collect()
    }

    /// Reads scenarios from JSON text (the content of a scenarios file).
    pub fn from_json_str(text: &str) -> Result<Vec<Scenario>, ScenarioError> {
        Scenario::from_json(&serde_json::from_str(text)?)
    }

    /// The script as one entry per assistant turn: the errors to return
    /// before the reply, then the reply. Trailing errors precede a plain
    /// "ok"; an empty scenario answers "ok".
    pub(crate) fn turns(&self) -> Vec<Turn> {
        let mut turns = Vec::new();
        let mut errors = Vec::new();
        for step in &self.steps {
            match step {
                Step::Error(error) => errors.push(error.clone()),
                Step::Reply(reply) => turns.push(Turn { errors: std::mem::take(&mut errors), reply: reply.clone() }),
            }
        }
        if !errors.is_empty() || turns.is_empty() {
            turns.push(Turn { errors, reply: Reply::ok() });
        }
        turns
    }
}

impl Reply {
    /// The short answer given where the script says nothing.
    pub(crate) fn ok() -> Reply {
        Reply { text: Some("ok".into()), ..Reply::default() }
    }
}

/// One assistant turn of a compiled scenario.
#[derive(Clone, Debug)]
pub(crate) struct Turn {
    pub errors: Vec<ScriptedError>,
    pub reply: Reply,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    text: Option<String>,
    tool_use: Option<RawToolUses>,
    status: Option<u16>,
    retry_after: Option<u64>,
    times: Option<u32>,
    /// Seconds.
    delay: Option<f64>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawToolUses {
    One(RawToolUse),
    Many(Vec<RawToolUse>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToolUse {
    name: String,
    #[serde(default = "empty_object")]
    input: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl RawStep {
    fn into_step(self) -> Result<Step, String> {
        let delay = match self.delay {
            None => Duration::ZERO,
            Some(secs) => Duration::try_from_secs_f64(secs).map_err(|_| format!("delay {secs} is not a duration"))?,
        };
        if let Some(status) = self.status {
            if self.text.is_some() || self.tool_use.is_some() || self.usage.is_some() {
                return Err("an error step (status) takes no text, tool_use or usage".into());
            }
            if !(400..=599).contains(&status) {
                return Err(format!("status {status} is not an HTTP error status"));
            }
            let (retry_after, times) = (self.retry_after.unwrap_or(1), self.times.unwrap_or(1));
            return Ok(Step::Error(ScriptedError { status, retry_after, times, delay }));
        }
        if self.retry_after.is_some() || self.times.is_some() {
            return Err("retry_after and times belong to an error step (status)".into());
        }
        let tool_uses: Vec<ToolUse> = match self.tool_use {
            None => Vec::new(),
            Some(RawToolUses::One(one)) => vec![one.into()],
            Some(RawToolUses::Many(many)) => many.into_iter().map(ToolUse::from).collect(),
        };
        if self.text.is_none() && tool_uses.is_empty() {
            return Err("a step needs text, tool_use or status".into());
        }
        Ok(Step::Reply(Reply { text: self.text, tool_uses, delay, usage: self.usage }))
    }
}

impl From<RawToolUse> for ToolUse {
    fn from(raw: RawToolUse) -> ToolUse {
        ToolUse { name: raw.name, input: raw.input }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_form_reads_like_the_builder() {
        let read = Scenario::from_json(&json!({
            "ro-rm": [{"tool_use": {"name": "Bash", "input": {"command": "rm -rf /tmp/x"}}}, {"text": "done"}],
            "slow": [{"text": "x", "delay": 0.5}],
            "ratelimited": [{"status": 429, "retry_after": 2, "times": 3}, {"text": "ok"}],
        }))
        .unwrap();
        let built = vec![
            Scenario::new("ratelimited").error(429, 2, 3).text("ok"),
            Scenario::new("ro-rm").tool_use("Bash", json!({"command": "rm -rf /tmp/x"})).text("done"),
            Scenario::new("slow").text("x").delay(Duration::from_millis(500)),
        ];
        assert_eq!(read, built);
    }

    #[test]
    fn json_errors_name_the_scenario_and_step() {
        let err = Scenario::from_json(&json!({"s": [{"text": "a"}, {"delay": 1}]})).unwrap_err();
        assert_eq!(err.to_string(), "scenario \"s\", step 1: a step needs text, tool_use or status");
        let err = Scenario::from_json(&json!({"s": [{"txet": "a"}]})).unwrap_err();
        assert!(err.to_string().contains("unknown field `txet`"), "{err}");
    }

    #[test]
    fn errors_attach_to_the_reply_after_them() {
        let turns = Scenario::new("s").error(429, 1, 2).tool_use("Bash", json!({})).error(529, 1, 1).turns();
        assert_eq!(turns.len(), 2);
        assert_eq!(turns[0].errors.len(), 1);
        assert_eq!(turns[0].reply.tool_uses[0].name, "Bash");
        assert_eq!(turns[1].errors[0].status, 529);
        assert_eq!(turns[1].reply, Reply::ok());
        assert_eq!(Scenario::new("empty").turns()[0].reply, Reply::ok());
    }
}
