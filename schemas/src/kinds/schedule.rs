//! `Schedule`: when agents run, where, and who hears about it.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, MapAccess, SeqAccess, Visitor, value::MapAccessDeserializer};
use serde::{Deserialize, Deserializer, Serialize};

use crate::de::{Spanned, hinted, recover, recover_each};
use crate::values::{CronExpr, Duration, Name, Priority, TimeZone};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleSpec {
    /// What this routine is for.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"Nightly maintenance on every node")]
    pub description: Option<String>,

    /// When to run, as cron (5 fields, or 6 with seconds). Give `cron` or `every`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"0 2 * * *")]
    pub cron: Option<Spanned<CronExpr>>,

    /// How often to run, e.g. 6h. Give `cron` or `every`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"6h")]
    pub every: Option<Spanned<Duration>>,

    /// The IANA time zone `cron` is read in (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"Europe/Berlin")]
    pub timezone: Option<Spanned<TimeZone>>,

    /// The agents to run, each on every selected node that allows it.
    #[schemars(length(min = 1), example = serde_json::json!(["docker-manager", "disk-space"]))]
    #[serde(deserialize_with = "recover_each")]
    pub agents: Vec<Spanned<Name>>,

    /// Where to run: `all`, a list of node names, or `{tags: [...]}`.
    #[schemars(example = &"all")]
    pub nodes: NodeSelector,

    /// When the previous run is still going: `skip` this one (default),
    /// `queue` it, or `allow` both.
    #[serde(default, deserialize_with = "recover")]
    #[schemars(example = &"skip")]
    pub overlap: Overlap,

    /// After downtime: `run-once` for the latest missed time (default), or `skip`.
    #[serde(default, deserialize_with = "recover")]
    #[schemars(example = &"run-once")]
    pub misfire: Misfire,

    /// A random delay up to this long, so nodes do not all start at once.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = &"5m")]
    pub jitter: Option<Spanned<Duration>>,

    /// Set false to keep the schedule without firing it.
    #[serde(default = "yes", skip_serializing_if = "is_true", deserialize_with = "recover")]
    #[schemars(example = true)]
    pub enabled: bool,

    /// Who hears about each outcome.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"onSuccess": {"channels": ["gotify"], "priority": "low"}, "onFailure": {"channels": ["gotify"], "priority": "high"}}))]
    pub notify: Option<ScheduleNotify>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    /// Do not start while the previous run of the same agent on the node is going; log the skip.
    #[default]
    Skip,
    /// Start when the previous run ends.
    Queue,
    /// Start anyway.
    Allow,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Misfire {
    /// Run once for the latest time missed while the server was down.
    #[default]
    RunOnce,
    /// Forget missed times.
    Skip,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScheduleNotify {
    /// When a run succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"channels": ["gotify"], "priority": "low"}))]
    pub on_success: Option<Notify>,
    /// When a run fails, times out or is lost.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "recover")]
    #[schemars(example = serde_json::json!({"channels": ["gotify"], "priority": "high"}))]
    pub on_failure: Option<Notify>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// NotificationChannel names.
    #[schemars(length(min = 1), example = serde_json::json!(["gotify"]))]
    #[serde(deserialize_with = "recover_each")]
    pub channels: Vec<Spanned<Name>>,
    /// How loudly (default normal).
    #[serde(default, deserialize_with = "recover")]
    #[schemars(example = &"high")]
    pub priority: Priority,
}

/// Which nodes: `all`, a list of names, or `{names: [...], tags: [...]}`
/// (the named nodes plus every node that has all the tags).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum NodeSelector {
    #[serde(serialize_with = "serialize_all")]
    All,
    Names(Vec<Spanned<Name>>),
    Match(NodeMatch),
}

fn serialize_all<S: serde::Serializer>(s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("all")
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeMatch {
    /// Nodes by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "recover_each")]
    #[schemars(example = serde_json::json!(["truenas"]))]
    pub names: Vec<Spanned<Name>>,
    /// Nodes that have every one of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "recover_each")]
    #[schemars(example = serde_json::json!(["storage"]))]
    pub tags: Vec<Spanned<Name>>,
}

impl NodeSelector {
    /// Node names the selector spells out (references to check).
    pub fn names(&self) -> &[Spanned<Name>] {
        match self {
            NodeSelector::All => &[],
            NodeSelector::Names(n) => n,
            NodeSelector::Match(m) => &m.names,
        }
    }

    /// Does a node with this name and these tags match?
    pub fn matches(&self, name: &str, mut tags: impl FnMut(&str) -> bool) -> bool {
        match self {
            NodeSelector::All => true,
            NodeSelector::Names(n) => n.iter().any(|n| n.as_str() == name),
            NodeSelector::Match(m) => {
                m.names.iter().any(|n| n.as_str() == name)
                    || (!m.tags.is_empty() && m.tags.iter().all(|t| tags(t.as_str())))
            }
        }
    }
}

impl<'de> Deserialize<'de> for NodeSelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NodeSelector;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`all`, a list of node names, or {tags: [...]}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<NodeSelector, E> {
                if s == "all" {
                    Ok(NodeSelector::All)
                } else {
                    Err(hinted(
                        format!("{s:?} is not a node selector"),
                        format!("write `all`, a list such as [{s}], or {{tags: [...]}}"),
                    ))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeSelector, A::Error> {
                let mut names = Vec::new();
                while let Some(n) = seq.next_element::<Spanned<Name>>()? {
                    names.push(n);
                }
                Ok(NodeSelector::Names(names))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<NodeSelector, A::Error> {
                let m = NodeMatch::deserialize(MapAccessDeserializer::new(m))?;
                if m.names.is_empty() && m.tags.is_empty() {
                    return Err(hinted("this node selector selects nothing", "give names: [...] or tags: [...]"));
                }
                Ok(NodeSelector::Match(m))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for NodeSelector {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NodeSelector".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Which nodes: `all`, a list of node names, or {names: [...], tags: [...]} (the named nodes plus every node that has all the tags).",
            "anyOf": [
                {"const": "all"},
                {"type": "array", "items": g.subschema_for::<Name>(), "minItems": 1},
                g.subschema_for::<NodeMatch>()
            ],
            "examples": ["all", ["truenas"], {"tags": ["storage"]}]
        })
    }
}
