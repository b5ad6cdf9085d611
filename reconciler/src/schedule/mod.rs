//! Schedules: when they fire ([`slots`]) and what a fire does ([`fire`]).

pub mod fire;
pub mod repo;
pub mod slots;
