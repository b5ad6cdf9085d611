//! Background work: the [`Supervisor`] every long-running task runs under,
//! the one [`Backoff`] everything that retries uses, and the keyed work
//! [`Queue`] the object reconcilers ([`reconcile`]) run on.

pub mod backoff;
pub mod queue;
pub mod reconcile;
pub mod supervisor;

pub use backoff::Backoff;
pub use queue::Queue;
pub use supervisor::{Health, Supervisor};
