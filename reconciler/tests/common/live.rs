//! Real processes for end-to-end tests: the `car-server` and `car-runner`
//! binaries (killed and reaped when dropped), and calls to the server with
//! an admin API key it issued after a real login.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "e2e-test-admin-password";

/// A child process killed and reaped when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A binary of the workspace, built beside this test (the test command builds every binary).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(bin.exists(), "{} is missing: build the workspace (cargo build) first", bin.display());
    bin
}

pub fn claude_bin() -> String {
    std::env::var("CLAUDE_BIN").expect("CLAUDE_BIN is not set: run `source scripts/claude.sh`")
}

pub async fn wait_http(url: &str) {
    for _ in 0..300 {
        if reqwest::get(url).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not come up");
}

/// Starts `car-runner` on `port` with its data in `data` and `env` on top.
pub async fn start_runner(port: u16, data: &Path, env: &[(&str, &str)]) -> Proc {
    let child = Command::new(bin("car-runner"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUNNER_PORT", port.to_string())
        .env("RUNNER_DATA_DIR", data)
        .env("CLAUDE_BIN", claude_bin())
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let runner = Proc(child);
    wait_http(&format!("http://127.0.0.1:{port}/livez")).await;
    runner
}

/// How to start a `car-server`.
pub struct ServerSpec<'a> {
    pub config: &'a Path,
    pub db: &'a str,
    pub data: &'a Path,
    pub api_port: u16,
    /// More environment (credentials, tokens of nodes).
    pub env: Vec<(String, String)>,
    /// Where its log goes (default: the test's stderr).
    pub log: Option<PathBuf>,
}

pub struct Server {
    pub proc: Proc,
    pub url: String,
    /// The dashboard port.
    pub ui: String,
    pub ws: String,
    /// An admin API key, for every call.
    pub key: String,
}

pub async fn start_server(spec: &ServerSpec<'_>) -> Server {
    let stderr = match &spec.log {
        Some(p) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(p).unwrap()),
        None => Stdio::inherit(),
    };
    // The API port is picked but not bound yet: the system may offer it again.
    let ui_port = std::iter::repeat_with(free_port).find(|p| *p != spec.api_port).expect("a free port");
    let child = Command::new(env!("CARGO_BIN_EXE_car-server"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CONFIG_REPO", spec.config)
        .env("DATABASE_URL", spec.db)
        .env("DATA_DIR", spec.data)
        .env("API_PORT", spec.api_port.to_string())
        .env("UI_PORT", ui_port.to_string())
        .env("BIND_ADDRESS", "127.0.0.1")
        .env("RUST_LOG", "warn")
        .env("ADMIN_USERNAME", "admin")
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{}", spec.api_port);
    wait_http(&format!("{url}/healthz")).await;
    let key = super::api_key_from(&url, "admin", ADMIN_PASSWORD).await;
    let ui = format!("http://127.0.0.1:{ui_port}");
    Server { proc: Proc(child), ws: format!("ws://127.0.0.1:{}", spec.api_port), url, ui, key }
}

impl Server {
    /// A call with the admin key; the status and the JSON answer (null when there is none).
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (reqwest::StatusCode, Value) {
        self.call_as(&self.key, method, path, body).await
    }

    /// A call with another bearer token.
    pub async fn call_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        let mut req = reqwest::Client::new().request(method, format!("{}{path}", self.url)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        (resp.status(), resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await.1
    }

    pub async fn post(&self, path: &str, body: Value) -> (reqwest::StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Polls `path` until `ok` holds; returns the last answer.
    pub async fn eventually(&self, path: &str, ok: impl Fn(&Value) -> bool, secs: u64) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.get(path).await;
            if ok(&v) {
                return v;
            }
            assert!(std::time::Instant::now() < deadline, "{path} never got there: {v:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for a run to reach `status`; returns the run.
    pub async fn status_is(&self, id: &str, status: &str, secs: u64) -> Value {
        self.eventually(&format!("/api/v1/runs/{id}"), |r| r["status"] == status, secs).await
    }
}
