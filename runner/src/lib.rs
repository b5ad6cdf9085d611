//! `car-runner`, the node runner, as a library: the parts are built and
//! tested here before the binary wires them into the HTTP service.
//!
//! - [`eventlog`]: each run's durable, gapless, replayable event log;
//! - [`health`]: what the node is (OS, capabilities) and how it is doing;
//! - [`policy`]: the decision on every tool call;
//! - [`engine`]: driving the claude CLI;
//! - [`keys`]: the tokens and node keys it accepts; [`enroll`] and
//!   [`heartbeat`]: how it gets and keeps them;
//! - [`api`], [`settings`]: the HTTP service and its settings.

pub mod api;
pub mod engine;
pub mod enroll;
pub mod eventlog;
pub mod health;
pub mod heartbeat;
pub mod keys;
pub mod policy;
pub mod runs;
pub mod settings;
