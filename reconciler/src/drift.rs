//! Drift: every difference between what git declares and what the server
//! sees, each with a suggested fix, and a health colour per node.
//!
//! Pure: live objects, node observations and live overrides go in; the
//! report comes out. Computed on each request, so it is never stale.

use std::collections::{BTreeMap, BTreeSet};

use car_schemas::document::Manifest;
use car_schemas::kinds::node::Sandbox;
use car_schemas::kinds::{AgentSpec, NodeSpec};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{LiveObject, NodeObservation, Override};

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DriftItem {
    /// What kind of difference: `node.never_connected`, `node.unreachable`,
    /// `node.undeclared`, `node.missing_capability`, `node.no_sandbox`,
    /// `node.sandbox_unenforced`, `runner.outdated`, `override`.
    pub kind: String,
    /// The object concerned, as `Kind/name`.
    pub object: String,
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Green,
    Yellow,
    Red,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NodeHealth {
    pub name: String,
    pub health: Health,
    pub reason: String,
    pub declared: bool,
    pub reachable: bool,
    pub version: Option<String>,
    pub last_seen: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Drift {
    pub items: Vec<DriftItem>,
    pub nodes: Vec<NodeHealth>,
}

pub struct Inputs<'a> {
    pub objects: &'a [LiveObject],
    pub observations: &'a [NodeObservation],
    pub overrides: &'a [Override],
    pub server_version: &'a str,
    /// How nodes install a runner, for fixes.
    pub install_hint: String,
}

pub fn compute(i: &Inputs<'_>) -> Drift {
    let spec = |kind: &str| -> Vec<(&str, &serde_json::Value)> {
        i.objects.iter().filter(|o| o.kind == kind).map(|o| (o.name.as_str(), &o.document)).collect()
    };
    let nodes: BTreeMap<&str, NodeSpec> = spec("Node")
        .into_iter()
        .filter_map(|(n, d)| car_schemas::de::from_json::<Manifest<NodeSpec>>(d).ok().map(|m| (n, m.spec)))
        .collect();
    let agents: BTreeMap<&str, AgentSpec> = spec("Agent")
        .into_iter()
        .filter_map(|(n, d)| car_schemas::de::from_json::<Manifest<AgentSpec>>(d).ok().map(|m| (n, m.spec)))
        .collect();
    let seen: BTreeMap<&str, &NodeObservation> = i.observations.iter().map(|o| (o.name.as_str(), o)).collect();
    let mut items = Vec::new();
    let mut health = Vec::new();
    let names: BTreeSet<&str> =
        nodes.keys().copied().chain(i.observations.iter().filter(|o| o.enrolled).map(|o| o.name.as_str())).collect();
    for name in names {
        let object = format!("Node/{name}");
        let mut push = |kind: &str, message: String, fix: String| {
            items.push(DriftItem { kind: kind.into(), object: object.clone(), message, fix });
        };
        let (declared, obs) = (nodes.get(name), seen.get(name).copied());
        let mut worst = (Health::Green, "runner answers; matches git".to_string());
        let mut mark = |h: Health, why: String| {
            if h > worst.0 {
                worst = (h, why);
            }
        };
        let Some(spec) = declared else {
            let msg = format!("node {name} enrolled, but git does not declare it");
            push(
                "node.undeclared",
                msg.clone(),
                format!("declare it in git (kind: Node, metadata.name: {name}), or revoke its key"),
            );
            mark(Health::Yellow, msg);
            health.push(node_health(name, false, obs, worst));
            continue;
        };
        let reachable = obs.is_some_and(|o| o.reachable);
        let error = obs.and_then(|o| o.last_error.clone()).unwrap_or_else(|| "not checked yet".into());
        if obs.is_none_or(|o| o.last_seen.is_none()) {
            let msg = format!("node {name} is declared, but its runner has never answered: {error}");
            let fix = match &spec.address {
                Some(a) => format!(
                    "install car-runner on {name} ({}) and check that {} is reachable from the server",
                    i.install_hint,
                    a.as_str()
                ),
                None => format!("install car-runner on {name}: {}", i.install_hint),
            };
            push("node.never_connected", msg.clone(), fix);
            mark(Health::Red, msg);
        } else if !reachable {
            let msg = format!("node {name}'s runner stopped answering: {error}");
            push(
                "node.unreachable",
                msg.clone(),
                format!("check that {name} is up and car-runner is running (systemctl status car-runner)"),
            );
            mark(Health::Red, msg);
        }
        if let Some(o) = obs.filter(|o| o.last_seen.is_some()) {
            if let Some(v) = &o.version
                && older(v, i.server_version)
            {
                let msg = format!("node {name} runs car-runner {v}, older than the server's {}", i.server_version);
                push(
                    "runner.outdated",
                    msg.clone(),
                    format!("update car-runner on {name} (re-run the install script)"),
                );
                mark(Health::Yellow, msg);
            }
            match (&o.sandbox, spec.sandbox) {
                (None, Sandbox::Enforced) => {
                    let msg = format!("node {name}'s kernel has no Landlock, so it refuses read-only agents");
                    push(
                        "node.no_sandbox",
                        msg.clone(),
                        format!(
                            "run a kernel with Landlock on {name} (Linux 5.13 or newer, `landlock` in its lsm= boot \
                             option), or accept the risk with `sandbox: unenforced` in its spec"
                        ),
                    );
                    mark(Health::Yellow, msg);
                }
                (None, Sandbox::Unenforced) => {
                    let msg = format!(
                        "node {name} runs read-only agents without the kernel's jail (`sandbox: unenforced`): \
                         its kernel has no Landlock"
                    );
                    push(
                        "node.sandbox_unenforced",
                        msg.clone(),
                        format!("run a kernel with Landlock on {name}, then remove `sandbox: unenforced`"),
                    );
                    mark(Health::Yellow, msg);
                }
                (Some(jail), Sandbox::Unenforced) => push(
                    "node.sandbox_unenforced",
                    format!(
                        "node {name} says `sandbox: unenforced`, but its runner has {jail} and jails read-only agents anyway"
                    ),
                    "remove `sandbox: unenforced` from its spec".into(),
                ),
                (Some(_), Sandbox::Enforced) => {}
            }
            let caps: BTreeSet<&str> =
                o.capabilities.as_array().into_iter().flatten().filter_map(|c| c.as_str()).collect();
            // Agents the node names explicitly must be able to run there.
            let listed = spec.agents.iter().flatten().filter_map(|a| agents.get(a.as_str()).map(|s| (a.as_str(), s)));
            for (agent, a) in listed {
                let missing: Vec<&str> = a.requires.iter().map(|r| r.as_str()).filter(|r| !caps.contains(r)).collect();
                if !missing.is_empty() {
                    let msg = format!("node {name} lacks {} that agent {agent} requires", missing.join(", "));
                    push(
                        "node.missing_capability",
                        msg.clone(),
                        format!("install {} on {name}, or remove {agent} from its agents", missing.join(", ")),
                    );
                    mark(Health::Yellow, msg);
                }
            }
        }
        health.push(node_health(name, true, obs, worst));
    }
    for o in i.overrides {
        items.push(DriftItem {
            kind: "override".into(),
            object: format!("{}/{}", o.kind, o.name),
            message: format!(
                "{} {} has {} = {} set outside git{}",
                o.kind,
                o.name,
                o.field,
                o.value,
                o.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
            ),
            fix: "clear the override, or write it into git so the repository says what runs".into(),
        });
    }
    Drift { items, nodes: health }
}

fn node_health(
    name: &str,
    declared: bool,
    obs: Option<&NodeObservation>,
    (health, reason): (Health, String),
) -> NodeHealth {
    NodeHealth {
        name: name.into(),
        health,
        reason,
        declared,
        reachable: obs.is_some_and(|o| o.reachable),
        version: obs.and_then(|o| o.version.clone()),
        last_seen: obs.and_then(|o| o.last_seen),
    }
}

/// `a` is an older dotted version than `b` (non-numeric parts compare as 0).
fn older(a: &str, b: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> {
        v.trim_start_matches('v').split(['.', '-', '+']).take(3).map(|p| p.parse().unwrap_or(0)).collect()
    };
    parts(a) < parts(b)
}
