//! Notifications: events become messages on people's phones and in other
//! systems, and only when a rule asks for it.
//!
//! Data flows one way: `events` (written with the change that caused each
//! one) → [`route`] (the [`rules`]: which rules an event fires, throttling,
//! "resolved" messages) → `deliveries`, an outbox with one row per event,
//! rule and channel → [`deliver`] (claims due rows, groups a burst of one
//! rule into one Gotify message, [`send`]s, retries with backoff) →
//! Gotify or a webhook. Both loops wake at once on PostgreSQL's NOTIFY and
//! look every second anyway; several replicas share the work.

pub mod deliver;
pub mod repo;
pub mod route;
pub mod rules;
pub mod send;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::snapshot::LiveConfig;
use crate::nodes::repo::NodeRepo;
use crate::runs::RunRepo;
use crate::trust::secrets::Secrets;
pub use repo::{ChannelRecord, Delivery, DeliveryFilter, DeliveryStatus, NotifyRepo};

/// The server's settings notifications use.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// The dashboard's base URL, for links (`PUBLIC_URL`).
    pub dashboard: String,
    /// `PUBLIC_URL` itself, for the install one-liner in drift fixes.
    pub public_url: Option<String>,
    /// How long a message is retried before it is given up (`NOTIFY_GIVE_UP`).
    pub give_up: Duration,
    /// How long events and messages are kept (`RETENTION_DAYS`).
    pub keep: Duration,
}

/// What routing and delivery need.
pub struct Notifier {
    pub repo: NotifyRepo,
    pub live: LiveConfig,
    pub runs: RunRepo,
    pub nodes: NodeRepo,
    pub secrets: Arc<Secrets>,
    pub http: reqwest::Client,
    pub settings: NotifySettings,
    /// Conditions that failed at run time, each logged once: (rule, error).
    condition_errors: Mutex<HashSet<(String, String)>>,
}

impl Notifier {
    pub fn new(
        repo: NotifyRepo,
        live: LiveConfig,
        runs: RunRepo,
        nodes: NodeRepo,
        secrets: Arc<Secrets>,
        settings: NotifySettings,
    ) -> Notifier {
        // Channels are other people's servers: no redirects to follow, a bounded wait.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(send::SEND_TIMEOUT)
            .build()
            .expect("an HTTP client");
        Notifier { repo, live, runs, nodes, secrets, http, settings, condition_errors: Mutex::default() }
    }

    /// Logs a condition that failed at run time, once per rule and error.
    fn condition_failed(&self, rule: &str, at: &str, error: &str) {
        let mut seen = self.condition_errors.lock().unwrap_or_else(|p| p.into_inner());
        if seen.insert((rule.to_string(), error.to_string())) {
            tracing::warn!(rule, at, error, "a notification rule's condition failed; it counts as false");
        }
    }
}
