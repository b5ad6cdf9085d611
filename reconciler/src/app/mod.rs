//! The server as a whole: its settings from the environment, start-up
//! (what runs, wired together) and logging.

pub mod settings;
pub mod startup;
pub mod telemetry;
