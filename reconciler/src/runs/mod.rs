//! Runs end to end. A click, an API call or a schedule [`Runs::queue`]s a
//! run in PostgreSQL ([`repo`]); the [`dispatch`]er claims queued runs and
//! sends them to their node's runner; a [`follow`]er per run reads the
//! runner's event stream into the run's log file ([`logs`]) and moves the
//! run's status along, until `run.finished`. Any server replica can
//! dispatch; each open run is followed by one replica at a time (a lease),
//! and a replica that dies leaves its runs to the others after the lease.

pub mod dispatch;
pub mod follow;
pub mod gate;
pub mod logs;
pub mod repo;
pub mod retention;
pub mod retry;
pub mod service;
pub mod targets;

pub use repo::{Approval, ApprovalStatus, NewRun, Run, RunRepo, RunTrigger, ScheduledRun};
pub use service::{AgentRecord, Runs, STATS_FRESH, ServiceError, Start};
