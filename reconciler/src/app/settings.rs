//! Typed settings from the environment, validated once at start-up.
//!
//! Every variable is read here and nowhere else; a missing or malformed one
//! stops the server with a message naming the variable and the fix. All
//! problems are reported together.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use car_schemas::run::STREAM_KEEPALIVE;
use car_schemas::values::Duration as ConfigDuration;

use crate::config::source::SourceSettings;
use crate::trust::secrets::Secret;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`; unset: the server runs its own PostgreSQL under `DATA_DIR/postgres`.
    pub database_url: Option<String>,
    /// `DATA_DIR` (default `./data`): git mirrors, the embedded database, logs.
    pub data_dir: PathBuf,
    pub source: SourceSettings,
    /// `GIT_WEBHOOK_SECRET`: the push webhook's shared secret; unset, pushes are refused.
    pub git_webhook_secret: Option<Secret>,
    /// `ADMIN_USERNAME` and `ADMIN_PASSWORD`: the first admin, made at start when missing.
    pub admin: Option<(String, Secret)>,
    /// `SECRET_KEY`: the master key of stored secrets and node keys; unset: `DATA_DIR/secret.key`.
    pub secret_key: Option<crate::trust::secrets::MasterKey>,
    /// `SESSION_IDLE_TIMEOUT` (default 12h): dashboard sessions end after this long unused (and after 7 days anyway).
    pub session_idle: Duration,
    /// `TRUSTED_PROXIES` (default loopback): addresses or networks whose `X-Forwarded-For` is believed; `none` for none.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `RUNNER_IMAGE` (default `car-runner:VERSION`): the image the install script runs where Docker works.
    pub runner_image: Option<String>,
    /// `RUNNER_BINARY_DIR` (default: beside car-server): where `car-runner[-ARCH]` binaries for the install script are.
    pub runner_binary_dir: Option<PathBuf>,
    /// `BIND_ADDRESS` (default 0.0.0.0).
    pub bind: IpAddr,
    /// `API_PORT` (default 8000).
    pub api_port: u16,
    /// `UI_PORT` (default 3000).
    pub ui_port: u16,
    /// `PUBLIC_URL`: how users reach the server, for links and the install script.
    pub public_url: Option<String>,
    /// `RUN_LOST_GRACE` (default 2m): how long a run waits for its node to come back before it is `lost`.
    pub run_lost_grace: Duration,
    /// `RUN_STREAM_SILENCE` (default 45s, three of the runner's keepalives): how long a
    /// runner's event stream may say nothing before the server takes it for dead and reconnects.
    pub run_stream_silence: Duration,
    /// `NODE_AWAY_GRACE` (default 1m): how long a node's runner may not answer before
    /// `node.disconnected` is announced (one missed look is not an alert).
    pub node_away_grace: Duration,
    /// `RESOURCE_WARN_CPU` (95), `RESOURCE_WARN_MEMORY` (90), `RESOURCE_WARN_DISK` (90),
    /// percent, and `RESOURCE_WARN_FOR` (5m): a node's resource at or over its level
    /// that long is announced as `node.resource_warning`.
    pub resource_limits: crate::nodes::metrics::ResourceLimits,
    /// `NOTIFY_GIVE_UP` (default 1d): how long a message is retried before it is given up, with its last error.
    pub notify_give_up: Duration,
    /// `BUDGET_DAILY_USD`, `BUDGET_MONTHLY_USD`: past them, model runs wait (script agents still run).
    pub budget: crate::runs::gate::Budget,
    /// `RETENTION_DAYS` (default 90): finished runs and their logs older than this are deleted; usage is kept.
    pub retention_days: u32,
    /// `CONFIG_WRITE_MODE` (default commit): edits made in the dashboard are
    /// pushed to the config branch, or (`pull-request`) to a new branch with
    /// a pull request.
    pub write_mode: crate::config::write::WriteMode,
    /// `CONFIG_FORGE` (github, gitlab, gitea), `CONFIG_FORGE_API_URL`,
    /// `CONFIG_FORGE_REPO` (owner/name) and `CONFIG_FORGE_TOKEN` (default
    /// `CONFIG_REPO_TOKEN`): the forge that opens pull requests and is told
    /// whether a pull request's config is valid; derived from `CONFIG_REPO`
    /// when it allows.
    pub forge: Option<crate::config::forge::ForgeSettings>,
    /// `DEMO_MODEL_URL`: the scripted demo model (`car-demo-model`, which
    /// `scripts/up` starts when there are no model credentials); while the
    /// server has no credentials, model runs use it and say so. Unset, they
    /// are refused when started.
    pub demo_model: Option<String>,
}

/// Everything wrong with the environment, one line per variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid settings:\n{}", .0.join("\n"))]
pub struct SettingsError(pub Vec<String>);

impl Settings {
    /// What the API needs of them.
    pub fn api(&self) -> crate::api::ApiSettings {
        crate::api::ApiSettings {
            public_url: self.public_url.clone(),
            api_port: self.api_port,
            webhook_secret: self.git_webhook_secret.clone(),
            branch: self.source.branch.clone(),
            runner_image: self.runner_image.clone(),
            runner_binary_dir: self.runner_binary_dir.clone(),
            auth: crate::trust::access::AuthSettings {
                session_idle: self.session_idle,
                secure_cookies: self.public_url.as_deref().is_some_and(|u| u.starts_with("https://")),
                trusted_proxies: self.trusted_proxies.clone(),
                origins: self.public_url.iter().filter_map(|u| origin(u)).collect(),
            },
        }
    }

    /// Where the dashboard is, for links printed in the log.
    pub fn dashboard_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://localhost:{}", self.ui_port))
    }

    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut problems = Vec::new();
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut port = |k: &str, default: u16| match var(k) {
            None => default,
            Some(v) => v.trim().parse::<u16>().ok().filter(|p| *p > 0).unwrap_or_else(|| {
                problems
                    .push(format!("{k}={v:?} is not a port (hint: use a number from 1 to 65535, e.g. {k}={default})"));
                default
            }),
        };
        let api_port = port("API_PORT", 8000);
        let ui_port = port("UI_PORT", 3000);
        let bind = match var("BIND_ADDRESS") {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(v) => v.parse().unwrap_or_else(|_| {
                problems.push(format!("BIND_ADDRESS={v:?} is not an IP address (hint: e.g. 0.0.0.0 or 127.0.0.1)"));
                IpAddr::from([0, 0, 0, 0])
            }),
        };
        let mut duration = |k: &str, default: Duration, example: &str| match var(k) {
            None => default,
            Some(v) => match v.trim().parse::<ConfigDuration>() {
                Ok(d) if d.get() >= Duration::from_secs(1) => d.get(),
                _ => {
                    problems.push(format!("{k}={v:?} is not a duration of at least 1s (hint: e.g. {example})"));
                    default
                }
            },
        };
        let poll_interval = duration("CONFIG_POLL_INTERVAL", Duration::from_secs(60), "30s, 5m or 1h");
        let session_idle = duration("SESSION_IDLE_TIMEOUT", Duration::from_secs(12 * 3600), "30m or 12h");
        let run_lost_grace = duration("RUN_LOST_GRACE", Duration::from_secs(120), "30s or 5m");
        let run_stream_silence = duration("RUN_STREAM_SILENCE", STREAM_KEEPALIVE * 3, "45s or 2m");
        let node_away_grace = duration("NODE_AWAY_GRACE", Duration::from_secs(60), "30s or 5m");
        let notify_give_up = duration("NOTIFY_GIVE_UP", Duration::from_secs(24 * 3600), "1h or 2d");
        let defaults = crate::nodes::metrics::ResourceLimits::default();
        let held = duration("RESOURCE_WARN_FOR", defaults.held, "5m or 15m");
        let mut percent = |k: &str, default: f64| match var(k) {
            None => default,
            Some(v) => v.trim().parse::<f64>().ok().filter(|p| (1.0..=100.0).contains(p)).unwrap_or_else(|| {
                problems.push(format!("{k}={v:?} is not a percentage from 1 to 100 (hint: e.g. {k}={default})"));
                default
            }),
        };
        let resource_limits = crate::nodes::metrics::ResourceLimits {
            cpu_percent: percent("RESOURCE_WARN_CPU", defaults.cpu_percent),
            memory_percent: percent("RESOURCE_WARN_MEMORY", defaults.memory_percent),
            disk_percent: percent("RESOURCE_WARN_DISK", defaults.disk_percent),
            held,
        };
        let retention_days = match var("RETENTION_DAYS") {
            None => 90,
            Some(v) => v.trim().parse::<u32>().ok().filter(|d| (1..=36500).contains(d)).unwrap_or_else(|| {
                problems.push(format!(
                    "RETENTION_DAYS={v:?} is not a number of days from 1 up (hint: e.g. 90; runs older than that are deleted, their usage is kept)"
                ));
                90
            }),
        };
        let mut dollars = |k: &str| {
            var(k).and_then(|v| match v.trim().trim_start_matches('$').parse::<f64>() {
                Ok(d) if d > 0.0 && d.is_finite() => Some(d),
                _ => {
                    problems.push(format!("{k}={v:?} is not an amount of US dollars (hint: e.g. {k}=20 or 5.50)"));
                    None
                }
            })
        };
        let budget = crate::runs::gate::Budget {
            daily_usd: dollars("BUDGET_DAILY_USD"),
            monthly_usd: dollars("BUDGET_MONTHLY_USD"),
        };
        let repo = var("CONFIG_REPO").unwrap_or_else(|| {
            problems.push(
                "CONFIG_REPO is not set (hint: point it at your config repository: a local folder such as \
                 ./example-config-repo, or a file://, https:// or ssh:// git URL)"
                    .into(),
            );
            String::new()
        });
        if api_port == ui_port && var("API_PORT").is_some() {
            problems.push(format!("API_PORT and UI_PORT are both {api_port} (hint: give them different ports)"));
        }
        let ssh_key = var("CONFIG_SSH_KEY").map(PathBuf::from);
        if let Some(k) = &ssh_key
            && !k.is_file()
        {
            problems
                .push(format!("CONFIG_SSH_KEY={} is not a file (hint: give the path of a private key)", k.display()));
        }
        let admin = match (var("ADMIN_USERNAME"), get("ADMIN_PASSWORD").filter(|p| !p.is_empty())) {
            (None, None) => None,
            (Some(user), Some(password)) => {
                if let Err(why) = crate::trust::password::check_new(&password) {
                    problems.push(format!("ADMIN_PASSWORD: {why}"));
                }
                Some((user.trim().to_string(), Secret::new(password)))
            }
            (Some(_), None) => {
                problems.push("ADMIN_USERNAME is set but ADMIN_PASSWORD is not (hint: set both, or neither to get a one-time setup link)".into());
                None
            }
            (None, Some(_)) => {
                problems.push(
                    "ADMIN_PASSWORD is set but ADMIN_USERNAME is not (hint: set both, e.g. ADMIN_USERNAME=admin)"
                        .into(),
                );
                None
            }
        };
        let secret_key = var("SECRET_KEY")
            .and_then(|v| crate::trust::secrets::MasterKey::parse(&v).map_err(|why| problems.push(why)).ok());
        let trusted_proxies = match var("TRUSTED_PROXIES") {
            None => crate::trust::access::loopback(),
            Some(v) if v.trim().eq_ignore_ascii_case("none") => Vec::new(),
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    p.parse::<ipnet::IpNet>().or_else(|_| p.parse::<IpAddr>().map(ipnet::IpNet::from)).map_err(|_| {
                        problems.push(format!(
                            "TRUSTED_PROXIES: {p:?} is not an address or network (hint: e.g. TRUSTED_PROXIES=127.0.0.1,172.16.0.0/12)"
                        ))
                    })
                    .ok()
                })
                .collect(),
        };
        let public_url = var("PUBLIC_URL").map(|u| u.trim().trim_end_matches('/').to_string());
        if let Some(u) = &public_url
            && !url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
        {
            problems
                .push(format!("PUBLIC_URL={u:?} is not an http(s) URL (hint: e.g. PUBLIC_URL=https://car.home.lan)"));
        }
        let write_mode = match var("CONFIG_WRITE_MODE").as_deref().map(str::trim) {
            None | Some("commit") => crate::config::write::WriteMode::Commit,
            Some("pull-request") => crate::config::write::WriteMode::PullRequest,
            Some(other) => {
                problems.push(format!("CONFIG_WRITE_MODE={other:?} is not a mode (hint: commit or pull-request)"));
                crate::config::write::WriteMode::Commit
            }
        };
        let token = var("CONFIG_FORGE_TOKEN").or_else(|| var("CONFIG_REPO_TOKEN")).map(Secret::new);
        let forge = crate::config::forge::derive(
            &repo,
            var("CONFIG_FORGE").as_deref(),
            var("CONFIG_FORGE_API_URL").as_deref(),
            var("CONFIG_FORGE_REPO").as_deref(),
            token,
        )
        .unwrap_or_else(|why| {
            // Only a forge someone asked for must be complete: one guessed from the URL is just not known.
            let asked = var("CONFIG_FORGE").is_some() || write_mode == crate::config::write::WriteMode::PullRequest;
            if asked {
                problems.push(why);
            }
            None
        });
        if write_mode == crate::config::write::WriteMode::PullRequest && forge.is_none() {
            problems.push(
                "CONFIG_WRITE_MODE=pull-request but the forge is unknown (hint: set CONFIG_FORGE to github, gitlab or \
                 gitea, and CONFIG_FORGE_API_URL when it is self-hosted)"
                    .into(),
            );
        }
        if !problems.is_empty() {
            return Err(SettingsError(problems));
        }
        Ok(Settings {
            demo_model: var("DEMO_MODEL_URL").map(|u| u.trim().trim_end_matches('/').to_string()),
            write_mode,
            forge,
            database_url: var("DATABASE_URL"),
            data_dir: var("DATA_DIR").map_or_else(|| PathBuf::from("data"), PathBuf::from),
            source: SourceSettings {
                repo,
                branch: var("CONFIG_BRANCH").unwrap_or_else(|| "main".into()),
                path: var("CONFIG_PATH").map(PathBuf::from).filter(|p| p != &PathBuf::from(".")),
                poll_interval,
                token: var("CONFIG_REPO_TOKEN").map(Secret::new),
                ssh_key,
            },
            git_webhook_secret: var("GIT_WEBHOOK_SECRET").map(Secret::new),
            admin,
            secret_key,
            session_idle,
            trusted_proxies,
            runner_image: var("RUNNER_IMAGE"),
            runner_binary_dir: var("RUNNER_BINARY_DIR").map(PathBuf::from),
            bind,
            api_port,
            ui_port,
            public_url,
            run_lost_grace,
            run_stream_silence,
            node_away_grace,
            resource_limits,
            notify_give_up,
            budget,
            retention_days,
        })
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(u: &str) -> Option<String> {
    let u = url::Url::parse(u).ok()?;
    Some(u.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn a_forge_follows_from_the_repo_url_and_must_be_complete_only_when_asked_for() {
        let f = settings(&[("CONFIG_REPO", "https://github.com/me/homelab.git")]).unwrap().forge.unwrap();
        assert_eq!((f.kind, f.repo.as_str()), (crate::config::forge::ForgeKind::Github, "me/homelab"));
        // A guess that falls short is no forge, not an error (commits need none)...
        assert!(settings(&[("CONFIG_REPO", "https://gitlab.lan/config.git")]).unwrap().forge.is_none());
        // ...but pull requests need one.
        let pr = ("CONFIG_WRITE_MODE", "pull-request");
        let e = settings(&[("CONFIG_REPO", "https://gitlab.lan/config.git"), pr]).unwrap_err().to_string();
        assert!(e.contains("CONFIG_FORGE_REPO=owner/name"), "{e}");
        let e = settings(&[("CONFIG_REPO", "./example-config-repo"), pr]).unwrap_err().to_string();
        assert!(e.contains("the forge is unknown"), "{e}");
        let e = settings(&[("CONFIG_REPO", "./x"), ("CONFIG_WRITE_MODE", "sometimes")]).unwrap_err().to_string();
        assert!(e.contains("commit or pull-request"), "{e}");
    }

    #[test]
    fn defaults_need_only_the_config_repo() {
        let s = settings(&[("CONFIG_REPO", "./example-config-repo")]).unwrap();
        assert_eq!((s.api_port, s.ui_port), (8000, 3000));
        assert_eq!(s.source.branch, "main");
        assert_eq!(s.source.poll_interval, Duration::from_secs(60));
        assert_eq!(s.data_dir, PathBuf::from("data"));
        assert!(s.database_url.is_none());
    }

    #[test]
    fn security_settings_are_checked_and_secrets_never_print() {
        let e = settings(&[
            ("CONFIG_REPO", "x"),
            ("ADMIN_USERNAME", "admin"),
            ("SECRET_KEY", "short"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, proxy"),
            ("PUBLIC_URL", "car.lan"),
        ])
        .unwrap_err();
        let text = e.to_string();
        for part in [
            "ADMIN_USERNAME is set but ADMIN_PASSWORD is not",
            "SECRET_KEY is not 32 bytes",
            "TRUSTED_PROXIES: \"proxy\"",
            "PUBLIC_URL=\"car.lan\"",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
        let s = settings(&[
            ("CONFIG_REPO", "x"),
            ("ADMIN_USERNAME", "admin"),
            ("ADMIN_PASSWORD", "a-long-secret-password"),
            ("GIT_WEBHOOK_SECRET", "hook-secret-value"),
            ("TRUSTED_PROXIES", "none"),
        ])
        .unwrap();
        assert!(s.trusted_proxies.is_empty());
        let shown = format!("{s:?}");
        assert!(!shown.contains("a-long-secret-password") && !shown.contains("hook-secret-value"), "{shown}");
    }

    #[test]
    fn every_bad_variable_is_named_with_its_fix() {
        let e = settings(&[("API_PORT", "eighty"), ("CONFIG_POLL_INTERVAL", "often")]).unwrap_err();
        assert_eq!(
            e.0,
            vec![
                "API_PORT=\"eighty\" is not a port (hint: use a number from 1 to 65535, e.g. API_PORT=8000)",
                "CONFIG_POLL_INTERVAL=\"often\" is not a duration of at least 1s (hint: e.g. 30s, 5m or 1h)",
                "CONFIG_REPO is not set (hint: point it at your config repository: a local folder such as \
                 ./example-config-repo, or a file://, https:// or ssh:// git URL)",
            ]
        );
    }
}
