//! Semantic validation: the checks that need the whole repository.
//!
//! Loaded documents enter; diagnostics leave, all of them in one pass:
//! duplicate names, references to objects that do not exist, selectors that
//! select nothing, agents no node may run, read-only agents that allow writes,
//! and values out of range. Objects whose own document was broken still count
//! as declared, so one mistake is reported once, not again at every reference,
//! and their own references are checked all the same.

use std::collections::{HashMap, HashSet};
use std::time::Duration as StdDuration;

use crate::de::Spanned;
use crate::diagnostic::{Diagnostic, Severity, Span, did_you_mean, suggestion};
use crate::document::{Document, Kind, Spec};
use crate::kinds::agent::{AgentSpec, Mode};
use crate::kinds::node::NodeSpec;
use crate::kinds::notification::{NotificationChannelSpec, NotificationRuleSpec};
use crate::kinds::schedule::{NodeSelector, ScheduleSpec};
use crate::kinds::trigger::TriggerSpec;
use crate::load::Loaded;
use crate::placement::{self, Refusal};
use crate::rules::{Effect, ShellEffect};
use crate::values::{Condition, Duration, Name, TextOrSecret};

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 86_400;

/// Every problem that needs more than one document to see.
pub fn validate(repo: &Loaded) -> Vec<Diagnostic> {
    let mut v = Validator::new(repo);
    v.duplicates();
    // References first, of every document: one with a bad value of its own
    // (a cron that does not parse) still names agents and channels that
    // must exist, and a form should hear of both at once.
    for doc in repo.documents.iter().chain(&repo.partial) {
        v.doc = Some(doc);
        v.references(&doc.spec);
    }
    for doc in &repo.documents {
        v.doc = Some(doc);
        match &doc.spec {
            Spec::Node(s) => v.node(s),
            Spec::Agent(s) => v.agent(doc, s),
            Spec::Schedule(s) => v.schedule(doc, s),
            Spec::NotificationChannel(s) => v.channel(doc, s),
            Spec::NotificationRule(s) => v.rule(s),
            Spec::Trigger(s) => v.trigger(doc, s),
        }
    }
    v.out
}

struct Validator<'a> {
    repo: &'a Loaded,
    /// Declared names per kind, valid documents or not.
    names: HashMap<Kind, Vec<&'a str>>,
    nodes: Vec<(&'a str, &'a NodeSpec)>,
    agents: HashMap<&'a str, &'a AgentSpec>,
    doc: Option<&'a Document>,
    out: Vec<Diagnostic>,
}

impl<'a> Validator<'a> {
    fn new(repo: &'a Loaded) -> Self {
        let mut names: HashMap<Kind, Vec<&str>> = HashMap::new();
        for id in &repo.declared {
            names.entry(id.kind).or_default().push(&id.name);
        }
        let mut nodes = Vec::new();
        let mut agents = HashMap::new();
        for d in &repo.documents {
            match &d.spec {
                Spec::Node(n) => nodes.push((d.name(), n)),
                Spec::Agent(a) => {
                    agents.insert(d.name(), a);
                }
                _ => {}
            }
        }
        Validator { repo, names, nodes, agents, doc: None, out: Vec::new() }
    }

    fn error(&mut self, span: Span, msg: impl Into<String>, hint: impl Into<String>) {
        let file = self.doc.map(|d| d.file.clone()).unwrap_or_default();
        self.out.push(Diagnostic::error(file, span, msg).with_hint(hint));
    }

    fn warning(&mut self, span: Span, msg: impl Into<String>, hint: impl Into<String>) {
        let file = self.doc.map(|d| d.file.clone()).unwrap_or_default();
        self.out.push(Diagnostic::warning(file, span, msg).with_hint(hint));
    }

    fn duplicates(&mut self) {
        let mut first: HashMap<(Kind, &str), &crate::document::Identity> = HashMap::new();
        for id in &self.repo.declared {
            match first.get(&(id.kind, id.name.as_str())) {
                None => {
                    first.insert((id.kind, &id.name), id);
                }
                Some(f) => self.out.push(
                    Diagnostic::error(&id.file, id.span, format!("duplicate {} name {:?}", id.kind, id.name))
                        .with_hint(format!(
                            "it is already declared at {}:{}; names are unique per kind",
                            f.file.display(),
                            f.span
                        )),
                ),
            }
        }
    }

    /// Each name must be declared as an object of `kind`.
    fn refs(&mut self, kind: Kind, names: &[Spanned<Name>]) {
        self.refs_as(kind, names, Severity::Error);
    }

    fn refs_as(&mut self, kind: Kind, names: &[Spanned<Name>], severity: Severity) {
        for n in names {
            let declared = self.names.get(&kind).map(Vec::as_slice).unwrap_or_default();
            if !declared.contains(&n.as_str()) {
                let hint = match did_you_mean(n.as_str(), declared.iter().copied()) {
                    Some(c) => format!("did you mean {c:?}?"),
                    None => format!("declare it in a document with `kind: {kind}`, or fix the name"),
                };
                let msg = format!("unknown {} {:?}", kind_noun(kind), n.as_str());
                match severity {
                    Severity::Error => self.error(n.span, msg, hint),
                    Severity::Warning => self.warning(n.span, msg, hint),
                }
            }
        }
    }

    fn range(&mut self, d: &Option<Spanned<Duration>>, what: &str, min: u64, max: u64) {
        if let Some(d) = d {
            let (lo, hi) = (StdDuration::from_secs(min), StdDuration::from_secs(max));
            if d.get() < lo || d.get() > hi {
                let (lo, hi) = (Duration::from_secs(min), Duration::from_secs(max));
                self.error(d.span, format!("{what} {} is out of range", d.value), format!("use between {lo} and {hi}"));
            }
        }
    }

    fn url(&mut self, u: &Spanned<String>, what: &str) {
        match url::Url::parse(u) {
            Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => {}
            Ok(_) | Err(_) => self.error(
                u.span,
                format!("{what} {:?} is not an http(s) URL", u.as_str()),
                "write it as http://host:port or https://host/path",
            ),
        }
    }

    /// Every name a document uses must be declared.
    fn references(&mut self, spec: &Spec) {
        match spec {
            // An allow-list entry for an agent that does not exist admits
            // nothing, so it cannot do harm; a schedule or trigger that needs
            // the agent there is an error of its own.
            Spec::Node(n) => {
                if let Some(agents) = &n.agents {
                    self.refs_as(Kind::Agent, agents, Severity::Warning);
                }
            }
            Spec::Schedule(s) => {
                self.refs(Kind::Agent, &s.agents);
                self.refs(Kind::Node, s.nodes.names());
                if let Some(n) = &s.notify {
                    for x in n.on_success.iter().chain(&n.on_failure) {
                        self.refs(Kind::NotificationChannel, &x.channels);
                    }
                }
            }
            Spec::NotificationRule(r) => {
                self.refs(Kind::NotificationChannel, &r.channels);
                if let Some(f) = &r.filter {
                    self.refs(Kind::Agent, &f.agents);
                    self.refs(Kind::Node, &f.nodes);
                    self.refs(Kind::Schedule, &f.schedules);
                }
            }
            Spec::Trigger(t) => {
                self.refs(Kind::Agent, &t.agents);
                self.refs(Kind::Node, t.nodes.names());
            }
            Spec::Agent(_) | Spec::NotificationChannel(_) => {}
        }
    }

    fn node(&mut self, n: &NodeSpec) {
        if let Some(a) = &n.address {
            self.url(a, "address");
        }
        let levels =
            n.resource_warnings.iter().flat_map(|w| [("cpu", &w.cpu), ("memory", &w.memory), ("disk", &w.disk)]);
        for (what, level) in levels {
            if let Some(l) = level.as_ref().filter(|l| !(1.0..=100.0).contains(&l.value)) {
                self.error(
                    l.span,
                    format!("resourceWarnings.{what} {} is not a percentage", l.value),
                    "use a number from 1 to 100, e.g. 95",
                );
            }
        }
    }

    fn agent(&mut self, doc: &Document, a: &AgentSpec) {
        match (&a.prompt, &a.script) {
            (None, None) => self.error(
                doc.metadata.name.span,
                "the agent has neither `prompt` nor `script`",
                "add `prompt:` with the task for Claude, or `script:` with a Python file",
            ),
            (Some(_), Some(s)) => self.error(
                s.span,
                "the agent has both `prompt` and `script`",
                "keep one: a prompt for Claude, or a Python script",
            ),
            (Some(p), None) if p.trim().is_empty() => {
                self.error(doc.metadata.name.span, "the agent's prompt is empty", "describe the task for Claude")
            }
            _ => {}
        }
        if a.mode == Mode::ReadOnly {
            for r in &a.tools.allow {
                let fix = "set `mode: read-write` (and consider `approve` for it), or allow only reading commands";
                match (r.effect(), r.shell_effect()) {
                    (Effect::Write, _) | (_, Some(ShellEffect::Anything)) => {
                        self.error(r.span, format!("read-only agent allows {}, which can change the machine", r.value), fix)
                    }
                    (_, Some(ShellEffect::Writes(why))) => self.error(
                        r.span,
                        format!("read-only agent allows {}, which can change the machine: {why}", r.value),
                        fix,
                    ),
                    (_, Some(ShellEffect::Unknown(program))) => self.warning(
                        r.span,
                        format!(
                            "read-only agent allows {}, but the runner does not know which uses of `{program}` only read, so it refuses them to read-only agents",
                            r.value
                        ),
                        "run it from a read-write agent (with approve rules if it can change things), or check `car-server can-i` for what the runner knows",
                    ),
                    _ => {}
                }
            }
            if let Some(r) = a.tools.approve.first() {
                self.error(
                    r.span,
                    "a read-only agent never holds tool calls for approval",
                    "set `mode: read-write` to use approve rules, or move them to deny",
                );
            }
        }
        for cap in &a.requires {
            let offered = self.nodes.iter().any(|(_, n)| n.capabilities.iter().any(|c| c.as_str() == cap.as_str()));
            if !offered {
                self.warning(
                    cap.span,
                    format!("no declared node offers the capability {:?}", cap.as_str()),
                    "add it to a node's `capabilities`, or this agent can only run on an enrolled node that reports it",
                );
            }
        }
        self.range(&a.timeout, "timeout", 10, DAY);
        self.range(&a.approval_timeout, "approvalTimeout", MINUTE, 7 * DAY);
        if let Some(r) = &a.retries {
            if *r.max > 10 {
                self.error(r.max.span, format!("{} retries is too many", *r.max), "use at most 10");
            }
            self.range(&r.backoff, "backoff", 1, HOUR);
        }
        if let Some(b) = &a.budget {
            if let Some(usd) = &b.usd
                && !(usd.value >= 0.01 && usd.value <= 100.0)
            {
                self.error(
                    usd.span,
                    format!("budget of {} USD is out of range", usd.value),
                    "use between 0.01 and 100 USD per run",
                );
            }
            if let Some(t) = &b.turns
                && !(1..=500).contains(&t.value)
            {
                self.error(t.span, format!("{} turns is out of range", t.value), "use between 1 and 500 turns");
            }
        }
        for g in &a.gather {
            self.range(&g.timeout, "gather timeout", 1, 10 * MINUTE);
        }
        for g in a.gather.iter().filter(|g| g.command.trim().is_empty()) {
            let span = g.timeout.as_ref().map_or(doc.metadata.name.span, |t| t.span);
            self.error(span, "a gather command is empty", "write the shell command to run");
        }
        if let Some(r) = &a.report {
            let is_object_schema = r.get("type").and_then(|t| t.as_str()) == Some("object");
            if !is_object_schema {
                self.error(
                    r.span,
                    "`report` must be a JSON Schema of an object",
                    "start it with `type: object` and list its `properties`",
                );
            }
        }
    }

    /// Nodes a selector picks, by name.
    fn selected(&self, sel: &NodeSelector) -> Vec<&'a str> {
        self.nodes
            .iter()
            .filter(|(name, n)| sel.matches(name, |t| n.tags.iter().any(|x| x.as_str() == t)))
            .map(|(name, _)| *name)
            .collect()
    }

    /// The selector names real nodes, picks at least one, and each agent can
    /// run on at least one picked node.
    fn targets(&mut self, at: Span, agents: &[Spanned<Name>], sel: &NodeSelector) {
        let unknown_names =
            sel.names().iter().any(|n| !self.names.get(&Kind::Node).is_some_and(|d| d.contains(&n.as_str())));
        // With a broken Node document we cannot know what it would select.
        let declared_nodes = self.names.get(&Kind::Node).map_or(0, Vec::len);
        if declared_nodes > self.nodes.len() {
            return;
        }
        let picked = self.selected(sel);
        if picked.is_empty() {
            if !unknown_names {
                self.error(
                    at,
                    "the node selector matches no node",
                    "check the tags against your nodes' `tags`, or use `nodes: all`",
                );
            }
            return;
        }
        for agent in agents {
            let Some(spec) = self.agents.get(agent.as_str()).copied() else { continue };
            // Git alone: what runners report is unknown here.
            let checks: Vec<Result<(), Refusal>> = picked
                .iter()
                .filter_map(|p| self.nodes.iter().find(|(n, _)| n == p))
                .map(|(n, s)| placement::check(n, s, None, agent.as_str(), spec).map_err(|r| r.why))
                .collect();
            if checks.iter().all(|c| *c == Err(Refusal::NotAllowed)) {
                self.error(
                    agent.span,
                    format!("agent {:?} is not allowed on any selected node ({})", agent.as_str(), picked.join(", ")),
                    "add the agent to a selected node's `agents`, or select other nodes",
                );
            } else if !checks.iter().any(Result::is_ok) {
                self.warning(
                    agent.span,
                    format!("no selected node declares every capability agent {:?} requires", agent.as_str()),
                    "add the capabilities to the node in git, or it only runs where the runner reports them",
                );
            }
        }
    }

    fn schedule(&mut self, doc: &Document, s: &ScheduleSpec) {
        let name = doc.metadata.name.span;
        match (&s.cron, &s.every) {
            (None, None) => self.error(
                name,
                "the schedule has neither `cron` nor `every`",
                "add `cron: \"0 2 * * *\"` or `every: 6h`",
            ),
            (Some(_), Some(e)) => self.error(e.span, "the schedule has both `cron` and `every`", "keep one of them"),
            _ => {}
        }
        self.range(&s.every, "every", 1, 31 * DAY);
        self.range(&s.jitter, "jitter", 0, HOUR);
        if let (Some(every), Some(jitter)) = (&s.every, &s.jitter)
            && jitter.get() >= every.get()
        {
            self.error(jitter.span, "jitter is as long as the interval", "keep jitter well below `every`");
        }
        if s.every.is_some()
            && let Some(tz) = &s.timezone
        {
            self.warning(tz.span, "`timezone` has no effect with `every`", "remove it, or use `cron` for times of day");
        }
        if s.agents.is_empty() {
            self.error(name, "the schedule runs no agents", "list agents under `agents:`");
        }
        self.targets(name, &s.agents, &s.nodes);
    }

    fn channel(&mut self, doc: &Document, c: &NotificationChannelSpec) {
        match (&c.gotify, &c.webhook) {
            (None, None) => self.error(
                doc.metadata.name.span,
                "the channel has neither `gotify` nor `webhook`",
                "add `gotify: {url, token}` or `webhook: {url}`",
            ),
            (Some(_), Some(w)) => {
                self.error(w.url.span, "the channel has both `gotify` and `webhook`", "declare two channels instead")
            }
            _ => {}
        }
        if let Some(g) = &c.gotify {
            self.url(&g.url, "gotify url");
        }
        if let Some(w) = &c.webhook {
            self.url(&w.url, "webhook url");
            for (name, value) in &w.headers {
                let lower = name.to_ascii_lowercase();
                let secretish =
                    ["authorization", "token", "secret", "password", "key", "cookie"].iter().any(|s| lower.contains(s));
                if secretish && matches!(value.value, TextOrSecret::Text(_)) {
                    self.error(
                        value.span,
                        format!("header {name:?} holds a secret in plain text"),
                        "write {env: NAME} or {secret: NAME} instead; secrets never live in git",
                    );
                }
            }
        }
    }

    fn condition_vars(&mut self, c: &Option<Spanned<Condition>>, allowed: &[&str]) {
        let Some(c) = c else { return };
        for var in c.variables() {
            if !allowed.contains(&var.as_str()) {
                let hint = suggestion(var, allowed, "variables");
                self.error(c.span, format!("the condition uses an unknown variable {var:?}"), hint);
            }
        }
    }

    fn rule(&mut self, r: &NotificationRuleSpec) {
        let mut allowed = vec!["event"];
        if r.events.iter().all(|e| e.is_run_event()) {
            allowed.push("run");
        }
        let seen: HashSet<_> = r.events.iter().map(|e| e.value).collect();
        if seen.len() < r.events.len()
            && let Some(e) = r.events.last()
        {
            self.warning(e.span, "an event is listed twice", "list each event once");
        }
        self.condition_vars(&r.condition, &allowed);
        self.range(&r.throttle, "throttle", 0, 7 * DAY);
        self.range(&r.wait, "wait", 1, DAY);
    }

    fn trigger(&mut self, doc: &Document, t: &TriggerSpec) {
        self.targets(doc.metadata.name.span, &t.agents, &t.nodes);
        self.condition_vars(&t.condition, &["payload", "headers"]);
        self.range(&t.cooldown, "cooldown", 0, DAY);
    }
}

fn kind_noun(k: Kind) -> &'static str {
    match k {
        Kind::Node => "node",
        Kind::Agent => "agent",
        Kind::Schedule => "schedule",
        Kind::NotificationChannel => "notification channel",
        Kind::NotificationRule => "notification rule",
        Kind::Trigger => "trigger",
    }
}
