//! Webhook triggers: `POST /api/v1/hooks/{name}` (public: the trigger's
//! own secret authenticates the call) hands the call to [`crate::hooks`];
//! `GET /api/v1/triggers` shows each declared trigger with its URL, where
//! it would start its agents now and its last call.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};
use crate::hooks::{Body, Call, HookError, Hooks, MAX_BODY, TriggerCall};
use crate::runs::targets::targets;
use crate::trust::access::ClientIp;

/// What a call to a hook did.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookAnswer {
    /// True when the trigger's agents were queued.
    pub started: bool,
    /// The ids of the runs it queued (empty when none).
    pub runs: Vec<String>,
    /// Why nothing started (the condition is false, the trigger cools down),
    /// or which of its agents did not; absent when all started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One agent on one node.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerTarget {
    pub agent: String,
    pub node: String,
}

/// A declared trigger: where to call it, what it starts, and its last call.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerView {
    pub name: String,
    /// What calls it, and why.
    pub description: Option<String>,
    /// The hook's URL: based on `PUBLIC_URL` when it is set, else on the
    /// host this request came to at the API port.
    #[schema(example = "https://car.example.com/api/v1/hooks/disk-alert")]
    pub url: String,
    /// Where the secret comes from (`{env: NAME}` or `{secret: NAME}`), never its value.
    #[schema(value_type = Object)]
    pub secret: Value,
    /// The CEL condition on `payload` and `headers`; null: every call starts the agents.
    pub condition: Option<String>,
    pub agents: Vec<String>,
    /// The node selector as written: `all`, a list of names, or `{names, tags}`.
    #[schema(value_type = serde_json::Value)]
    pub nodes: Value,
    /// Where a call would start its agents now: the selected nodes that allow each agent and offer what it requires.
    pub targets: Vec<TriggerTarget>,
    /// How long after a call that started runs further calls start nothing (`10m`); null: no cooldown.
    pub cooldown: Option<String>,
    /// When the cooldown ends; null when it is not cooling down.
    pub cooling_until: Option<DateTime<Utc>>,
    /// Its newest call; null before the first.
    pub last_call: Option<TriggerCall>,
    /// The applied revision.
    pub revision: String,
    /// Where it is declared, relative to the config folder.
    pub file: String,
    pub line: i32,
}

/// The declared triggers, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerList {
    pub triggers: Vec<TriggerView>,
}

impl From<HookError> for ApiError {
    fn from(e: HookError) -> Self {
        let code = match &e {
            HookError::NotFound(_) => "not_found",
            HookError::TooLarge => "too_large",
            HookError::Refused(_) => "unauthorized",
            HookError::NoSecret { .. } => "unavailable",
            HookError::Malformed(_) => "invalid",
            HookError::NothingToStart(_) => "not_allowed",
            HookError::Store(_) => "database",
        };
        match e {
            HookError::Store(e) => e.into(),
            e => {
                let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                ApiError::new(status, code, e.to_string(), e.hint())
            }
        }
    }
}

/// The hook route, which takes bodies up to [`MAX_BODY`] (larger: 413 with a hint).
pub fn public() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(hook)).layer(DefaultBodyLimit::max(MAX_BODY))
}

/// Calls a trigger: authenticated by the trigger's secret as `Authorization: Bearer <secret>`,
/// `X-Signature-256: sha256=<hex HMAC-SHA256 of the body>` or GitHub's `X-Hub-Signature-256`. The JSON
/// body is the condition's `payload` (the request headers, without those that carry the secret, are
/// `headers`); when the condition holds and no cooldown is running, the trigger's agents are queued on
/// its nodes with the body as each run's `context.payload`. Every call is recorded; refusals and fires
/// are in the audit log (`trigger.refused`, `trigger.fired`).
#[utoipa::path(post, path = "/api/v1/hooks/{name}", tag = "triggers",
    params(("name" = String, Path, description = "the trigger's name")),
    request_body(content = Object, content_type = "application/json",
        description = "any JSON, at most 1 MiB (an empty body is null)"),
    responses(
    (status = 202, description = "the trigger's agents were queued", body = HookAnswer),
    (status = 200, description = "nothing started: the condition is false or the trigger is cooling down", body = HookAnswer),
    (status = 400, description = "the body is not JSON"),
    (status = 401, description = "a missing or wrong secret or signature"),
    (status = 404, description = "no trigger by that name is live"),
    (status = 409, description = "no live node may run the trigger's agents"),
    (status = 413, description = "the body is larger than 1 MiB"),
    (status = 503, description = "the server lacks the trigger's secret, or the database did not answer")))]
pub async fn hook(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<HookAnswer>), ApiError> {
    let body = match &body {
        Ok(b) => Body::Read(b),
        Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => Body::TooLarge,
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("the body could not be read: {}", e.body_text()),
                "send the whole body in one request",
            ));
        }
    };
    let hooks = Hooks::new(&s.store, s.runs.clone(), s.secrets.clone());
    let fired = hooks.call(&name, Call { headers: &headers, body, ip: ip.map(|i| i.to_string()) }).await?;
    let status = StatusCode::from_u16(fired.status()).unwrap_or(StatusCode::OK);
    Ok((status, Json(HookAnswer { started: fired.started(), runs: fired.runs, reason: fired.reason })))
}

/// The declared triggers, each with its hook's URL, agents and node selector, where it would start them,
/// its cooldown and its last call.
#[utoipa::path(get, path = "/api/v1/triggers", tag = "triggers",
    responses((status = 200, description = "the triggers", body = TriggerList)))]
pub async fn triggers(State(s): State<AppState>, headers: HeaderMap) -> Result<Json<TriggerList>, ApiError> {
    let config = s.live.now();
    let hooks = Hooks::new(&s.store, s.runs.clone(), s.secrets.clone());
    let observed = s.nodes.observations().await?;
    let mut last: HashMap<String, TriggerCall> = hooks.repo().last_calls().await?;
    let cooldowns: Vec<(&str, std::time::Duration)> =
        config.triggers.values().filter_map(|t| t.spec.cooldown.as_ref().map(|c| (t.name.as_str(), c.get()))).collect();
    let mut cooling = hooks.repo().cooling_until(&cooldowns).await?;
    let base = super::node_trust::server_url(&s, &headers);
    let triggers = config
        .triggers
        .values()
        .map(|t| {
            let spec = &t.spec;
            TriggerView {
                name: t.name.clone(),
                description: spec.description.clone(),
                url: format!("{base}/api/v1/hooks/{}", t.name),
                secret: t.document["spec"]["secret"].clone(),
                condition: spec.condition.as_ref().map(|c| c.as_str().to_string()),
                agents: spec.agents.iter().map(|a| a.as_str().to_string()).collect(),
                nodes: t.document["spec"]["nodes"].clone(),
                targets: targets(&config, &spec.agents, &spec.nodes, &observed)
                    .into_iter()
                    .map(|x| TriggerTarget { agent: x.agent.into(), node: x.node.into() })
                    .collect(),
                cooldown: spec.cooldown.as_ref().map(|c| c.value.to_string()),
                cooling_until: cooling.remove(&t.name),
                last_call: last.remove(&t.name),
                revision: t.revision.clone(),
                file: t.file.clone(),
                line: t.line,
            }
        })
        .collect();
    Ok(Json(TriggerList { triggers }))
}
