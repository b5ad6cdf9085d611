//! Login throttling, counted from the audit log's failed logins (so every
//! replica and a restarted server count the same): after 5 failures for a
//! user from one address within 15 minutes, after 20 failures from one
//! address, or after 50 for one user from anywhere, further attempts are
//! refused with 429 until the oldest counted failure is 15 minutes old.
//! A successful login clears the user's failures: the owner proved
//! themselves, and an attacker starts from nothing again.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::db::{Store, StoreError};

pub const WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
pub const PER_USER_AND_ADDRESS: i64 = 5;
pub const PER_ADDRESS: i64 = 20;
pub const PER_USER: i64 = 50;

/// How long `username` from `ip` must wait before trying again, if at all.
pub async fn wait(store: &Store, username: &str, ip: Option<IpAddr>) -> Result<Option<Duration>, StoreError> {
    let ip = ip.map(|i| i.to_string());
    // The user's failures since their last good login, within the window.
    let user: Vec<(DateTime<Utc>, Option<String>)> = sqlx::query_as(
        "SELECT at, ip FROM audit_log WHERE action = 'auth.login_failed' AND actor = $1 \
         AND at > greatest(now() - $2::interval, coalesce((SELECT max(at) FROM audit_log \
         WHERE action = 'auth.login' AND actor = $1), '-infinity')) ORDER BY at DESC LIMIT $3",
    )
    .bind(username)
    .bind(interval(WINDOW))
    .bind(PER_USER)
    .fetch_all(store.pool())
    .await?;
    let from_here: Vec<DateTime<Utc>> = user.iter().filter(|(_, i)| *i == ip).map(|(at, _)| *at).collect();
    // The address's failures, leaving out those of users who logged in since.
    let address: Vec<DateTime<Utc>> = match &ip {
        None => Vec::new(),
        Some(ip) => {
            sqlx::query_scalar(
                "SELECT f.at FROM audit_log f WHERE f.action = 'auth.login_failed' AND f.ip = $1 \
                 AND f.at > now() - $2::interval AND NOT EXISTS (SELECT 1 FROM audit_log s \
                 WHERE s.action = 'auth.login' AND s.actor = f.actor AND s.at > f.at) ORDER BY f.at DESC LIMIT $3",
            )
            .bind(ip)
            .bind(interval(WINDOW))
            .bind(PER_ADDRESS)
            .fetch_all(store.pool())
            .await?
        }
    };
    let all: Vec<DateTime<Utc>> = user.iter().map(|(at, _)| *at).collect();
    let now = Utc::now();
    let until = [(&from_here, PER_USER_AND_ADDRESS), (&address, PER_ADDRESS), (&all, PER_USER)]
        .into_iter()
        .filter(|(failures, limit)| failures.len() as i64 >= *limit)
        .map(|(failures, limit)| failures[limit as usize - 1] + WINDOW)
        .max();
    Ok(until.filter(|u| *u > now).map(|u| (u - now).to_std().unwrap_or_default().max(Duration::from_secs(1))))
}

fn interval(d: chrono::TimeDelta) -> String {
    format!("{} seconds", d.num_seconds())
}
