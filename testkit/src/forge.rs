//! A fake code forge (GitHub, Gitea/Forgejo or GitLab), so pull requests,
//! commit statuses and comments can be tested offline against the REST
//! shapes the real ones document:
//!
//! - GitHub (`https://docs.github.com/rest`): `POST /repos/{owner}/{repo}/pulls`
//!   `{title, head, base, body}` → 201 `{number, html_url, …}`;
//!   `POST /repos/{owner}/{repo}/statuses/{sha}` `{state, description,
//!   context, target_url}` → 201; `POST /repos/{owner}/{repo}/issues/{n}/comments`
//!   `{body}` → 201. Token as `Authorization: Bearer …` (or `token …`).
//! - Gitea/Forgejo (`/api/v1`, swagger): the same three paths and bodies;
//!   token as `Authorization: token …`.
//! - GitLab (`/api/v4`): `POST /projects/{id}/merge_requests` `{source_branch,
//!   target_branch, title, description}` → 201 `{iid, web_url, …}`;
//!   `POST /projects/{id}/statuses/{sha}` `{state, description, name,
//!   target_url}`; `POST /projects/{id}/merge_requests/{iid}/notes` `{body}`.
//!   Token as `PRIVATE-TOKEN`. `{id}` is the URL-encoded `owner/name`.
//!
//! Every request is recorded ([`FakeForge::requests`]); a wrong or missing
//! token is a 401 in the forge's error shape and is recorded too.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    GitHub,
    Gitea,
    GitLab,
}

/// A request as the fake received it.
#[derive(Clone, Debug)]
pub struct ForgeRequest {
    pub method: String,
    pub path: String,
    /// The token it came with, however sent.
    pub token: Option<String>,
    pub body: Value,
    /// What the fake answered.
    pub status: u16,
}

struct Shared {
    flavor: Flavor,
    token: String,
    url: String,
    requests: Mutex<Vec<ForgeRequest>>,
}

pub struct FakeForge {
    /// The API base a client is configured with (`http://127.0.0.1:port`, or with `/api/v1`, `/api/v4`).
    pub api: String,
    shared: Arc<Shared>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeForge {
    /// Starts a fake of `flavor` that accepts `token`.
    pub async fn start(flavor: Flavor, token: &str) -> FakeForge {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let api = match flavor {
            Flavor::GitHub => url.clone(),
            Flavor::Gitea => format!("{url}/api/v1"),
            Flavor::GitLab => format!("{url}/api/v4"),
        };
        let shared =
            Arc::new(Shared { flavor, token: token.into(), url: url.clone(), requests: Mutex::new(Vec::new()) });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeForge { api, shared, _task: task }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<ForgeRequest> {
        self.shared.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits (up to 10 s) for a request whose path ends with `suffix`.
    pub async fn wait_for(&self, method: &str, suffix: &str) -> ForgeRequest {
        for _ in 0..400 {
            if let Some(r) = self.requests().into_iter().find(|r| r.method == method && r.path.ends_with(suffix)) {
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("no {method} …{suffix} arrived; got {:#?}", self.requests());
    }
}

fn token_of(flavor: Flavor, headers: &HeaderMap) -> Option<String> {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).map(String::from);
    match flavor {
        Flavor::GitLab => get("private-token"),
        _ => get("authorization")
            .map(|a| a.strip_prefix("Bearer ").or_else(|| a.strip_prefix("token ")).unwrap_or(&a).to_string()),
    }
}

async fn handle(State(s): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let token = token_of(s.flavor, &headers);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (status, answer) = if token.as_deref() != Some(s.token.as_str()) {
        let message = match s.flavor {
            Flavor::GitLab => json!({"message": "401 Unauthorized"}),
            _ => json!({"message": "Bad credentials"}),
        };
        (StatusCode::UNAUTHORIZED, message)
    } else {
        answer(&s, &path, &body)
    };
    s.requests.lock().unwrap_or_else(|p| p.into_inner()).push(ForgeRequest {
        method: method.to_string(),
        path,
        token,
        body,
        status: status.as_u16(),
    });
    (status, axum::Json(answer)).into_response()
}

fn answer(s: &Shared, path: &str, body: &Value) -> (StatusCode, Value) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let created = |v: Value| (StatusCode::CREATED, v);
    match (s.flavor, parts.as_slice()) {
        (Flavor::GitHub, ["repos", owner, repo, "pulls"])
        | (Flavor::Gitea, ["api", "v1", "repos", owner, repo, "pulls"]) => {
            let n = 1 + s
                .requests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|r| r.path.ends_with("/pulls"))
                .count();
            created(json!({"number": n, "html_url": format!("{}/{owner}/{repo}/pull/{n}", s.url),
                "head": {"ref": body["head"]}, "base": {"ref": body["base"]}, "title": body["title"], "state": "open"}))
        }
        (Flavor::GitHub, ["repos", _, _, "statuses", _])
        | (Flavor::Gitea, ["api", "v1", "repos", _, _, "statuses", _]) => {
            created(json!({"id": 1, "state": body["state"], "context": body["context"]}))
        }
        (Flavor::GitHub, ["repos", _, _, "issues", _, "comments"])
        | (Flavor::Gitea, ["api", "v1", "repos", _, _, "issues", _, "comments"]) => {
            created(json!({"id": 1, "body": body["body"]}))
        }
        (Flavor::GitLab, ["api", "v4", "projects", project, "merge_requests"]) => {
            let n = 1 + s
                .requests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|r| r.path.ends_with("/merge_requests"))
                .count();
            let project = project.replace("%2F", "/");
            created(
                json!({"iid": n, "web_url": format!("{}/{project}/-/merge_requests/{n}", s.url), "state": "opened"}),
            )
        }
        (Flavor::GitLab, ["api", "v4", "projects", _, "statuses", _]) => {
            created(json!({"id": 1, "status": body["state"]}))
        }
        (Flavor::GitLab, ["api", "v4", "projects", _, "merge_requests", _, "notes"]) => {
            created(json!({"id": 1, "body": body["body"]}))
        }
        _ => (StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
    }
}
