//! `car-runner enroll`: spends a one-time enrollment token at the server
//! (`POST /api/v1/nodes/enroll`) and keeps the node key it gets in
//! `RUNNER_DATA_DIR/keys.json`. The install script runs it; it is safe to
//! run again: a node that is enrolled already, whose key the server still
//! takes, keeps it (unless `--force`).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::keys::{self, Enrollment, KeyRing};

#[derive(Debug, Default, PartialEq)]
pub struct Args {
    pub server: String,
    pub token: Option<String>,
    pub name: Option<String>,
    pub address: Option<String>,
    pub port: Option<u16>,
    pub force: bool,
}

pub const USAGE: &str =
    "usage: car-runner enroll --server URL [--token TOKEN] [--name NAME] [--address URL] [--port PORT] [--force]";

pub fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--server" => a.server = value()?.trim_end_matches('/').to_string(),
            "--token" => a.token = Some(value()?),
            "--name" => a.name = Some(value()?),
            "--address" => a.address = Some(value()?),
            "--port" => {
                let v = value()?;
                a.port = Some(v.parse().map_err(|_| format!("--port {v:?} is not a port"))?);
            }
            "--force" => a.force = true,
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if a.server.is_empty() {
        return Err(format!("--server is needed\n{USAGE}"));
    }
    Ok(a)
}

/// Enrolls (or finds the node enrolled already); returns what to tell the user.
pub async fn run(args: &Args, data_dir: &Path, default_name: &str) -> Result<String, String> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().map_err(|e| e.to_string())?;
    let ring = KeyRing::open(data_dir, None).map_err(|e| e.to_string())?;
    let name = args.name.clone().unwrap_or_else(|| default_name.to_string());
    if let Some(e) = ring.enrollment().filter(|e| !args.force && e.server == args.server && e.node == name)
        && let Some(key) = e.keys.last()
    {
        match crate::heartbeat::beat_with(&http, &e.server, &e.node, key).await {
            Ok(_) => {
                return Ok(format!(
                    "node {name} is enrolled with {} already; it keeps its key (--force enrolls it again)",
                    e.server
                ));
            }
            Err(why) => tracing::info!(reason = %why, "the existing enrollment does not work; enrolling again"),
        }
    }
    let Some(token) = &args.token else {
        return Err(format!(
            "node {name} is not enrolled with {} (hint: pass --token with an enrollment token from the dashboard)",
            args.server
        ));
    };
    let os = crate::health::detect_os(Path::new("/"));
    let body = json!({"token": token, "name": name, "address": args.address, "port": args.port,
                      "os": os.kind, "version": env!("CARGO_PKG_VERSION")});
    let url = format!("{}/api/v1/nodes/enroll", args.server);
    let resp = http
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("cannot reach the server at {url}: {e} (hint: check --server and the network)"))?;
    let status = resp.status();
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = answer["error"]["message"].as_str().unwrap_or("no reason given");
        let hint = answer["error"]["hint"].as_str().unwrap_or("see the server's log");
        return Err(format!("the server refused to enroll node {name}: {message} (hint: {hint})"));
    }
    let key = answer["key"].as_str().filter(|k| keys::key_id(k).is_some()).ok_or("the server sent no node key")?;
    let node = answer["node"]["name"].as_str().unwrap_or(&name).to_string();
    let enrollment = Enrollment { server: args.server.clone(), node: node.clone(), keys: vec![key.to_string()] };
    keys::write(&KeyRing::path_in(data_dir), &enrollment).map_err(|e| e.to_string())?;
    let address = answer["node"]["address"].as_str().unwrap_or("its address");
    Ok(format!("enrolled node {node} with {}; the server reaches this runner at {address}", args.server))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_read_and_mistakes_named() {
        let args: Vec<String> = ["--server", "http://car:8000/", "--token", "care_x", "--port", "8101"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = parse(&args).unwrap();
        assert_eq!((a.server.as_str(), a.token.as_deref(), a.port), ("http://car:8000", Some("care_x"), Some(8101)));
        assert!(parse(&["--token".into()]).unwrap_err().starts_with("--token needs a value"));
        assert!(parse(&[]).unwrap_err().starts_with("--server is needed"));
        assert!(
            parse(&["--server".into(), "x".into(), "--what".into()]).unwrap_err().starts_with("unknown option --what")
        );
    }
}
