//! `Node`: a machine of the homelab with a `car-runner` on it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::de::{Spanned, recover, recover_each};
use crate::values::{Name, SecretRef};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeSpec {
    /// What this machine is, for people reading the dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"Unraid server in the closet: array, cache pool, Docker")]
    pub description: Option<String>,

    /// URL of the node's car-runner (port 8100 unless changed). Leave it out
    /// for a node that enrolls with the install script and reports its own.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"http://tower.lan:8100")]
    pub address: Option<Spanned<String>>,

    /// The runner's token, as a secret reference. Leave it out for an
    /// enrolled node: the server issued its key.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"env": "TOWER_RUNNER_TOKEN"}))]
    pub token: Option<SecretRef>,

    /// The operating system, so agents get the right facts in their prompt.
    #[schemars(example = &"unraid")]
    pub os: Os,

    /// Free-form tags that schedules and triggers select nodes by.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "recover_each")]
    #[schemars(example = serde_json::json!(["storage", "docker"]))]
    pub tags: Vec<Spanned<Name>>,

    /// What this node offers (e.g. zfs, docker, systemd, smart). The runner
    /// reports what it finds; a difference shows as drift.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "recover_each")]
    #[schemars(example = serde_json::json!(["docker", "smart"]))]
    pub capabilities: Vec<Spanned<Name>>,

    /// The agents allowed to run here. Leave it out to allow every agent
    /// whose `requires` the node meets.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!(["docker-manager", "disk-space"]))]
    pub agents: Option<Vec<Spanned<Name>>>,

    /// How read-only agents are held to reading here. `enforced` (the
    /// default): in the kernel's Landlock jail, so even a command the policy
    /// wrongly allows cannot write a file; a node whose kernel has no
    /// Landlock refuses them. `unenforced`: on such a node, run them anyway
    /// with the policy's checks alone, accepting the risk; it shows as drift
    /// and in every such run's log.
    #[serde(default, skip_serializing_if = "Sandbox::is_enforced", deserialize_with = "recover")]
    #[schemars(example = &"unenforced")]
    pub sandbox: Sandbox,

    /// When this node's CPU, memory or fullest disk is worth a
    /// `node.resource_warning`, in percent; what is left out follows the
    /// server's `RESOURCE_WARN_*` settings (a disk array that is always 92 %
    /// full can warn at 97).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"disk": 97}))]
    pub resource_warnings: Option<ResourceWarnings>,
}

/// Warning levels of one node, in percent (1 to 100).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceWarnings {
    /// CPU busy, percent (default `RESOURCE_WARN_CPU`, 95).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = 98)]
    pub cpu: Option<Spanned<f64>>,
    /// Memory used, percent (default `RESOURCE_WARN_MEMORY`, 90).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = 95)]
    pub memory: Option<Spanned<f64>>,
    /// The fullest disk, percent (default `RESOURCE_WARN_DISK`, 90).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = 97)]
    pub disk: Option<Spanned<f64>>,
}

/// How read-only agents are held to reading on a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sandbox {
    /// The kernel's Landlock jail, or no read-only agents at all.
    #[default]
    Enforced,
    /// Without the jail where the kernel has none (the risk accepted).
    Unenforced,
}

impl Sandbox {
    pub fn is_enforced(&self) -> bool {
        *self == Sandbox::Enforced
    }
}

/// Operating systems car-runner knows how to describe to an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    /// Any Linux distribution.
    Linux,
    Ubuntu,
    Debian,
    /// Unraid (Slackware based; the array under /mnt/user).
    Unraid,
    /// TrueNAS SCALE (Debian based, ZFS, middleware owns the config).
    Truenas,
    /// Proxmox VE (Debian based; qm and pct manage guests).
    Proxmox,
}
