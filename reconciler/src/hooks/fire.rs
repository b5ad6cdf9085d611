//! One call to a trigger's hook, decided and carried out: the trigger's
//! secret authenticates it ([`signature::verify`], shared with the git push
//! webhook), the body must be JSON, the trigger's condition must be true,
//! its cooldown must have passed, and then its agents are queued where the
//! schedules would place them ([`targets`]), with the body as the runs'
//! `payload`. Every call to a declared trigger is recorded with what came
//! of it; refusals and fires are audited too. The secret never leaves this
//! module: not in the answer, the log, the record or the audit log.

use std::sync::Arc;

use axum::http::HeaderMap;
use car_schemas::kinds::TriggerSpec;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::repo::{Claim, HookRepo, NewCall, Outcome};
use crate::config::snapshot::Snapshot;
use crate::db::{Store, StoreError};
use crate::runs::targets::{Target, targets};
use crate::runs::{RunTrigger, Runs, ServiceError, Start};
use crate::trust::audit::{self, Action, Actor, ActorKind};
use crate::trust::secrets::Secrets;
use crate::trust::signature::{self, Refusal};

/// The largest body a hook takes.
pub const MAX_BODY: usize = 1024 * 1024;

/// Headers that carry the secret or a proof of it: a condition never sees
/// them, so no condition (or its error message) can echo them.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-signature-256",
    "x-hub-signature-256",
    "x-gitlab-token",
    "x-gitea-signature",
    "x-forgejo-signature",
];

/// The triggers' hooks; cheap to make per request.
pub struct Hooks {
    runs: Arc<Runs>,
    secrets: Arc<Secrets>,
    repo: HookRepo,
}

/// A call as it arrived.
pub struct Call<'a> {
    pub headers: &'a HeaderMap,
    pub body: Body<'a>,
    /// Where it came from (behind a trusted proxy: the client's address).
    pub ip: Option<String>,
}

/// A call's body, unless it was larger than [`MAX_BODY`].
pub enum Body<'a> {
    Read(&'a [u8]),
    TooLarge,
}

/// What a call did, when it was taken: runs started, or why none did.
#[derive(Debug, Clone)]
pub struct Fired {
    pub outcome: Outcome,
    pub runs: Vec<String>,
    pub reason: Option<String>,
}

impl Fired {
    fn skipped(outcome: Outcome, reason: String) -> Fired {
        Fired { outcome, runs: Vec::new(), reason: Some(reason) }
    }

    pub fn started(&self) -> bool {
        self.outcome == Outcome::Started
    }

    /// 202 when runs started, else 200.
    pub fn status(&self) -> u16 {
        if self.started() { 202 } else { 200 }
    }
}

/// Why a call was not taken; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("no trigger named {0:?} is live")]
    NotFound(String),
    #[error("the body is larger than 1 MiB")]
    TooLarge,
    #[error("call refused: {0}")]
    Refused(Refusal),
    /// The secret the trigger names is not available: the server cannot tell callers apart.
    #[error("trigger {trigger:?} cannot check calls: its secret is not available on the server")]
    NoSecret { trigger: String },
    #[error("the body is not JSON: {0}")]
    Malformed(String),
    #[error("{0}")]
    NothingToStart(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl HookError {
    /// The HTTP status the caller gets.
    pub fn status(&self) -> u16 {
        match self {
            HookError::NotFound(_) => 404,
            HookError::TooLarge => 413,
            HookError::Refused(_) => 401,
            HookError::NoSecret { .. } | HookError::Store(_) => 503,
            HookError::Malformed(_) => 400,
            HookError::NothingToStart(_) => 409,
        }
    }

    /// What the caller (or the trigger's owner) should do.
    pub fn hint(&self) -> String {
        match self {
            HookError::NotFound(_) => "check the URL's trigger name; GET /api/v1/triggers lists the triggers the \
                config repository declares"
                .into(),
            HookError::TooLarge => format!("send at most {MAX_BODY} bytes of JSON (trim what the sender includes)"),
            HookError::Refused(Refusal::Missing) => "send Authorization: Bearer <the trigger's secret>, or \
                X-Signature-256: sha256=<hex HMAC-SHA256 of the body with the secret> (GitHub's \
                X-Hub-Signature-256 works too)"
                .into(),
            HookError::Refused(Refusal::Mismatch { .. }) => "use the secret the trigger's `secret` names on the \
                server; a signature must be the HMAC-SHA256 of the exact body sent"
                .into(),
            HookError::NoSecret { .. } => "set the environment variable or stored secret the trigger's `secret` \
                names on the server (the server's log says which is missing)"
                .into(),
            HookError::Malformed(_) => {
                "send a JSON body (content-type: application/json); the trigger's condition reads it as `payload`"
                    .into()
            }
            HookError::NothingToStart(_) => "check the trigger's `nodes` and that those nodes allow its agents and \
                offer what they require; GET /api/v1/triggers shows where it would start them"
                .into(),
            HookError::Store(_) => "check that PostgreSQL is running, then call again".into(),
        }
    }

    /// How the call is recorded; `None` when it is not (an unknown trigger, no database).
    fn outcome(&self) -> Option<Outcome> {
        match self {
            HookError::NotFound(_) | HookError::Store(_) => None,
            HookError::TooLarge | HookError::Malformed(_) => Some(Outcome::Invalid),
            HookError::Refused(_) | HookError::NoSecret { .. } => Some(Outcome::Refused),
            HookError::NothingToStart(_) => Some(Outcome::NothingToStart),
        }
    }
}

/// The request's headers as a condition sees them: lower-case names, string
/// values (repeated headers joined with `, `), without [`SECRET_HEADERS`].
fn visible_headers(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for name in headers.keys().filter(|n| !SECRET_HEADERS.contains(&n.as_str())) {
        let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        if !values.is_empty() {
            map.insert(name.as_str().to_string(), Value::from(values.join(", ")));
        }
    }
    Value::Object(map)
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Hooks {
    pub fn new(store: &Store, runs: Arc<Runs>, secrets: Arc<Secrets>) -> Hooks {
        Hooks { runs, secrets, repo: HookRepo::new(store) }
    }

    pub fn repo(&self) -> &HookRepo {
        &self.repo
    }

    /// Takes a call to trigger `name`'s hook, records it, and says what came of it.
    pub async fn call(&self, name: &str, call: Call<'_>) -> Result<Fired, HookError> {
        let config = self.runs.live.now();
        let Some(trigger) = config.triggers.get(name) else {
            tracing::info!(trigger = name, ip = ?call.ip, "a call to an unknown trigger");
            return Err(HookError::NotFound(name.to_string()));
        };
        let result = self.decide(name, &trigger.spec, &config, &call).await;
        let (outcome, status, runs, reason) = match &result {
            Ok(f) => (f.outcome, f.status(), f.runs.as_slice(), f.reason.clone()),
            Err(e) => match e.outcome() {
                Some(o) => (o, e.status(), &[][..], Some(e.to_string())),
                None => return result,
            },
        };
        let record = NewCall {
            trigger: name,
            outcome,
            status,
            run_ids: runs,
            reason: reason.as_deref(),
            ip: call.ip.as_deref(),
        };
        if let Err(e) = self.repo.record(&record).await {
            // What happened stands (runs may have started); only its record is missing.
            tracing::warn!(trigger = name, error = %e, "cannot record a trigger call");
        }
        result
    }

    async fn decide(
        &self,
        name: &str,
        spec: &TriggerSpec,
        config: &Snapshot,
        call: &Call<'_>,
    ) -> Result<Fired, HookError> {
        let body = match call.body {
            Body::Read(b) => b,
            Body::TooLarge => return Err(HookError::TooLarge),
        };
        let actor = Actor::new(ActorKind::Trigger, name, call.ip.clone());
        let secret = match self.secrets.resolve(&spec.secret).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(trigger = name, error = %e, "refused a trigger call: the trigger's secret is not available");
                let refused = HookError::NoSecret { trigger: name.to_string() };
                self.audit_refusal(&actor, name, &e.to_string()).await?;
                return Err(refused);
            }
        };
        if let Err(refusal) = signature::verify(call.headers, body, &secret, &format!("the secret of trigger {name:?}"))
        {
            tracing::warn!(trigger = name, ip = ?call.ip, reason = %refusal, "refused a trigger call");
            self.audit_refusal(&actor, name, &refusal.to_string()).await?;
            return Err(HookError::Refused(refusal));
        }
        let payload: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(body).map_err(|e| HookError::Malformed(e.to_string()))?
        };
        if let Some(condition) = &spec.condition {
            let headers = visible_headers(call.headers);
            let reason = match condition.eval_bool(&[("payload", &payload), ("headers", &headers)]) {
                Ok(true) => None,
                Ok(false) => Some(format!("the condition `{}` is false", condition.as_str())),
                Err(e) => {
                    Some(format!("the condition `{}` is false: it could not be evaluated ({e})", condition.as_str()))
                }
            };
            if let Some(reason) = reason {
                tracing::info!(trigger = name, %reason, "a trigger call started nothing");
                return Ok(Fired::skipped(Outcome::ConditionFalse, reason));
            }
        }
        self.fire(name, spec, config, &actor, payload).await
    }

    /// Starts the trigger's agents, once its cooldown (if it has one) is this call's.
    async fn fire(
        &self,
        name: &str,
        spec: &TriggerSpec,
        config: &Snapshot,
        actor: &Actor,
        payload: Value,
    ) -> Result<Fired, HookError> {
        let observed = self.runs.nodes.observations().await?;
        let targets = targets(config, &spec.agents, &spec.nodes, &observed);
        if targets.is_empty() {
            let agents: Vec<&str> = spec.agents.iter().map(|a| a.as_str()).collect();
            let message = format!("no live node that trigger {name:?} selects may run {}", agents.join(", "));
            tracing::warn!(trigger = name, "{message}");
            return Err(HookError::NothingToStart(message));
        }
        let claim = match &spec.cooldown {
            None => None,
            Some(cooldown) => match self.repo.claim(name, cooldown.get()).await? {
                Claim::Claimed { at } => Some(at),
                Claim::CoolingDown { until } => {
                    let reason = format!(
                        "cooling down until {} (cooldown {} after a call that started runs)",
                        time(until),
                        cooldown.value
                    );
                    return Ok(Fired::skipped(Outcome::CoolingDown, reason));
                }
            },
        };
        let started = self.start(name, actor, &targets, payload).await;
        if started.runs.is_empty()
            && let Some(at) = claim
        {
            self.repo.release(name, at).await?;
        }
        if let Some(e) = started.store_error {
            if started.runs.is_empty() {
                return Err(HookError::Store(e));
            }
            tracing::warn!(trigger = name, error = %e, "a trigger started some of its runs, then the database failed");
        }
        if started.runs.is_empty() {
            return Err(HookError::NothingToStart(format!(
                "trigger {name:?} started nothing: {}",
                started.refused.join("; ")
            )));
        }
        let detail = json!({"runs": started.runs, "refused": started.refused});
        if let Err(e) = audit::record(self.repo_pool(), actor, Action::TriggerFired, Some(name), detail).await {
            // The runs started (each with its own `run.started` entry): the caller must hear so.
            tracing::warn!(trigger = name, error = %e, "cannot audit a trigger's fire");
        }
        tracing::info!(trigger = name, runs = ?started.runs, "a trigger started its agents");
        let reason = (!started.refused.is_empty()).then(|| format!("not started: {}", started.refused.join("; ")));
        Ok(Fired { outcome: Outcome::Started, runs: started.runs, reason })
    }

    /// Queues each target with the payload as its context.
    async fn start(&self, name: &str, actor: &Actor, targets: &[Target<'_>], payload: Value) -> Started {
        let mut context = Map::new();
        context.insert("hook".into(), Value::from(name));
        context.insert("payload".into(), payload);
        let mut started = Started::default();
        for Target { agent, node } in targets {
            let start = Start {
                trigger: RunTrigger::Trigger,
                by: Some(actor.clone()),
                context: context.clone(),
                ..Start::default()
            };
            match self.runs.queue(agent, node, start).await {
                Ok(Some(run)) => started.runs.push(run.id),
                Ok(None) => {} // only a schedule's slot is queued once; a trigger's run always is
                Err(ServiceError::Store(e)) => started.store_error = Some(e),
                Err(e) => started.refused.push(format!("{agent} on {node}: {e}")),
            }
        }
        started
    }

    async fn audit_refusal(&self, actor: &Actor, name: &str, reason: &str) -> Result<(), StoreError> {
        let detail = json!({"reason": reason});
        Ok(audit::record(self.repo_pool(), actor, Action::TriggerRefused, Some(name), detail).await?)
    }

    fn repo_pool(&self) -> &sqlx::PgPool {
        self.runs.repo.pool()
    }
}

/// What queueing a trigger's targets came to.
#[derive(Default)]
struct Started {
    runs: Vec<String>,
    /// Targets the runs service refused, and why.
    refused: Vec<String>,
    store_error: Option<StoreError>,
}
