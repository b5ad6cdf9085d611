//! Schedules: when they fire ([`slots`]) and what a fire does.

pub mod slots;
