//! Retries: a run that failed for a reason another attempt may not meet
//! (lost node, rate limit, a crash, a flaky check) is queued again as a new
//! run linked to the first, after its agent's `retries.backoff` doubled per
//! attempt, with ±20% jitter so that many retries do not land at once; a
//! rate-limited run waits at least as long as the API said. Cancelled runs,
//! refused ones (bad config, denied by the runner) and runs whose script
//! reported failure are not retried: another attempt would meet the same.

use std::time::Duration;

use car_schemas::kinds::AgentSpec;
use serde_json::Value;

/// The wait before the first retry when the agent does not say.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Error kinds another attempt would meet again.
const FINAL_KINDS: &[&str] = &["config", "refused", "cancelled", "reported", "budget"];

/// How long to wait before the next attempt of a run that ended with
/// `status` and `error` as attempt `attempt`; `None`: no retry.
/// `jitter` is a number in [0, 1) (random in production).
pub fn next_attempt(spec: &AgentSpec, attempt: u32, status: &str, error: &Value, jitter: f64) -> Option<Duration> {
    let retries = spec.retries.as_ref()?;
    if attempt > retries.max.value {
        return None;
    }
    let kind = error["kind"].as_str().unwrap_or_default();
    let retryable = status == "lost" || (status == "failed" && !FINAL_KINDS.contains(&kind));
    if !retryable {
        return None;
    }
    let base = retries.backoff.as_ref().map_or(DEFAULT_BACKOFF, |b| b.value.get());
    let doubled = base.saturating_mul(1u32 << (attempt - 1).min(16)).min(MAX_BACKOFF);
    let wait = doubled.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0));
    let rate_limit = Duration::from_millis(error["retry_after_ms"].as_u64().unwrap_or(0));
    Some(wait.max(rate_limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use car_schemas::document::Manifest;
    use serde_json::json;

    fn agent(retries: Value) -> AgentSpec {
        let doc = json!({"apiVersion": "car/v1", "kind": "Agent", "metadata": {"name": "a"},
            "spec": {"prompt": "x", "retries": retries}});
        car_schemas::de::from_json::<Manifest<AgentSpec>>(&doc).unwrap().spec
    }

    #[test]
    fn waits_double_per_attempt_within_the_jitter_and_stop_at_max() {
        let spec = agent(json!({"max": 3, "backoff": "10s"}));
        let lost = json!({"kind": "lost"});
        let at = |attempt, jitter| next_attempt(&spec, attempt, "lost", &lost, jitter);
        assert_eq!(at(1, 0.5), Some(Duration::from_secs(10)));
        assert_eq!(at(2, 0.5), Some(Duration::from_secs(20)));
        assert_eq!(at(3, 0.0), Some(Duration::from_secs(32)));
        let most = at(3, 0.999_999).unwrap();
        assert!(most > Duration::from_millis(47_900) && most < Duration::from_secs(48), "{most:?}");
        assert_eq!(at(4, 0.5), None, "a fourth retry of max 3");
    }

    #[test]
    fn only_failures_another_attempt_may_not_meet_are_retried() {
        let spec = agent(json!({"max": 2}));
        let retry = |status, kind| next_attempt(&spec, 1, status, &json!({"kind": kind}), 0.5);
        assert_eq!(retry("failed", "execution"), Some(DEFAULT_BACKOFF));
        assert_eq!(retry("failed", "script"), Some(DEFAULT_BACKOFF));
        assert!(retry("lost", "lost").is_some());
        for kind in ["config", "refused", "cancelled", "reported", "budget"] {
            assert_eq!(retry("failed", kind), None, "{kind} was retried");
        }
        assert_eq!(retry("cancelled", "cancelled"), None);
        assert_eq!(retry("succeeded", ""), None);
        assert_eq!(retry("timed_out", "timed_out"), None);
        assert_eq!(next_attempt(&agent(Value::Null), 1, "lost", &json!({}), 0.5), None, "no retries declared");
    }

    #[test]
    fn a_rate_limited_run_waits_at_least_what_the_api_said() {
        let spec = agent(json!({"max": 2, "backoff": "1s"}));
        let error = json!({"kind": "rate_limited", "retry_after_ms": 90_000});
        assert_eq!(next_attempt(&spec, 1, "failed", &error, 0.5), Some(Duration::from_secs(90)));
    }

    #[test]
    fn waits_are_capped() {
        let spec = agent(json!({"max": 10, "backoff": "30m"}));
        assert_eq!(next_attempt(&spec, 10, "lost", &json!({}), 0.5), Some(MAX_BACKOFF));
    }
}
