//! The management server of Claude Agent Runner, as a library so that tests
//! drive the same code the binary runs.
//!
//! Data flows one way: [`source`] → [`sync`] (validate, apply to [`store`])
//! → [`reconcile`] (observe nodes) → [`drift`] → [`api`].

pub mod api;
pub mod drift;
pub mod metrics;
pub mod plan;
pub mod postgres;
pub mod reconcile;
pub mod runner;
pub mod runs;
pub mod schedule;
pub mod schema;
pub mod settings;
pub mod source;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod validate;
pub mod webhook;
