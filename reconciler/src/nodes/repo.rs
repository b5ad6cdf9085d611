//! What the server saw of each node's runner, in PostgreSQL: the last
//! look ([`NodeObservation`]) and the metrics history of its health checks.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;

use crate::db::{Store, StoreError};
use crate::nodes::metrics::{Point, Resolution, Sample};

#[derive(Debug, Clone)]
pub struct NodeRepo {
    pool: sqlx::PgPool,
}

/// What the server last saw of a node's runner.
#[derive(Debug, Clone, Default, PartialEq, FromRow, Serialize, utoipa::ToSchema)]
pub struct NodeObservation {
    pub name: String,
    /// The node enrolled itself (it holds a node key).
    pub enrolled: bool,
    /// Its runner answered the last health check.
    pub reachable: bool,
    /// The runner's version.
    pub version: Option<String>,
    pub os: Option<String>,
    /// What the node offers agents (`requires` of an agent): tool and program names.
    #[sqlx(json)]
    pub capabilities: Vec<String>,
    /// When its runner last answered.
    pub last_seen: Option<DateTime<Utc>>,
    /// When the server last looked.
    pub last_checked: Option<DateTime<Utc>>,
    /// Why the last look failed; null when it answered.
    pub last_error: Option<String>,
    /// How the runner jails read-only agents (`landlock v7`); `None`: it cannot.
    pub sandbox: Option<String>,
}

/// CPU, memory and disk percent of one minute.
type Figures = (f64, f64, f64);

impl NodeRepo {
    pub fn new(store: &Store) -> NodeRepo {
        NodeRepo { pool: store.pool().clone() }
    }

    pub async fn observations(&self) -> Result<Vec<NodeObservation>, StoreError> {
        Ok(sqlx::query_as::<_, NodeObservation>("SELECT * FROM node_observations ORDER BY name")
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn observation(&self, name: &str) -> Result<Option<NodeObservation>, StoreError> {
        Ok(sqlx::query_as::<_, NodeObservation>("SELECT * FROM node_observations WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Records one look at a node's runner; announces, in the same
    /// transaction, `node.disconnected` once it has not answered for
    /// `away_after` since it was last seen, and `node.connected` when it
    /// answers again after that.
    pub async fn observe(&self, o: &NodeObservation, away_after: std::time::Duration) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let (last_seen, announced): (Option<DateTime<Utc>>, bool) = sqlx::query_as(
            "INSERT INTO node_observations (name, reachable, version, os, capabilities, last_seen, last_checked, \
             last_error, sandbox) VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8) \
             ON CONFLICT (name) DO UPDATE SET reachable = $2, \
             version = COALESCE($3, node_observations.version), os = COALESCE($4, node_observations.os), \
             capabilities = CASE WHEN $2 THEN $5 ELSE node_observations.capabilities END, \
             last_seen = COALESCE($6, node_observations.last_seen), last_checked = now(), last_error = $7, \
             sandbox = CASE WHEN $2 THEN $8 ELSE node_observations.sandbox END \
             RETURNING last_seen, away_announced",
        )
        .bind(&o.name)
        .bind(o.reachable)
        .bind(&o.version)
        .bind(&o.os)
        .bind(sqlx::types::Json(&o.capabilities))
        .bind(o.last_seen)
        .bind(&o.last_error)
        .bind(&o.sandbox)
        .fetch_one(&mut *tx)
        .await?;
        let away_for = last_seen.map(|t| Utc::now() - t);
        let grace = chrono::TimeDelta::from_std(away_after).unwrap_or(chrono::TimeDelta::MAX);
        let (kind, data) = match (o.reachable, announced) {
            (true, true) => ("node.connected", serde_json::json!({"version": o.version})),
            (false, false) if away_for.is_some_and(|a| a >= grace) => {
                ("node.disconnected", serde_json::json!({"last_seen": last_seen, "error": o.last_error}))
            }
            _ => return Ok(tx.commit().await?),
        };
        sqlx::query("UPDATE node_observations SET away_announced = $2 WHERE name = $1")
            .bind(&o.name)
            .bind(!o.reachable)
            .execute(&mut *tx)
            .await?;
        let event = crate::events::NewEvent { kind, node: Some(&o.name), data, ..Default::default() };
        event.record(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Folds one sample into the node's minute and hour at `at`, and drops old points.
    pub async fn record_metrics(&self, node: &str, at: DateTime<Utc>, s: Sample) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for resolution in ["minute", "hour"] {
            sqlx::query(
                "INSERT INTO node_metrics AS m (node, resolution, bucket, samples, cpu_percent, memory_percent, load1, \
                 disk_percent) VALUES ($1, $2, date_trunc($2, $3), 1, $4, $5, $6, $7) \
                 ON CONFLICT (node, resolution, bucket) DO UPDATE SET samples = m.samples + 1, \
                 cpu_percent = (m.cpu_percent * m.samples + $4) / (m.samples + 1), \
                 memory_percent = (m.memory_percent * m.samples + $5) / (m.samples + 1), \
                 load1 = (m.load1 * m.samples + $6) / (m.samples + 1), \
                 disk_percent = (m.disk_percent * m.samples + $7) / (m.samples + 1)",
            )
            .bind(node)
            .bind(resolution)
            .bind(at)
            .bind(s.cpu_percent)
            .bind(s.memory_percent)
            .bind(s.load1)
            .bind(s.disk_percent)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "DELETE FROM node_metrics WHERE node = $1 AND ((resolution = 'minute' AND bucket < $2 - interval '2 days') \
             OR (resolution = 'hour' AND bucket < $2 - interval '90 days'))",
        )
        .bind(node)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Announces, once each, a resource that stayed at or over its level for
    /// `limits.held` (`node.resource_warning` with the measured value) and
    /// one that is back under (the same event, `resolved: true`).
    pub async fn check_resources(
        &self,
        node: &str,
        at: DateTime<Utc>,
        limits: &super::metrics::ResourceLimits,
    ) -> Result<(), StoreError> {
        let held = chrono::TimeDelta::from_std(limits.held).unwrap_or(chrono::TimeDelta::MAX);
        let points: Vec<Figures> = sqlx::query_as(
            "SELECT cpu_percent, memory_percent, disk_percent FROM node_metrics \
             WHERE node = $1 AND resolution = 'minute' AND bucket >= date_trunc('minute', $2 - $3::interval) \
             ORDER BY bucket DESC",
        )
        .bind(node)
        .bind(at)
        .bind(format!("{} seconds", held.num_seconds()))
        .fetch_all(&self.pool)
        .await?;
        let Some(&newest) = points.first() else { return Ok(()) };
        // Enough minutes to say "for a while": the window's, less the one that just began.
        let enough = points.len() as i64 >= held.num_minutes().max(1);
        let metrics = [("cpu", limits.cpu_percent), ("memory", limits.memory_percent), ("disk", limits.disk_percent)];
        let mut tx = self.pool.begin().await?;
        let firing: Vec<String> =
            sqlx::query_scalar("SELECT metric FROM node_resource_alerts WHERE node = $1 FOR UPDATE")
                .bind(node)
                .fetch_all(&mut *tx)
                .await?;
        for (i, (metric, level)) in metrics.into_iter().enumerate() {
            let value = |p: &Figures| [p.0, p.1, p.2][i];
            let now = value(&newest);
            let is_firing = firing.iter().any(|m| m == metric);
            let over = enough && points.iter().all(|p| value(p) >= level);
            let under = now < level - super::metrics::ResourceLimits::HYSTERESIS;
            let resolved = match (is_firing, over, under) {
                (false, true, _) => false,
                (true, _, true) => true,
                _ => continue,
            };
            if resolved {
                sqlx::query("DELETE FROM node_resource_alerts WHERE node = $1 AND metric = $2")
                    .bind(node)
                    .bind(metric)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query("INSERT INTO node_resource_alerts (node, metric) VALUES ($1, $2)")
                    .bind(node)
                    .bind(metric)
                    .execute(&mut *tx)
                    .await?;
            }
            let data = serde_json::json!({"metric": metric, "value": now, "threshold": level, "resolved": resolved,
                "held_s": held.num_seconds()});
            let event =
                crate::events::NewEvent { kind: "node.resource_warning", node: Some(node), data, ..Default::default() };
            event.record(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The node's points since `from`, oldest first: minutes for up to two days back, hours beyond.
    pub async fn metrics(&self, node: &str, from: DateTime<Utc>) -> Result<(Resolution, Vec<Point>), StoreError> {
        let resolution =
            if Utc::now() - from <= chrono::TimeDelta::days(2) { Resolution::Minute } else { Resolution::Hour };
        let points = sqlx::query_as::<_, Point>(
            "SELECT bucket, samples, cpu_percent, memory_percent, load1, disk_percent FROM node_metrics \
             WHERE node = $1 AND resolution = $2 AND bucket >= date_trunc($2, $3) ORDER BY bucket",
        )
        .bind(node)
        .bind(resolution.as_str())
        .bind(from)
        .fetch_all(&self.pool)
        .await?;
        Ok((resolution, points))
    }
}
