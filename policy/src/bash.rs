//! The shell tool: a command split into parts by `car_shell`, each part
//! judged on its own, one verdict for the whole.
//!
//! A simple command is matched against the rules in several views: its
//! words as bash passes them (quotes removed, `$'…'` decoded), the program
//! it runs behind wrappers (`timeout 5 …`), and its canonical form (aliases
//! resolved, paths normalised). Deny and approve rules refuse or hold it if
//! any view matches, as text or by meaning; an allow rule admits it only if
//! the words it names literally cover everything in the command that is not
//! a read. Commands that read files obey the agent's `Read` rules on them.

use car_schemas::rules::{SHELL_TOOL, ToolRule, WRITE_TOOLS};
use car_shell::command::Access as Reads;
use car_shell::{Classified, Command, Part, PathUse, Redirect, Word, classify, env};

use crate::pattern::{command_matches, matches_everything};
use crate::shell_rule::{by_meaning, named_words};
use crate::{Decision, Explanation, List, PartKind, PartReport, Policy, Verdict, deny_rule};

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

/// A report of a part with only its kind and text; the verdict is filled in later.
fn report(kind: PartKind, text: String) -> PartReport {
    PartReport {
        kind,
        text,
        words: Vec::new(),
        program: None,
        canonical: None,
        only_reads: None,
        not_reads: Vec::new(),
        reads: Vec::new(),
        verdict: Verdict::new(Decision::Deny, "", ""),
    }
}

/// One way of looking at a command's words, with the index of its first
/// word among the command's.
struct View {
    words: Vec<String>,
    offset: usize,
}

impl View {
    fn text(&self) -> String {
        self.words.join(" ")
    }

    /// The same words with absolute paths normalised (`/var/log/../../etc` is `/etc`).
    fn normalized(&self) -> String {
        let norm = |w: &String| if w.starts_with('/') { car_shell::paths::normalize(w, None) } else { w.clone() };
        self.words.iter().map(norm).collect::<Vec<_>>().join(" ")
    }
}

impl Policy {
    pub(crate) fn shell(&self, command: &str, cwd: Option<&str>) -> Explanation {
        // Only what bash itself skips: `\r` and other Unicode spaces are part of a word.
        let raw = command.trim_matches([' ', '\t', '\n']);
        if raw.is_empty() {
            return crate::plain(Verdict::new(
                Decision::Deny,
                "built-in: empty command",
                "the command is empty; give the command to run",
            ));
        }
        let script = car_shell::analyse(raw);
        if script.parts.is_empty() {
            return crate::plain(self.fail_closed(
                "built-in: nothing to check",
                "the command holds no command the policy can check; write the command to run".to_string(),
            ));
        }
        let classified: Vec<Option<Classified>> = script
            .parts
            .iter()
            .map(|p| match p {
                Part::Command(c) => Some(classify(c)),
                _ => None,
            })
            .collect();
        // After a `cd`, relative paths could be anywhere.
        let cwd = if classified.iter().flatten().any(|c| c.changes_dir) { None } else { cwd };
        let mut verdicts = Vec::new();
        let mut reports = Vec::new();
        for (part, c) in script.parts.iter().zip(&classified) {
            let (verdict, report) = match (part, c) {
                (Part::Command(cmd), Some(c)) => self.command_part(cmd, c, cwd),
                (other, _) => self.other_part(other, cwd),
            };
            reports.push(PartReport { verdict: verdict.verdict.clone(), ..report });
            verdicts.push(verdict);
        }
        Explanation { verdict: combine(&verdicts), parts: reports }
    }

    fn command_part(&self, cmd: &Command, c: &Classified, cwd: Option<&str>) -> (PartVerdict, PartReport) {
        let report = PartReport {
            text: cmd.text(),
            words: cmd.words.iter().map(|w| w.text.clone()).collect(),
            program: c.program.clone(),
            canonical: Some(c.canonical.join(" ")),
            only_reads: Some(c.only_reads()),
            not_reads: c.culprits.iter().map(|k| k.why.clone()).collect(),
            reads: c.reads.iter().map(|r| r.path.text.clone()).collect(),
            ..report(PartKind::Command, String::new())
        };
        (self.command(cmd, c, cwd), report)
    }

    /// An assignment, a redirection, or what the analysis could not check.
    fn other_part(&self, part: &Part, cwd: Option<&str>) -> (PartVerdict, PartReport) {
        let text = part.text();
        match part {
            Part::Command(cmd) => self.command_part(cmd, &classify(cmd), cwd),
            Part::Assignment(a) => {
                let verdict = if let Some(r) = self.shell_rule(List::Deny, &[&text]) {
                    PartVerdict { verdict: deny_rule(r, &format!("`{text}`")), by_deny_rule: true }
                } else if let Some(r) = self.shell_rule(List::Allow, &[&text]) {
                    Verdict::new(Decision::Allow, r.to_string(), format!("`{text}` matches allow rule {r}")).into()
                } else {
                    match env::for_shell(&a.name) {
                        Ok(()) => Verdict::new(
                            Decision::Allow,
                            "built-in: shell variable",
                            format!("`{text}` only sets a shell variable"),
                        )
                        .into(),
                        Err(why) => {
                            self.fail_closed("built-in: shell variable", format!("{why}; `{text}` is not run")).into()
                        }
                    }
                };
                (verdict, report(PartKind::Assignment, text))
            }
            Part::Redirect(r) if r.writes => (self.write_redirect(&text, r, cwd), report(PartKind::Redirect, text)),
            Part::Redirect(r) => {
                let read = PathUse { path: r.target.clone(), access: Reads::Content };
                let verdict = self.content_rule(&text, &read, cwd).unwrap_or_else(|| {
                    Verdict::new(Decision::Allow, "built-in: input redirection", format!("`{text}` only reads a file"))
                        .into()
                });
                (verdict, PartReport { reads: vec![r.target.text.clone()], ..report(PartKind::Redirect, text) })
            }
            Part::Unchecked(u) => {
                let verdict = self.fail_closed(
                    &format!("built-in: unchecked {}", u.what),
                    format!(
                        "the policy cannot check this command ({}: {}); rewrite it as plain commands",
                        u.what, u.detail
                    ),
                );
                (verdict.into(), report(PartKind::Unchecked, text))
            }
        }
    }

    fn shell_rule(&self, list: List, texts: &[&str]) -> Option<&ToolRule> {
        self.find(list, SHELL_TOOL, &|p, _| texts.iter().any(|t| command_matches(p, t)))
    }

    fn command(&self, cmd: &Command, c: &Classified, cwd: Option<&str>) -> PartVerdict {
        let text = cmd.text();
        let raw = View { words: cmd.words.iter().map(|w| w.text.clone()).collect(), offset: 0 };
        let inner = (c.start > 0 && c.start < cmd.words.len()).then(|| View {
            words: std::iter::once(c.program.clone().unwrap_or_else(|| cmd.words[c.start].text.clone()))
                .chain(cmd.words[c.start + 1..].iter().map(|w| w.text.clone()))
                .collect(),
            offset: c.start,
        });
        let canonical = View { words: c.canonical.clone(), offset: c.start };
        let with_env = (!cmd.env.is_empty()).then(|| {
            let env: Vec<String> = cmd.env.iter().map(|a| format!("{}={}", a.name, a.value.text)).collect();
            format!("{} {text}", env.join(" "))
        });
        let mut texts: Vec<String> = Vec::new();
        for view in std::iter::once(&raw).chain(inner.as_ref()).chain(std::iter::once(&canonical)) {
            texts.push(view.text());
            texts.push(view.normalized());
        }
        texts.extend(with_env);
        let generous = |p: &str| {
            texts.iter().any(|t| command_matches(p, t))
                || by_meaning(p, &canonical.words)
                || inner.as_ref().is_some_and(|v| by_meaning(p, &v.words))
        };
        if let Some(r) = self.find(List::Deny, SHELL_TOOL, &|p, _| generous(p)) {
            return PartVerdict { verdict: deny_rule(r, &format!("`{text}`")), by_deny_rule: true };
        }
        // A computed word could make the command one a deny rule names.
        let computed = cmd.words.iter().skip(c.start).find(|w| !w.is_literal());
        if let (Some(word), Some(program)) = (computed, c.program.as_deref()) {
            let named = |r: &&ToolRule| {
                r.tool == SHELL_TOOL
                    && r.pattern
                        .as_deref()
                        .and_then(|p| p.split_whitespace().next())
                        .is_some_and(|first| first.rsplit('/').next() == Some(program))
            };
            if let Some(r) = self.deny.iter().find(named) {
                return self
                    .fail_closed(
                        "built-in: computed argument",
                        format!(
                            "`{}` in `{text}` is computed when it runs, so the command could be one that deny rule {r} refuses; write it literally",
                            word.text
                        ),
                    )
                    .into();
            }
        }
        for read in &c.reads {
            if let Some(v) = self.content_rule(&text, read, cwd) {
                return v;
            }
        }
        if let Some(r) = self.find(List::Approve, SHELL_TOOL, &|p, _| generous(p)) {
            return self.approve_rule(r, &format!("`{text}`")).into();
        }
        self.decide_command(&text, c, &raw, inner.as_ref()).into()
    }

    /// After deny and approve rules: allow rules and the defaults.
    fn decide_command(&self, text: &str, c: &Classified, raw: &View, inner: Option<&View>) -> Verdict {
        // Code the analysis cannot see could be what a deny rule refuses: no allow rule vouches for it.
        if let Some(k) = c.culprits.iter().find(|k| k.opaque) {
            return self.fail_closed(
                "built-in: unchecked code",
                format!(
                    "`{text}` runs code the policy cannot check ({}), so no rule can admit it; run the commands themselves",
                    k.why
                ),
            );
        }
        let views: Vec<&View> = std::iter::once(raw).chain(inner).collect();
        // Allow rules whose pattern matches a view, with how many of its words they name.
        let mut matching: Vec<(&ToolRule, &View, usize)> = Vec::new();
        for r in self.allow.iter().filter(|r| r.tool == SHELL_TOOL) {
            let Some(view) = views.iter().find(|v| match r.pattern.as_deref() {
                None => true,
                Some(p) => command_matches(p, &v.text()) && command_matches(p, &v.normalized()),
            }) else {
                continue;
            };
            let named = match r.pattern.as_deref() {
                None => usize::MAX,
                Some(p) if matches_everything(p) => usize::MAX,
                Some(p) => named_words(p, &view.words),
            };
            matching.push((r, view, named));
        }
        if c.only_reads() {
            if let Some((r, _, _)) = matching.first() {
                return Verdict::new(
                    Decision::Allow,
                    r.to_string(),
                    format!("`{text}` only reads and matches allow rule {r}"),
                );
            }
            if c.basic {
                let program = c.program.as_deref().unwrap_or(text);
                return Verdict::new(Decision::Allow, "built-in: reading command", format!("`{program}` only reads"));
            }
            return if self.read_only() {
                Verdict::new(
                    Decision::Deny,
                    "default: read-only agent",
                    format!("this agent is read-only and no allow rule names `{text}`; it may run {}", self.runnable()),
                )
            } else {
                Verdict::new(
                    Decision::Approve,
                    "default: needs approval",
                    format!("`{text}` is not named by the agent's allow rules"),
                )
            };
        }
        let why = &c.culprits[0].why;
        if self.read_only() && !c.known && c.program.is_some() && matching.is_empty() {
            return Verdict::new(
                Decision::Deny,
                "default: read-only agent",
                format!(
                    "this agent is read-only and `{text}` is neither named by its allow rules nor a known reading command; it may run {}",
                    self.runnable()
                ),
            );
        }
        if self.read_only() {
            let named = match matching.first() {
                Some((r, _, _)) => format!(" (allow rule {r} names it, but its * admits only arguments that read)"),
                None => String::new(),
            };
            return Verdict::new(
                Decision::Deny,
                "default: read-only agent",
                format!(
                    "this agent is read-only and `{text}` is not a read: {why}{named}; report what should be done instead of doing it"
                ),
            );
        }
        if let Some((r, _, _)) = matching.iter().find(|(_, view, named)| vouches(c, view, *named)) {
            return Verdict::new(Decision::Allow, r.to_string(), format!("`{text}` matches allow rule {r}"));
        }
        let reason = match matching.first() {
            Some((r, _, _)) => format!(
                "allow rule {r} matches `{text}`, but its * stands for words the rule does not name: {why}; held for a human"
            ),
            None => format!("`{text}` is not a read ({why}) and no allow rule names it"),
        };
        Verdict::new(Decision::Approve, "default: needs approval", reason)
    }

    /// A file a command reads, against the agent's `Read` rules.
    fn content_rule(&self, text: &str, read: &PathUse, cwd: Option<&str>) -> Option<PartVerdict> {
        let (path, tree) = content_path(&read.path);
        let tree = tree || read.access == Reads::Tree;
        let matches = |p: &str, generous: bool| match &path {
            Some(path) => self.path_matches_any_form(p, path, cwd, generous, tree),
            // Computed: it could name any file.
            None => generous,
        };
        let what = format!("`{text}` (it reads {})", read.path.text);
        if let Some(r) = self.find(List::Deny, "Read", &matches) {
            let reason = if path.is_none() {
                format!(
                    "`{}` in `{text}` is computed when it runs and could be a file the agent's deny rule {r} refuses; name the file literally",
                    read.path.text
                )
            } else if tree {
                format!(
                    "the agent's deny rule {r} covers files below {}; search a narrower path that leaves them out",
                    read.path.text
                )
            } else {
                format!("the agent's deny rule {r} refuses reading {}; do not try it another way", read.path.text)
            };
            return Some(PartVerdict {
                verdict: Verdict::new(Decision::Deny, r.to_string(), reason),
                by_deny_rule: true,
            });
        }
        self.find(List::Approve, "Read", &matches).map(|r| self.approve_rule(r, &what).into())
    }

    /// A redirection that writes a file: the write-tool rules (`Write(…)`,
    /// `Edit(…)`) decide it like a Write of that file; a bare `Bash` allow
    /// rule, which admits any command, admits it too.
    fn write_redirect(&self, text: &str, r: &Redirect, cwd: Option<&str>) -> PartVerdict {
        let target = r.target.is_literal().then_some(r.target.text.as_str());
        let matches = |p: &str, generous: bool| match target {
            Some(path) => self.path_matches_any_form(p, path, cwd, generous, false),
            None => generous,
        };
        let write_rule = |list: List| WRITE_TOOLS.iter().find_map(|t| self.find(list, t, &matches));
        if let Some(rule) = write_rule(List::Deny) {
            let absolute = target.is_some_and(|t| car_shell::paths::normalize(t, cwd).starts_with('/'));
            let reason = match target {
                Some(_) if absolute => {
                    format!("the agent's deny rule {rule} refuses `{text}`; do not try it another way")
                }
                Some(_) => format!(
                    "the target of `{text}` is relative to a folder the shell changed to, so it cannot be checked against deny rule {rule}; use an absolute path"
                ),
                None => format!(
                    "the target of `{text}` is computed, so it cannot be checked against deny rule {rule}; name the file literally"
                ),
            };
            return PartVerdict { verdict: Verdict::new(Decision::Deny, rule.to_string(), reason), by_deny_rule: true };
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
        if let Some(rule) = write_rule(List::Approve) {
            return Verdict::new(Decision::Approve, rule.to_string(), format!("`{text}` matches approve rule {rule}"))
                .into();
        }
        let everything =
            self.allow.iter().find(|r| r.tool == SHELL_TOOL && r.pattern.as_deref().is_none_or(matches_everything));
        if let Some(rule) = everything.or_else(|| write_rule(List::Allow)) {
            return Verdict::new(Decision::Allow, rule.to_string(), format!("`{text}` matches allow rule {rule}"))
                .into();
        }
        Verdict::new(
            Decision::Approve,
            "default: needs approval",
            format!("`{text}` writes a file and no allow rule names it"),
        )
        .into()
    }

    /// What a read-only agent may run, for a denial the model can act on.
    fn runnable(&self) -> String {
        let mut allowed: Vec<String> = self
            .allow
            .iter()
            .filter(|r| r.tool == SHELL_TOOL)
            .filter_map(|r| r.pattern.as_ref().map(|p| format!("`{p}`")))
            .collect();
        allowed.push("simple reading commands (ls, cat, head, tail, grep, find, df, du, …)".into());
        format!("{}, or use the Read, Grep and Glob tools", allowed.join(", "))
    }
}

/// Do the words an allow rule names (the view's first `named`) cover every
/// word of the command that is not a read? A culprit that is the program or
/// a subcommand covers the arguments after it.
fn vouches(c: &Classified, view: &View, named: usize) -> bool {
    if named == usize::MAX {
        return true;
    }
    let end = view.offset + named;
    for culprit in &c.culprits {
        match culprit.word {
            Some(w) if w >= view.offset && w < end => {
                if culprit.action {
                    return true;
                }
            }
            _ => return false,
        }
    }
    true
}

/// The path a command reads, for matching: the word itself when literal;
/// for a glob, the folder its literal part ends in, searched as a tree;
/// `None` when an expansion could make it any path.
fn content_path(word: &Word) -> (Option<String>, bool) {
    if word.is_literal() {
        return (Some(word.text.clone()), false);
    }
    let expands = word.splits || word.text.contains(['$', '`', '~']);
    if expands {
        return (None, false);
    }
    let dir = match word.prefix().rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => word.prefix()[..i].to_string(),
        None => ".".to_string(),
    };
    // A glob cannot climb: `..` after it is literal, so the words after the
    // first wildcard stay below `dir` unless they hold `..` themselves.
    if word.text[word.literal..].contains("..") {
        return (None, false);
    }
    (Some(dir), true)
}

/// One verdict for a whole command: a deny rule's denial first, then the
/// first denial, then the approvals (all their reasons, for the human),
/// else allowed, naming every rule that allowed a part.
fn combine(parts: &[PartVerdict]) -> Verdict {
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
