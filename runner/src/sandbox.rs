//! Kernel enforcement for read-only agents: every process of such a run (the
//! claude CLI and each tool command it starts, a script agent's Python,
//! gather and `ctx.sh` commands) runs under a Landlock ruleset that lets it
//! read everywhere but write only to the run's own folders. A command the
//! policy wrongly allows still cannot write, delete or rename a file
//! elsewhere; with Landlock ABI 6 it cannot signal processes outside the run
//! either.
//!
//! Not covered, by design: the network (the CLI must reach the model API),
//! devices (reading SMART data needs `ioctl` on disks), and daemons reached
//! through sockets (`docker`, `systemctl` talk to dockerd and systemd, which
//! act with their own rights): those rest on the policy alone.
//!
//! Landlock (the `landlock` crate, the Landlock maintainers' own Rust
//! binding) restricts the calling thread and what it starts, so each jailed
//! process is spawned from a short-lived thread of its own that restricts
//! itself first; the runner's own threads are never restricted.

use std::path::PathBuf;

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, LandlockStatus, RestrictSelf, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, path_beneath_rules,
};

/// The newest ABI whose rights the jail asks for; older kernels get what they support.
const TARGET_ABI: ABI = ABI::V6;

/// What this kernel offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Landlock with this ABI version.
    Landlock(i32),
    /// No Landlock: not built into the kernel (before Linux 5.13) or not enabled at boot.
    Missing,
}

impl Support {
    /// Asks the kernel (once, at start-up).
    pub fn detect() -> Support {
        // With nothing requested, `apply` only reports the kernel's status.
        match RestrictSelf::default().no_new_privs(false).apply().map(|s| s.landlock) {
            Ok(LandlockStatus::Available { effective_abi, kernel_abi }) => {
                Support::Landlock(kernel_abi.unwrap_or(effective_abi as i32))
            }
            _ => Support::Missing,
        }
    }

    pub fn available(self) -> bool {
        matches!(self, Support::Landlock(_))
    }

    /// As the node's health and capabilities report it: `landlock v7`.
    pub fn describe(self) -> Option<String> {
        match self {
            Support::Landlock(abi) => Some(format!("landlock v{abi}")),
            Support::Missing => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot set up the Landlock jail: {0}")]
    Landlock(#[from] landlock::RulesetError),
    #[error("the kernel did not enforce the Landlock jail")]
    NotEnforced,
    #[error("cannot start a jailed process: {0}")]
    Spawn(std::io::Error),
}

/// Where a jailed run may write.
#[derive(Debug, Clone)]
pub struct Jail {
    writable: Vec<PathBuf>,
}

impl Jail {
    /// A jail writing only below these folders (which must exist).
    pub fn new(writable: Vec<PathBuf>) -> Jail {
        Jail { writable }
    }

    /// The folders it may write, for the run's log.
    pub fn writable(&self) -> &[PathBuf] {
        &self.writable
    }

    /// Starts `command` inside the jail.
    pub async fn spawn(&self, mut command: tokio::process::Command) -> Result<tokio::process::Child, SandboxError> {
        let writable = self.writable.clone();
        let runtime = tokio::runtime::Handle::current();
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A thread of its own: the restriction stays with it and what it starts.
        let spawned = std::thread::Builder::new().name("car-jail".into()).spawn(move || {
            let _runtime = runtime.enter();
            let result = restrict(&writable).and_then(|()| command.spawn().map_err(SandboxError::Spawn));
            let _ = tx.send(result);
        });
        if let Err(e) = spawned {
            return Err(SandboxError::Spawn(e));
        }
        rx.await.unwrap_or_else(|_| Err(SandboxError::Spawn(std::io::ErrorKind::Interrupted.into())))
    }
}

/// Restricts the calling thread: read everywhere, write below `writable`
/// and to `/dev/null`, signal only its own processes.
fn restrict(writable: &[PathBuf]) -> Result<(), SandboxError> {
    let abi = TARGET_ABI;
    // Reading, and `ioctl` on devices (SMART data, terminals), stay open everywhere.
    let read = AccessFs::from_read(abi) | AccessFs::IoctlDev;
    let status = landlock::Ruleset::default()
        .handle_access(AccessFs::from_all(abi))?
        // Older kernels cannot scope signals; they still get the file rules.
        .set_compatibility(CompatLevel::BestEffort)
        .scope(Scope::Signal)?
        .create()?
        .add_rules(path_beneath_rules(["/"], read))?
        .add_rules(path_beneath_rules(writable, AccessFs::from_all(abi)))?
        .add_rules(path_beneath_rules(["/dev/null"], AccessFs::from_all(abi)))?
        .restrict_self()?;
    match status.ruleset {
        RulesetStatus::NotEnforced => Err(SandboxError::NotEnforced),
        RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sh(jail: &Jail, script: &str) -> std::process::ExitStatus {
        let mut c = tokio::process::Command::new("/bin/sh");
        c.arg("-c").arg(script);
        jail.spawn(c).await.unwrap().wait().await.unwrap()
    }

    #[tokio::test]
    async fn a_jailed_process_writes_only_in_its_folders_and_reads_everywhere() {
        if !Support::detect().available() {
            eprintln!("skipped: this kernel has no Landlock");
            return;
        }
        let outside = tempfile::tempdir().unwrap();
        let inside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        let jail = Jail::new(vec![inside.path().to_path_buf()]);
        let (o, i) = (outside.path().display(), inside.path().display());
        assert!(sh(&jail, &format!("cat {o}/victim > {i}/copy && echo x > /dev/null")).await.success());
        assert_eq!(std::fs::read_to_string(inside.path().join("copy")).unwrap(), "keep me");
        for attack in [
            format!("rm -f {o}/victim"),
            format!("echo pwned > {o}/victim"),
            format!("mv {o}/victim {i}/stolen"),
            format!("touch {o}/new"),
            format!("ln -s /etc/passwd {o}/link"),
            format!("truncate -s 0 {o}/victim"),
        ] {
            assert!(!sh(&jail, &attack).await.success(), "{attack} succeeded");
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
        // The runner itself is not restricted.
        std::fs::write(outside.path().join("runner"), "ok").unwrap();
    }

    #[tokio::test]
    async fn a_jailed_process_cannot_signal_processes_outside() {
        if !matches!(Support::detect(), Support::Landlock(abi) if abi >= 6) {
            eprintln!("skipped: this kernel cannot scope signals");
            return;
        }
        let mut outsider = tokio::process::Command::new("sleep").arg("30").kill_on_drop(true).spawn().unwrap();
        let pid = outsider.id().unwrap();
        let jail = Jail::new(vec![]);
        assert!(!sh(&jail, &format!("kill -9 {pid}")).await.success());
        assert!(outsider.try_wait().unwrap().is_none(), "the outsider was killed");
        // Its own children it may signal.
        assert!(sh(&jail, "sleep 30 & kill $!").await.success());
    }
}
