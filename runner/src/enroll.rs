//! `car-runner enroll`: spends a one-time enrollment token at the server
//! (`POST /api/v1/nodes/enroll`) and keeps the node key it gets in
//! `RUNNER_DATA_DIR/keys.json`. The install script runs it; it is safe to
//! run again: a node that is enrolled already, whose key the server still
//! takes, keeps it (unless `--force`).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::keys::{self, Enrollment, KeyRing};

/// Where and how to enroll.
#[derive(Debug, Default, PartialEq, clap::Args)]
pub struct Args {
    /// The server's URL, e.g. http://car.lan:8000.
    #[arg(long, value_name = "URL", value_parser = server_url)]
    pub server: String,
    /// A one-time enrollment token from the dashboard (not needed when enrolled already).
    #[arg(long)]
    pub token: Option<String>,
    /// The node's name (default: NODE_NAME, else the host name).
    #[arg(long)]
    pub name: Option<String>,
    /// Where the server reaches this runner (default: the address the request comes from).
    #[arg(long, value_name = "URL")]
    pub address: Option<String>,
    /// This runner's port, for the default address (default 8100).
    #[arg(long)]
    pub port: Option<u16>,
    /// Enroll again even when the current key still works.
    #[arg(long)]
    pub force: bool,
}

fn server_url(url: &str) -> Result<String, String> {
    Ok(url.trim_end_matches('/').to_string())
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
    use clap::Parser;

    #[derive(Parser)]
    struct Enroll {
        #[command(flatten)]
        args: Args,
    }

    fn parse(args: &[&str]) -> Result<Args, String> {
        Enroll::try_parse_from(["enroll"].iter().chain(args)).map(|e| e.args).map_err(|e| e.to_string())
    }

    #[test]
    fn arguments_are_read_and_mistakes_named() {
        let a = parse(&["--server", "http://car:8000/", "--token", "care_x", "--port", "8101"]).unwrap();
        assert_eq!((a.server.as_str(), a.token.as_deref(), a.port), ("http://car:8000", Some("care_x"), Some(8101)));
        assert!(
            parse(&["--server", "x", "--token"]).unwrap_err().contains("a value is required for '--token <TOKEN>'")
        );
        assert!(parse(&[]).unwrap_err().contains("--server <URL>"));
        assert!(parse(&["--server", "x", "--what"]).unwrap_err().contains("unexpected argument '--what'"));
        assert!(parse(&["--server", "x", "--port", "eighty"]).unwrap_err().contains("invalid value 'eighty'"));
    }
}
