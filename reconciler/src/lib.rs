//! The management server of Claude Agent Runner, as a library so that tests
//! drive the same code the binary runs.

pub mod schema;
pub mod validate;
