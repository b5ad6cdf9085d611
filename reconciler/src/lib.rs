//! The management server of Claude Agent Runner, as a library so that tests
//! drive the same code the binary runs. One folder per domain, in layers:
//! each uses only those below it (`tests/architecture.rs` checks it).
//!
//! - [`db`]: the PostgreSQL pool (and the server's own PostgreSQL); [`tasks`]:
//!   supervised background tasks, the shared backoff, the reconcile queue;
//! - [`trust`]: who may do what — users, sessions, API keys, roles, node
//!   enrollment and keys, the secret store, the audit log;
//! - [`config`]: where the config comes from ([`config::source`]), how a
//!   revision becomes live state ([`config::sync`]), and the typed
//!   [`config::snapshot`] every consumer reads;
//! - [`nodes`]: each node's runner, called through [`nodes::client`] and
//!   looked at by [`nodes::reconcile`], its metrics and [`nodes::drift`];
//! - [`runs`]: queueing, dispatch, following, retries, budget, retention, logs;
//! - [`events`]: what happened (a run failed, a node went away), written in
//!   the transaction of the change that caused it, for [`notify`];
//! - [`schedule`]: when schedules fire; [`hooks`]: webhook triggers that
//!   start agents; [`notify`]: rules that turn events into Gotify and webhook
//!   messages, delivered through an outbox;
//! - [`api`]: the HTTP API over all of them;
//! - [`app`]: settings and start-up, which wire it all together;
//! - [`cli`]: the subcommands besides `serve`.
//!
//! Each domain keeps its SQL in its own repository (`*::repo`, the `trust`
//! modules) and its writes with their audit entries in one transaction.

pub mod db;
pub mod tasks;

pub mod events;
pub mod trust;

pub mod config;

pub mod nodes;

pub mod runs;

pub mod hooks;
pub mod notify;
pub mod schedule;

pub mod api;

pub mod app;

pub mod cli;
