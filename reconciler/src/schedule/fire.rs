//! The scheduler: every second, each live, enabled and unpaused schedule's
//! slots that came due since the slot it handled last become runs, on every
//! node its selector picks that allows the agent and has what it requires.
//!
//! - A new schedule starts from now: it does not fire for the past.
//! - After downtime, `misfire` decides: `run-once` runs only the newest
//!   missed slot, `skip` runs none of them (only a slot that is on time);
//!   the others are recorded as skipped, so the history shows them. One
//!   look fires a schedule at most once.
//! - `overlap` decides when the agent still runs on the node: `skip` records
//!   the slot as skipped, `queue` queues the run to start after the other
//!   ends, `allow` runs both.
//! - A run waits its slot's jitter before it is dispatched.
//! - Several replicas may tick at once: a slot becomes a run once per agent
//!   and node (a unique key), whoever gets there first.

use std::sync::Arc;
use std::time::Duration;

use car_schemas::document::Manifest;
use car_schemas::kinds::schedule::Overlap;
use car_schemas::kinds::{AgentSpec, NodeSpec, ScheduleSpec};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::slots::{Cadence, apply_misfire};
use crate::db::StoreError;
use crate::runs::{QueueError, Runs, Start};

/// How often schedules are looked at.
pub const TICK: Duration = Duration::from_secs(1);
/// A slot this late still counts as on time (not missed).
pub const ON_TIME: Duration = Duration::from_secs(60);
/// Most missed slots of one schedule looked at after downtime.
const MAX_SLOTS: usize = 100;

pub async fn run(runs: Arc<Runs>) {
    loop {
        if let Err(e) = tick(&runs, Utc::now()).await {
            tracing::warn!(error = %e, "the scheduler could not look at the schedules; trying again");
        }
        tokio::time::sleep(TICK).await;
    }
}

fn spec<S: serde::de::DeserializeOwned>(doc: &serde_json::Value) -> Option<S> {
    car_schemas::de::from_json::<Manifest<S>>(doc).ok().map(|m| m.spec)
}

/// One look at every schedule, as of `now`.
pub async fn tick(runs: &Runs, now: DateTime<Utc>) -> Result<(), StoreError> {
    let store = &runs.store;
    let schedules = store.objects(Some("Schedule")).await?;
    if schedules.is_empty() {
        return Ok(());
    }
    let nodes: Vec<(String, NodeSpec)> = store
        .objects(Some("Node"))
        .await?
        .into_iter()
        .filter_map(|o| spec::<NodeSpec>(&o.document).map(|s| (o.name, s)))
        .collect();
    let agents: std::collections::HashMap<String, AgentSpec> = store
        .objects(Some("Agent"))
        .await?
        .into_iter()
        .filter_map(|o| spec::<AgentSpec>(&o.document).map(|s| (o.name, s)))
        .collect();
    let observed = store.node_observations().await?;
    let paused: Vec<String> = store
        .overrides()
        .await?
        .into_iter()
        .filter(|o| o.kind == "Schedule" && o.field == "paused")
        .map(|o| o.name)
        .collect();
    let states = store.schedule_states().await?;
    for object in schedules {
        let name = object.name;
        let Some(schedule) = spec::<ScheduleSpec>(&object.document) else { continue };
        let Some(&after) = states.get(&name) else {
            store.set_schedule_state(&name, now).await?; // new: fires from now on
            continue;
        };
        if !schedule.enabled || paused.contains(&name) {
            store.set_schedule_state(&name, now).await?; // resuming does not fire the paused time
            continue;
        }
        let cadence = Cadence::of(&schedule);
        let due = cadence.due(after, now, MAX_SLOTS);
        let Some(&newest) = due.slots.last() else { continue };
        let (mut to_run, mut missed) = apply_misfire(schedule.misfire, &due.slots, now, ON_TIME);
        // One fire per look: older on-time slots (a stalled server) count as missed too.
        if to_run.len() > 1 {
            let newest = to_run.split_off(to_run.len() - 1);
            missed.extend(to_run);
            to_run = newest;
        }
        let mut targets: Vec<(&str, &str)> = Vec::new();
        for agent in &schedule.agents {
            let Some(aspec) = agents.get(agent.as_str()) else { continue };
            for (node, nspec) in &nodes {
                let picked = schedule.nodes.matches(node, |t| nspec.tags.iter().any(|x| x.as_str() == t));
                let allowed = nspec.agents.as_ref().is_none_or(|l| l.iter().any(|x| x.as_str() == agent.as_str()));
                let capable = aspec.requires.iter().all(|cap| {
                    nspec.capabilities.iter().any(|c| c.as_str() == cap.as_str())
                        || observed.iter().any(|o| {
                            o.name == *node
                                && o.capabilities.as_array().is_some_and(|cs| cs.iter().any(|c| c == cap.as_str()))
                        })
                });
                if picked && allowed && capable {
                    targets.push((agent.as_str(), node.as_str()));
                }
            }
        }
        if due.total > due.slots.len() {
            tracing::warn!(schedule = %name, missed = due.total, "a schedule missed many slots; only the newest are looked at");
        }
        for slot in &missed {
            for (agent, node) in &targets {
                let reason = format!("missed: the server was not running at {slot} (misfire: {:?})", schedule.misfire);
                store.skip_slot(&name, *slot, agent, node, &reason).await?;
            }
        }
        for slot in to_run {
            for (agent, node) in &targets {
                fire(runs, &name, &schedule, &cadence, slot, agent, node).await?;
            }
        }
        store.set_schedule_state(&name, newest).await?;
    }
    Ok(())
}

async fn fire(
    runs: &Runs,
    name: &str,
    schedule: &ScheduleSpec,
    cadence: &Cadence,
    slot: DateTime<Utc>,
    agent: &str,
    node: &str,
) -> Result<(), StoreError> {
    let open = runs.store.open_run(agent, node).await?;
    if let Some(open) = &open {
        if open.slot == Some(slot) && open.started_by.as_deref() == Some(name) {
            return Ok(()); // this very fire, queued by another replica
        }
        if schedule.overlap == Overlap::Skip {
            let reason = format!("overlap: the previous run {} is still {}", open.id, open.status);
            return runs.store.skip_slot(name, slot, agent, node, &reason).await;
        }
    }
    let jitter = chrono::TimeDelta::from_std(cadence.jitter(name, slot)).unwrap_or_default();
    let start = Start {
        trigger: crate::runs::RunTrigger::Schedule,
        by: Some(crate::trust::audit::Actor::new("schedule", name, None)),
        slot: Some(slot),
        context: json!({"schedule": name, "slot": slot}),
        not_before: Some(slot + jitter),
        after_previous: schedule.overlap == Overlap::Queue,
    };
    match runs.queue(agent, node, start).await {
        Ok(Some(run)) => tracing::info!(schedule = %name, %slot, agent, node, run_id = %run.id, "schedule fired"),
        Ok(None) => {} // another replica fired it
        Err(QueueError::Store(e)) => return Err(e),
        Err(QueueError::Invalid { message, .. } | QueueError::NotFound { message, .. }) => {
            runs.store.skip_slot(name, slot, agent, node, &message).await?;
        }
    }
    Ok(())
}
