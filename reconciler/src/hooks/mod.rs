//! Webhook triggers: `POST /api/v1/hooks/{name}` starts a Trigger's agents.
//!
//! A call enters through the API with its headers, raw body and address;
//! [`fire::Hooks::call`] checks it against the trigger as the live config
//! declares it (secret, JSON body, CEL condition on `payload` and
//! `headers`, cooldown) and queues the trigger's agents with
//! [`crate::runs::Runs::queue`] on the nodes [`crate::runs::targets`]
//! picks, as schedules do. What leaves: runs in the queue (the body is each
//! run's `context.payload`), a row per call in `trigger_calls` and the
//! cooldown in `trigger_state` ([`repo`]), and `trigger.fired` /
//! `trigger.refused` entries in the audit log.

pub mod fire;
pub mod repo;

pub use fire::{Body, Call, Fired, HookError, Hooks, MAX_BODY};
pub use repo::{HookRepo, Outcome, TriggerCall};
