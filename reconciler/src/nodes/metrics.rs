//! Node metrics history for charts: every health check a runner answers
//! folds into the node's current minute and hour (a running mean, so the
//! table stays small whatever the check interval); minutes are kept two
//! days, hours ninety.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::FromRow;

/// How far back metrics are kept (as hourly points).
pub const KEPT: chrono::TimeDelta = chrono::TimeDelta::days(90);

/// One point of a chart: the means of the health checks in one minute or hour.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = MetricsPoint)]
pub struct Point {
    /// The start of the minute or hour.
    pub bucket: DateTime<Utc>,
    /// How many health checks it folds in.
    pub samples: i32,
    pub cpu_percent: f64,
    pub memory_percent: f64,
    /// The one-minute load average.
    pub load1: f64,
    /// How full the fullest disk is.
    pub disk_percent: f64,
}

/// How long one point of a chart covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    /// Up to two days back.
    Minute,
    /// Beyond.
    Hour,
}

impl Resolution {
    /// As stored, and as PostgreSQL's `date_trunc` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
        }
    }
}

/// When a node's resources are worth a warning: a metric at or over its
/// level (percent) in every minute of `held` (settings `RESOURCE_WARN_CPU`,
/// `_MEMORY`, `_DISK`, `RESOURCE_WARN_FOR`); it is back once its newest
/// minute is `HYSTERESIS` points under, so a value hovering at the level
/// does not flap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourceLimits {
    pub cpu_percent: f64,
    pub memory_percent: f64,
    pub disk_percent: f64,
    pub held: std::time::Duration,
}

impl ResourceLimits {
    pub const HYSTERESIS: f64 = 5.0;

    /// These limits with a node's own `resourceWarnings` over them.
    pub fn for_node(&self, spec: &car_schemas::kinds::NodeSpec) -> ResourceLimits {
        let Some(w) = &spec.resource_warnings else { return *self };
        let level =
            |own: &Option<car_schemas::de::Spanned<f64>>, default: f64| own.as_ref().map_or(default, |l| l.value);
        ResourceLimits {
            cpu_percent: level(&w.cpu, self.cpu_percent),
            memory_percent: level(&w.memory, self.memory_percent),
            disk_percent: level(&w.disk, self.disk_percent),
            held: self.held,
        }
    }
}

impl Default for ResourceLimits {
    fn default() -> Self {
        ResourceLimits {
            cpu_percent: 95.0,
            memory_percent: 90.0,
            disk_percent: 90.0,
            held: std::time::Duration::from_secs(300),
        }
    }
}

/// The figures of one health answer (`metrics` of `GET /v1/health`), as percentages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub cpu_percent: f64,
    pub memory_percent: f64,
    pub load1: f64,
    /// The fullest disk.
    pub disk_percent: f64,
}

impl Sample {
    pub fn from_health(metrics: &Value) -> Option<Sample> {
        let pct = |used: Option<f64>, total: Option<f64>| match (used, total) {
            (Some(u), Some(t)) if t > 0.0 => Some(100.0 * u / t),
            _ => None,
        };
        let num = |v: &Value| v.as_f64();
        let memory_percent = pct(num(&metrics["memory_used_bytes"]), num(&metrics["memory_total_bytes"]))?;
        let disk_percent = metrics["disks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| pct(num(&d["used_bytes"]), num(&d["total_bytes"])))
            .fold(0.0, f64::max);
        Some(Sample {
            cpu_percent: num(&metrics["cpu_percent"]).unwrap_or(0.0),
            memory_percent,
            load1: num(&metrics["load"][0]).unwrap_or(0.0),
            disk_percent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_health_answer_becomes_percentages_with_the_fullest_disk() {
        let m = json!({"cpu_percent": 12.5, "memory_total_bytes": 1000, "memory_used_bytes": 250, "load": [0.5, 0.4, 0.3],
            "disks": [{"mount": "/", "total_bytes": 100, "used_bytes": 10}, {"mount": "/mnt/tank", "total_bytes": 200, "used_bytes": 180}]});
        assert_eq!(
            Sample::from_health(&m),
            Some(Sample { cpu_percent: 12.5, memory_percent: 25.0, load1: 0.5, disk_percent: 90.0 })
        );
        assert_eq!(Sample::from_health(&json!({"cpu_percent": 3})), None, "no memory figures: not a sample");
    }

    #[test]
    fn a_node_can_warn_later_than_the_server_would() {
        let spec: car_schemas::kinds::NodeSpec =
            car_schemas::de::from_json(&serde_json::json!({"os": "truenas", "resourceWarnings": {"disk": 97}}))
                .unwrap();
        let limits = ResourceLimits::default().for_node(&spec);
        assert_eq!((limits.disk_percent, limits.memory_percent), (97.0, ResourceLimits::default().memory_percent));
    }
}
