//! Driving agents: [`run`] takes a run from start to `run.finished`, with a
//! prompt agent's [`converse`] (the model through the [`claude`] CLI) or a
//! Python agent's [`script`], after the [`gather`] step; held tool calls go
//! through [`approvals`].

pub mod approvals;
pub mod claude;
pub mod command;
pub mod converse;
pub mod gather;
pub mod run;
pub mod script;

/// What can stop the engine itself (not the agent: its failures are outcomes).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Session(#[from] claude::SessionError),
    #[error(transparent)]
    Log(#[from] crate::eventlog::LogError),
    #[error("cannot start the agent's script: {0} (hint: install python3 on the node)")]
    Script(std::io::Error),
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
}
