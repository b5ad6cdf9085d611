//! Tool rules in Claude Code's own permission-rule syntax: `Read`,
//! `Bash(zpool status *)`, `Bash(docker image prune *)` — a tool name,
//! optionally with a pattern on its input in which `*` matches anything.
//!
//! This module owns the syntax and what we know about tools (which only read,
//! which write, which shell commands change the machine). The config
//! validator uses it to refuse read-only agents that allow writes; the
//! runner's policy engine builds on the same knowledge.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::diagnostic::{did_you_mean, list};
use crate::values::string_type;

/// Claude Code's tools that only look.
pub const READ_TOOLS: &[&str] = &["Read", "Grep", "Glob", "LS", "NotebookRead", "WebFetch", "WebSearch", "TodoWrite"];
/// Claude Code's tools that change files.
pub const WRITE_TOOLS: &[&str] = &["Write", "Edit", "MultiEdit", "NotebookEdit"];
/// The shell: whether it writes depends on the command.
pub const SHELL_TOOL: &str = "Bash";

fn known_tools() -> impl Iterator<Item = &'static str> {
    READ_TOOLS.iter().chain(WRITE_TOOLS).copied().chain([SHELL_TOOL])
}

/// What a rule's tool does to the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Read,
    Write,
    /// A shell command or an MCP tool: depends on what it runs.
    Depends,
}

/// One tool rule: `Tool` or `Tool(pattern)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ToolRule {
    pub tool: String,
    pub pattern: Option<String>,
}

impl ToolRule {
    pub fn effect(&self) -> Effect {
        if READ_TOOLS.contains(&self.tool.as_str()) {
            Effect::Read
        } else if WRITE_TOOLS.contains(&self.tool.as_str()) {
            Effect::Write
        } else {
            Effect::Depends
        }
    }

    /// For a `Bash(...)` rule: what the command it names does, judged on
    /// the words it names literally (a `*` may stand for anything; the runner
    /// admits only reading arguments there). `None` when the rule is not a
    /// shell rule.
    pub fn shell_effect(&self) -> Option<ShellEffect> {
        if self.tool != SHELL_TOOL {
            return None;
        }
        let Some(pattern) = &self.pattern else { return Some(ShellEffect::Anything) };
        let pattern = pattern.strip_suffix(":*").unwrap_or(pattern);
        if pattern.chars().all(|c| c == '*' || c == ' ') {
            return Some(ShellEffect::Anything);
        }
        // Each wildcard becomes a neutral placeholder, so that options before
        // it keep their value. What is found about a word the wildcard is in
        // is not the rule's doing, unless the word is an option it names
        // (`--vacuum-size=*`).
        const PLACEHOLDER: &str = "car-wildcard";
        let script = car_shell::analyse(&pattern.replace('*', PLACEHOLDER));
        for part in &script.parts {
            let car_shell::Part::Command(cmd) = part else {
                return Some(ShellEffect::Writes(format!("`{}` is not a plain command", part.text())));
            };
            let c = car_shell::classify(cmd);
            let named = |w: &Option<usize>| {
                w.and_then(|i| cmd.words.get(i))
                    .is_some_and(|w| !w.text.contains(PLACEHOLDER) || w.text.starts_with('-'))
            };
            if let Some(culprit) = c.culprits.iter().find(|k| named(&k.word)) {
                return Some(if c.known || c.program.is_none() {
                    ShellEffect::Writes(culprit.why.clone())
                } else {
                    ShellEffect::Unknown(c.program.unwrap_or_default())
                });
            }
        }
        Some(ShellEffect::Reads)
    }
}

/// What a shell rule names, as far as the words it names tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellEffect {
    /// A command that only reads (a `*` in it admits only reading arguments).
    Reads,
    /// A command that changes the machine, and why.
    Writes(String),
    /// A program nobody described to the runner: it never counts as a read.
    Unknown(String),
    /// Every command (`Bash`, `Bash(*)`).
    Anything,
}

impl FromStr for ToolRule {
    type Err = (String, String);
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax_hint = "write a tool name, optionally with a pattern: Read, Bash(zpool status *)".to_string();
        let (tool, pattern) = match s.find('(') {
            None => (s, None),
            Some(i) => {
                let Some(inner) = s[i + 1..].strip_suffix(')') else {
                    return Err((format!("tool rule {s:?} has no closing parenthesis"), syntax_hint));
                };
                if inner.trim().is_empty() {
                    return Err((
                        format!("tool rule {s:?} has an empty pattern"),
                        "leave out the parentheses to match every use of the tool".into(),
                    ));
                }
                (&s[..i], Some(inner.to_string()))
            }
        };
        if tool.is_empty() || !tool.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') {
            return Err((format!("{s:?} is not a tool rule"), syntax_hint));
        }
        if !tool.starts_with("mcp__") && !known_tools().any(|t| t == tool) {
            let tools: Vec<&str> = known_tools().collect();
            let hint = match did_you_mean(tool, tools.iter().copied()) {
                Some(c) => format!("did you mean {c:?}?"),
                None => format!("known tools: {} (or mcp__server__tool)", list(&tools)),
            };
            return Err((format!("unknown tool {tool:?}"), hint));
        }
        Ok(ToolRule { tool: tool.to_string(), pattern })
    }
}

impl fmt::Display for ToolRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pattern {
            Some(p) => write!(f, "{}({p})", self.tool),
            None => f.write_str(&self.tool),
        }
    }
}

string_type!(ToolRule, "a tool rule such as Read or Bash(zpool status *)");

impl JsonSchema for ToolRule {
    fn schema_name() -> Cow<'static, str> {
        "ToolRule".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[A-Za-z0-9_-]+(\\(.+\\))?$",
            "description": "A Claude Code permission rule: a tool name (Read, Grep, Glob, Bash, Write, Edit, …), optionally with a pattern on its input where * matches anything. A compound shell command matches only if every part matches.",
            "examples": ["Read", "Bash(zpool status *)", "Bash(docker image prune *)"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_tool_and_pattern() {
        let r: ToolRule = "Bash(zpool status *)".parse().unwrap();
        assert_eq!(r.tool, "Bash");
        assert_eq!(r.pattern.as_deref(), Some("zpool status *"));
        assert_eq!(r.to_string(), "Bash(zpool status *)");
        assert_eq!("Read".parse::<ToolRule>().unwrap().effect(), Effect::Read);
        assert_eq!("Write".parse::<ToolRule>().unwrap().effect(), Effect::Write);
        assert!("mcp__gotify__send".parse::<ToolRule>().is_ok());
    }

    #[test]
    fn bad_rules_are_explained() {
        assert_eq!("Bsh(ls *)".parse::<ToolRule>().unwrap_err().1, "did you mean \"Bash\"?");
        assert_eq!(
            "Bash(ls *".parse::<ToolRule>().unwrap_err().0,
            "tool rule \"Bash(ls *\" has no closing parenthesis"
        );
        assert!("Bash()".parse::<ToolRule>().is_err());
    }

    #[test]
    fn shell_rules_are_judged_on_the_words_they_name() {
        let effect = |r: &str| r.parse::<ToolRule>().unwrap().shell_effect().unwrap();
        for r in [
            "Bash(rm -rf *)",
            "Bash(docker image prune *)",
            "Bash(docker restart *)",
            "Bash(systemctl restart *)",
            "Bash(zpool scrub *)",
            "Bash(ls; rm *)",
            "Bash(echo x > /etc/passwd)",
            "Bash(sed -i s/a/b/ f)",
            "Bash(/usr/bin/rm *)",
            "Bash(sort -o *)",
            "Bash(journalctl --vacuum-size=*)",
        ] {
            assert!(matches!(effect(r), ShellEffect::Writes(_)), "{r} writes: {:?}", effect(r));
        }
        for r in [
            "Bash(zpool status *)",
            "Bash(docker ps *)",
            "Bash(docker system df)",
            "Bash(docker image ls *)",
            "Bash(systemctl status *)",
            "Bash(df -h)",
            "Bash(ls *)",
            "Bash(smartctl -H *)",
            "Bash(journalctl -u *)",
            "Bash(zfs list *)",
            "Bash(find * -maxdepth *)",
            "Bash(midclt call pool.query*)",
            "Bash(ufw status *)",
            "Bash(ls -l /dev/disk/by-id*)",
        ] {
            assert_eq!(effect(r), ShellEffect::Reads, "{r} only reads");
        }
        assert_eq!(effect("Bash(my-check *)"), ShellEffect::Unknown("my-check".into()));
        assert_eq!(effect("Bash"), ShellEffect::Anything);
        assert_eq!(effect("Bash(*)"), ShellEffect::Anything);
        assert_eq!("Read".parse::<ToolRule>().unwrap().shell_effect(), None);
    }
}
