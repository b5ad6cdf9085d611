//! The management server of Claude Agent Runner, as a library so that tests
//! drive the same code the binary runs.
//!
//! Data flows one way: [`source`] → [`sync`] (validate, apply to [`store`])
//! → [`reconcile`] (observe nodes) → [`drift`] → [`api`]. [`auth`] decides
//! who may call the API, [`enrollment`] and [`node_keys`] which nodes are
//! trusted, [`secrets`] holds what must not leak, [`audit`] records who did what.

pub mod api;
pub mod audit;
pub mod auth;
pub mod can_i;
pub mod drift;
pub mod enrollment;
pub mod metrics;
pub mod node_keys;
pub mod plan;
pub mod postgres;
pub mod reconcile;
pub mod runner;
pub mod runs;
pub mod schedule;
pub mod schema;
pub mod secrets;
pub mod settings;
pub mod source;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod tokens;
pub mod validate;
pub mod webhook;
