//! The node install script as users run it, `curl -sSL SERVER/install |
//! bash -s -- --token …`, against the real `car-server` (which serves the
//! script and the car-runner binary) and PostgreSQL: it installs the
//! runner and the pinned claude CLI (from a stand-in npm registry serving a
//! stand-in package), enrolls the node, starts the runner, and the server
//! reaches it with its key; run again it changes nothing but a restart; a
//! bad token stops it with the server's reason. In Docker mode a stand-in
//! `docker` CLI runs what the script asks of the image with the real
//! runner binary, so the container's flags are checked and the node still
//! comes up.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use axum::response::IntoResponse;
use common::live::{self, ServerSpec, free_port};
use serde_json::json;

const HELLO: &str =
    "---\napiVersion: car/v1\nkind: Agent\nmetadata: {name: hello}\nspec: {script: hello.py, mode: read-only}\n";

fn config() -> tempfile::TempDir {
    let nodes = "apiVersion: car/v1\nkind: Node\nmetadata: {name: homeserver}\nspec: {os: ubuntu}\n---\n\
                 apiVersion: car/v1\nkind: Node\nmetadata: {name: dockerbox}\nspec: {os: linux}\n";
    car_testkit::config_dir(&[("nodes.yaml", nodes), ("agents.yaml", HELLO), ("hello.py", "print('hello')\n")])
}

fn claude_version() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../claude-code.version")).unwrap().trim().into()
}

/// A stand-in npm registry: every `.tgz` is a claude package whose
/// `claude` prints the pinned version, as the real one does.
async fn npm_registry(dir: &Path) -> String {
    let pkg = dir.join("package");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("claude"), format!("#!/bin/sh\necho '{} (Claude Code)'\n", claude_version())).unwrap();
    let tgz = dir.join("claude.tgz");
    let tar = Command::new("tar").arg("-czf").arg(&tgz).arg("-C").arg(dir).arg("package").status().unwrap();
    assert!(tar.success());
    let bytes = std::fs::read(&tgz).unwrap();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let bytes = bytes.clone();
        async move {
            if uri.path().ends_with(".tgz") && uri.path().contains("/@anthropic-ai/claude-code-linux-") {
                (axum::http::StatusCode::OK, bytes).into_response()
            } else {
                axum::http::StatusCode::NOT_FOUND.into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Kills the runner a test's script started (its pid file), when dropped.
struct Started(PathBuf);

impl Drop for Started {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// `curl -sSL SERVER/install | bash -s -- ARGS`, with `path` in front of PATH
/// (without blocking the runtime, which serves the stand-in registry).
async fn install(server: &str, args: &[&str], env: &[(&str, &str)], path: Option<&Path>) -> Output {
    let script = format!("curl -fsSL {server}/install | bash -s -- {}", args.join(" "));
    let mut paths = path.map(|p| vec![p.to_path_buf()]).unwrap_or_default();
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    tokio::process::Command::new("bash")
        .args(["-c", &script])
        .env("PATH", std::env::join_paths(paths).unwrap())
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap()
}

fn said(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

async fn server(config: &Path, db: &str, data: &Path) -> live::Server {
    // The server finds car-runner beside itself (RUNNER_BINARY_DIR says so explicitly here).
    let dir = live::bin("car-runner").parent().unwrap().to_string_lossy().into_owned();
    let spec =
        ServerSpec { config, db, data, api_port: free_port(), env: vec![("RUNNER_BINARY_DIR".into(), dir)], log: None };
    live::start_server(&spec).await
}

/// The script's arguments for a binary install started in the background (no systemd here).
fn binary_args(token: &str, name: &str, prefix: &Path, data: &Path, port: u16) -> Vec<String> {
    let address = format!("http://127.0.0.1:{port}");
    let (prefix, data) = (prefix.to_str().unwrap(), data.to_str().unwrap());
    ["--token", token, "--name", name, "--mode", "binary", "--service", "background", "--prefix", prefix]
        .into_iter()
        .chain(["--data-dir", data, "--port", &port.to_string(), "--address", &address])
        .map(String::from)
        .collect()
}

async fn enrollment_token(server: &live::Server, node: &str) -> String {
    let (status, made) = server.post("/api/v1/enrollment-tokens", json!({"node": node})).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{made}");
    made["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_install_script_installs_enrolls_and_starts_a_runner_and_is_safe_to_run_again() {
    let (db, data, config, work) =
        (common::database_url().await, tempfile::tempdir().unwrap(), config(), tempfile::tempdir().unwrap());
    let server = server(config.path(), &db, data.path()).await;
    let registry = npm_registry(&work.path().join("npm")).await;
    let token = enrollment_token(&server, "homeserver").await;
    let (prefix, node_data, port) = (work.path().join("opt"), work.path().join("data"), free_port());
    let args = binary_args(&token, "homeserver", &prefix, &node_data, port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = [("NPM_REGISTRY", registry.as_str())];
    let out = install(&server.url, &args, &env, None).await;
    let _started = Started(node_data.join("car-runner.pid"));
    let text = said(&out);
    assert!(out.status.success(), "{text}");
    for step in [
        "checking this machine",
        "downloading car-runner",
        "downloading claude",
        "enrolled node homeserver",
        "starting the runner (background)",
        "it answers",
        "done: node homeserver",
        "kind: Node",
    ] {
        assert!(text.contains(step), "the script did not say {step:?}:\n{text}");
    }
    assert!(prefix.join("bin/car-runner").is_file() && prefix.join("bin/claude").is_file());
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&node_data.join("keys.json")), 0o600);
    assert_eq!(mode(&prefix.join("runner.env")), 0o600);
    server.eventually("/api/v1/nodes/homeserver", |n| n["connection"] == "connected", 30).await;
    let (status, run) = server.post("/api/v1/runs", json!({"agent": "hello", "node": "homeserver"})).await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{run}");
    server.status_is(run["id"].as_str().unwrap(), "succeeded", 60).await;

    // Again, with the same (spent) token: nothing new but a restart; the claude CLI is not fetched twice.
    let pid = std::fs::read_to_string(node_data.join("car-runner.pid")).unwrap();
    let again = install(&server.url, &args, &env, None).await;
    let text = said(&again);
    assert!(again.status.success(), "{text}");
    assert!(text.contains("keeps its key") && text.contains("claude ") && text.contains("installed already"), "{text}");
    assert_ne!(std::fs::read_to_string(node_data.join("car-runner.pid")).unwrap(), pid, "the runner was not restarted");
    server.eventually("/api/v1/nodes/homeserver", |n| n["connection"] == "connected", 30).await;
    let keys = server.get("/api/v1/nodes/homeserver/keys").await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1, "a second key was issued: {keys}");

    // A bad token on a fresh node stops the script with the server's reason.
    let fresh = work.path().join("fresh");
    let bad_args = binary_args("care_not-a-token", "other", &fresh, &fresh, 1);
    let bad_args: Vec<&str> = bad_args.iter().map(String::as_str).collect();
    let bad = install(&server.url, &bad_args, &env, None).await;
    assert!(!bad.status.success());
    assert!(said(&bad).contains("the server refused to enroll node other: unknown enrollment token"), "{}", said(&bad));
}

/// A stand-in for the docker CLI: records each call, and runs what the
/// install script asks of the runner image with the real car-runner.
const FAKE_DOCKER: &str = r#"#!/usr/bin/env bash
echo "$*" >>"$FAKE_DOCKER_DIR/calls"
case "$1" in
info | pull | image) exit 0 ;;
rm) [ -f "$FAKE_DOCKER_DIR/pid" ] && kill "$(cat "$FAKE_DOCKER_DIR/pid")" 2>/dev/null; exit 0 ;;
run)
    shift
    detach="" data=""
    while [ $# -gt 0 ]; do
        case "$1" in
        -d) detach=1; shift ;;
        --rm | --privileged) shift ;;
        -v) case "$2" in *:/data) data="${2%:/data}" ;; esac; shift 2 ;;
        -e) export "$2"; shift 2 ;;
        --*) shift 2 ;;
        *) shift; break ;;
        esac
    done
    export RUNNER_DATA_DIR="$data"
    if [ -n "$detach" ]; then
        setsid "$CAR_RUNNER" "$@" >>"$FAKE_DOCKER_DIR/runner.log" 2>&1 </dev/null &
        echo $! >"$FAKE_DOCKER_DIR/pid"
        echo 3f2a1c
    else
        exec "$CAR_RUNNER" "$@"
    fi
    ;;
esac
"#;

#[tokio::test]
async fn in_docker_mode_the_script_runs_the_runner_image_on_the_host_network_with_its_data_mounted() {
    let (db, data, config, work) =
        (common::database_url().await, tempfile::tempdir().unwrap(), config(), tempfile::tempdir().unwrap());
    let server = server(config.path(), &db, data.path()).await;
    let token = enrollment_token(&server, "dockerbox").await;
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("docker"), FAKE_DOCKER).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("docker"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (node_data, port) = (work.path().join("appdata"), free_port());
    let (port_s, address) = (port.to_string(), format!("http://127.0.0.1:{port}"));
    let runner = live::bin("car-runner");
    let env = [("FAKE_DOCKER_DIR", work.path().to_str().unwrap()), ("CAR_RUNNER", runner.to_str().unwrap())];
    let args = [
        "--token",
        &token,
        "--name",
        "dockerbox",
        "--data-dir",
        node_data.to_str().unwrap(),
        "--port",
        &port_s,
        "--address",
        &address,
        "--image",
        "car-runner:test",
    ];
    let out = install(&server.url, &args, &env, Some(&bin)).await;
    let _started = Started(work.path().join("pid"));
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("installing as: docker"), "{}", said(&out));
    let calls = std::fs::read_to_string(work.path().join("calls")).unwrap();
    let data_mount = format!("-v {}:/data", node_data.display());
    assert!(
        calls
            .contains(&format!("run --rm --network host {data_mount} -e RUNNER_DATA_DIR=/data car-runner:test enroll")),
        "{calls}"
    );
    let started =
        calls.lines().find(|l| l.starts_with("run -d")).unwrap_or_else(|| panic!("no container started: {calls}"));
    for flag in [
        "--name car-runner",
        "--restart unless-stopped",
        "--network host",
        "--pid host",
        "--privileged",
        &data_mount,
        "-v /var/run/docker.sock:/var/run/docker.sock",
        &format!("-e RUNNER_PORT={port}"),
        "-e NODE_NAME=dockerbox",
    ] {
        assert!(started.contains(flag), "the container lacks {flag}: {started}");
    }
    server.eventually("/api/v1/nodes/dockerbox", |n| n["connection"] == "connected", 30).await;
}
