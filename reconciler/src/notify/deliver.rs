//! Delivery: claims due messages (several replicas share them, none sends
//! one twice), sends each to its channel, and records the outcome: sent;
//! refused for good (the error says which channel and what to fix); or
//! failed for now, to be sent again after an exponential backoff with
//! jitter, until `NOTIFY_GIVE_UP` has passed since it was queued. Messages
//! of one rule and event type that wait for the same Gotify channel at the
//! same time (ten nodes gone after a switch rebooted) go out as one message
//! that lists them; webhooks get each event on its own, for machines.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use serde_json::json;

use super::Notifier;
use super::repo::Delivery;
use super::send::{self, Outcome, Outgoing};
use crate::config::snapshot::Snapshot;
use crate::db::StoreError;
use crate::tasks::Backoff;

/// How many messages one look claims.
const BATCH: i64 = 100;
/// How long a claim holds: a sender that died meanwhile leaves its messages to others after this.
const HOLD: Duration = Duration::from_secs(60);
/// The wait before the next try of a message that failed.
const RETRY: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));

pub async fn run(n: Arc<Notifier>) {
    let mut listener = crate::events::listen(n.repo.pool(), "car_deliveries").await;
    loop {
        loop {
            match deliver_batch(&n).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot deliver notifications; trying again");
                    break;
                }
            }
        }
        let wait = match n.repo.next_due().await {
            Ok(Some(t)) => (t - Utc::now()).to_std().unwrap_or_default().min(Duration::from_secs(1)),
            _ => Duration::from_secs(1),
        };
        if listener.is_none() {
            listener = crate::events::listen(n.repo.pool(), "car_deliveries").await;
        }
        crate::events::wake(&mut listener, wait.max(Duration::from_millis(10))).await;
    }
}

/// Sends what is due now; returns how many messages it claimed.
pub async fn deliver_batch(n: &Notifier) -> Result<usize, StoreError> {
    let claimed = n.repo.claim_due(BATCH, HOLD).await?;
    let count = claimed.len();
    if count == 0 {
        return Ok(0);
    }
    let config = n.live.now();
    let mut groups: BTreeMap<(String, String, String, i64), Vec<Delivery>> = BTreeMap::new();
    for d in claimed {
        let gotify = config.channels.get(&d.channel).is_some_and(|c| c.spec.gotify.is_some());
        // A webhook message stands alone (its id keys the group).
        let alone = if gotify { 0 } else { d.id };
        groups.entry((d.channel.clone(), d.rule.clone(), d.event_type.clone(), alone)).or_default().push(d);
    }
    let sends = groups.into_values().map(|group| send_group(n, &config, group));
    // What went out is recorded in one statement (a burst is a thousand messages).
    let mut sent = Vec::new();
    for result in futures_util::future::join_all(sends).await {
        match result? {
            Some((ids, None)) => sent.extend(ids),
            Some((ids, note)) => n.repo.sent(&ids, note.as_deref()).await?,
            None => {}
        }
    }
    n.repo.sent(&sent, None).await?;
    Ok(count)
}

/// Sends one group; the ids it sent (and a note for a grouped message), or
/// none when it failed (recorded here: retry or give up).
async fn send_group(
    n: &Notifier,
    config: &Snapshot,
    group: Vec<Delivery>,
) -> Result<Option<(Vec<i64>, Option<String>)>, StoreError> {
    let first = &group[0];
    let ids: Vec<i64> = group.iter().map(|d| d.id).collect();
    let Some(channel) = config.channels.get(&first.channel) else {
        let error = format!("channel {} is no longer declared in git; the message was not sent", first.channel);
        return n.repo.give_up(&ids, &error).await.map(|()| None);
    };
    match send::send(&n.http, &n.secrets, &first.channel, &channel.spec, &outgoing(&group)).await {
        Outcome::Sent => {
            let note = (group.len() > 1).then(|| format!("sent as one message with {} others", group.len() - 1));
            Ok(Some((ids, note)))
        }
        Outcome::Refused(error) => {
            tracing::warn!(channel = %first.channel, %error, "a notification channel refused a message; not retrying");
            n.repo.give_up(&ids, &error).await.map(|()| None)
        }
        Outcome::Retry(error) => {
            let oldest = group.iter().map(|d| d.created_at).min().unwrap_or_else(Utc::now);
            let waited = (Utc::now() - oldest).to_std().unwrap_or_default();
            if waited >= n.settings.give_up {
                let error = format!(
                    "gave up after {} tries over {}s (NOTIFY_GIVE_UP): {error}",
                    first.attempts,
                    waited.as_secs()
                );
                tracing::warn!(channel = %first.channel, %error, "gave up a notification");
                return n.repo.give_up(&ids, &error).await.map(|()| None);
            }
            let wait = RETRY.delay(u32::try_from(first.attempts).unwrap_or(u32::MAX));
            // Half the wait, plus up to half again at random: replicas and channels do not retry in step.
            let jittered = wait / 2 + wait.mul_f64(rand::rng().random_range(0.0..0.5));
            let at = Utc::now() + chrono::TimeDelta::from_std(jittered).unwrap_or_default();
            tracing::info!(channel = %first.channel, %error, retry_in_ms = jittered.as_millis() as u64, "a notification will be sent again");
            n.repo.retry(&ids, at, &error).await.map(|()| None)
        }
    }
}

/// The message for a group: itself when alone; a list of them when several.
fn outgoing(group: &[Delivery]) -> Outgoing {
    let first = &group[0];
    let event = |d: &Delivery| {
        json!({"delivery": d.key, "rule": d.rule, "channel": d.channel, "priority": d.priority, "title": d.title,
            "message": d.body, "url": d.url, "event": d.data})
    };
    if group.len() == 1 {
        return Outgoing {
            key: first.key.clone(),
            title: first.title.clone(),
            body: first.body.clone(),
            priority: first.priority,
            url: first.url.clone(),
            webhook: event(first),
        };
    }
    let mut body = String::new();
    for d in group {
        match &d.url {
            Some(u) => body.push_str(&format!("- [{}]({u})\n", d.title)),
            None => body.push_str(&format!("- {}\n", d.title)),
        }
    }
    Outgoing {
        key: first.key.clone(),
        title: format!("{} × {}: {}", group.len(), first.event_type, first.title),
        body,
        priority: group.iter().map(|d| d.priority).max().unwrap_or(first.priority),
        url: first.url.clone(),
        webhook: json!({"events": group.iter().map(event).collect::<Vec<_>>()}),
    }
}
