//! `POST /api/v1/webhooks/git`: a push to the config repository, or a pull
//! request to it ([`crate::config::review`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::config::sync::Trigger;
use crate::config::webhook::{event, pushed_ref, verify};

/// The answer to a provider's ping (sent when the webhook is set up).
#[derive(Debug, Serialize, ToSchema)]
pub struct Pong {
    /// Always true.
    pub pong: bool,
}

/// What came of a push.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushAccepted {
    /// True when a sync is queued; false for a push to another branch.
    pub queued: bool,
    /// Why nothing was queued (absent when a sync is queued).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The two answers of the git webhook, each with its status.
#[derive(Debug)]
pub enum GitHookAnswer {
    Pong(Pong),
    Push(PushAccepted),
}

impl IntoResponse for GitHookAnswer {
    fn into_response(self) -> Response {
        match self {
            GitHookAnswer::Pong(p) => (StatusCode::OK, Json(p)).into_response(),
            GitHookAnswer::Push(p) => (StatusCode::ACCEPTED, Json(p)).into_response(),
        }
    }
}

/// A push webhook (GitHub, GitLab, Gitea/Forgejo or generic). A valid push to the config branch queues a sync at once;
/// a pull request event has the pull request's head checked and a commit status and a plan comment posted to the forge.
#[utoipa::path(post, path = "/api/v1/webhooks/git", tag = "sync",
    request_body(content = String, content_type = "application/json", description = "the provider's push payload"),
    responses(
    (status = 202, description = "accepted: a sync is queued, or the push was for another branch", body = PushAccepted),
    (status = 200, description = "a ping", body = Pong),
    (status = 401, description = "missing or wrong signature")))]
pub async fn git(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<GitHookAnswer, ApiError> {
    let Some(secret) = s.settings.webhook_secret.as_ref().map(crate::trust::secrets::Secret::expose) else {
        tracing::warn!("refused a git webhook: GIT_WEBHOOK_SECRET is not set");
        return Err(ApiError::unauthorized(
            "push webhooks are off",
            "set GIT_WEBHOOK_SECRET on the server and the same secret in the repository's webhook",
        ));
    };
    if let Err(refusal) = verify(&headers, &body, secret) {
        tracing::warn!(reason = %refusal, "refused a git webhook");
        return Err(ApiError::unauthorized(
            format!("webhook refused: {refusal}"),
            "use the same secret in the repository's webhook settings as GIT_WEBHOOK_SECRET",
        ));
    }
    let event = event(&headers);
    if event.as_deref() == Some("ping") {
        return Ok(GitHookAnswer::Pong(Pong { pong: true }));
    }
    if let Some(pr) = crate::config::review::pull_event(event.as_deref(), &body) {
        // Checked in the background: the forge wants its answer fast.
        let writer = s.writer.clone();
        let number = pr.number;
        tokio::spawn(async move {
            if let Err(e) = writer.review(&pr).await {
                tracing::warn!(error = %e, number, "could not check a pull request");
            }
        });
        let reason = Some(format!("pull request #{number}: checked and reported to the forge"));
        return Ok(GitHookAnswer::Push(PushAccepted { queued: false, reason }));
    }
    let wanted = format!("refs/heads/{}", s.settings.branch);
    match pushed_ref(&body) {
        Some(r) if r != wanted => {
            tracing::info!(pushed = %r, "push to another branch; nothing to sync");
            let reason = Some(format!("push to {r}, the config branch is {wanted}"));
            Ok(GitHookAnswer::Push(PushAccepted { queued: false, reason }))
        }
        _ => {
            tracing::info!(event = event.as_deref().unwrap_or("push"), "push webhook accepted; syncing");
            s.sync.request(Trigger::Webhook);
            Ok(GitHookAnswer::Push(PushAccepted { queued: true, reason: None }))
        }
    }
}
