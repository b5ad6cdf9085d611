//! `POST /api/v1/webhooks/git`: a push to the config repository.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::sync::Trigger;
use crate::webhook::{event, pushed_ref, verify};

/// A push webhook (GitHub, GitLab, Gitea/Forgejo or generic). A valid push to the config branch queues a sync at once.
#[utoipa::path(post, path = "/api/v1/webhooks/git", tag = "sync",
    request_body(content = String, content_type = "application/json", description = "the provider's push payload"),
    responses(
    (status = 202, description = "accepted: a sync is queued, or the push was for another branch"),
    (status = 200, description = "a ping"),
    (status = 401, description = "missing or wrong signature")))]
pub async fn git(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Some(secret) = s.settings.git_webhook_secret.as_ref().map(crate::settings::Secret::expose) else {
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
        return Ok((StatusCode::OK, Json(json!({"pong": true}))));
    }
    let wanted = format!("refs/heads/{}", s.settings.source.branch);
    match pushed_ref(&body) {
        Some(r) if r != wanted => {
            tracing::info!(pushed = %r, "push to another branch; nothing to sync");
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({"queued": false, "reason": format!("push to {r}, the config branch is {wanted}")})),
            ))
        }
        _ => {
            tracing::info!(event = event.as_deref().unwrap_or("push"), "push webhook accepted; syncing");
            s.sync.request(Trigger::Webhook);
            Ok((StatusCode::ACCEPTED, Json(json!({"queued": true}))))
        }
    }
}
