//! The code forge behind the config repository (GitHub, GitLab, or
//! Gitea/Forgejo), through its REST API: pull (merge) requests for edits
//! written in pull-request mode, and a commit status and a plan comment on
//! pull requests the git webhook reports. Which forge, its API and the
//! repository come from the repo URL when it allows (`CONFIG_FORGE`,
//! `CONFIG_FORGE_API_URL`, `CONFIG_FORGE_REPO` say it otherwise).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::trust::secrets::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    Github,
    Gitlab,
    /// Gitea and Forgejo (the same API).
    Gitea,
}

impl ForgeKind {
    pub fn parse(s: &str) -> Option<ForgeKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "github" => Some(ForgeKind::Github),
            "gitlab" => Some(ForgeKind::Gitlab),
            "gitea" | "forgejo" => Some(ForgeKind::Gitea),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ForgeKind::Github => "github",
            ForgeKind::Gitlab => "gitlab",
            ForgeKind::Gitea => "gitea",
        }
    }
}

/// How the forge is reached.
#[derive(Debug, Clone)]
pub struct ForgeSettings {
    pub kind: ForgeKind,
    /// The REST API's base: `https://api.github.com`, `https://gitlab.com/api/v4`, `https://git.lan/api/v1`.
    pub api: String,
    /// `owner/name`.
    pub repo: String,
    /// `CONFIG_FORGE_TOKEN`, else `CONFIG_REPO_TOKEN`.
    pub token: Option<Secret>,
}

/// The forge of `repo_url`, as far as the URL and the settings tell:
/// `Ok(None)` when nothing says which forge it is.
pub fn derive(
    repo_url: &str,
    kind: Option<&str>,
    api: Option<&str>,
    repo: Option<&str>,
    token: Option<Secret>,
) -> Result<Option<ForgeSettings>, String> {
    // https://host/owner/name.git, ssh://git@host/owner/name.git, git@host:owner/name.git
    let (scheme, host, path) = match repo_url.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            (if scheme == "http" { "http" } else { "https" }, host.split(':').next().unwrap_or(host), path)
        }
        None => match repo_url.split_once('@').and_then(|(_, r)| r.split_once(':')) {
            Some((host, path)) => ("https", host, path),
            None => ("https", "", ""),
        },
    };
    let kind = match kind {
        Some(k) => Some(
            ForgeKind::parse(k)
                .ok_or_else(|| format!("CONFIG_FORGE={k:?} is not a forge (hint: github, gitlab or gitea)"))?,
        ),
        None if host == "github.com" => Some(ForgeKind::Github),
        None if host.contains("gitlab") => Some(ForgeKind::Gitlab),
        None if ["gitea", "forgejo", "codeberg"].iter().any(|h| host.contains(h)) => Some(ForgeKind::Gitea),
        None => None,
    };
    let Some(kind) = kind else { return Ok(None) };
    let api = match api {
        Some(a) => a.trim_end_matches('/').to_string(),
        None if host.is_empty() => {
            return Err("CONFIG_FORGE_API_URL is not set and the repo URL names no host (hint: e.g. CONFIG_FORGE_API_URL=https://git.lan/api/v1)".into());
        }
        None => match kind {
            ForgeKind::Github if host == "github.com" => "https://api.github.com".into(),
            ForgeKind::Github => format!("{scheme}://{host}/api/v3"),
            ForgeKind::Gitlab => format!("{scheme}://{host}/api/v4"),
            ForgeKind::Gitea => format!("{scheme}://{host}/api/v1"),
        },
    };
    let repo = match repo {
        Some(r) => r.trim_matches('/').to_string(),
        None => path.trim_matches('/').trim_end_matches(".git").to_string(),
    };
    if !repo.contains('/') {
        return Err(format!(
            "cannot tell the forge repository from {repo_url:?} (hint: set CONFIG_FORGE_REPO=owner/name)"
        ));
    }
    Ok(Some(ForgeSettings { kind, api, repo, token }))
}

/// A pull (merge) request opened for an edit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PullRequest {
    /// Its number (GitLab's `iid`).
    pub number: i64,
    /// Where people open it.
    pub url: String,
    /// The branch the edit was pushed to.
    pub branch: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{forge} at {api}: {message} (hint: {hint})")]
pub struct ForgeError {
    pub forge: &'static str,
    pub api: String,
    pub message: String,
    pub hint: String,
}

pub struct Forge {
    pub settings: ForgeSettings,
    http: reqwest::Client,
}

impl Forge {
    pub fn new(settings: ForgeSettings) -> Forge {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("car-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Forge { settings, http }
    }

    /// The ref a pull request's head can be fetched from.
    pub fn head_ref(&self, number: i64) -> String {
        match self.settings.kind {
            ForgeKind::Gitlab => format!("refs/merge-requests/{number}/head"),
            _ => format!("refs/pull/{number}/head"),
        }
    }

    fn project(&self) -> String {
        url::form_urlencoded::byte_serialize(self.settings.repo.as_bytes()).collect()
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, ForgeError> {
        let s = &self.settings;
        let fail = |message: String, hint: &str| ForgeError {
            forge: s.kind.as_str(),
            api: s.api.clone(),
            message,
            hint: hint.into(),
        };
        let token = s.token.as_ref().ok_or_else(|| {
            fail(
                "no token".into(),
                "set CONFIG_FORGE_TOKEN (or CONFIG_REPO_TOKEN) to a token that may open pull requests",
            )
        })?;
        let req = self.http.post(format!("{}{path}", s.api)).json(&body);
        let req = match s.kind {
            ForgeKind::Github => req.bearer_auth(token.expose()).header("accept", "application/vnd.github+json"),
            ForgeKind::Gitea => req.header("authorization", format!("token {}", token.expose())),
            ForgeKind::Gitlab => req.header("private-token", token.expose()),
        };
        let resp = req
            .send()
            .await
            .map_err(|e| fail(format!("unreachable: {e}"), "check CONFIG_FORGE_API_URL and the network"))?;
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        let said = answer.get("message").map_or_else(|| answer.to_string(), |m| m.to_string());
        let hint = match status.as_u16() {
            401 | 403 => "check CONFIG_FORGE_TOKEN: it must be valid and allowed to write to the repository",
            404 => "check CONFIG_FORGE_REPO (owner/name) and CONFIG_FORGE_API_URL",
            422 | 409 => "the forge refused the request as it is; see its message",
            _ => "see the forge's message",
        };
        Err(fail(format!("{path} answered {status}: {said}"), hint))
    }

    /// Opens a pull request from `branch` into `base`.
    pub async fn open_pull(
        &self,
        branch: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, ForgeError> {
        let repo = &self.settings.repo;
        let (number, url) = match self.settings.kind {
            ForgeKind::Gitlab => {
                let a = self
                    .post(
                        &format!("/projects/{}/merge_requests", self.project()),
                        json!({"source_branch": branch, "target_branch": base, "title": title, "description": body,
                               "remove_source_branch": true}),
                    )
                    .await?;
                (a["iid"].as_i64(), a["web_url"].as_str().map(String::from))
            }
            _ => {
                let a = self
                    .post(
                        &format!("/repos/{repo}/pulls"),
                        json!({"title": title, "head": branch, "base": base, "body": body}),
                    )
                    .await?;
                (a["number"].as_i64(), a["html_url"].as_str().map(String::from))
            }
        };
        match (number, url) {
            (Some(number), Some(url)) => Ok(PullRequest { number, url, branch: branch.into() }),
            _ => Err(ForgeError {
                forge: self.settings.kind.as_str(),
                api: self.settings.api.clone(),
                message: "the pull request was opened but the answer names no number or URL".into(),
                hint: "check CONFIG_FORGE: the API answered in another forge's shape".into(),
            }),
        }
    }

    /// Sets the commit status of `sha`: success, or failure with why.
    pub async fn status(&self, sha: &str, ok: bool, description: &str, target: Option<&str>) -> Result<(), ForgeError> {
        // Forges cut descriptions at 140 characters.
        let description: String = description.chars().take(140).collect();
        const CONTEXT: &str = "car-server/config";
        match self.settings.kind {
            ForgeKind::Gitlab => {
                let state = if ok { "success" } else { "failed" };
                let body = json!({"state": state, "description": description, "name": CONTEXT, "target_url": target});
                self.post(&format!("/projects/{}/statuses/{sha}", self.project()), body).await?;
            }
            _ => {
                let state = if ok { "success" } else { "failure" };
                let body =
                    json!({"state": state, "description": description, "context": CONTEXT, "target_url": target});
                self.post(&format!("/repos/{}/statuses/{sha}", self.settings.repo), body).await?;
            }
        }
        Ok(())
    }

    /// Comments on pull request `number`.
    pub async fn comment(&self, number: i64, body: &str) -> Result<(), ForgeError> {
        let path = match self.settings.kind {
            ForgeKind::Gitlab => format!("/projects/{}/merge_requests/{number}/notes", self.project()),
            _ => format!("/repos/{}/issues/{number}/comments", self.settings.repo),
        };
        self.post(&path, json!({"body": body})).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forge_and_its_api_follow_from_the_repo_url() {
        let d = |url: &str| derive(url, None, None, None, None).unwrap().map(|f| (f.kind, f.api, f.repo));
        assert_eq!(
            d("https://github.com/me/homelab.git"),
            Some((ForgeKind::Github, "https://api.github.com".into(), "me/homelab".into()))
        );
        assert_eq!(
            d("git@gitlab.com:me/homelab.git"),
            Some((ForgeKind::Gitlab, "https://gitlab.com/api/v4".into(), "me/homelab".into()))
        );
        assert_eq!(
            d("ssh://git@gitea.lan:2222/ops/config.git"),
            Some((ForgeKind::Gitea, "https://gitea.lan/api/v1".into(), "ops/config".into()))
        );
        assert_eq!(d("https://git.lan/ops/config.git"), None, "nothing says which forge");
        let set = derive("https://git.lan/ops/config.git", Some("forgejo"), None, None, None).unwrap().unwrap();
        assert_eq!((set.kind, set.api.as_str()), (ForgeKind::Gitea, "https://git.lan/api/v1"));
        assert!(
            derive("/srv/config.git", Some("github"), None, None, None).unwrap_err().contains("CONFIG_FORGE_API_URL")
        );
        assert!(derive("x", Some("bitbucket"), None, None, None).unwrap_err().contains("github, gitlab or gitea"));
    }
}
