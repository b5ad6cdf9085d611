//! Live state: nodes, agents, schedules (with pause and resume, which are
//! overrides outside git and show as drift), and drift itself.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::QueryParams;
use super::{ApiError, AppState};
use crate::config::snapshot::{Declared, Snapshot};
use crate::nodes::drift::{self, Drift, DriftItem, NodeHealth};
use crate::nodes::metrics::{Point, Resolution};
use crate::nodes::repo::NodeObservation;
use crate::runs::{AgentRecord, ScheduledRun};
use crate::schedule::slots::Cadence;
use crate::trust::access::Caller;
use crate::trust::enrollment::Enrolled;
use car_schemas::Kind;

/// An object as the applied revision declares it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectView {
    pub kind: Kind,
    pub name: String,
    /// The applied revision.
    pub revision: String,
    /// Where it is declared, relative to the config folder.
    pub file: String,
    pub line: i32,
    /// When this version of it was applied.
    pub applied_at: DateTime<Utc>,
    /// Its `spec`, as written in git.
    #[schema(value_type = Object)]
    pub spec: Value,
    /// Its `metadata.labels`, as written in git.
    #[schema(value_type = Option<Object>)]
    pub labels: Option<Value>,
}

fn view<S>(kind: Kind, o: &Declared<S>) -> ObjectView {
    let labels = &o.document["metadata"]["labels"];
    ObjectView {
        kind,
        name: o.name.clone(),
        revision: o.revision.clone(),
        file: o.file.clone(),
        line: o.line,
        applied_at: o.applied_at,
        spec: o.document["spec"].clone(),
        labels: labels.is_object().then(|| labels.clone()),
    }
}

/// Whether the server hears from a node's runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// Its runner answered within the last 90 seconds.
    Connected,
    /// It answered before, but not lately.
    Disconnected,
    /// It never answered.
    NeverSeen,
}

/// A node: declared in git, enrolled, or both.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeView {
    /// Always `Node`.
    pub kind: Kind,
    pub name: String,
    /// Git declares it; an undeclared node only enrolled (and shows as drift), and has no
    /// `revision`, `file`, `line`, `applied_at`, `spec` or `labels`.
    pub declared: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<DateTime<Utc>>,
    /// Its `spec`, as written in git.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub spec: Option<Value>,
    /// Its `metadata.labels`, as written in git (null without labels).
    // Outer: declared (else absent, like the fields above); inner: has labels (else null).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub labels: Option<Option<Value>>,
    /// Its health colour and why; null until the server has looked at it.
    pub health: Option<NodeHealth>,
    pub connection: Connection,
    /// How it enrolled; null when it did not (its runner may still be reached with a token from git).
    pub enrolled: Option<Enrolled>,
}

/// Nodes, declared ones first.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeList {
    pub nodes: Vec<NodeView>,
}

/// One declared node, with what its runner reported and its drift.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeDetail {
    #[serde(flatten)]
    pub object: ObjectView,
    /// Always true: git declares it.
    pub declared: bool,
    /// How it enrolled; null when it did not.
    pub enrolled: Option<Enrolled>,
    /// Its health colour and why; null until the server has looked at it.
    pub health: Option<NodeHealth>,
    pub connection: Connection,
    /// What the server last saw of its runner; null until it looked.
    pub observed: Option<NodeObservation>,
    /// Its differences from git.
    pub drift: Vec<DriftItem>,
}

/// A node's metrics history for charts.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeMetrics {
    pub node: String,
    pub resolution: Resolution,
    /// Oldest first; none for the minutes or hours no health check was answered.
    pub points: Vec<Point>,
}

/// An agent as declared, with where it may run and what runs it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    #[serde(flatten)]
    pub object: ObjectView,
    /// The declared nodes that may run it: they allow it and offer what it
    /// `requires` (declared in git or reported by their runner).
    pub nodes: Vec<String>,
    /// The schedules that run it, by name.
    pub schedules: Vec<String>,
}

impl AgentView {
    fn of(config: &Snapshot, observations: &[NodeObservation], a: &Declared<car_schemas::kinds::AgentSpec>) -> Self {
        let nodes = config
            .nodes
            .iter()
            .filter(|(name, n)| {
                let caps = observations.iter().find(|o| o.name == **name).map(|o| o.capabilities.as_slice());
                car_schemas::placement::check(name, &n.spec, caps, &a.name, &a.spec).is_ok()
            })
            .map(|(name, _)| name.clone())
            .collect();
        let schedules = config
            .schedules
            .values()
            .filter(|s| s.spec.agents.iter().any(|x| x.as_str() == a.name))
            .map(|s| s.name.clone())
            .collect();
        AgentView { object: view(Kind::Agent, a), nodes, schedules }
    }
}

/// The declared agents, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentList {
    pub agents: Vec<AgentView>,
}

/// One agent, with its record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentDetail {
    #[serde(flatten)]
    pub agent: AgentView,
    #[serde(flatten)]
    pub record: AgentRecord,
}

/// A declared schedule, with any pause made outside git.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    #[serde(flatten)]
    pub object: ObjectView,
    /// Paused outside git (shown as drift until resumed).
    pub paused: bool,
    /// Why, as given when it was paused.
    pub paused_reason: Option<String>,
    /// When it fires next; null when it is disabled or paused.
    pub next_fire: Option<DateTime<Utc>>,
    /// Its newest run; null before it first fired.
    pub last_run: Option<ScheduledRun>,
}

/// The declared schedules, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    pub schedules: Vec<ScheduleView>,
}

/// Whether a schedule is paused now.
#[derive(Debug, Serialize, ToSchema)]
pub struct PauseState {
    pub name: String,
    pub paused: bool,
}

/// The live config, node observations and enrollments, read once per request.
struct Live {
    config: std::sync::Arc<Snapshot>,
    observations: Vec<NodeObservation>,
    enrolled: Vec<crate::trust::enrollment::Enrolled>,
    drift: Drift,
}

async fn live(s: &AppState) -> Result<Live, ApiError> {
    let config = s.live.now();
    let (observations, enrolled) =
        (s.nodes.observations().await?, crate::trust::enrollment::all_enrolled(&s.store).await?);
    let install_hint = drift::install_hint(s.settings.public_url.as_deref());
    let drift = drift::compute(&drift::Inputs {
        config: &config,
        observations: &observations,
        server_version: env!("CARGO_PKG_VERSION"),
        install_hint,
    });
    Ok(Live { config, observations, enrolled, drift })
}

fn not_live(kind: Kind, name: &str) -> ApiError {
    ApiError::not_found(
        format!("no {kind} named {name:?} is live"),
        format!("GET /api/v1/{}s lists them", kind.as_str().to_lowercase()),
    )
}

/// Declared nodes with their health, then nodes that enrolled but git does
/// not declare yet (`declared: false`, shown as drift too).
#[utoipa::path(get, path = "/api/v1/nodes", tag = "live state",
    responses((status = 200, description = "the nodes", body = NodeList)))]
pub async fn nodes(State(s): State<AppState>) -> Result<Json<NodeList>, ApiError> {
    let live = live(&s).await?;
    let health = |name: &str| live.drift.nodes.iter().find(|h| h.name == name).cloned();
    let enrolled = |name: &str| live.enrolled.iter().find(|e| e.name == name).cloned();
    let seen = |name: &str| connection(live.observations.iter().find(|n| n.name == name));
    let mut nodes = Vec::new();
    for o in live.config.nodes.values() {
        let v = view(Kind::Node, o);
        nodes.push(NodeView {
            kind: Kind::Node,
            declared: true,
            revision: Some(v.revision),
            file: Some(v.file),
            line: Some(v.line),
            applied_at: Some(v.applied_at),
            spec: Some(v.spec),
            labels: Some(v.labels),
            health: health(&o.name),
            connection: seen(&o.name),
            enrolled: enrolled(&o.name),
            name: v.name,
        });
    }
    for e in live.enrolled.iter().filter(|e| !live.config.nodes.contains_key(&e.name)) {
        nodes.push(NodeView {
            kind: Kind::Node,
            name: e.name.clone(),
            declared: false,
            revision: None,
            file: None,
            line: None,
            applied_at: None,
            spec: None,
            labels: None,
            health: health(&e.name),
            connection: seen(&e.name),
            enrolled: Some(e.clone()),
        });
    }
    Ok(Json(NodeList { nodes }))
}

/// One node: its spec, what its runner reported, its health and drift.
#[utoipa::path(get, path = "/api/v1/nodes/{name}", tag = "live state", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "the node", body = NodeDetail), (status = 404, description = "not live")))]
pub async fn node(State(s): State<AppState>, Path(name): Path<String>) -> Result<Json<NodeDetail>, ApiError> {
    let live = live(&s).await?;
    let o = live.config.nodes.get(&name).ok_or_else(|| not_live(Kind::Node, &name))?;
    let observed = live.observations.iter().find(|n| n.name == name);
    let object = format!("Node/{name}");
    Ok(Json(NodeDetail {
        object: view(Kind::Node, o),
        declared: true,
        enrolled: live.enrolled.iter().find(|e| e.name == name).cloned(),
        health: live.drift.nodes.iter().find(|h| h.name == name).cloned(),
        connection: connection(observed),
        observed: observed.cloned(),
        drift: live.drift.items.iter().filter(|i| i.object == object).cloned().collect(),
    }))
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
    responses((status = 200, description = "the node's points", body = NodeMetrics), (status = 404, description = "not live")))]
pub async fn metrics(
    State(s): State<AppState>,
    Path(name): Path<String>,
    QueryParams(q): QueryParams<MetricsQuery>,
) -> Result<Json<NodeMetrics>, ApiError> {
    if !s.live.now().nodes.contains_key(&name) {
        return Err(not_live(Kind::Node, &name));
    }
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
    let back = chrono::TimeDelta::from_std(range.get())
        .unwrap_or(crate::nodes::metrics::KEPT)
        .min(crate::nodes::metrics::KEPT);
    let from = chrono::Utc::now() - back;
    let (resolution, points) = s.nodes.metrics(&name, from).await?;
    Ok(Json(NodeMetrics { node: name, resolution, points }))
}

/// How long a node may go unseen before it counts as disconnected (a few
/// missed health checks, so one slow answer does not flap it).
const DISCONNECTED_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(90);

/// Connected when seen within [`DISCONNECTED_AFTER`].
fn connection(observed: Option<&NodeObservation>) -> Connection {
    match observed.and_then(|o| o.last_seen) {
        None => Connection::NeverSeen,
        Some(t) if chrono::Utc::now() - t <= DISCONNECTED_AFTER => Connection::Connected,
        Some(_) => Connection::Disconnected,
    }
}

/// Declared agents, each with the nodes that may run it and its schedules.
#[utoipa::path(get, path = "/api/v1/agents", tag = "live state",
    responses((status = 200, description = "the agents", body = AgentList)))]
pub async fn agents(State(s): State<AppState>) -> Result<Json<AgentList>, ApiError> {
    let (config, observations) = (s.live.now(), s.nodes.observations().await?);
    let agents = config.agents.values().map(|a| AgentView::of(&config, &observations, a)).collect();
    Ok(Json(AgentList { agents }))
}

/// One agent, with its record: runs, success rate, mean and p95 duration
/// (last 30 days), cost over 7 and 30 days, and its last run on each node
/// (computed in the background every 30 s once asked for; `stats_at` says when).
#[utoipa::path(get, path = "/api/v1/agents/{name}", tag = "live state", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "the agent", body = AgentDetail), (status = 404, description = "not live")))]
pub async fn agent(State(s): State<AppState>, Path(name): Path<String>) -> Result<Json<AgentDetail>, ApiError> {
    let config = s.live.now();
    let declared = config.agents.get(&name).ok_or_else(|| not_live(Kind::Agent, &name))?;
    let agent = AgentView::of(&config, &s.nodes.observations().await?, declared);
    let record = s.runs.agent_stats(&name).await?;
    Ok(Json(AgentDetail { agent, record }))
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
    let config = s.live.now();
    let spec = &config.agents.get(&name).ok_or_else(|| not_live(Kind::Agent, &name))?.spec;
    let input = Value::Object(b.input);
    Ok(Json(car_policy::Policy::new(spec).explain(&b.tool, &input, b.cwd.as_deref())))
}

/// Declared schedules, with any pause made outside git.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "live state",
    responses((status = 200, description = "the schedules", body = ScheduleList)))]
pub async fn schedules(State(s): State<AppState>) -> Result<Json<ScheduleList>, ApiError> {
    let config = s.live.now();
    let pairs: Vec<(&str, &str)> =
        config.schedules.values().flat_map(|o| o.spec.agents.iter().map(|a| (o.name.as_str(), a.as_str()))).collect();
    let mut last = s.runs.repo.last_scheduled(&pairs).await?;
    let mut schedules = Vec::new();
    for o in config.schedules.values() {
        let paused = config.paused(&o.name);
        let active = o.spec.enabled && paused.is_none();
        schedules.push(ScheduleView {
            object: view(Kind::Schedule, o),
            paused: paused.is_some(),
            paused_reason: paused.and_then(|p| p.reason.clone()),
            next_fire: active.then(|| Cadence::of(&o.spec).next_after(chrono::Utc::now())).flatten(),
            last_run: last.iter().position(|r| r.schedule == o.name).map(|i| last.swap_remove(i)),
        });
    }
    Ok(Json(ScheduleList { schedules }))
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
    request_body(content = Option<PauseRequest>, description = "optional reason"),
    responses((status = 200, description = "paused", body = PauseState), (status = 404, description = "no such schedule")))]
pub async fn pause(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
    body: Option<super::JsonBody<PauseRequest>>,
) -> Result<Json<PauseState>, ApiError> {
    let reason = body.and_then(|super::JsonBody(b)| b.reason);
    if let Some(r) = &reason {
        super::error::storable("reason", r)?;
    }
    if !s.live.pause(&name, reason.as_deref(), &c.actor()).await? {
        return Err(not_live(Kind::Schedule, &name));
    }
    Ok(Json(PauseState { name, paused: true }))
}

/// Resume a paused schedule.
#[utoipa::path(post, path = "/api/v1/schedules/{name}/resume", tag = "live state", params(("name" = String, Path, pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")),
    responses((status = 200, description = "resumed", body = PauseState), (status = 404, description = "not paused")))]
pub async fn resume(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<PauseState>, ApiError> {
    if !s.live.resume(&name, &c.actor()).await? {
        return Err(ApiError::not_found(
            format!("schedule {name:?} is not paused"),
            "GET /api/v1/schedules shows which are",
        ));
    }
    Ok(Json(PauseState { name, paused: false }))
}

/// Every difference between git and reality, with fixes, and each node's health.
#[utoipa::path(get, path = "/api/v1/drift", tag = "live state",
    responses((status = 200, description = "the drift report", body = Drift)))]
pub async fn drift(State(s): State<AppState>) -> Result<Json<Drift>, ApiError> {
    Ok(Json(live(&s).await?.drift))
}
