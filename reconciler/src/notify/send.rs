//! Sending one message to one channel over HTTP: Gotify's `POST
//! {url}/message` with `X-Gotify-Key`, markdown and a click-through link in
//! `extras`; a webhook's JSON POST with the channel's headers, an
//! `X-Signature-256` HMAC when it has a secret and an `Idempotency-Key`.
//! What comes back is sorted into sent, worth retrying (the server is down,
//! busy or slow) and refused for good (a wrong token: retrying cannot fix
//! it, and the error says which channel and what to change). Secrets are
//! resolved here, per message, and never leave in an error.

use std::time::Duration;

use car_schemas::kinds::notification::NotificationChannelSpec;
use car_schemas::values::{SecretRef, TextOrSecret};
use serde_json::{Value, json};

use crate::trust::secrets::Secrets;
use crate::trust::signature::sign;

/// How long a channel may take to answer.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What a message says, as a channel receives it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The idempotency key (`<event id>/<rule>/<channel>`; for a grouped message, the first one's).
    pub key: String,
    pub title: String,
    pub body: String,
    pub priority: i32,
    pub url: Option<String>,
    /// The webhook's JSON body: the event(s) it is about.
    pub webhook: Value,
}

/// How a send went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Try again later.
    Retry(String),
    /// Do not try again: the channel refused in a way retrying cannot fix.
    Refused(String),
}

/// Sends `m` to channel `name`, declared as `spec`.
pub async fn send(
    http: &reqwest::Client,
    secrets: &Secrets,
    name: &str,
    spec: &NotificationChannelSpec,
    m: &Outgoing,
) -> Outcome {
    let outcome = match (&spec.gotify, &spec.webhook) {
        (Some(g), _) => {
            let token = match secret(secrets, name, "token", &g.token).await {
                Ok(t) => t,
                Err(e) => return Outcome::Refused(e),
            };
            let body = json!({
                "title": m.title,
                "message": m.body,
                "priority": m.priority,
                "extras": {
                    "client::display": {"contentType": "text/markdown"},
                    "client::notification": {"click": {"url": m.url}},
                },
            });
            let url = format!("{}/message", g.url.trim_end_matches('/'));
            let sent = http.post(&url).header("X-Gotify-Key", token).json(&body).timeout(SEND_TIMEOUT).send().await;
            judge(
                name,
                "gotify",
                sent,
                "check the channel's Gotify application token (Gotify answers 401 to a wrong or deleted one) and URL",
            )
            .await
        }
        (None, Some(w)) => {
            let body = serde_json::to_vec(&m.webhook).unwrap_or_default();
            let mut request = http
                .post(w.url.as_str())
                .header("content-type", "application/json")
                .header("Idempotency-Key", &m.key)
                .timeout(SEND_TIMEOUT);
            for (header, value) in &w.headers {
                let value = match &value.value {
                    TextOrSecret::Text(t) => t.clone(),
                    TextOrSecret::Secret(r) => match secret(secrets, name, &format!("header {header}"), r).await {
                        Ok(v) => v,
                        Err(e) => return Outcome::Refused(e),
                    },
                };
                request = request.header(header.as_str(), value);
            }
            if let Some(r) = &w.secret {
                let key = match secret(secrets, name, "secret", r).await {
                    Ok(k) => k,
                    Err(e) => return Outcome::Refused(e),
                };
                request = request.header("X-Signature-256", format!("sha256={}", sign(&key, &body)));
            }
            let sent = request.body(body).send().await;
            judge(name, "webhook", sent, "check the receiver's URL, and what it expects of the headers and signature")
                .await
        }
        (None, None) => Outcome::Refused(format!("channel {name} declares neither gotify nor webhook")),
    };
    // Whatever a receiver echoed back, no secret leaves in an error.
    match outcome {
        Outcome::Retry(e) => Outcome::Retry(secrets.redactor().redact_str(&e).into_owned()),
        Outcome::Refused(e) => Outcome::Refused(secrets.redactor().redact_str(&e).into_owned()),
        Outcome::Sent => Outcome::Sent,
    }
}

async fn secret(secrets: &Secrets, channel: &str, what: &str, r: &SecretRef) -> Result<String, String> {
    secrets.resolve(r).await.map_err(|e| format!("channel {channel}: its {what}: {e}"))
}

/// Sorts an answer: 2xx sent; 408, 429 and 5xx, a timeout or no connection: retry; other 4xx: refused.
async fn judge(channel: &str, kind: &str, sent: Result<reqwest::Response, reqwest::Error>, fix: &str) -> Outcome {
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_timeout() {
                format!("no answer within {}s", SEND_TIMEOUT.as_secs())
            } else if e.is_connect() {
                "cannot connect".to_string()
            } else {
                e.without_url().to_string()
            };
            return Outcome::Retry(format!("{kind} channel {channel}: {why}"));
        }
    };
    let status = response.status();
    if status.is_success() {
        return Outcome::Sent;
    }
    let text: String = response.text().await.unwrap_or_default().chars().take(300).collect();
    let said = format!("{kind} channel {channel} answered {status}: {}", text.trim());
    if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Outcome::Retry(said)
    } else {
        Outcome::Refused(format!("{said} ({fix})"))
    }
}
