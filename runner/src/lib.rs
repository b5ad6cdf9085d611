//! `car-runner`, the node runner, as a library: the parts are built and
//! tested here before the binary wires them into the HTTP service.
//!
//! - [`eventlog`]: each run's durable, gapless, replayable event log;
//! - [`health`]: what the node is (OS, capabilities) and how it is doing;
//! - [`policy`]: the decision on every tool call;
//! - [`engine`]: driving the claude CLI;
//! - [`api`], [`settings`]: the HTTP service (health so far) and its settings.

pub mod api;
pub mod engine;
pub mod eventlog;
pub mod health;
pub mod policy;
pub mod runs;
pub mod settings;
