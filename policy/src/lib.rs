//! The tool policy: decides every tool call the model makes, from the
//! agent's `mode` and its `allow` / `approve` / `deny` rules.
//!
//! Data enters as an [`AgentSpec`] (once per run, [`Policy::new`]) and as
//! one tool call at a time: the tool name and input JSON that the `claude`
//! CLI sends in its `PreToolUse` hook and `can_use_tool` requests. It leaves
//! as a [`Verdict`]: allow, deny (with a reason the model can act on) or
//! approve (hold for a human), plus the rule that decided, for the
//! `tool.call` event; [`Policy::explain`] adds what the analysis saw, for
//! `can-i` dry runs. [`Policy::offered_tools`] gives the `--tools` list, so
//! the model is never offered what the policy would always refuse.
//!
//! The order of precedence, for every tool: `deny` rules win over
//! everything; then `approve` (a read-only agent is never held for approval:
//! what would be held is denied); then `allow`; then the defaults. Read-only
//! agents may use the reading tools and run shell commands that only read
//! and that their allow rules name (or that read without one: `ls`, `cat`,
//! …); nothing else. Read-write agents run what is allowed or only reads and
//! hold everything else for approval.
//!
//! A shell command is split into its parts by `car_shell`, each part judged
//! on its own and the command allowed only if every part is; whatever the
//! analysis does not fully understand fails closed: denied for a read-only
//! agent, held for approval for a read-write one. The kernel backs this up
//! for read-only agents (the runner's Landlock jail), so a mistake here
//! cannot write a file.

mod bash;
mod explain;
mod pattern;
mod shell_rule;
#[cfg(test)]
mod tests;

use std::fmt;

use car_schemas::kinds::agent::{AgentSpec, Mode};
use car_schemas::rules::{SHELL_TOOL, ToolRule, WRITE_TOOLS};
use car_shell::paths::{Resolve, resolve};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

pub use explain::{exit_code, input_for};
use pattern::{ancestors, could_match_below, glob_path, literal_dir};

/// The tool the CLI uses to return the structured report (`--json-schema`).
pub const STRUCTURED_OUTPUT_TOOL: &str = "StructuredOutput";

/// Tools that only read files and are allowed unless denied. `Read(…)`
/// rules apply to all of them, as in Claude Code.
const READING_TOOLS: &[&str] = &["Read", "Grep", "Glob", "LS", "NotebookRead"];

/// What happens to the call: it runs, it is refused, or it waits for a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ToolDecision)]
pub enum Decision {
    Allow,
    Deny,
    /// Hold the call until a human approves or denies it.
    #[serde(rename = "approval")]
    Approve,
}

impl Decision {
    /// The name used in `tool.call` events: `allow`, `deny`, `approval`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::Approve => "approval",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The policy's decision on one tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = ToolVerdict)]
pub struct Verdict {
    pub decision: Decision,
    /// What decided: a rule as written (`Bash(zpool status *)`), or
    /// `built-in: …` (a fact the policy knows) or `default: …` (no rule matched).
    pub rule: String,
    /// One sentence: for a denial, what the model can do instead; for an
    /// approval, what the human is asked to allow.
    pub reason: String,
}

impl Verdict {
    fn new(decision: Decision, rule: impl Into<String>, reason: impl Into<String>) -> Self {
        Verdict { decision, rule: rule.into(), reason: reason.into() }
    }
}

/// A verdict and what the analysis saw on the way to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = PolicyExplanation)]
pub struct Explanation {
    #[serde(flatten)]
    pub verdict: Verdict,
    /// For a shell command, each part as the analysis saw it, in the order
    /// bash runs them; empty for other tools.
    pub parts: Vec<PartReport>,
}

/// What a part of a shell command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PartKind {
    /// A simple command.
    Command,
    /// A shell variable set on its own.
    Assignment,
    /// A redirection to or from a file.
    Redirect,
    /// Syntax the analysis does not check.
    Unchecked,
}

impl fmt::Display for PartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PartKind::Command => "command",
            PartKind::Assignment => "assignment",
            PartKind::Redirect => "redirect",
            PartKind::Unchecked => "unchecked",
        })
    }
}

/// One part of a shell command, and the policy's verdict on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = PolicyPart)]
pub struct PartReport {
    pub kind: PartKind,
    /// The part as one line, quotes removed.
    pub text: String,
    /// A command's words as bash passes them; a computed word as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<String>,
    /// The program that runs, after wrappers such as `timeout` and `sudo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// The words rules are also matched against: wrappers dropped, aliases resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canonical: Option<String>,
    /// Whether the command only reads, as its program's description says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_reads: Option<bool>,
    /// Why it is not only a read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_reads: Vec<String>,
    /// Files whose content it reads.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<String>,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The rules of one agent, ready to decide tool calls.
#[derive(Debug, Clone)]
pub struct Policy {
    mode: Mode,
    allow: Vec<ToolRule>,
    approve: Vec<ToolRule>,
    deny: Vec<ToolRule>,
    workdir: Option<String>,
    resolve: Resolve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Allow,
    Approve,
    Deny,
}

/// What a file tool or command does with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Reads one file.
    File,
    /// Reads below a directory (Grep, Glob, LS, `grep -r`): a rule on
    /// anything inside it applies to the search.
    Tree,
    /// Changes the file.
    Write,
}

impl Policy {
    pub fn new(spec: &AgentSpec) -> Self {
        let rules = |list: &[car_schemas::de::Spanned<ToolRule>]| list.iter().map(|r| r.value.clone()).collect();
        Policy {
            mode: spec.mode,
            allow: rules(&spec.tools.allow),
            approve: rules(&spec.tools.approve),
            deny: rules(&spec.tools.deny),
            workdir: None,
            resolve: Resolve::Lexical,
        }
    }

    /// The directory the CLI starts in: relative paths in rules (`Edit(src/**)`)
    /// and in tool inputs are resolved against it unless a call says where it
    /// runs. Without it, relative rules never allow and a relative path is
    /// assumed to hit every deny rule.
    pub fn with_workdir(mut self, dir: impl Into<String>) -> Self {
        let dir = dir.into();
        self.workdir = dir.starts_with('/').then(|| car_shell::paths::normalize(&dir, None));
        self
    }

    /// Follow symbolic links on this machine before matching paths: right
    /// where the calls run (the runner), wrong anywhere else.
    pub fn resolving_links(mut self) -> Self {
        self.resolve = Resolve::Filesystem;
        self
    }

    fn read_only(&self) -> bool {
        self.mode == Mode::ReadOnly
    }

    fn rules(&self, list: List) -> &[ToolRule] {
        match list {
            List::Allow => &self.allow,
            List::Approve => &self.approve,
            List::Deny => &self.deny,
        }
    }

    /// Decide one tool call, given the tool name and input as the CLI sends them.
    pub fn decide(&self, tool: &str, input: &Value) -> Verdict {
        self.explain(tool, input, None).verdict
    }

    /// [`Policy::decide`] for a call made in directory `cwd` (the CLI says
    /// where each call runs), with what the analysis saw.
    pub fn explain(&self, tool: &str, input: &Value, cwd: Option<&str>) -> Explanation {
        let cwd = cwd.filter(|c| c.starts_with('/')).map(String::from).or_else(|| self.workdir.clone());
        let cwd = cwd.as_deref();
        if tool == STRUCTURED_OUTPUT_TOOL {
            return plain(Verdict::new(
                Decision::Allow,
                "built-in: structured report",
                "the structured report ends the run",
            ));
        }
        let field = |name: &str| input.get(name).and_then(Value::as_str);
        let verdict =
            match tool {
                SHELL_TOOL => match field("command") {
                    Some(command) => return self.shell(command, cwd),
                    None => malformed(tool, "command"),
                },
                "Read" | "NotebookRead" => match field("file_path").or_else(|| field("notebook_path")) {
                    Some(path) => self.file(tool, path, Access::File, cwd),
                    None => malformed(tool, "file_path"),
                },
                "LS" => match field("path") {
                    Some(path) => self.file(tool, path, Access::Tree, cwd),
                    None => malformed(tool, "path"),
                },
                "Grep" | "Glob" => {
                    let base = field("path").or(cwd).unwrap_or(".");
                    let root = match (tool, field("pattern").map(literal_dir)) {
                        // A Glob pattern may be absolute, or climb out of its path: `../../etc/*`.
                        ("Glob", Some(dir)) if dir.starts_with('/') => dir.to_string(),
                        ("Glob", Some(dir)) => format!("{base}/{dir}"),
                        _ => base.to_string(),
                    };
                    self.file(tool, &root, Access::Tree, cwd)
                }
                t if WRITE_TOOLS.contains(&t) => match field("file_path").or_else(|| field("notebook_path")) {
                    Some(path) => self.file(tool, path, Access::Write, cwd),
                    None => malformed(tool, "file_path"),
                },
                "WebFetch" => match field("url") {
                    Some(url) => {
                        let host = pattern::url_host(url);
                        self.single(tool, &format!("WebFetch {url}"), false, &|p: &str, _| match p
                            .strip_prefix("domain:")
                        {
                            Some(domain) => host.as_deref().is_some_and(|h| pattern::domain_matches(domain, h)),
                            None => pattern::wildcard(p, url),
                        })
                    }
                    None => malformed(tool, "url"),
                },
                _ => {
                    // Anything else: a pattern is matched against the input as JSON.
                    let text = match input {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    self.single(tool, tool, false, &|p: &str, _| pattern::wildcard(p, &text))
                }
            };
        plain(verdict)
    }

    /// The tools to offer the model (`--tools`): those the policy could
    /// ever allow or hold for approval, less any a bare deny rule removes.
    /// `StructuredOutput` is left out: the CLI adds it itself.
    pub fn offered_tools(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut offer = |tool: &str| {
            if tool != STRUCTURED_OUTPUT_TOOL && !self.bare_denied(tool) && !out.iter().any(|t| t == tool) {
                out.push(tool.to_string());
            }
        };
        // The shell always has something to run: the reading commands
        // (read-only) or anything, with approval (read-write).
        offer(SHELL_TOOL);
        for t in ["Read", "Grep", "Glob"] {
            offer(t);
        }
        if !self.read_only() {
            offer("Edit");
            offer("Write");
        }
        for rule in &self.allow {
            if !(self.read_only() && WRITE_TOOLS.contains(&rule.tool.as_str())) {
                offer(&rule.tool);
            }
        }
        if !self.read_only() {
            for rule in &self.approve {
                offer(&rule.tool);
            }
        }
        out
    }

    fn bare_denied(&self, tool: &str) -> bool {
        self.deny.iter().any(|r| r.pattern.is_none() && applies(&r.tool, tool))
    }

    /// The first rule of a list that applies to the tool and whose pattern
    /// (if any) matches. `generous` asks for the wider reading where a rule
    /// cannot be checked exactly: right for deny and approve, wrong for allow.
    fn find(&self, list: List, tool: &str, matches: &dyn Fn(&str, bool) -> bool) -> Option<&ToolRule> {
        let generous = list != List::Allow;
        self.rules(list)
            .iter()
            .find(|r| applies(&r.tool, tool) && r.pattern.as_deref().is_none_or(|p| matches(p, generous)))
    }

    /// A tool call with one target (a file, a URL, an input).
    fn single(&self, tool: &str, what: &str, writes: bool, matches: &dyn Fn(&str, bool) -> bool) -> Verdict {
        if let Some(r) = self.find(List::Deny, tool, matches) {
            return deny_rule(r, what);
        }
        if let Some(r) = self.find(List::Approve, tool, matches) {
            return self.approve_rule(r, what);
        }
        if writes && self.read_only() {
            return Verdict::new(
                Decision::Deny,
                "built-in: read-only agent",
                format!(
                    "this agent is read-only: {tool} changes files; describe the change in your report instead of making it"
                ),
            );
        }
        if let Some(r) = self.find(List::Allow, tool, matches) {
            return Verdict::new(Decision::Allow, r.to_string(), format!("{what} matches allow rule {r}"));
        }
        if READING_TOOLS.contains(&tool) {
            return Verdict::new(Decision::Allow, "default: reading tool", format!("{tool} only reads"));
        }
        if self.read_only() {
            Verdict::new(
                Decision::Deny,
                "default: read-only agent",
                format!(
                    "this agent is read-only and its rules do not allow {tool}; use Read, Grep, Glob or the shell commands it may run"
                ),
            )
        } else {
            Verdict::new(
                Decision::Approve,
                "default: needs approval",
                format!("{what} is not named by the agent's allow rules"),
            )
        }
    }

    fn approve_rule(&self, r: &ToolRule, what: &str) -> Verdict {
        if self.read_only() {
            Verdict::new(
                Decision::Deny,
                r.to_string(),
                format!(
                    "this agent is read-only, so {what} cannot be held for approval (approve rule {r}); report what should be done instead"
                ),
            )
        } else {
            Verdict::new(Decision::Approve, r.to_string(), format!("{what} matches approve rule {r}"))
        }
    }

    /// Deny for a read-only agent, hold for approval otherwise.
    fn fail_closed(&self, rule: &str, reason: String) -> Verdict {
        let decision = if self.read_only() { Decision::Deny } else { Decision::Approve };
        Verdict::new(decision, rule, reason)
    }

    /// A file tool: Read, Grep, Glob, LS, Write, Edit, …
    fn file(&self, tool: &str, path: &str, access: Access, cwd: Option<&str>) -> Verdict {
        let shown = car_shell::paths::normalize(path, cwd);
        let what = format!("{tool} {shown}");
        let verdict = self.single(tool, &what, access == Access::Write, &|p: &str, generous| {
            self.path_matches_any_form(p, path, cwd, generous, access == Access::Tree)
        });
        if access == Access::Tree
            && verdict.decision == Decision::Deny
            && self.deny.iter().any(|r| r.to_string() == verdict.rule)
        {
            let reason = format!(
                "the agent's deny rule {} covers files below {shown}; search a narrower path that leaves them out",
                verdict.rule
            );
            return Verdict { reason, ..verdict };
        }
        verdict
    }

    /// Does a path rule match `path` in the forms it resolves to? Generous
    /// (deny, approve): any form, and a path through a descriptor matches
    /// everything. Strict (allow): every form, and such a path nothing.
    fn path_matches_any_form(&self, pattern: &str, path: &str, cwd: Option<&str>, generous: bool, tree: bool) -> bool {
        let resolved = resolve(path, cwd, self.resolve);
        if resolved.opaque {
            return generous;
        }
        let matches = |form: &String| self.path_matches(pattern, form, generous, tree);
        if generous { resolved.forms.iter().any(matches) } else { resolved.forms.iter().all(matches) }
    }

    /// Does a path rule's pattern match a (normalized) path? `//x` and `/x`
    /// are absolute, anything else is relative to the working directory.
    fn path_matches(&self, pattern: &str, path: &str, generous: bool, tree: bool) -> bool {
        let resolved = if let Some(abs) = pattern.strip_prefix("//") {
            Some(format!("/{abs}"))
        } else if pattern.starts_with('/') {
            Some(pattern.to_string())
        } else if pattern.starts_with('~') {
            None
        } else {
            self.workdir.as_ref().map(|w| format!("{w}/{}", pattern.trim_start_matches("./")))
        };
        if !path.starts_with('/') {
            // A relative path with no working directory: it could be anywhere.
            return generous;
        }
        let pat = match resolved {
            Some(pat) => pat,
            // `~/…`, or relative without a working directory: at any depth.
            None if generous => format!("**/{}", pattern.trim_start_matches("~/").trim_start_matches("./")),
            None => return false,
        };
        if glob_path(&pat, path) {
            return true;
        }
        // The wider reading: a rule on a directory covers what is inside it
        // (`Read(//root/*)` covers `/root/.ssh/id_rsa`), and a search covers
        // every file below where it starts.
        generous && (ancestors(path).any(|dir| glob_path(&pat, dir)) || (tree && could_match_below(&pat, path)))
    }
}

fn plain(verdict: Verdict) -> Explanation {
    Explanation { verdict, parts: Vec::new() }
}

/// Does a rule on `rule_tool` apply to a call of `tool`? `Read(…)` rules
/// cover every reading tool and a rule on one write tool covers them all,
/// as in Claude Code; `mcp__server` covers every tool of that server.
fn applies(rule_tool: &str, tool: &str) -> bool {
    rule_tool == tool
        || (rule_tool == "Read" && READING_TOOLS.contains(&tool))
        || (WRITE_TOOLS.contains(&rule_tool) && WRITE_TOOLS.contains(&tool))
        || (rule_tool.starts_with("mcp__") && tool.strip_prefix(rule_tool).is_some_and(|rest| rest.starts_with("__")))
}

fn deny_rule(r: &ToolRule, what: &str) -> Verdict {
    Verdict::new(
        Decision::Deny,
        r.to_string(),
        format!("the agent's deny rule {r} refuses {what}; do not try it another way"),
    )
}

fn malformed(tool: &str, field: &str) -> Verdict {
    Verdict::new(Decision::Deny, "built-in: malformed input", format!("the {tool} call has no {field}; give one"))
}
