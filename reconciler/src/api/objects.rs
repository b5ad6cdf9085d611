//! Live state: nodes, agents, schedules (with pause and resume, which are
//! overrides outside git and show as drift), and drift itself.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::error::QueryParams;
use super::{ApiError, AppState};
use crate::auth::Caller;
use crate::drift::{self, Drift};
use crate::schedule::slots::Cadence;
use crate::store::{LiveObject, NodeObservation};
use car_schemas::kinds::ScheduleSpec;

fn view(o: &LiveObject) -> Value {
    json!({
        "kind": o.kind, "name": o.name, "revision": o.revision, "file": o.file, "line": o.line,
        "applied_at": o.applied_at, "spec": o.document["spec"], "labels": o.document["metadata"]["labels"],
    })
}

/// Live objects, node observations, enrollments and overrides, read once per request.
struct Live {
    objects: Vec<LiveObject>,
    observations: Vec<NodeObservation>,
    enrolled: Vec<crate::enrollment::Enrolled>,
    drift: Drift,
}

async fn live(s: &AppState) -> Result<Live, ApiError> {
    let (objects, observations, overrides, enrolled) = (
        s.store.objects(None).await?,
        s.store.node_observations().await?,
        s.store.overrides().await?,
        crate::enrollment::all_enrolled(&s.store).await?,
    );
    let install_hint = match &s.settings.public_url {
        Some(u) => format!("curl -sSL {}/install | bash -s -- --token <enrollment token>", u.trim_end_matches('/')),
        None => "run the install script from the server's /install".into(),
    };
    let drift = drift::compute(&drift::Inputs {
        objects: &objects,
        observations: &observations,
        overrides: &overrides,
        server_version: env!("CARGO_PKG_VERSION"),
        install_hint,
    });
    Ok(Live { objects, observations, enrolled, drift })
}

async fn one(s: &AppState, kind: &str, name: &str) -> Result<LiveObject, ApiError> {
    s.store.object(kind, name).await?.ok_or_else(|| {
        ApiError::not_found(
            format!("no {kind} named {name:?} is live"),
            format!("GET /api/v1/{}s lists them", kind.to_lowercase()),
        )
    })
}

/// Declared nodes with their health, then nodes that enrolled but git does
/// not declare yet (`declared: false`, shown as drift too).
#[utoipa::path(get, path = "/api/v1/nodes", tag = "live state", responses((status = 200, description = "{nodes: [...]}")))]
pub async fn nodes(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let live = live(&s).await?;
    let mut list: Vec<Value> = live
        .objects
        .iter()
        .filter(|o| o.kind == "Node")
        .map(|o| {
            let mut v = view(o);
            v["declared"] = json!(true);
            v["health"] = json!(live.drift.nodes.iter().find(|h| h.name == o.name));
            v["connection"] = json!(connection(live.observations.iter().find(|n| n.name == o.name)));
            v["enrolled"] = json!(live.enrolled.iter().find(|e| e.name == o.name));
            v
        })
        .collect();
    for e in live.enrolled.iter().filter(|e| !live.objects.iter().any(|o| o.kind == "Node" && o.name == e.name)) {
        list.push(json!({"kind": "Node", "name": e.name, "declared": false, "enrolled": e,
            "health": live.drift.nodes.iter().find(|h| h.name == e.name),
            "connection": connection(live.observations.iter().find(|n| n.name == e.name))}));
    }
    Ok(Json(json!({"nodes": list})))
}

/// One node: its spec, what its runner reported, its health and drift.
#[utoipa::path(get, path = "/api/v1/nodes/{name}", tag = "live state", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "the node"), (status = 404, description = "not live")))]
pub async fn node(State(s): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let o = one(&s, "Node", &name).await?;
    let live = live(&s).await?;
    let mut v = view(&o);
    v["declared"] = json!(true);
    v["enrolled"] = json!(live.enrolled.iter().find(|e| e.name == name));
    v["health"] = json!(live.drift.nodes.iter().find(|h| h.name == name));
    let observed = live.observations.iter().find(|n| n.name == name);
    v["connection"] = json!(connection(observed));
    v["observed"] = json!(observed);
    v["drift"] = json!(live.drift.items.iter().filter(|i| i.object == format!("Node/{name}")).collect::<Vec<_>>());
    Ok(Json(v))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// How far back: e.g. 1h, 6h, 2d, 30d (default 6h, at most the 90d kept). Up to 2d comes per minute, beyond per hour.
    #[param(pattern = "^([0-9]{1,9}(ms|s|m|h|d))+$")]
    range: Option<String>,
}

/// A node's metrics history for charts: CPU, memory, load and the fullest disk.
#[utoipa::path(get, path = "/api/v1/nodes/{name}/metrics", tag = "live state", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"), MetricsQuery),
    responses((status = 200, description = "{resolution, points: [...]}"), (status = 404, description = "not live")))]
pub async fn metrics(
    State(s): State<AppState>,
    Path(name): Path<String>,
    QueryParams(q): QueryParams<MetricsQuery>,
) -> Result<Json<Value>, ApiError> {
    one(&s, "Node", &name).await?;
    let text = q.range.unwrap_or_else(|| "6h".into());
    let range: car_schemas::values::Duration = text.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("range={text:?} is not a duration"),
            "e.g. range=6h or 30d",
        )
    })?;
    // Nothing older is kept, and a range past it would leave the calendar.
    let back = chrono::TimeDelta::from_std(range.get()).unwrap_or(crate::metrics::KEPT).min(crate::metrics::KEPT);
    let from = chrono::Utc::now() - back;
    let (resolution, points) = s.store.metrics(&name, from).await?;
    Ok(Json(json!({"node": name, "resolution": resolution, "points": points})))
}

/// How long a node may go unseen before it counts as disconnected (a few
/// missed health checks, so one slow answer does not flap it).
const DISCONNECTED_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(90);

/// `connected` (seen within [`DISCONNECTED_AFTER`]), `disconnected`, or `never_seen`.
fn connection(observed: Option<&NodeObservation>) -> &'static str {
    match observed.and_then(|o| o.last_seen) {
        None => "never_seen",
        Some(t) if chrono::Utc::now() - t <= DISCONNECTED_AFTER => "connected",
        Some(_) => "disconnected",
    }
}

/// Declared agents.
#[utoipa::path(get, path = "/api/v1/agents", tag = "live state", responses((status = 200, description = "{agents: [...]}")))]
pub async fn agents(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let list: Vec<Value> = s.store.objects(Some("Agent")).await?.iter().map(view).collect();
    Ok(Json(json!({"agents": list})))
}

/// One agent, with its record: runs, success rate, mean and p95 duration
/// (last 30 days), cost over 7 and 30 days, and its last run on each node
/// (computed in the background every 30 s once asked for; `stats_at` says when).
#[utoipa::path(get, path = "/api/v1/agents/{name}", tag = "live state", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "the agent"), (status = 404, description = "not live")))]
pub async fn agent(State(s): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let mut v = view(&one(&s, "Agent", &name).await?);
    let record = s.runs.agent_stats(&name).await?;
    for k in ["stats", "last_runs", "stats_at"] {
        v[k] = record[k].clone();
    }
    Ok(Json(v))
}

/// A tool call to ask an agent's policy about.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanI {
    /// The tool the model would call: Bash, Read, Write, Edit, Grep, Glob, WebFetch, …
    #[serde(default = "bash")]
    #[schema(pattern = "^[A-Za-z][A-Za-z0-9_-]{0,127}$", default = "Bash")]
    tool: String,
    /// The call's input as the CLI sends it: `{"command": …}` for Bash, `{"file_path": …}` for Read.
    #[schema(value_type = Object)]
    input: serde_json::Map<String, Value>,
    /// The folder the call runs in, for relative paths (default: a run's working folder, unknown here).
    #[schema(pattern = "^/[^\\u0000]{0,4095}$")]
    cwd: Option<String>,
}

fn bash() -> String {
    "Bash".into()
}

/// What the agent's policy would do with a tool call, without running it
/// (the dashboard's "can it?" and `car-server can-i`): the decision, the
/// rule that decided or why it would be held, and, for a shell command, each
/// part as the analysis saw it. Paths are matched as written; the node
/// itself also follows symbolic links (`car-runner can-i`).
#[utoipa::path(post, path = "/api/v1/agents/{name}/can-i", tag = "live state",
    params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")), request_body = CanI,
    responses((status = 200, description = "the decision and what the analysis saw", body = car_policy::Explanation),
    (status = 400, description = "not a tool name, or not an absolute folder"), (status = 404, description = "no such agent")))]
pub async fn can_i(
    State(s): State<AppState>,
    Path(name): Path<String>,
    super::error::JsonBody(b): super::error::JsonBody<CanI>,
) -> Result<Json<car_policy::Explanation>, ApiError> {
    let invalid =
        |what: &str, hint: &str| ApiError::new(StatusCode::BAD_REQUEST, "invalid", what.to_string(), hint.to_string());
    let tool_ok = b.tool.len() <= 128
        && b.tool.starts_with(|c: char| c.is_ascii_alphabetic())
        && b.tool.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
    if !tool_ok {
        return Err(invalid("`tool` is not a tool name", "e.g. Bash, Read, Grep or mcp__server__tool"));
    }
    if let Some(cwd) = &b.cwd {
        super::error::storable("cwd", cwd)?;
        if !cwd.starts_with('/') || cwd.chars().count() > 4096 {
            return Err(invalid("`cwd` is not an absolute path", "give the folder the call runs in, e.g. /srv/app"));
        }
    }
    let o = one(&s, "Agent", &name).await?;
    let spec =
        car_schemas::de::from_json::<car_schemas::document::Manifest<car_schemas::kinds::AgentSpec>>(&o.document)
            .map_err(|_| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    format!("agent {name}'s stored document does not parse"),
                    "sync the config again",
                )
            })?
            .spec;
    let input = Value::Object(b.input);
    Ok(Json(car_policy::Policy::new(&spec).explain(&b.tool, &input, b.cwd.as_deref())))
}

/// Declared schedules, with any pause made outside git.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "live state", responses((status = 200, description = "{schedules: [...]}")))]
pub async fn schedules(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let overrides = s.store.overrides().await?;
    let list: Vec<Value> = s
        .store
        .objects(Some("Schedule"))
        .await?
        .iter()
        .map(|o| {
            let mut v = view(o);
            let paused = overrides.iter().find(|x| x.kind == "Schedule" && x.name == o.name && x.field == "paused");
            v["paused"] = json!(paused.is_some());
            v["paused_reason"] = json!(paused.and_then(|p| p.reason.clone()));
            let spec = car_schemas::de::from_json::<car_schemas::document::Manifest<ScheduleSpec>>(&o.document).ok();
            let active = spec.as_ref().is_some_and(|s| s.spec.enabled) && paused.is_none();
            v["next_fire"] =
                json!(spec.filter(|_| active).and_then(|s| Cadence::of(&s.spec).next_after(chrono::Utc::now())));
            v
        })
        .collect();
    Ok(Json(json!({"schedules": list})))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// Why, for the drift report.
    #[schema(pattern = "^[^\\u0000]*$")]
    pub reason: Option<String>,
}

/// Pause a schedule outside git (reported as drift until resumed).
#[utoipa::path(post, path = "/api/v1/schedules/{name}/pause", tag = "live state", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    request_body(content = PauseRequest, description = "optional reason"),
    responses((status = 200, description = "paused"), (status = 404, description = "no such schedule")))]
pub async fn pause(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
    body: Option<super::JsonBody<PauseRequest>>,
) -> Result<Json<Value>, ApiError> {
    one(&s, "Schedule", &name).await?;
    let reason = body.and_then(|super::JsonBody(b)| b.reason);
    if let Some(r) = &reason {
        super::error::storable("reason", r)?;
    }
    s.store.set_override("Schedule", &name, "paused", &json!(true), reason.as_deref(), &c.actor()).await?;
    Ok(Json(json!({"name": name, "paused": true})))
}

/// Resume a paused schedule.
#[utoipa::path(post, path = "/api/v1/schedules/{name}/resume", tag = "live state", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "resumed"), (status = 404, description = "not paused")))]
pub async fn resume(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !s.store.clear_override("Schedule", &name, "paused", &c.actor()).await? {
        return Err(ApiError::not_found(
            format!("schedule {name:?} is not paused"),
            "GET /api/v1/schedules shows which are",
        ));
    }
    Ok((StatusCode::OK, Json(json!({"name": name, "paused": false}))))
}

/// Every difference between git and reality, with fixes, and each node's health.
#[utoipa::path(get, path = "/api/v1/drift", tag = "live state", responses((status = 200, body = Drift)))]
pub async fn drift(State(s): State<AppState>) -> Result<Json<Drift>, ApiError> {
    Ok(Json(live(&s).await?.drift))
}
