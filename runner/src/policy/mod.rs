//! The tool policy: decides every tool call the model makes, from the
//! agent's `mode` and its `allow` / `approve` / `deny` rules.
//!
//! Data enters as an [`AgentSpec`] (once per run, [`Policy::new`]) and as
//! one tool call at a time: the tool name and input JSON that the `claude`
//! CLI sends in its `PreToolUse` hook and `can_use_tool` requests. It leaves
//! as a [`Verdict`]: allow, deny (with a reason the model can act on) or
//! approve (hold for a human), plus the rule that decided, for the
//! `tool.call` event. [`Policy::offered_tools`] gives the `--tools` list, so
//! the model is never offered what the policy would always refuse.
//!
//! The order of precedence, for every tool: `deny` rules win over
//! everything; then `approve` (a read-only agent is never held for approval:
//! what would be held is denied); then `allow`; then the defaults. Read-only
//! agents may use the reading tools and run shell commands that their allow
//! rules name or that only read; nothing else. Read-write agents run what is
//! allowed or only reads and hold everything else for approval.
//!
//! A shell command is split into its parts (the `shell` module) and each part is
//! decided on its own: the command runs only if every part may run, so
//! `zpool status; rm -rf /` does not pass as `Bash(zpool status *)`.
//! Whatever the shell analysis cannot check fails closed: denied for a
//! read-only agent, held for approval for a read-write one.

mod commands;
mod pattern;
mod shell;
#[cfg(test)]
mod tests;

use std::fmt;

use car_schemas::kinds::agent::{AgentSpec, Mode};
use car_schemas::rules::{SHELL_TOOL, ToolRule, WRITE_TOOLS, command_writes};
use serde_json::Value;

use pattern::{
    ancestors, command_matches, could_match_below, glob_path, literal_dir, matches_everything, normalize_path,
};
use shell::{Part, PartKind};

/// The tool the CLI uses to return the structured report (`--json-schema`).
pub const STRUCTURED_OUTPUT_TOOL: &str = "StructuredOutput";

/// Tools that only read files and are allowed unless denied. `Read(…)`
/// rules apply to all of them, as in Claude Code.
const READING_TOOLS: &[&str] = &["Read", "Grep", "Glob", "LS", "NotebookRead"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow,
    Deny,
    /// Hold the call until a human approves or denies it.
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

#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The rules of one agent, ready to decide tool calls.
#[derive(Debug, Clone)]
pub struct Policy {
    mode: Mode,
    allow: Vec<ToolRule>,
    approve: Vec<ToolRule>,
    deny: Vec<ToolRule>,
    workdir: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Allow,
    Approve,
    Deny,
}

/// What a file tool does with its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Reads one file.
    File,
    /// Reads below a directory (Grep, Glob, LS): a rule on anything inside
    /// it applies to the search.
    Tree,
    /// Changes the file.
    Write,
}

/// A part's verdict, and whether a deny rule gave it.
struct PartVerdict {
    verdict: Verdict,
    by_deny_rule: bool,
}

impl From<Verdict> for PartVerdict {
    fn from(verdict: Verdict) -> Self {
        PartVerdict { verdict, by_deny_rule: false }
    }
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
        }
    }

    /// The directory the CLI runs in: relative paths in rules (`Edit(src/**)`)
    /// and in file tool inputs are resolved against it. Without it, relative
    /// rules never allow and a relative path is assumed to hit every deny rule.
    pub fn with_workdir(mut self, dir: impl Into<String>) -> Self {
        let dir = dir.into();
        self.workdir = dir.starts_with('/').then(|| normalize_path(&dir, None));
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
        if tool == STRUCTURED_OUTPUT_TOOL {
            return Verdict::new(Decision::Allow, "built-in: structured report", "the structured report ends the run");
        }
        let field = |name: &str| input.get(name).and_then(Value::as_str);
        match tool {
            SHELL_TOOL => match field("command") {
                Some(command) => self.shell(command),
                None => malformed(tool, "command"),
            },
            "Read" | "NotebookRead" => match field("file_path").or_else(|| field("notebook_path")) {
                Some(path) => self.file(tool, path, Access::File),
                None => malformed(tool, "file_path"),
            },
            "LS" => match field("path") {
                Some(path) => self.file(tool, path, Access::Tree),
                None => malformed(tool, "path"),
            },
            "Grep" | "Glob" => {
                let base = field("path").or(self.workdir.as_deref()).unwrap_or(".");
                let root = match (tool, field("pattern").map(literal_dir)) {
                    // A Glob pattern may be absolute, or climb out of its path: `../../etc/*`.
                    ("Glob", Some(dir)) if dir.starts_with('/') => dir.to_string(),
                    ("Glob", Some(dir)) => format!("{base}/{dir}"),
                    _ => base.to_string(),
                };
                self.file(tool, &root, Access::Tree)
            }
            t if WRITE_TOOLS.contains(&t) => match field("file_path").or_else(|| field("notebook_path")) {
                Some(path) => self.file(tool, path, Access::Write),
                None => malformed(tool, "file_path"),
            },
            "WebFetch" => {
                let Some(url) = field("url") else { return malformed(tool, "url") };
                let host = pattern::url_host(url);
                self.single(tool, &format!("WebFetch {url}"), false, &|p: &str, _| match p.strip_prefix("domain:") {
                    Some(domain) => host.as_deref().is_some_and(|h| pattern::domain_matches(domain, h)),
                    None => pattern::wildcard(p, url),
                })
            }
            _ => {
                // Anything else: a pattern is matched against the input as JSON.
                let text = match input {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                self.single(tool, tool, false, &|p: &str, _| pattern::wildcard(p, &text))
            }
        }
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

    /// A file tool: Read, Grep, Glob, LS, Write, Edit, …
    fn file(&self, tool: &str, path: &str, access: Access) -> Verdict {
        let path = normalize_path(path, self.workdir.as_deref());
        let what = format!("{tool} {path}");
        let verdict = self.single(tool, &what, access == Access::Write, &|p: &str, generous| {
            self.path_matches(p, &path, generous, access == Access::Tree)
        });
        if access == Access::Tree
            && verdict.decision == Decision::Deny
            && self.deny.iter().any(|r| r.to_string() == verdict.rule)
        {
            let reason = format!(
                "the agent's deny rule {} covers files below {path}; search a narrower path that leaves them out",
                verdict.rule
            );
            return Verdict { reason, ..verdict };
        }
        verdict
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

    fn shell(&self, command: &str) -> Verdict {
        // Only what bash itself skips: `\r` and other Unicode spaces are part of a word.
        let raw = command.trim_matches([' ', '\t', '\n']);
        if raw.is_empty() {
            return Verdict::new(
                Decision::Deny,
                "built-in: empty command",
                "the command is empty; give the command to run",
            );
        }
        // Deny rules also see the command as written, so no rewriting of it
        // into parts can hide it from them.
        if let Some(r) = self.find(List::Deny, SHELL_TOOL, &|p, _| command_matches(p, raw)) {
            return deny_rule(r, &format!("`{raw}`"));
        }
        let parts = shell::analyse(raw);
        if parts.is_empty() {
            return self.fail_closed(
                "built-in: nothing to check",
                "the command holds no command the policy can check; write the command to run".to_string(),
            );
        }
        combine(parts.iter().map(|p| self.part(p)).collect())
    }

    /// Deny for a read-only agent, hold for approval otherwise.
    fn fail_closed(&self, rule: &str, reason: String) -> Verdict {
        let decision = if self.read_only() { Decision::Deny } else { Decision::Approve };
        Verdict::new(decision, rule, reason)
    }

    fn shell_rule(&self, list: List, texts: &[&str]) -> Option<&ToolRule> {
        self.find(list, SHELL_TOOL, &|p, _| texts.iter().any(|t| command_matches(p, t)))
    }

    fn part(&self, part: &Part) -> PartVerdict {
        let text = part.text.as_str();
        match &part.kind {
            PartKind::Unchecked { what, detail } => self
                .fail_closed(
                    &format!("built-in: unchecked {what}"),
                    format!("the policy cannot check this command ({what}: {detail}); rewrite it as plain commands"),
                )
                .into(),
            PartKind::Command { name, args, assignments, risky_assignment } => {
                let with_assignments = format!("{assignments} {text}");
                // `/bin/rm -rf /` is still `rm -rf /` to a deny rule.
                let base_name = name
                    .as_deref()
                    .and_then(|n| Some((n.rsplit_once('/')?.1, text.get(n.len()..)?)))
                    .map(|(base, rest)| format!("{base}{rest}"));
                let mut deny_texts = vec![text];
                if !assignments.is_empty() {
                    deny_texts.push(&with_assignments);
                }
                if let Some(b) = &base_name {
                    deny_texts.push(b);
                }
                if let Some(r) = self.shell_rule(List::Deny, &deny_texts) {
                    return PartVerdict { verdict: deny_rule(r, &format!("`{text}`")), by_deny_rule: true };
                }
                if let Some(r) = self.shell_rule(List::Approve, &deny_texts) {
                    return self.approve_rule(r, &format!("`{text}`")).into();
                }
                self.command(text, name.as_deref(), args, risky_assignment.as_deref()).into()
            }
            PartKind::Assignment { name, risky } => {
                if let Some(r) = self.shell_rule(List::Deny, &[text]) {
                    return PartVerdict { verdict: deny_rule(r, &format!("`{text}`")), by_deny_rule: true };
                }
                if let Some(r) = self.shell_rule(List::Approve, &[text]) {
                    return self.approve_rule(r, &format!("`{text}`")).into();
                }
                if let Some(r) = self.shell_rule(List::Allow, &[text]) {
                    return Verdict::new(Decision::Allow, r.to_string(), format!("`{text}` matches allow rule {r}"))
                        .into();
                }
                if *risky {
                    self.fail_closed(
                        "built-in: risky variable assignment",
                        format!("setting {name} changes which programs run or what they do, so the policy cannot check the commands after it; leave {name} as it is"),
                    )
                    .into()
                } else {
                    Verdict::new(
                        Decision::Allow,
                        "built-in: shell variable assignment",
                        format!("`{text}` only sets a shell variable"),
                    )
                    .into()
                }
            }
            PartKind::WriteRedirect { target } => self.redirect(text, target.as_deref()),
        }
    }

    fn command(&self, text: &str, name: Option<&str>, args: &[shell::Word], risky: Option<&str>) -> Verdict {
        let checkable = name.is_some() && risky.is_none();
        // A command whose name is computed, or which runs with PATH or
        // LD_PRELOAD changed, is only admitted by a rule admitting anything.
        let allowed = self.find(List::Allow, SHELL_TOOL, &|p, _| {
            if checkable { command_matches(p, text) } else { matches_everything(p) }
        });
        if let Some(r) = allowed {
            if self.read_only() {
                if command_writes(&sanitized(name, args)) {
                    return Verdict::new(
                        Decision::Deny,
                        "built-in: read-only agent",
                        format!(
                            "this agent is read-only: `{text}` changes the machine, even though allow rule {r} names it; report what should be done instead of doing it"
                        ),
                    );
                }
                if let Some(arg) = computed_writing_arg(name, args) {
                    return Verdict::new(
                        Decision::Deny,
                        "built-in: read-only agent",
                        format!(
                            "this agent is read-only and `{arg}` in `{text}` is computed when it runs, where it could make the command change the machine; write that argument literally"
                        ),
                    );
                }
            }
            return Verdict::new(Decision::Allow, r.to_string(), format!("`{text}` matches allow rule {r}"));
        }
        let Some(name) = name else {
            return self.fail_closed(
                "built-in: computed command name",
                format!("the command name in `{text}` is computed when it runs, so the policy cannot check it; write the command name literally"),
            );
        };
        if let Some(var) = risky {
            return self.fail_closed(
                "built-in: risky variable assignment",
                format!("setting {var} changes which program runs or what it does, so the policy cannot check `{text}`; run it without setting {var}"),
            );
        }
        if commands::only_reads(name, args) {
            return Verdict::new(Decision::Allow, "built-in: reading command", format!("`{name}` only reads"));
        }
        let writes = command_writes(&sanitized(Some(name), args));
        if self.read_only() {
            let reason = if writes {
                format!(
                    "this agent is read-only: `{text}` changes the machine; report what should be done instead of doing it"
                )
            } else {
                format!(
                    "this agent is read-only and `{text}` is neither named by its allow rules nor a known reading command; it may run {}",
                    self.runnable()
                )
            };
            Verdict::new(Decision::Deny, "default: read-only agent", reason)
        } else {
            let reason = if writes {
                format!("`{text}` changes the machine and no allow rule names it")
            } else {
                format!("`{text}` is not named by the agent's allow rules")
            };
            Verdict::new(Decision::Approve, "default: needs approval", reason)
        }
    }

    /// What a read-only agent may run, for a denial the model can act on.
    fn runnable(&self) -> String {
        let mut allowed: Vec<String> = self
            .allow
            .iter()
            .filter(|r| r.tool == SHELL_TOOL)
            .filter_map(|r| r.pattern.as_ref().map(|p| format!("`{p}`")))
            .collect();
        allowed.push(format!("simple reading commands ({}, …)", commands::READING_COMMANDS[..8].join(", ")));
        format!("{}, or use the Read, Grep and Glob tools", allowed.join(", "))
    }

    /// A redirection that writes a file: the write-tool rules (`Write(…)`,
    /// `Edit(…)`) decide it like a Write of that file; a bare `Bash` allow
    /// rule, which admits any command, admits it too.
    fn redirect(&self, text: &str, target: Option<&str>) -> PartVerdict {
        let path = target.map(|t| normalize_path(t, None)).filter(|p| p.starts_with('/'));
        let matches = |p: &str, generous: bool| match &path {
            Some(path) => self.path_matches(p, path, generous, false),
            // Relative (the shell may have changed directory) or computed.
            None => generous,
        };
        let write_rule = |list: List| WRITE_TOOLS.iter().find_map(|t| self.find(list, t, &matches));
        if let Some(r) = write_rule(List::Deny) {
            let reason = match &path {
                Some(_) => format!("the agent's deny rule {r} refuses `{text}`; do not try it another way"),
                None => format!(
                    "the target of `{text}` is relative or computed, so it cannot be checked against deny rule {r}; use an absolute path"
                ),
            };
            return PartVerdict { verdict: Verdict::new(Decision::Deny, r.to_string(), reason), by_deny_rule: true };
        }
        if self.read_only() {
            return Verdict::new(
                Decision::Deny,
                "built-in: read-only agent",
                format!(
                    "this agent is read-only: `{text}` writes a file; drop the redirection and read the output directly"
                ),
            )
            .into();
        }
        if let Some(r) = write_rule(List::Approve) {
            return Verdict::new(Decision::Approve, r.to_string(), format!("`{text}` matches approve rule {r}")).into();
        }
        let everything =
            self.allow.iter().find(|r| r.tool == SHELL_TOOL && r.pattern.as_deref().is_none_or(matches_everything));
        if let Some(r) = everything.or_else(|| write_rule(List::Allow)) {
            return Verdict::new(Decision::Allow, r.to_string(), format!("`{text}` matches allow rule {r}")).into();
        }
        Verdict::new(
            Decision::Approve,
            "default: needs approval",
            format!("`{text}` writes a file and no allow rule names it"),
        )
        .into()
    }
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

/// A command's words as `command_writes` should see them: characters that
/// are shell syntax to it but quoted data here (`grep 'a;b'`) are blanked.
fn sanitized(name: Option<&str>, args: &[shell::Word]) -> String {
    let clean = |w: &str| w.replace(['|', ';', '&', '>', '<', '`'], "_").replace("$(", "$_");
    let mut words = vec![clean(name.unwrap_or("_"))];
    words.extend(args.iter().map(|a| clean(&a.text)));
    words.join(" ")
}

/// An argument computed at run time (`$X`, a glob) that could be a writing
/// option or subcommand (`find . $X` with `X=-delete`, `docker $VERB web`):
/// `command_writes` is asked with writing words in its place.
fn computed_writing_arg<'a>(name: Option<&str>, args: &'a [shell::Word]) -> Option<&'a str> {
    const PROBES: &[&str] = &[
        "-delete",
        "-exec",
        "-fprint",
        "-i",
        "-o",
        "-O",
        "--output",
        "-d",
        "--data",
        "-X",
        "-T",
        "-s",
        "-t",
        "-S",
        "-K",
        "--vacuum-size",
        "--rotate",
        "rm",
    ];
    args.iter().enumerate().filter(|(_, a)| a.dynamic).find_map(|(i, arg)| {
        let writes = PROBES.iter().any(|probe| {
            let mut probed = args.to_vec();
            probed[i] = shell::Word { text: (*probe).to_string(), dynamic: false };
            command_writes(&sanitized(name, &probed))
        });
        writes.then_some(arg.text.as_str())
    })
}

/// One verdict for a whole command: a deny rule's denial first, then the
/// first denial, then the approvals (all their reasons, for the human),
/// else allowed, naming every rule that allowed a part.
fn combine(parts: Vec<PartVerdict>) -> Verdict {
    if let Some(p) = parts.iter().find(|p| p.by_deny_rule) {
        return p.verdict.clone();
    }
    if let Some(p) = parts.iter().find(|p| p.verdict.decision == Decision::Deny) {
        return p.verdict.clone();
    }
    let joined = |decision: Decision, separator: &str, field: fn(&Verdict) -> &String| {
        let mut seen: Vec<&str> = Vec::new();
        for p in parts.iter().filter(|p| p.verdict.decision == decision) {
            let s = field(&p.verdict).as_str();
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
        seen.join(separator)
    };
    if let Some(first) = parts.iter().find(|p| p.verdict.decision == Decision::Approve) {
        return Verdict::new(
            Decision::Approve,
            first.verdict.rule.clone(),
            joined(Decision::Approve, "; ", |v| &v.reason),
        );
    }
    Verdict::new(
        Decision::Allow,
        joined(Decision::Allow, ", ", |v| &v.rule),
        joined(Decision::Allow, "; ", |v| &v.reason),
    )
}
