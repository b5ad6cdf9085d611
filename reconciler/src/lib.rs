//! The management server of Claude Agent Runner, as a library so that tests
//! drive the same code the binary runs. One folder per domain:
//!
//! - [`config`]: where the config comes from ([`config::source`]), how a
//!   revision becomes live state ([`config::sync`]), push webhooks;
//! - [`nodes`]: each node's runner seen through its health ([`nodes::reconcile`]),
//!   called through [`nodes::client`], its metrics history and [`nodes::drift`];
//! - [`runs`]: queueing, dispatch, following, retries, budget, retention, logs;
//! - [`schedule`]: when schedules fire;
//! - [`trust`]: who may do what — users, sessions, API keys, roles, node
//!   enrollment and keys, the secret store, the audit log;
//! - [`db`]: the PostgreSQL store (and the server's own PostgreSQL);
//! - [`reconcile`]: the generic controller loop the node probes run on;
//! - [`api`]: the HTTP API over all of them;
//! - [`app`]: settings and start-up, which wire it all together;
//! - [`cli`]: the subcommands besides `serve`.
//!
//! Data flows one way: `config` → `nodes` → `runs` and `schedule` → `api`,
//! with `trust` and `db` beneath them and `app` above.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod nodes;
pub mod reconcile;
pub mod runs;
pub mod schedule;
pub mod trust;
