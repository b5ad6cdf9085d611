//! `car-runner`, the node runner, as a library: the parts are built and
//! tested here before the binary wires them into the HTTP service.
//!
//! - [`eventlog`]: each run's durable, gapless, replayable event log;
//! - [`health`]: what the node is (OS, capabilities) and how it is doing;
//! - [`sandbox`]: the Landlock jail that holds read-only agents to reading;
//! - [`engine`]: driving the claude CLI;
//! - [`keys`]: the tokens and node keys it accepts; [`enroll`] and
//!   [`heartbeat`]: how it gets and keeps them;
//! - [`api`], [`settings`]: the HTTP service and its settings; [`can_i`]:
//!   the policy's dry run on the node.

pub mod api;
pub mod can_i;
pub mod engine;
pub mod enroll;
pub mod eventlog;
pub mod health;
pub mod heartbeat;
pub mod keys;
pub mod runs;
pub mod sandbox;
pub mod settings;
