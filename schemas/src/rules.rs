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

    /// For a `Bash(...)` rule: does the command it admits change the machine?
    /// `None` when the rule is not a shell rule.
    pub fn shell_writes(&self) -> Option<bool> {
        if self.tool != SHELL_TOOL {
            return None;
        }
        Some(match &self.pattern {
            None => true,
            Some(p) => command_writes(p),
        })
    }
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

/// Commands that change the machine whatever their arguments.
const WRITING_COMMANDS: &[&str] = &[
    "rm", "rmdir", "mv", "dd", "shred", "truncate", "mkfs", "fdisk", "sfdisk", "parted", "wipefs", "chmod", "chown",
    "chgrp", "kill", "killall", "pkill", "reboot", "shutdown", "poweroff", "halt", "useradd", "userdel", "usermod",
    "passwd", "mount", "umount", "swapoff", "tee", "install", "ln", "touch", "mkdir", "cp", "rsync", "crontab", "sh",
    "bash", "zsh", "eval", "sudo", "su", "env", "xargs", "python", "python3", "perl", "ruby", "node",
];

/// Commands with subcommands, and the subcommands that only read.
const READ_SUBCOMMANDS: &[(&str, &[&str])] = &[
    (
        "docker",
        &[
            "ps", "images", "inspect", "logs", "stats", "info", "version", "top", "events", "df", "ls", "port",
            "history", "diff",
        ],
    ),
    (
        "podman",
        &[
            "ps", "images", "inspect", "logs", "stats", "info", "version", "top", "events", "df", "ls", "port",
            "history", "diff",
        ],
    ),
    (
        "systemctl",
        &[
            "status",
            "show",
            "list-units",
            "list-timers",
            "list-unit-files",
            "is-active",
            "is-enabled",
            "is-failed",
            "cat",
            "--failed",
        ],
    ),
    ("zpool", &["status", "list", "iostat", "get", "history", "events"]),
    ("zfs", &["list", "get", "diff"]),
    ("apt", &["list", "show", "policy", "search"]),
    ("apt-get", &["check"]),
    ("git", &["status", "log", "diff", "show", "branch", "remote", "rev-parse"]),
    ("restic", &["snapshots", "stats", "check", "ls", "cat", "find", "diff", "version"]),
    ("borg", &["list", "info", "check", "diff", "--version"]),
];

/// Flags that make an otherwise reading command write.
const WRITING_FLAGS: &[(&str, &[&str])] = &[
    ("find", &["-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprintf", "-fls"]),
    ("journalctl", &["--vacuum-size", "--vacuum-time", "--vacuum-files", "--rotate", "--flush", "--relinquish-var"]),
    ("sort", &["-o", "--output"]),
    ("curl", &["-o", "-O", "--output", "--remote-name", "-T", "--upload-file", "-X", "--request", "-d", "--data"]),
    ("smartctl", &["-s", "--smart", "-t", "--test", "-X", "--abort", "-o", "--offlineauto", "-S", "--saveauto"]),
    ("ss", &["-K", "--kill"]),
];

/// Does a shell command (or command pattern) change the machine, as far as
/// we know? This flags rules that contradict a read-only agent at validation
/// time; it is not the runtime policy: a command we do not know is not
/// flagged here, and the runner lets a read-only agent run only what its
/// `allow` rules name.
pub fn command_writes(pattern: &str) -> bool {
    if pattern.contains('>') || pattern.contains("$(") || pattern.contains('`') {
        return true;
    }
    pattern.split(['|', ';', '&']).map(str::trim).filter(|p| !p.is_empty()).any(|part| {
        let mut words = part.split_whitespace();
        let Some(cmd) = words.next() else { return false };
        let cmd = cmd.rsplit('/').next().unwrap_or(cmd);
        if cmd == "*" || WRITING_COMMANDS.contains(&cmd) || cmd.starts_with("mkfs.") {
            return true;
        }
        if cmd == "sed" && part.split_whitespace().any(|w| w == "-i" || w.starts_with("--in-place")) {
            return true;
        }
        if let Some((_, flags)) = WRITING_FLAGS.iter().find(|(c, _)| *c == cmd) {
            return part.split_whitespace().skip(1).any(|w| {
                let flag = w.split('=').next().unwrap_or(w);
                flags.contains(&flag)
                    || flags
                        .iter()
                        .any(|f| f.len() == 2 && f.starts_with('-') && w.starts_with(f) && !w.starts_with("--"))
            });
        }
        match READ_SUBCOMMANDS.iter().find(|(c, _)| *c == cmd) {
            None => false,
            Some((_, reads)) => {
                // The first word that is not an option; docker's "system df"
                // and "image ls" count by their last verb.
                let verbs: Vec<&str> = words.filter(|w| *w != "*").collect();
                match verbs.iter().find(|w| !w.starts_with('-')).or(verbs.first()) {
                    None => true,
                    Some(first) => {
                        let nested = ["system", "image", "container", "volume", "network", "compose"];
                        let verb = if nested.contains(first) { verbs.get(1).unwrap_or(first) } else { first };
                        !reads.contains(verb) && !reads.contains(first)
                    }
                }
            }
        }
    })
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
    fn shell_patterns_that_write_are_recognised() {
        for p in [
            "rm -rf *",
            "docker image prune *",
            "docker restart *",
            "systemctl restart *",
            "zpool scrub *",
            "ls; rm *",
            "echo x > /etc/passwd",
            "*",
            "sed -i s/a/b/ f",
            "/usr/bin/rm *",
        ] {
            assert!(command_writes(p), "{p} writes");
        }
        for p in [
            "zpool status *",
            "docker ps *",
            "docker system df",
            "docker image ls *",
            "systemctl status *",
            "df -h",
            "ls *",
            "smartctl -H *",
            "journalctl -u *",
            "zfs list *",
        ] {
            assert!(!command_writes(p), "{p} only reads");
        }
    }
}
