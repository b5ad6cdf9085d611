//! The desired state every consumer reads: the applied revision's objects,
//! parsed once into their typed specs, and the overrides set outside git.
//!
//! [`LiveConfig`] publishes it as an `Arc<Snapshot>` over a `watch`
//! channel. It is loaded at start-up (the last good config runs before any
//! sync), published again after each sync (which also picks up what another
//! replica applied) and after each override, so the scheduler, the runs,
//! the node reconciles and the API read memory, not the database.

use std::collections::BTreeMap;
use std::sync::Arc;

use car_schemas::Kind;
use car_schemas::document::Manifest;
use car_schemas::document::Metadata;
use car_schemas::kinds::{
    AgentSpec, NodeSpec, NotificationChannelSpec, NotificationRuleSpec, ScheduleSpec, TriggerSpec,
};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::config::repo::{ConfigRepo, LiveObject, Override};
use crate::db::StoreError;
use crate::trust::audit::Actor;

/// A live object as the applied revision declares it, with its typed spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared<S> {
    pub name: String,
    /// The revision it was applied from.
    pub revision: String,
    /// Where it is declared, relative to the config folder.
    pub file: String,
    pub line: i32,
    /// When this version of it was applied.
    pub applied_at: DateTime<Utc>,
    /// The hash of its document, which changes with what it declares.
    pub hash: String,
    pub metadata: Metadata,
    pub spec: S,
    /// The manifest as stored (`apiVersion`, `kind`, `metadata`, `spec`).
    pub document: Value,
}

/// The live config at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The applied revision; `None` before the first sync applied one.
    pub revision: Option<String>,
    pub nodes: BTreeMap<String, Declared<NodeSpec>>,
    pub agents: BTreeMap<String, Declared<AgentSpec>>,
    pub schedules: BTreeMap<String, Declared<ScheduleSpec>>,
    pub channels: BTreeMap<String, Declared<NotificationChannelSpec>>,
    pub rules: BTreeMap<String, Declared<NotificationRuleSpec>>,
    pub triggers: BTreeMap<String, Declared<TriggerSpec>>,
    /// Fields of live objects set outside git (a paused schedule), by kind, name and field.
    pub overrides: Vec<Override>,
}

impl Snapshot {
    /// The snapshot of stored rows. A stored document that does not parse
    /// (written by another version of the server) is left out and logged;
    /// the next applied revision stores it again.
    pub fn from_rows(revision: Option<String>, objects: Vec<LiveObject>, overrides: Vec<Override>) -> Snapshot {
        let mut s = Snapshot { revision, overrides, ..Snapshot::default() };
        for o in objects {
            match Kind::parse(&o.kind) {
                Some(Kind::Node) => insert(&mut s.nodes, o),
                Some(Kind::Agent) => insert(&mut s.agents, o),
                Some(Kind::Schedule) => insert(&mut s.schedules, o),
                Some(Kind::NotificationChannel) => insert(&mut s.channels, o),
                Some(Kind::NotificationRule) => insert(&mut s.rules, o),
                Some(Kind::Trigger) => insert(&mut s.triggers, o),
                None => tracing::error!(kind = %o.kind, name = %o.name,
                    "a live object has an unknown kind; it is left out (hint: sync the config again)"),
            }
        }
        s
    }

    /// The override of `field` on `kind`/`name`, if one is set.
    pub fn override_of(&self, kind: Kind, name: &str, field: &str) -> Option<&Override> {
        self.overrides.iter().find(|o| o.kind == kind.as_str() && o.name == name && o.field == field)
    }

    /// Whether a schedule is paused outside git (and why).
    pub fn paused(&self, schedule: &str) -> Option<&Override> {
        self.override_of(Kind::Schedule, schedule, PAUSED)
    }

    /// The kinds and names of every live object, in order.
    pub fn names(&self) -> Vec<(Kind, &str)> {
        fn of<S>(kind: Kind, m: &BTreeMap<String, Declared<S>>) -> impl Iterator<Item = (Kind, &str)> {
            m.keys().map(move |n| (kind, n.as_str()))
        }
        of(Kind::Node, &self.nodes)
            .chain(of(Kind::Agent, &self.agents))
            .chain(of(Kind::Schedule, &self.schedules))
            .chain(of(Kind::NotificationChannel, &self.channels))
            .chain(of(Kind::NotificationRule, &self.rules))
            .chain(of(Kind::Trigger, &self.triggers))
            .collect()
    }
}

/// The override field that pauses a schedule.
pub const PAUSED: &str = "paused";

fn insert<S: DeserializeOwned>(into: &mut BTreeMap<String, Declared<S>>, o: LiveObject) {
    match car_schemas::de::from_json::<Manifest<S>>(&o.document) {
        Ok(m) => {
            let d = Declared {
                name: o.name,
                revision: o.revision,
                file: o.file,
                line: o.line,
                applied_at: o.applied_at,
                hash: o.hash,
                metadata: m.metadata,
                spec: m.spec,
                document: o.document,
            };
            into.insert(d.name.clone(), d);
        }
        Err(e) => tracing::error!(kind = %o.kind, name = %o.name, error = ?e.first(),
            "a live object's stored document does not parse; it is left out (hint: sync the config again)"),
    }
}

/// The live config, published to every reader; cheap to clone.
#[derive(Clone)]
pub struct LiveConfig {
    repo: ConfigRepo,
    tx: Arc<watch::Sender<Arc<Snapshot>>>,
}

impl LiveConfig {
    /// Reads the live state as the database holds it.
    pub async fn load(repo: ConfigRepo) -> Result<LiveConfig, StoreError> {
        let snapshot = read(&repo).await?;
        Ok(LiveConfig { repo, tx: Arc::new(watch::Sender::new(Arc::new(snapshot))) })
    }

    /// The snapshot now.
    pub fn now(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    /// Follows every snapshot published from now on.
    pub fn watch(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }

    pub fn repo(&self) -> &ConfigRepo {
        &self.repo
    }

    /// Reads the live state again and publishes it when it changed.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let fresh = read(&self.repo).await?;
        self.tx.send_if_modified(|now| {
            let changed = **now != fresh;
            if changed {
                *now = Arc::new(fresh);
            }
            changed
        });
        Ok(())
    }

    /// Pauses a live schedule outside git (with its audit entry); `false`
    /// when no such schedule is live.
    pub async fn pause(&self, schedule: &str, reason: Option<&str>, by: &Actor) -> Result<bool, StoreError> {
        if !self.now().schedules.contains_key(schedule) {
            return Ok(false);
        }
        self.repo.set_override(Kind::Schedule.as_str(), schedule, PAUSED, &json!(true), reason, by).await?;
        self.reload().await?;
        Ok(true)
    }

    /// Resumes a paused schedule (with its audit entry); `false` when it was not paused.
    pub async fn resume(&self, schedule: &str, by: &Actor) -> Result<bool, StoreError> {
        let cleared = self.repo.clear_override(Kind::Schedule.as_str(), schedule, PAUSED, by).await?;
        self.reload().await?;
        Ok(cleared)
    }
}

async fn read(repo: &ConfigRepo) -> Result<Snapshot, StoreError> {
    let revision = repo.sync_state().await?.applied_revision;
    Ok(Snapshot::from_rows(revision, repo.objects(None).await?, repo.overrides().await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, name: &str, spec: Value) -> LiveObject {
        LiveObject {
            kind: kind.into(),
            name: name.into(),
            revision: "r1".into(),
            file: "x.yaml".into(),
            line: 1,
            document: json!({"apiVersion": "car/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}),
            hash: "h".into(),
            applied_at: Utc::now(),
        }
    }

    #[test]
    fn rows_become_typed_objects_and_broken_ones_are_left_out() {
        let s = Snapshot::from_rows(
            Some("r1".into()),
            vec![
                row("Node", "nas", json!({"os": "linux", "address": "http://nas:8100"})),
                row("Agent", "zfs", json!({"prompt": "check", "mode": "read-only"})),
                row("Schedule", "nightly", json!({"agents": ["zfs"], "nodes": "all", "every": "1d"})),
                row("Schedule", "broken", json!({"agents": "not a list"})),
                row("Gadget", "odd", json!({})),
            ],
            Vec::new(),
        );
        assert_eq!(s.nodes["nas"].spec.address.as_ref().map(|a| a.as_str()), Some("http://nas:8100"));
        assert!(s.agents.contains_key("zfs"));
        assert_eq!(s.schedules.keys().collect::<Vec<_>>(), ["nightly"], "the broken schedule is left out");
        assert_eq!(s.names(), [(Kind::Node, "nas"), (Kind::Agent, "zfs"), (Kind::Schedule, "nightly")]);
    }
}
