//! The config: where it comes from ([`source`]), how each revision is
//! validated and applied as live state ([`sync`]), and the push webhooks
//! that ask for a sync ([`webhook`]).

pub mod changes;
pub mod forge;
pub mod plan;
pub mod repo;
pub mod review;
pub mod snapshot;
pub mod source;
pub mod sync;
pub mod webhook;
pub mod write;
