//! Drift: every difference between what git declares and what the server
//! sees, each with a suggested fix, and a health colour per node.
//!
//! Pure: the live config (with its overrides) and node observations go
//! in; the report comes out. Computed on each request, so it is never stale.

use std::collections::{BTreeMap, BTreeSet};

use car_schemas::kinds::node::Sandbox;
use car_schemas::placement::{self, Refusal};
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::snapshot::Snapshot;
use crate::nodes::repo::NodeObservation;

/// One difference between git and reality.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DriftItem {
    pub kind: DriftKind,
    /// The object concerned, as `Kind/name`.
    pub object: String,
    /// What differs.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

/// What kind of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum DriftKind {
    /// A declared node's runner has never answered.
    #[serde(rename = "node.never_connected")]
    NeverConnected,
    /// A node's runner stopped answering.
    #[serde(rename = "node.unreachable")]
    Unreachable,
    /// A node enrolled, but git does not declare it.
    #[serde(rename = "node.undeclared")]
    Undeclared,
    /// A node lacks a capability an agent it lists requires.
    #[serde(rename = "node.missing_capability")]
    MissingCapability,
    /// A node's kernel cannot jail read-only agents, so it refuses them.
    #[serde(rename = "node.no_sandbox")]
    NoSandbox,
    /// A node runs read-only agents without a jail, or says `sandbox: unenforced` needlessly.
    #[serde(rename = "node.sandbox_unenforced")]
    SandboxUnenforced,
    /// A node's runner is older than the server.
    #[serde(rename = "runner.outdated")]
    RunnerOutdated,
    /// A value set outside git (a paused schedule).
    #[serde(rename = "override")]
    Override,
}

impl DriftKind {
    /// As the API shows it: `node.never_connected`.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::NeverConnected => "node.never_connected",
            DriftKind::Unreachable => "node.unreachable",
            DriftKind::Undeclared => "node.undeclared",
            DriftKind::MissingCapability => "node.missing_capability",
            DriftKind::NoSandbox => "node.no_sandbox",
            DriftKind::SandboxUnenforced => "node.sandbox_unenforced",
            DriftKind::RunnerOutdated => "runner.outdated",
            DriftKind::Override => "override",
        }
    }
}

/// A node's health colour: green when it answers and matches git.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Green,
    /// It answers, but differs from git or lacks something.
    Yellow,
    /// It does not answer.
    Red,
}

/// A node's health, and the worst reason for it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NodeHealth {
    pub name: String,
    pub health: Health,
    /// Why it has this colour.
    pub reason: String,
    /// Git declares it.
    pub declared: bool,
    /// Its runner answered the last health check.
    pub reachable: bool,
    /// The runner's version.
    pub version: Option<String>,
    /// When its runner last answered.
    pub last_seen: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every difference between git and reality, and each node's health.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Drift {
    pub items: Vec<DriftItem>,
    /// Declared and enrolled nodes, by name.
    pub nodes: Vec<NodeHealth>,
}

pub struct Inputs<'a> {
    pub config: &'a Snapshot,
    pub observations: &'a [NodeObservation],
    pub server_version: &'a str,
    /// How nodes install a runner, for fixes.
    pub install_hint: String,
}

/// How a node installs its runner, for the fixes: the one-liner from
/// `PUBLIC_URL` when it is set.
pub fn install_hint(public_url: Option<&str>) -> String {
    match public_url {
        Some(u) => format!("curl -sSL {}/install | bash -s -- --token <enrollment token>", u.trim_end_matches('/')),
        None => "run the install script from the server's /install".into(),
    }
}

pub fn compute(i: &Inputs<'_>) -> Drift {
    let (nodes, agents) = (&i.config.nodes, &i.config.agents);
    let seen: BTreeMap<&str, &NodeObservation> = i.observations.iter().map(|o| (o.name.as_str(), o)).collect();
    let mut items = Vec::new();
    let mut health = Vec::new();
    let names: BTreeSet<&str> = nodes
        .keys()
        .map(String::as_str)
        .chain(i.observations.iter().filter(|o| o.enrolled).map(|o| o.name.as_str()))
        .collect();
    for name in names {
        let object = format!("Node/{name}");
        let mut push = |kind: DriftKind, message: String, fix: String| {
            items.push(DriftItem { kind, object: object.clone(), message, fix });
        };
        let (declared, obs) = (nodes.get(name).map(|d| &d.spec), seen.get(name).copied());
        let mut worst = (Health::Green, "runner answers; matches git".to_string());
        let mut mark = |h: Health, why: String| {
            if h > worst.0 {
                worst = (h, why);
            }
        };
        let Some(spec) = declared else {
            let msg = format!("node {name} enrolled, but git does not declare it");
            push(
                DriftKind::Undeclared,
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
            push(DriftKind::NeverConnected, msg.clone(), fix);
            mark(Health::Red, msg);
        } else if !reachable {
            let msg = format!("node {name}'s runner stopped answering: {error}");
            push(
                DriftKind::Unreachable,
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
                    DriftKind::RunnerOutdated,
                    msg.clone(),
                    format!("update car-runner on {name} (re-run the install script)"),
                );
                mark(Health::Yellow, msg);
            }
            match (&o.sandbox, spec.sandbox) {
                (None, Sandbox::Enforced) => {
                    let msg = format!("node {name}'s kernel has no Landlock, so it refuses read-only agents");
                    push(
                        DriftKind::NoSandbox,
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
                        DriftKind::SandboxUnenforced,
                        msg.clone(),
                        format!("run a kernel with Landlock on {name}, then remove `sandbox: unenforced`"),
                    );
                    mark(Health::Yellow, msg);
                }
                (Some(jail), Sandbox::Unenforced) => push(
                    DriftKind::SandboxUnenforced,
                    format!(
                        "node {name} says `sandbox: unenforced`, but its runner has {jail} and jails read-only agents anyway"
                    ),
                    "remove `sandbox: unenforced` from its spec".into(),
                ),
                (Some(_), Sandbox::Enforced) => {}
            }
            // Agents the node names explicitly must be able to run there.
            let listed = spec.agents.iter().flatten().filter_map(|a| agents.get(a.as_str()).map(|d| (a.as_str(), d)));
            for (agent, a) in listed {
                let refused = placement::check(name, spec, Some(&o.capabilities), agent, &a.spec).err();
                if let Some(r @ placement::Refused { why: Refusal::Lacks(missing), .. }) = &refused {
                    let msg = r.to_string();
                    let fix = format!("install {} on {name}, or remove {agent} from its agents", missing.join(", "));
                    push(DriftKind::MissingCapability, msg.clone(), fix);
                    mark(Health::Yellow, msg);
                }
            }
        }
        health.push(node_health(name, true, obs, worst));
    }
    for o in &i.config.overrides {
        items.push(DriftItem {
            kind: DriftKind::Override,
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
