//! The nodes: each one's runner, called through [`client`] and looked at
//! through its health ([`reconcile`]), its metrics history ([`metrics`]),
//! and every difference between git and what is seen ([`drift`]).

pub mod client;
pub mod drift;
pub mod keys;
pub mod metrics;
pub mod reconcile;
pub mod repo;
