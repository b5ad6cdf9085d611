//! The server's own PostgreSQL, for installs without `DATABASE_URL`.
//!
//! Finds the PostgreSQL programs on the machine (`initdb`/`pg_ctl` on PATH or
//! under /usr/lib/postgresql/*/bin), creates a cluster under
//! `DATA_DIR/postgres` on first start, runs it on a unix socket only (no TCP
//! port to protect or collide with), and stops it on shutdown. PostgreSQL
//! refuses to run as root, so as root the cluster belongs to, and runs as,
//! the unprivileged `postgres` user that Debian's package creates.
//!
//! Several processes may share one cluster directory (tests do): start-up is
//! serialized by a lock file and an already running cluster is reused.

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sqlx::postgres::PgConnectOptions;

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(
        "no PostgreSQL programs found (looked for initdb and pg_ctl on PATH and under /usr/lib/postgresql/*/bin) \
         (hint: install them, e.g. `apt-get install postgresql`, or set DATABASE_URL to an existing database)"
    )]
    NotInstalled,
    #[error(
        "PostgreSQL refuses to run as root and there is no `postgres` user to run it as \
         (hint: `apt-get install postgresql` creates one, or `useradd --system postgres`, or set DATABASE_URL)"
    )]
    NoUser,
    #[error("{what} failed: {detail} (hint: {hint})")]
    Command { what: String, detail: String, hint: String },
    #[error("cannot prepare {path}: {source} (hint: check that DATA_DIR is writable, or set DATABASE_URL)")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A running cluster that this process started or found running.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bindir: PathBuf,
    cluster: PathBuf,
    socket_dir: PathBuf,
    owner: Option<(u32, u32)>,
}

const USER: &str = "car";
const PORT: u16 = 5432;

impl EmbeddedPostgres {
    /// Starts (creating on first use) the cluster under `dir`; reuses it if it is already running.
    pub fn start(dir: &Path) -> Result<Self, PgError> {
        let bindir = find_bindir().ok_or(PgError::NotInstalled)?;
        let owner = if nix::unistd::Uid::effective().is_root() {
            let u = nix::unistd::User::from_name("postgres").ok().flatten().ok_or(PgError::NoUser)?;
            Some((u.uid.as_raw(), u.gid.as_raw()))
        } else {
            None
        };
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PgError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        // Through a symlink when there is one: the postgres user may reach where it points and not the link's folder.
        let dir = &dir.canonicalize().map_err(io(dir))?;
        let pg = EmbeddedPostgres { bindir, cluster: dir.join("data"), socket_dir: dir.join("socket"), owner };
        for d in [dir, pg.socket_dir.as_path()] {
            fs::create_dir_all(d).map_err(io(d))?;
            fs::set_permissions(d, fs::Permissions::from_mode(0o700)).map_err(io(d))?;
            if let Some((uid, gid)) = owner {
                chown(d, Some(uid), Some(gid)).map_err(io(d))?;
            }
        }
        let lock = fs::File::create(dir.join("start.lock")).map_err(io(dir))?;
        let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| PgError::Io { path: dir.join("start.lock"), source: e.into() })?;
        if !pg.cluster.join("PG_VERSION").exists() {
            pg.run(
                "initdb",
                &[
                    "-D".as_ref(),
                    pg.cluster.as_os_str(),
                    "-U".as_ref(),
                    USER.as_ref(),
                    "-A".as_ref(),
                    "trust".as_ref(),
                    "-E".as_ref(),
                    "UTF8".as_ref(),
                    "--no-instructions".as_ref(),
                ],
                "initdb (creating the database cluster)",
            )?;
        }
        if !pg.is_running() {
            let opts = format!("-k {} -c listen_addresses='' -p {PORT}", pg.socket_dir.display());
            let log = dir.join("postgres.log");
            pg.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    pg.cluster.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-o".as_ref(),
                    opts.as_ref(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "60".as_ref(),
                    "start".as_ref(),
                ],
                "pg_ctl start",
            )?;
        }
        Ok(pg)
    }

    fn is_running(&self) -> bool {
        self.command("pg_ctl").arg("-D").arg(&self.cluster).arg("status").output().is_ok_and(|o| o.status.success())
    }

    fn command(&self, program: &str) -> Command {
        use std::os::unix::process::CommandExt;
        let mut c = Command::new(self.bindir.join(program));
        if let Some((uid, gid)) = self.owner {
            c.uid(uid).gid(gid);
        }
        // The child must not inherit a working directory it cannot enter.
        c.current_dir("/");
        c
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr], what: &str) -> Result<Output, PgError> {
        let out = self.command(program).args(args).output().map_err(|e| PgError::Command {
            what: what.into(),
            detail: e.to_string(),
            hint: "check the PostgreSQL installation, or set DATABASE_URL".into(),
        })?;
        if !out.status.success() {
            let detail = String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or("").to_string();
            return Err(PgError::Command {
                what: what.into(),
                detail,
                hint: format!(
                    "the postgres user must be able to reach {} (every parent folder must be searchable), \
                     or set DATABASE_URL",
                    self.cluster.display()
                ),
            });
        }
        Ok(out)
    }

    /// Connection options for `database` over the unix socket.
    pub fn options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new().socket(&self.socket_dir).port(PORT).username(USER).database(database)
    }

    /// Creates `database` unless it exists.
    pub async fn ensure_database(&self, database: &str) -> Result<(), sqlx::Error> {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect_with(&self.options("postgres")).await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&mut c)
            .await?;
        if !exists {
            sqlx::query(&format!("CREATE DATABASE \"{}\"", database.replace('"', ""))).execute(&mut c).await?;
        }
        Ok(())
    }

    /// Stops the cluster (fast shutdown: open sessions are ended, committed data is safe).
    pub fn stop(&self) {
        let _ = self.command("pg_ctl").arg("-D").arg(&self.cluster).args(["-m", "fast", "-w", "stop"]).output();
    }
}

/// The newest PostgreSQL `bin` folder with initdb and pg_ctl.
fn find_bindir() -> Option<PathBuf> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    if let Some(d) = on_path.into_iter().find(|d| has_both(d)) {
        return Some(d);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has_both(d))
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d)
}
