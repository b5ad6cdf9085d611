//! Documents: `apiVersion`, `kind`, `metadata`, `spec`, one per `---`.
//!
//! A positioned YAML tree enters [`parse`]; a typed [`Document`] (when it
//! had no problem at all) and every diagnostic about it leave. The identity
//! (kind and name) is read from the raw tree first, so a document whose spec
//! is broken still counts as declared and references to it do not cascade
//! into errors of their own.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::de::{DeError, Spanned, from_node, hinted};
use crate::diagnostic::{Diagnostic, Span, suggestion};
use crate::kinds::{AgentSpec, NodeSpec, NotificationChannelSpec, NotificationRuleSpec, ScheduleSpec, TriggerSpec};
use crate::values::Name;
use crate::yaml::{self, Value};

pub const API_VERSION: &str = "car/v1";

/// The kinds of document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Kind {
    Node,
    Agent,
    Schedule,
    NotificationChannel,
    NotificationRule,
    Trigger,
}

impl Kind {
    pub const ALL: [Kind; 6] =
        [Kind::Node, Kind::Agent, Kind::Schedule, Kind::NotificationChannel, Kind::NotificationRule, Kind::Trigger];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Node => "Node",
            Kind::Agent => "Agent",
            Kind::Schedule => "Schedule",
            Kind::NotificationChannel => "NotificationChannel",
            Kind::NotificationRule => "NotificationRule",
            Kind::Trigger => "Trigger",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Always `car/v1` for now; a later version will be read alongside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(description = "The config language version.")]
pub enum ApiVersion {
    #[serde(rename = "car/v1")]
    V1,
}

impl<'de> Deserialize<'de> for ApiVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == API_VERSION {
            Ok(ApiVersion::V1)
        } else {
            Err(hinted(format!("unsupported apiVersion {s:?}"), format!("write `apiVersion: {API_VERSION}`")))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// The object's name, unique among objects of its kind.
    #[schemars(example = &"zfs-health")]
    pub name: Spanned<Name>,
    /// Free-form labels for people and tools.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(example = serde_json::json!({"owner": "me"}))]
    pub labels: BTreeMap<String, String>,
}

/// The envelope every document shares, generic over its spec.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Manifest<S> {
    /// Always `car/v1`.
    #[schemars(example = &"car/v1")]
    pub api_version: ApiVersion,
    /// What the document declares.
    #[schemars(example = &"Agent")]
    pub kind: String,
    /// Name and labels.
    #[schemars(example = serde_json::json!({"name": "example"}))]
    pub metadata: Metadata,
    /// The kind's settings.
    pub spec: S,
}

/// A spec together with its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Node(NodeSpec),
    Agent(AgentSpec),
    Schedule(ScheduleSpec),
    NotificationChannel(NotificationChannelSpec),
    NotificationRule(NotificationRuleSpec),
    Trigger(TriggerSpec),
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Node(_) => Kind::Node,
            Spec::Agent(_) => Kind::Agent,
            Spec::Schedule(_) => Kind::Schedule,
            Spec::NotificationChannel(_) => Kind::NotificationChannel,
            Spec::NotificationRule(_) => Kind::NotificationRule,
            Spec::Trigger(_) => Kind::Trigger,
        }
    }
}

/// One valid document of the config repo.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Path relative to the repo root.
    pub file: PathBuf,
    /// Where the document starts in its file.
    pub start: Span,
    pub metadata: Metadata,
    pub spec: Spec,
}

impl Document {
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    pub fn name(&self) -> &str {
        self.metadata.name.as_str()
    }

    /// The document as JSON, in the shape it is written in git.
    pub fn to_json(&self) -> serde_json::Value {
        fn manifest<S: Serialize>(d: &Document, spec: &S) -> serde_json::Value {
            serde_json::json!({
                "apiVersion": API_VERSION,
                "kind": d.kind().as_str(),
                "metadata": d.metadata,
                "spec": spec,
            })
        }
        match &self.spec {
            Spec::Node(s) => manifest(self, s),
            Spec::Agent(s) => manifest(self, s),
            Spec::Schedule(s) => manifest(self, s),
            Spec::NotificationChannel(s) => manifest(self, s),
            Spec::NotificationRule(s) => manifest(self, s),
            Spec::Trigger(s) => manifest(self, s),
        }
    }
}

/// A declared object: its kind and name, where the name is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub kind: Kind,
    pub name: String,
    pub file: PathBuf,
    /// Where the name is written.
    pub span: Span,
    /// Where the document starts.
    pub start: Span,
}

/// What reading one document gave.
#[derive(Debug, Default)]
pub struct Parsed {
    pub document: Option<Document>,
    /// A document with problems of its own, as far as it could be read (bad
    /// values stand at their defaults): only its references are checked.
    pub partial: Option<Document>,
    pub identity: Option<Identity>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads one YAML document as a config document.
pub fn parse(file: &Path, doc: &yaml::YamlDocument) -> Parsed {
    let mut out = Parsed::default();
    let Some(root) = &doc.root else { return out };
    let error = |span: Span, msg: String| Diagnostic::error(file, span, msg);
    if !matches!(root.value, Value::Map(_)) {
        out.diagnostics.push(
            error(root.span, format!("a document must be a mapping, found {}", root.value.describe()))
                .with_hint("start it with apiVersion: car/v1, kind, metadata and spec"),
        );
        return out;
    }
    let kind_names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let kind = match root.get("kind") {
        None => {
            out.diagnostics.push(
                error(root.span, "missing required field \"kind\"".into())
                    .with_hint(format!("add `kind:` with one of {}", kind_names.join(", "))),
            );
            return out;
        }
        Some(k) => match k.as_str().and_then(Kind::parse) {
            Some(kind) => kind,
            None => {
                let shown = k.as_str().map_or_else(|| k.value.describe(), |s| format!("{s:?}"));
                let hint = suggestion(k.as_str().unwrap_or(""), &kind_names, "kinds");
                out.diagnostics.push(error(k.span, format!("unknown kind {shown}")).with_hint(hint));
                return out;
            }
        },
    };
    if let Some(name) = root.get("metadata").and_then(|m| m.get("name"))
        && let Some(n) = name.as_str()
    {
        out.identity =
            Some(Identity { kind, name: n.to_string(), file: file.to_path_buf(), span: name.span, start: doc.start });
    }
    let (spec, metadata, problems) = match kind {
        Kind::Node => typed(root, Spec::Node),
        Kind::Agent => typed(root, Spec::Agent),
        Kind::Schedule => typed(root, Spec::Schedule),
        Kind::NotificationChannel => typed(root, Spec::NotificationChannel),
        Kind::NotificationRule => typed(root, Spec::NotificationRule),
        Kind::Trigger => typed(root, Spec::Trigger),
    };
    // A document with any problem is reported, not used: checks that span
    // documents would only see the defaults that stand in for its bad values.
    let clean = problems.is_empty();
    out.diagnostics.extend(problems.into_iter().map(|p| to_diagnostic(file, root.span, p)));
    if let (Some(spec), Some(metadata)) = (spec, metadata) {
        let d = Document { file: file.to_path_buf(), start: doc.start, metadata, spec };
        if clean {
            out.document = Some(d);
        } else {
            out.partial = Some(d);
        }
    }
    out
}

fn typed<S: DeserializeOwned>(
    root: &yaml::Node,
    wrap: fn(S) -> Spec,
) -> (Option<Spec>, Option<Metadata>, Vec<DeError>) {
    let (m, problems) = from_node::<Manifest<S>>(root);
    match m {
        Some(m) => (Some(wrap(m.spec)), Some(m.metadata), problems),
        None => (None, None, problems),
    }
}

pub fn to_diagnostic(file: &Path, fallback: Span, e: DeError) -> Diagnostic {
    Diagnostic::error(file, e.span.unwrap_or(fallback), e.message).with_optional_hint(e.hint)
}
