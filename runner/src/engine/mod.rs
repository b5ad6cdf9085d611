//! Driving agents. [`claude`] speaks the `claude` CLI's SDK protocol; the
//! run engine built on it (gather, approvals, outcome, cancel) comes next.

pub mod claude;
pub mod gather;
pub mod run;
