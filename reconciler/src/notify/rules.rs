//! Which rules an event fires, and what it says: the declared
//! NotificationRules plus each Schedule's `notify` as shorthand rules, the
//! match on event type and filters, the CEL condition over `event` and
//! `run`, what an alert is about (its subject, for throttling and for the
//! one "resolved" message when it clears), and the message's title, body
//! and link. No I/O here: the router ([`super::route`]) feeds it rows.

use car_schemas::kinds::notification::Event;
use car_schemas::values::{Condition, Priority};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::FromRow;

use crate::config::snapshot::Snapshot;
use crate::runs::Run;

/// An event as the `events` table holds it.
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub id: i64,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub at: DateTime<Utc>,
    pub run_id: Option<String>,
    pub agent: Option<String>,
    pub node: Option<String>,
    pub schedule: Option<String>,
    pub data: Value,
}

/// A rule as the router applies it.
#[derive(Debug, Clone)]
pub struct Rule<'a> {
    /// The NotificationRule's name, or `schedule/<name>` for a Schedule's `notify`.
    pub name: String,
    /// Where it is declared, for errors: `rules/alerts.yaml:12`.
    pub at: String,
    pub events: Vec<Event>,
    pub agents: Vec<&'a str>,
    pub nodes: Vec<&'a str>,
    pub schedules: Vec<&'a str>,
    pub condition: Option<&'a Condition>,
    pub priority: Priority,
    pub channels: Vec<&'a str>,
    pub throttle: Option<car_schemas::values::Duration>,
    /// Sent only if the alert still holds after this long.
    pub wait: Option<car_schemas::values::Duration>,
}

/// Every rule the live config declares, a Schedule's `notify` included
/// (`onSuccess`: run.succeeded; `onFailure`: run.failed, run.timed_out, run.lost).
pub fn rules(config: &Snapshot) -> Vec<Rule<'_>> {
    let mut all = Vec::new();
    for r in config.rules.values() {
        let s = &r.spec;
        fn names(v: &[car_schemas::de::Spanned<car_schemas::values::Name>]) -> Vec<&str> {
            v.iter().map(|n| n.as_str()).collect()
        }
        let filter = s.filter.as_ref();
        all.push(Rule {
            name: r.name.clone(),
            at: format!("{}:{}", r.file, r.line),
            events: s.events.iter().map(|e| e.value).collect(),
            agents: filter.map(|f| names(&f.agents)).unwrap_or_default(),
            nodes: filter.map(|f| names(&f.nodes)).unwrap_or_default(),
            schedules: filter.map(|f| names(&f.schedules)).unwrap_or_default(),
            condition: s.condition.as_ref().map(|c| &c.value),
            priority: s.priority,
            channels: s.channels.iter().map(|c| c.as_str()).collect(),
            throttle: s.throttle.as_ref().map(|t| t.value),
            wait: s.wait.as_ref().map(|t| t.value),
        });
    }
    for sch in config.schedules.values() {
        let Some(notify) = &sch.spec.notify else { continue };
        let outcomes = [
            (&notify.on_success, vec![Event::RunSucceeded]),
            (&notify.on_failure, vec![Event::RunFailed, Event::RunTimedOut, Event::RunLost]),
        ];
        for (n, events) in outcomes {
            let Some(n) = n else { continue };
            all.push(Rule {
                name: format!("schedule/{}", sch.name),
                at: format!("{}:{}", sch.file, sch.line),
                events,
                agents: Vec::new(),
                nodes: Vec::new(),
                schedules: vec![sch.name.as_str()],
                condition: None,
                priority: n.priority,
                channels: n.channels.iter().map(|c| c.as_str()).collect(),
                throttle: None,
                wait: None,
            });
        }
    }
    all
}

/// The rule's own name for an event type, if the config language has one.
pub fn event_kind(kind: &str) -> Option<Event> {
    serde_json::from_value(Value::from(kind)).ok()
}

impl Rule<'_> {
    /// Whether the rule listens to events of this type (`event_kind` of the event's, read once per event).
    pub fn listens(&self, kind: Option<Event>) -> bool {
        kind.is_some_and(|k| self.events.contains(&k))
    }

    /// Whether the event is about the agents, nodes and schedules the rule names (each left out: any).
    pub fn passes_filters(&self, e: &EventRow) -> bool {
        let ok =
            |names: &[&str], v: &Option<String>| names.is_empty() || v.as_deref().is_some_and(|v| names.contains(&v));
        ok(&self.agents, &e.agent) && ok(&self.nodes, &e.node) && ok(&self.schedules, &e.schedule)
    }

    /// Gotify's priority for the rule: 0, 2, 5, 8 or 10.
    pub fn gotify_priority(&self) -> i32 {
        gotify_priority(self.priority)
    }
}

pub fn gotify_priority(p: Priority) -> i32 {
    match p {
        Priority::Min => 0,
        Priority::Low => 2,
        Priority::Normal => 5,
        Priority::High => 8,
        Priority::Critical => 10,
    }
}

/// What a condition sees: `event` always, `run` for an event about a run.
pub fn variables(e: &EventRow, run: Option<&Run>) -> (Value, Value) {
    let event = json!({"type": e.kind, "at": e.at, "agent": e.agent, "node": e.node, "schedule": e.schedule,
        "run_id": e.run_id, "data": e.data});
    let run = run.map_or(Value::Null, |r| {
        let duration_ms = match (r.started_at, r.finished_at) {
            (Some(s), Some(f)) => Some((f - s).num_milliseconds()),
            _ => None,
        };
        json!({"id": r.id, "status": r.status.as_str(), "agent": r.agent, "node": r.node,
            "trigger": r.trigger.as_str(), "started_by": r.started_by, "summary": r.summary,
            "report": r.report, "error": r.error, "cost_usd": r.cost_usd, "duration_ms": duration_ms,
            "duration_s": duration_ms.map(|d| d as f64 / 1000.0), "attempt": r.attempt,
            "created_at": r.created_at, "started_at": r.started_at, "finished_at": r.finished_at})
    });
    (event, run)
}

/// Whether an event raises an alert or clears one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polarity {
    Raise,
    Clear,
}

/// What an alert is about, for its "resolved" message: a node, an agent on
/// a node, a resource of a node, the config sync. Events that neither
/// raise nor clear anything (a run started, an approval) have none.
pub fn subject(e: &EventRow) -> Option<(String, Polarity)> {
    let node = e.node.as_deref().unwrap_or("-");
    let agent = e.agent.as_deref().unwrap_or("-");
    Some(match e.kind.as_str() {
        "run.failed" | "run.timed_out" | "run.lost" => (format!("run/{agent}/{node}"), Polarity::Raise),
        "run.succeeded" => (format!("run/{agent}/{node}"), Polarity::Clear),
        "node.disconnected" => (format!("node/{node}"), Polarity::Raise),
        "node.connected" => (format!("node/{node}"), Polarity::Clear),
        "node.resource_warning" => {
            let metric = e.data["metric"].as_str().unwrap_or("-");
            let polarity = if e.data["resolved"] == true { Polarity::Clear } else { Polarity::Raise };
            (format!("resource/{node}/{metric}"), polarity)
        }
        "drift.detected" => {
            let key = e.data["key"].as_str().unwrap_or("-");
            let polarity = if e.data["resolved"] == true { Polarity::Clear } else { Polarity::Raise };
            (format!("drift/{key}"), polarity)
        }
        "sync.failed" => ("sync".into(), Polarity::Raise),
        "sync.succeeded" => ("sync".into(), Polarity::Clear),
        _ => return None,
    })
}

/// The key a rule's `throttle` counts messages under: one per window per
/// (rule, event type, agent, node).
pub fn throttle_key(e: &EventRow) -> String {
    format!("throttle/{}/{}/{}", e.kind, e.agent.as_deref().unwrap_or("-"), e.node.as_deref().unwrap_or("-"))
}

/// A message's words and link.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub title: String,
    /// Markdown.
    pub body: String,
    /// The dashboard page it is about.
    pub url: String,
}

/// What a message about `e` says; `resolved` for the message that an
/// alert cleared. `dashboard` is the dashboard's base URL (`PUBLIC_URL`).
pub fn message(e: &EventRow, run: Option<&Run>, dashboard: &str, resolved: bool) -> Message {
    let base = dashboard.trim_end_matches('/');
    let node = e.node.as_deref().unwrap_or("?");
    let agent = e.agent.as_deref().unwrap_or("?");
    let text = |k: &str| e.data[k].as_str().unwrap_or_default().to_string();
    let run_url = e.run_id.as_ref().map(|id| format!("{base}/runs/{id}"));
    let (title, body, url) = match e.kind.as_str() {
        k if k.starts_with("run.") => {
            let outcome = k.trim_start_matches("run.").replace('_', " ");
            let mut body = String::new();
            if let Some(r) = run {
                if let Some(s) = r.summary.as_deref().filter(|s| !s.is_empty()) {
                    body.push_str(&format!("{s}\n\n"));
                }
                if let Some(e) = &r.error {
                    body.push_str(&format!("**Error:** {}\n\n", e.message));
                }
                body.push_str(&format!("Cost ${:.4}", r.cost_usd));
                if let (Some(s), Some(f)) = (r.started_at, r.finished_at) {
                    body.push_str(&format!(" · took {}s", (f - s).num_seconds()));
                }
                body.push_str(&format!(" · {} by {}", r.trigger.as_str(), r.started_by.as_deref().unwrap_or("-")));
            } else {
                body.push_str(&text("reason"));
            }
            (format!("{agent} on {node} {outcome}"), body, run_url.unwrap_or_else(|| format!("{base}/agents/{agent}")))
        }
        "approval.requested" => {
            let input = &e.data["input"];
            let what = ["command", "file_path", "path", "url", "pattern"]
                .iter()
                .find_map(|k| input[*k].as_str())
                .map_or_else(|| input.to_string(), String::from);
            let title = format!("{agent} on {node} waits for approval: {} {what}", text("tool"));
            let body = format!("{}\n\nApprove or deny it on the run's page.", text("reason"));
            (title, body, run_url.unwrap_or_default())
        }
        "approval.resolved" => {
            let by = e.data["decided_by"].as_str().unwrap_or("the approval timeout");
            // The decision as recorded: `approved` or `denied`.
            let title = format!("{agent} on {node}: {} {} by {by}", text("tool"), text("decision"));
            (title, text("comment"), run_url.unwrap_or_default())
        }
        "node.disconnected" => {
            let body = format!("Last seen {}.\n\n{}", text("last_seen"), text("error"));
            (format!("Node {node} is unreachable"), body, format!("{base}/nodes/{node}"))
        }
        "node.connected" => {
            let version = e.data["version"].as_str().map(|v| format!(" (runner {v})")).unwrap_or_default();
            (
                format!("Node {node} is back"),
                format!("Its runner answers again{version}."),
                format!("{base}/nodes/{node}"),
            )
        }
        "node.resource_warning" => {
            let metric = text("metric");
            let value = e.data["value"].as_f64().unwrap_or_default();
            let limit = e.data["threshold"].as_f64().unwrap_or_default();
            let title = if e.data["resolved"] == true {
                format!("Node {node}: {metric} back to {value:.0} %")
            } else {
                format!("Node {node}: {metric} at {value:.0} % (over {limit:.0} %)")
            };
            let body = format!("Measured {value:.1} %; the warning is at {limit:.0} %.");
            (title, body, format!("{base}/nodes/{node}"))
        }
        "sync.failed" => {
            let rev: String = text("revision").chars().take(12).collect();
            let mut body = format!("{} by {}\n\n", text("message").lines().next().unwrap_or_default(), text("author"));
            for err in e.data["errors"].as_array().into_iter().flatten() {
                let at = format!("{}:{}", err["file"].as_str().unwrap_or("?"), err["line"]);
                body.push_str(&format!("- `{at}` {}\n", err["message"].as_str().unwrap_or_default()));
            }
            (format!("Config revision {rev} rejected: {} errors", e.data["error_count"]), body, format!("{base}/sync"))
        }
        "sync.succeeded" => {
            let rev: String = text("revision").chars().take(12).collect();
            (format!("Config revision {rev} applied"), text("message"), format!("{base}/sync"))
        }
        "budget.exceeded" => (format!("The {} budget is spent", text("period")), text("reason"), format!("{base}/")),
        "drift.detected" if e.data["resolved"] == true => {
            (format!("Drift gone: {}", text("message")), text("object"), format!("{base}/sync"))
        }
        "drift.detected" => (format!("Drift: {}", text("message")), text("fix"), format!("{base}/sync")),
        other => (other.to_string(), e.data.to_string(), format!("{base}/")),
    };
    // Gotify refuses a message without text.
    let body = if body.trim().is_empty() { title.clone() } else { body };
    if resolved {
        return Message { title: format!("Resolved: {title}"), body, url };
    }
    Message { title, body, url }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, agent: Option<&str>, node: Option<&str>, data: Value) -> EventRow {
        EventRow {
            id: 1,
            kind: kind.into(),
            at: Utc::now(),
            run_id: agent.map(|_| "run_1".into()),
            agent: agent.map(String::from),
            node: node.map(String::from),
            schedule: None,
            data,
        }
    }

    fn object(kind: &str, name: &str, spec: Value) -> crate::config::repo::LiveObject {
        crate::config::repo::LiveObject {
            kind: kind.into(),
            name: name.into(),
            revision: "r1".into(),
            file: "notify.yaml".into(),
            line: 7,
            document: json!({"apiVersion": "car/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}),
            hash: name.into(),
            applied_at: Utc::now(),
        }
    }

    #[test]
    fn a_rule_listens_to_its_events_within_its_filters() {
        let c = Snapshot::from_rows(
            None,
            vec![
                object("NotificationChannel", "phone", json!({"gotify": {"url": "http://g", "token": {"env": "T"}}})),
                object(
                    "NotificationRule",
                    "zfs",
                    json!({"events": ["run.failed"], "filter": {"agents": ["zfs-health"]}, "priority": "high",
                        "channels": ["phone"]}),
                ),
                object(
                    "Schedule",
                    "nightly",
                    json!({"every": "1d", "agents": ["zfs-health"], "nodes": "all",
                        "notify": {"onFailure": {"channels": ["phone"], "priority": "critical"}}}),
                ),
            ],
            Vec::new(),
        );
        let rules = rules(&c);
        let fires = |r: &Rule<'_>, e: &EventRow| r.listens(event_kind(&e.kind)) && r.passes_filters(e);
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["zfs", "schedule/nightly"]);
        let r = &rules[0];
        assert!(fires(r, &event("run.failed", Some("zfs-health"), Some("nas"), json!({}))));
        assert!(!fires(r, &event("run.failed", Some("docker"), Some("nas"), json!({}))), "another agent");
        assert!(!fires(r, &event("run.succeeded", Some("zfs-health"), Some("nas"), json!({}))), "another event");
        assert!(!fires(r, &event("run.failed", None, Some("nas"), json!({}))), "an event about no agent");
        assert_eq!((r.gotify_priority(), r.at.as_str()), (8, "notify.yaml:7"));
        // The schedule's shorthand: its failures, only of its own runs.
        let mut timed_out = event("run.timed_out", Some("zfs-health"), Some("nas"), json!({}));
        assert!(!fires(&rules[1], &timed_out), "a run of no schedule");
        timed_out.schedule = Some("nightly".into());
        assert!(fires(&rules[1], &timed_out));
        assert_eq!(rules[1].gotify_priority(), 10);
    }

    #[test]
    fn alerts_raise_and_clear_on_the_same_subject() {
        let down = event("node.disconnected", None, Some("nas"), json!({}));
        let back = event("node.connected", None, Some("nas"), json!({}));
        assert_eq!(subject(&down), Some(("node/nas".into(), Polarity::Raise)));
        assert_eq!(subject(&back), Some(("node/nas".into(), Polarity::Clear)));
        let failed = event("run.failed", Some("a"), Some("n"), json!({}));
        let ok = event("run.succeeded", Some("a"), Some("n"), json!({}));
        assert_eq!(subject(&failed).unwrap().0, subject(&ok).unwrap().0);
        assert_eq!(subject(&event("run.started", Some("a"), Some("n"), json!({}))), None);
    }

    #[test]
    fn messages_say_what_and_where_and_link_to_it() {
        let m = message(
            &event("run.failed", Some("zfs-health"), Some("nas"), json!({"reason": "exit 1"})),
            None,
            "https://car.lan/",
            false,
        );
        assert_eq!(m.title, "zfs-health on nas failed");
        assert_eq!(m.url, "https://car.lan/runs/run_1");
        let errors = json!({"revision": "0123456789abcdef", "message": "oops", "author": "ann", "error_count": 2,
            "errors": [{"file": "agents/a.yaml", "line": 3, "message": "unknown field"}]});
        let m = message(&event("sync.failed", None, None, errors), None, "http://x", false);
        assert_eq!(m.title, "Config revision 0123456789ab rejected: 2 errors");
        assert!(m.body.contains("`agents/a.yaml:3` unknown field"), "{}", m.body);
        let decided = json!({"tool": "Bash", "decision": "denied", "decided_by": "user:ann"});
        let m = message(&event("approval.resolved", Some("docker"), Some("nas"), decided), None, "http://x", false);
        assert_eq!(m.title, "docker on nas: Bash denied by user:ann");
        let m = message(&event("node.connected", None, Some("nas"), json!({})), None, "http://x", true);
        assert_eq!(m.title, "Resolved: Node nas is back");
    }
}
