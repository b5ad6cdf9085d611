//! One shell command of a run (a gather step, a script's `ctx.sh`): run in
//! the run's folder (and its jail, for a read-only agent) with the run's
//! marker and temp folder in its environment, both pipes read at once and
//! capped, stopped at its timeout.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::claude::Launch;

/// What a command did.
#[derive(Debug, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    /// `None` when it did not exit by itself (killed, timed out, not started).
    pub exit_code: Option<i32>,
    /// Output was cut at the cap.
    pub cut: bool,
    /// Why it has no exit code, for people: "stopped after 60s", "could not start: …".
    pub note: Option<String>,
}

/// Runs `command` with `shell -c` as `launch` starts things (its folder,
/// jail and temp folder) with `env` added; keeps at most `cap` bytes of each pipe.
pub async fn run(
    shell: &str,
    command: &str,
    launch: &Launch,
    env: &[(String, String)],
    timeout: Duration,
    cap: usize,
) -> Output {
    let mut c = tokio::process::Command::new(shell);
    c.arg("-c")
        .arg(command)
        .current_dir(&launch.workdir)
        .env("TMPDIR", &launch.tmp_dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = launch.spawn(c).await;
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Output { note: Some(format!("could not start: {e}")), ..Output::default() },
    };
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let read = async {
        // Both pipes at once, so a command that fills one is never stuck on it.
        let ((out, cut_out), (err, cut_err)) = tokio::join!(capped(stdout, cap), capped(stderr, cap));
        let code = child.wait().await.ok().and_then(|s| s.code());
        (out, err, cut_out || cut_err, code)
    };
    match tokio::time::timeout(timeout, read).await {
        Ok((out, err, cut, exit_code)) => Output {
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            exit_code,
            cut,
            note: cut.then(|| format!("output cut at {cap} bytes")),
        },
        Err(_) => Output { note: Some(format!("stopped after {}s", timeout.as_secs())), ..Output::default() },
    }
}

/// Everything a pipe gives, keeping at most `cap` bytes (the rest is read and dropped).
async fn capped(pipe: Option<impl tokio::io::AsyncRead + Unpin>, cap: usize) -> (Vec<u8>, bool) {
    let (mut kept, mut cut) = (Vec::new(), false);
    let Some(mut pipe) = pipe else { return (kept, cut) };
    let mut buf = [0u8; 8192];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
        cut |= n > room;
    }
    (kept, cut)
}
