//! The scheduler: every second, each live, enabled and unpaused schedule's
//! slots that came due since the slot it handled last become runs, on every
//! node its selector picks that allows the agent and has what it requires
//! ([`crate::runs::targets`], which the trigger hooks share).
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

use car_schemas::kinds::ScheduleSpec;
use car_schemas::kinds::schedule::Overlap;
use chrono::{DateTime, Utc};

use super::repo::ScheduleRepo;
use super::slots::{Cadence, apply_misfire};
use crate::db::StoreError;
use crate::runs::targets::{Target, targets};
use crate::runs::{Runs, ServiceError, Start};

/// How often schedules are looked at.
pub const TICK: Duration = Duration::from_secs(1);
/// A slot this late still counts as on time (not missed).
pub const ON_TIME: Duration = Duration::from_secs(60);
/// Most missed slots of one schedule looked at after downtime.
const MAX_SLOTS: usize = 100;

pub struct Scheduler {
    pub runs: Arc<Runs>,
    pub repo: ScheduleRepo,
}

impl Scheduler {
    /// Looks at the schedules every [`TICK`], forever.
    pub async fn run(&self) {
        loop {
            if let Err(e) = self.tick(Utc::now()).await {
                tracing::warn!(error = %e, "the scheduler could not look at the schedules; trying again");
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// One look at every schedule, as of `now`: the live config from memory,
    /// the database only for the slots each schedule handled and, when one
    /// is due, what the nodes' runners report.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let config = self.runs.live.now();
        if config.schedules.is_empty() {
            return Ok(());
        }
        let states = self.repo.states().await?;
        let mut observed = None;
        for (name, schedule) in &config.schedules {
            let schedule = &schedule.spec;
            let Some(&after) = states.get(name) else {
                self.repo.set_state(name, now).await?; // new: fires from now on
                continue;
            };
            if !schedule.enabled || config.paused(name).is_some() {
                self.repo.set_state(name, now).await?; // resuming does not fire the paused time
                continue;
            }
            let cadence = Cadence::of(schedule);
            let due = cadence.due(after, now, MAX_SLOTS);
            let Some(&newest) = due.slots.last() else { continue };
            let (mut to_run, mut missed) = apply_misfire(schedule.misfire, &due.slots, now, ON_TIME);
            // One fire per look: older on-time slots (a stalled server) count as missed too.
            if to_run.len() > 1 {
                let newest = to_run.split_off(to_run.len() - 1);
                missed.extend(to_run);
                to_run = newest;
            }
            let observed = match &observed {
                Some(o) => o,
                None => observed.insert(self.runs.nodes.observations().await?),
            };
            let targets = targets(&config, &schedule.agents, &schedule.nodes, observed);
            if due.total > due.slots.len() {
                tracing::warn!(schedule = %name, missed = due.total, "a schedule missed many slots; only the newest are looked at");
            }
            for slot in &missed {
                for Target { agent, node } in &targets {
                    let reason =
                        format!("missed: the server was not running at {slot} (misfire: {:?})", schedule.misfire);
                    self.repo.skip_slot(name, *slot, agent, node, &reason).await?;
                }
            }
            for slot in to_run {
                for Target { agent, node } in &targets {
                    self.fire(name, schedule, &cadence, slot, agent, node).await?;
                }
            }
            self.repo.set_state(name, newest).await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn fire(
        &self,
        name: &str,
        schedule: &ScheduleSpec,
        cadence: &Cadence,
        slot: DateTime<Utc>,
        agent: &str,
        node: &str,
    ) -> Result<(), StoreError> {
        let runs = &self.runs;
        let open = runs.repo.open_run(agent, node).await?;
        if let Some(open) = &open {
            if open.slot == Some(slot) && open.started_by.as_deref() == Some(name) {
                return Ok(()); // this very fire, queued by another replica
            }
            if schedule.overlap == Overlap::Skip {
                let reason = format!("overlap: the previous run {} is still {}", open.id, open.status);
                return self.repo.skip_slot(name, slot, agent, node, &reason).await;
            }
        }
        let jitter = chrono::TimeDelta::from_std(cadence.jitter(name, slot)).unwrap_or_default();
        let start = Start {
            trigger: crate::runs::RunTrigger::Schedule,
            by: Some(crate::trust::audit::Actor::new(crate::trust::audit::ActorKind::Schedule, name, None)),
            slot: Some(slot),
            // The schedule and slot are the run's `started_by` and `slot`.
            context: serde_json::Map::new(),
            not_before: Some(slot + jitter),
            after_previous: schedule.overlap == Overlap::Queue,
        };
        match runs.queue(agent, node, start).await {
            Ok(Some(run)) => tracing::info!(schedule = %name, %slot, agent, node, run_id = %run.id, "schedule fired"),
            Ok(None) => {} // another replica fired it
            Err(ServiceError::Store(e)) => return Err(e),
            Err(e) => self.repo.skip_slot(name, slot, agent, node, &e.to_string()).await?,
        }
        Ok(())
    }
}
