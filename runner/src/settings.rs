//! The runner's settings from the environment, checked once at start-up;
//! every problem names the variable and the fix.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `RUNNER_TOKEN`: a bearer token the server may send (a node declared
    /// in git with its token); an enrolled node has its keys instead.
    pub token: Option<String>,
    /// `RUNNER_PORT` (default 8100).
    pub port: u16,
    /// `RUNNER_DATA_DIR` (default `./runner-data`): run logs and work dirs.
    pub data_dir: PathBuf,
    /// `CLAUDE_BIN` (default `claude` on PATH).
    pub claude_bin: PathBuf,
    /// `SERVER_URL`: where the server is, for heartbeats (default: the one it enrolled with).
    pub server_url: Option<String>,
    /// `NODE_NAME`: the node's name (default: the enrolled name, else the host name).
    pub node_name: Option<String>,
    /// The host name, lowercase, for a node nobody named.
    pub host_name: String,
    /// `RUNNER_MAX_CONCURRENT_RUNS` (default 3): runs at once; more are refused as busy.
    pub max_runs: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid settings:\n{}", .0.join("\n"))]
pub struct SettingsError(pub Vec<String>);

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut problems = Vec::new();
        let token = var("RUNNER_TOKEN");
        if token.as_ref().is_some_and(|t| t.len() < 16) {
            problems.push(
                "RUNNER_TOKEN is shorter than 16 characters (hint: `openssl rand -hex 32`, and the same value in \
                 the Node's token in git)"
                    .into(),
            );
        }
        let port = match var("RUNNER_PORT") {
            None => 8100,
            Some(v) => v.trim().parse::<u16>().ok().filter(|p| *p > 0).unwrap_or_else(|| {
                problems
                    .push(format!("RUNNER_PORT={v:?} is not a port (hint: use a number from 1 to 65535, e.g. 8100)"));
                8100
            }),
        };
        let max_runs = match var("RUNNER_MAX_CONCURRENT_RUNS") {
            None => 3,
            Some(v) => v.trim().parse::<usize>().ok().filter(|n| (1..=64).contains(n)).unwrap_or_else(|| {
                problems.push(format!(
                    "RUNNER_MAX_CONCURRENT_RUNS={v:?} is not a number from 1 to 64 (hint: each run is a claude \
                     process of a few hundred MB; 2 or 3 suit most homelab nodes)"
                ));
                3
            }),
        };
        if !problems.is_empty() {
            return Err(SettingsError(problems));
        }
        let hostname = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
        Ok(Settings {
            token,
            port,
            data_dir: var("RUNNER_DATA_DIR").map_or_else(|| PathBuf::from("runner-data"), PathBuf::from),
            claude_bin: var("CLAUDE_BIN").map_or_else(|| PathBuf::from("claude"), PathBuf::from),
            server_url: var("SERVER_URL").map(|u| u.trim_end_matches('/').to_string()),
            node_name: var("NODE_NAME"),
            host_name: if hostname.is_empty() { "node".into() } else { hostname.to_lowercase() },
            max_runs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_token_and_a_bad_port_are_both_reported() {
        let e = Settings::from_lookup(|k| match k {
            "RUNNER_PORT" => Some("http".to_string()),
            "RUNNER_TOKEN" => Some("short".to_string()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(e.0.len(), 2);
        assert!(e.0[0].starts_with("RUNNER_TOKEN is shorter than 16"));
        assert!(e.0[1].starts_with("RUNNER_PORT=\"http\" is not a port"));
    }

    #[test]
    fn defaults_need_only_the_token() {
        let s = Settings::from_lookup(|k| (k == "RUNNER_TOKEN").then(|| "0123456789abcdef".to_string())).unwrap();
        assert_eq!(s.port, 8100);
        assert_eq!(s.claude_bin, PathBuf::from("claude"));
        assert_eq!(s.max_runs, 3);
    }

    #[test]
    fn a_run_limit_of_zero_is_refused() {
        let e = Settings::from_lookup(|k| match k {
            "RUNNER_TOKEN" => Some("0123456789abcdef".to_string()),
            "RUNNER_MAX_CONCURRENT_RUNS" => Some("0".to_string()),
            _ => None,
        })
        .unwrap_err();
        assert!(e.0[0].starts_with("RUNNER_MAX_CONCURRENT_RUNS=\"0\""), "{e}");
    }
}
