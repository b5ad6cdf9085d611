//! Talking to a node's `car-runner`: where it is and which token it wants
//! ([`Runners`]: from the live Node object, its enrollment, the secret
//! store and the server's environment), and its API
//! (`/v1/health`, `/v1/runs`, events, cancel, approvals). Every call is
//! bounded, so a dead, slow or lying runner costs a timeout, never a stuck
//! server.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::config::snapshot::LiveConfig;
use crate::db::{Store, StoreError};
use crate::trust::secrets::Secrets;

/// How long a runner may take to answer a call (not a stream).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A node's runner: its base URL and bearer token.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub node: String,
    pub url: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// Why a runner cannot be called or did not do what was asked; `message`
/// says what and where, with a hint.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct RunnerError {
    pub kind: RunnerErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerErrorKind {
    /// Git does not say where the runner is or how to reach it.
    Config,
    /// The runner did not answer (down, unreachable, too slow).
    Unreachable,
    /// Git names no address and the node has not enrolled yet.
    Unenrolled,
    /// The runner answered 429: it runs all it may; try again later.
    Busy,
    /// The runner refused the request (bad token, bad request, no such run).
    Refused(u16),
}

impl RunnerError {
    fn new(kind: RunnerErrorKind, message: String) -> Self {
        RunnerError { kind, message }
    }
}

fn unreadable(name: &str, e: StoreError) -> RunnerError {
    RunnerError::new(RunnerErrorKind::Config, format!("node {name}: cannot read it from the database: {e}"))
}

/// The nodes' runners, by node name: where each is and which token it
/// wants, from the live config, enrollments, node keys and secrets. Cheap to clone.
#[derive(Clone)]
pub struct Runners {
    live: LiveConfig,
    store: Store,
    secrets: Arc<Secrets>,
    http: reqwest::Client,
}

impl Runners {
    pub fn new(live: LiveConfig, store: Store, secrets: Arc<Secrets>) -> Runners {
        Runners { live, store, secrets, http: reqwest::Client::new() }
    }

    pub fn secrets(&self) -> &Arc<Secrets> {
        &self.secrets
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn live(&self) -> &LiveConfig {
        &self.live
    }

    /// The runner of node `name`: where git says it is (or where it said it
    /// was when it enrolled), called with the token git names, or with the
    /// node's key when git names none.
    pub async fn endpoint(&self, name: &str) -> Result<Endpoint, RunnerError> {
        let snapshot = self.live.now();
        let spec = snapshot.nodes.get(name).map(|d| &d.spec);
        let config = |m: String| RunnerError::new(RunnerErrorKind::Config, m);
        let enrolled = crate::trust::enrollment::enrolled(&self.store, name).await.map_err(|e| unreadable(name, e))?;
        if spec.is_none() && enrolled.is_none() {
            return Err(config(format!("node {name} is not declared in git (hint: add a Node document)")));
        }
        let address = spec
            .and_then(|s| s.address.as_ref().map(|a| a.as_str().to_string()))
            .or_else(|| enrolled.as_ref().map(|e| e.address.clone()))
            .ok_or_else(|| {
                RunnerError::new(
                    RunnerErrorKind::Unenrolled,
                    format!(
                        "node {name} has no address in git and has not enrolled (hint: run the install script on it, or add its address and token in git)"
                    ),
                )
            })?;
        let token = match spec.and_then(|s| s.token.as_ref()) {
            Some(r) => Some(self.secrets.resolve(r).await.map_err(|e| config(format!("node {name}: its token: {e}")))?),
            None => match crate::trust::node_keys::current(&self.store, self.secrets.key(), name)
                .await
                .map_err(|e| unreadable(name, e))?
            {
                Some(key) => Some(key),
                None if enrolled.is_some() => {
                    return Err(config(format!(
                        "node {name} has no valid key: it was revoked or never issued (hint: enroll the node again with a new enrollment token)"
                    )));
                }
                None => None,
            },
        };
        Ok(Endpoint {
            node: name.to_string(),
            url: address.trim_end_matches('/').to_string(),
            token,
            http: self.http.clone(),
        })
    }

    /// Whether `presented` is the token git declares for node `name` (a
    /// runner set up by hand authenticates its heartbeats with it).
    pub async fn declared_token_matches(&self, name: &str, presented: &str) -> bool {
        let snapshot = self.live.now();
        let Some(r) = snapshot.nodes.get(name).and_then(|d| d.spec.token.as_ref()) else { return false };
        match self.secrets.resolve(r).await {
            Ok(token) => bool::from(token.as_bytes().ct_eq(presented.as_bytes())),
            Err(_) => false,
        }
    }
}

impl Endpoint {
    /// The same runner, called with another token (a key being rotated in or out).
    pub fn with_token(self, token: String) -> Endpoint {
        Endpoint { token: Some(token), ..self }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.url));
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// Sends a call and reads its JSON answer.
    async fn call<B: serde::Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Value, RunnerError> {
        let mut req = self.request(method, path).timeout(CALL_TIMEOUT);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(path, failed(&e)))?;
        self.answer(path, resp).await
    }

    fn unreachable(&self, path: &str, why: String) -> RunnerError {
        RunnerError::new(
            RunnerErrorKind::Unreachable,
            format!("node {}: the runner at {}{path} {why}", self.node, self.url),
        )
    }

    async fn answer(&self, path: &str, resp: reqwest::Response) -> Result<Value, RunnerError> {
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let said = body["error"]["message"].as_str().unwrap_or("no reason given").to_string();
        let (kind, message) = match status.as_u16() {
            401 => (
                RunnerErrorKind::Refused(401),
                format!(
                    "node {}: the runner at {} refused the token (hint: the node's token in git must match the \
                     runner's RUNNER_TOKEN; an enrolled node whose key was revoked must enroll again)",
                    self.node, self.url
                ),
            ),
            429 => (RunnerErrorKind::Busy, format!("node {}: {said}", self.node)),
            code => (
                RunnerErrorKind::Refused(code),
                format!("node {}: the runner answered {path} with HTTP {code}: {said}", self.node),
            ),
        };
        Err(RunnerError::new(kind, message))
    }

    pub async fn health(&self) -> Result<Value, RunnerError> {
        self.call(reqwest::Method::GET, "/v1/health", None::<&()>).await
    }

    /// `POST /v1/runs` (idempotent by run id).
    pub async fn start(&self, request: &car_schemas::run::RunRequest) -> Result<Value, RunnerError> {
        self.call(reqwest::Method::POST, "/v1/runs", Some(request)).await
    }

    pub async fn cancel(&self, run_id: &str) -> Result<Value, RunnerError> {
        self.call(reqwest::Method::POST, &format!("/v1/runs/{run_id}/cancel"), None::<&()>).await
    }

    pub async fn decide(&self, run_id: &str, request_id: &str, decision: &Value) -> Result<Value, RunnerError> {
        let path = format!("/v1/runs/{run_id}/approvals/{request_id}");
        self.call(reqwest::Method::POST, &path, Some(decision)).await
    }

    /// `PUT /v1/keys`: the node keys the runner accepts from now on (its
    /// own `RUNNER_TOKEN`, if it has one, stays).
    pub async fn put_keys(&self, keys: &[String]) -> Result<Value, RunnerError> {
        self.call(reqwest::Method::PUT, "/v1/keys", Some(&serde_json::json!({"keys": keys}))).await
    }

    /// The run's events after `after` as they come (NDJSON, until `run.finished`).
    pub async fn events(&self, run_id: &str, after: u64) -> Result<reqwest::Response, RunnerError> {
        let path = format!("/v1/runs/{run_id}/events?after={after}");
        // The stream itself may go on for hours; only its answer is timed.
        let resp = tokio::time::timeout(CALL_TIMEOUT, self.request(reqwest::Method::GET, &path).send())
            .await
            .map_err(|_| self.unreachable(&path, format!("did not answer in {}s", CALL_TIMEOUT.as_secs())))?
            .map_err(|e| self.unreachable(&path, failed(&e)))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(self.answer(&path, resp).await.expect_err("not a success"))
    }
}

/// Why a call to a runner got no answer, in words.
fn failed(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("did not answer in {}s", CALL_TIMEOUT.as_secs())
    } else {
        format!("is unreachable ({e})")
    }
}
