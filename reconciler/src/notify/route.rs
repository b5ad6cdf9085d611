//! Routing: each new event, oldest first, through every rule. A rule that
//! listens to the event's type, passes its filters and whose condition holds
//! queues one message per channel (or records one suppressed by its
//! throttle); an event that clears an alert the rule had firing (a node
//! back, a schedule's agent succeeding again, a fixed commit) queues one
//! "resolved" message. A batch's messages, alert states and `routed_at`
//! commit together, so a crash routes the batch again and the idempotency
//! keys keep it from doubling.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::PgConnection;

use super::Notifier;
use super::repo::NewDelivery;
use super::rules::{self, EventRow, Polarity, Rule};
use crate::db::StoreError;

/// How many events one transaction routes.
const BATCH: i64 = 200;
/// How often old events and messages are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How often drift is looked for (and announced when new); the first look
/// waits a little, for the nodes' first probes to answer.
const DRIFT_EVERY: Duration = Duration::from_secs(60);
const DRIFT_FIRST: Duration = Duration::from_secs(10);

pub async fn run(n: Arc<Notifier>) {
    let mut listener = crate::events::listen(n.repo.pool(), crate::events::CHANNEL).await;
    let mut pruned = tokio::time::Instant::now();
    let mut drift_due = tokio::time::Instant::now() + DRIFT_FIRST;
    loop {
        if tokio::time::Instant::now() >= drift_due {
            drift_due = tokio::time::Instant::now() + DRIFT_EVERY;
            if let Err(e) = look_for_drift(&n).await {
                tracing::warn!(error = %e, "cannot look for drift to announce");
            }
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = tokio::time::Instant::now();
            let cutoff =
                chrono::Utc::now() - chrono::TimeDelta::from_std(n.settings.keep).unwrap_or(chrono::TimeDelta::MAX);
            if let Err(e) = n.repo.prune(cutoff).await {
                tracing::warn!(error = %e, "cannot forget old events and messages");
            }
        }
        loop {
            match route_batch(&n).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot route events to notifications; trying again");
                    break;
                }
            }
        }
        if listener.is_none() {
            listener = crate::events::listen(n.repo.pool(), crate::events::CHANNEL).await;
        }
        crate::events::wake(&mut listener, Duration::from_secs(1)).await;
    }
}

/// Announces drift that is new since the last look, and drift that ended.
pub async fn look_for_drift(n: &Notifier) -> Result<(), StoreError> {
    let config = n.live.now();
    if config.revision.is_none() {
        return Ok(()); // nothing applied yet: everything would look like drift
    }
    let observations = n.nodes.observations().await?;
    let drift = crate::nodes::drift::compute(&crate::nodes::drift::Inputs {
        config: &config,
        observations: &observations,
        server_version: env!("CARGO_PKG_VERSION"),
        install_hint: crate::nodes::drift::install_hint(n.settings.public_url.as_deref()),
    });
    let items: Vec<(String, Value)> = drift
        .items
        .iter()
        .map(|d| {
            let node = d.object.strip_prefix("Node/");
            let data = serde_json::json!({"kind": d.kind.as_str(), "object": d.object, "node": node,
                "message": d.message, "fix": d.fix});
            (format!("{}|{}", d.kind.as_str(), d.object), data)
        })
        .collect();
    n.repo.record_drift(&items).await
}

/// Routes up to a batch of events; returns how many.
pub async fn route_batch(n: &Notifier) -> Result<usize, StoreError> {
    let config = n.live.now();
    let rules = rules::rules(&config);
    let mut tx = n.repo.pool().begin().await?;
    let events = n.repo.claim_events(&mut tx, BATCH).await?;
    let mut writes = Writes::default();
    for e in &events {
        route(n, &mut tx, &rules, e, &mut writes).await?;
    }
    // A thousand events are a few statements, not thousands: dispatching runs shares the database.
    n.repo.set_firing(&mut tx, &writes.firing).await?;
    n.repo.queue(&mut tx, &writes.deliveries).await?;
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    n.repo.mark_routed(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(events.len())
}

/// What a batch writes, written together at its end.
#[derive(Default)]
struct Writes<'a> {
    deliveries: Vec<NewDelivery<'a>>,
    /// What each (rule, subject) has firing after the batch.
    firing: HashMap<(String, String), bool>,
}

impl Writes<'_> {
    /// Whether `rule` has `subject` firing: as this batch left it, else as stored.
    async fn firing(&self, n: &Notifier, tx: &mut PgConnection, rule: &str, subject: &str) -> Result<bool, StoreError> {
        match self.firing.get(&(rule.to_string(), subject.to_string())) {
            Some(f) => Ok(*f),
            None => n.repo.firing(tx, rule, subject).await,
        }
    }

    /// Drops `rule`'s messages about `subject` still held by its wait, stored or
    /// queued in this batch; true when there were any.
    async fn drop_waiting(
        &mut self,
        n: &Notifier,
        tx: &mut PgConnection,
        rule: &str,
        subject: &str,
    ) -> Result<bool, StoreError> {
        let mut dropped = n.repo.drop_waiting(tx, rule, subject).await?;
        for d in &mut self.deliveries {
            if d.rule == rule && d.subject.as_deref() == Some(subject) && d.wait.is_some() && d.suppressed.is_none() {
                d.suppressed = Some("the alert cleared before the rule's wait ended".into());
                d.wait = None;
                dropped = true;
            }
        }
        Ok(dropped)
    }
}

async fn route<'a>(
    n: &Notifier,
    tx: &mut PgConnection,
    rules: &'a [Rule<'a>],
    e: &'a EventRow,
    writes: &mut Writes<'a>,
) -> Result<(), StoreError> {
    let run = match &e.run_id {
        Some(id) => n.runs.run(id).await?,
        None => None,
    };
    let (event, run_vars) = rules::variables(e, run.as_ref());
    let (subject, kind) = (rules::subject(e), rules::event_kind(&e.kind));
    for rule in rules.iter().filter(|r| r.passes_filters(e)) {
        let fires = rule.listens(kind) && holds(n, rule, &event, &run_vars);
        let mut resolved = false;
        if let Some((subject, polarity)) = &subject {
            match polarity {
                Polarity::Raise if fires => {
                    writes.firing.insert((rule.name.clone(), subject.clone()), true);
                }
                Polarity::Clear if writes.firing(n, tx, &rule.name, subject).await? => {
                    writes.firing.insert((rule.name.clone(), subject.clone()), false);
                    // Cleared within the rule's wait: it never paged, so nothing is resolved.
                    let unsent = writes.drop_waiting(n, tx, &rule.name, subject).await?;
                    // A rule that listens to the clearing event says so in its own message.
                    resolved = !fires && !unsent;
                }
                _ => {}
            }
        }
        let raises = matches!(subject, Some((_, Polarity::Raise)));
        if !fires && !resolved {
            continue;
        }
        let suppressed = match rule.throttle {
            Some(window)
                if fires && n.repo.throttled(tx, &rule.name, &rules::throttle_key(e), window.get()).await? =>
            {
                Some(format!(
                    "throttled: rule {} sends one message per {window} for {} of this agent and node",
                    rule.name, e.kind
                ))
            }
            _ => None,
        };
        let m = rules::message(e, run.as_ref(), &n.settings.dashboard, resolved);
        for channel in &rule.channels {
            let d = NewDelivery {
                event: e,
                rule: &rule.name,
                channel,
                priority: rule.gotify_priority(),
                title: m.title.clone(),
                body: m.body.clone(),
                url: m.url.clone(),
                suppressed: suppressed.clone(),
                subject: subject.as_ref().map(|(s, _)| s.clone()),
                wait: rule.wait.filter(|_| fires && raises).map(|w| w.get()),
            };
            writes.deliveries.push(d);
        }
    }
    Ok(())
}

/// The rule's condition on the event, true without one; one that fails
/// (a missing field) is logged once with where the rule is and counts as false.
fn holds(n: &Notifier, rule: &Rule<'_>, event: &Value, run: &Value) -> bool {
    let Some(condition) = rule.condition else { return true };
    match condition.eval_bool(&[("event", event), ("run", run)]) {
        Ok(b) => b,
        Err(error) => {
            n.condition_failed(&rule.name, &rule.at, &error);
            false
        }
    }
}
