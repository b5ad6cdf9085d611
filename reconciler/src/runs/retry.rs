//! Retries: a run that failed for a reason another attempt may not meet
//! (lost node, rate limit, a crash, a flaky check) is queued again as a new
//! run linked to the first, after its agent's `retries.backoff` doubled per
//! attempt, with ±20% jitter so that many retries do not land at once; a
//! rate-limited run waits at least as long as the API said. Cancelled runs,
//! refused ones (bad config, denied by the runner) and runs whose script
//! reported failure are not retried: another attempt would meet the same.

use std::time::Duration;

use car_schemas::kinds::AgentSpec;
use car_schemas::run::{RunError, RunErrorKind, RunStatus};

use crate::tasks::Backoff;

/// The wait before the first retry when the agent does not say.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Whether another attempt may get past what ended a failed run.
fn may_pass(kind: RunErrorKind) -> bool {
    use RunErrorKind::*;
    match kind {
        Execution | MaxTurns | RateLimited | NoReport | Script | Engine | Lost | Unreachable => true,
        // The config, the runner's refusal, a person, the script's own verdict
        // and the budget would say the same again; a timeout would take as long.
        Config | Refused | Cancelled | Reported | Budget | TimedOut => false,
    }
}

/// How long to wait before the next attempt of a run that ended with
/// `status` and `error` as attempt `attempt`; `None`: no retry.
/// `jitter` is a number in [0, 1) (random in production).
pub fn next_attempt(
    spec: &AgentSpec,
    attempt: u32,
    status: RunStatus,
    error: Option<&RunError>,
    jitter: f64,
) -> Option<Duration> {
    let retries = spec.retries.as_ref()?;
    if attempt > retries.max.value {
        return None;
    }
    let retryable = match status {
        RunStatus::Lost => true,
        RunStatus::Failed => error.is_none_or(|e| may_pass(e.kind)),
        _ => false,
    };
    if !retryable {
        return None;
    }
    let base = retries.backoff.as_ref().map_or(DEFAULT_BACKOFF, |b| b.value.get());
    let doubled = Backoff::new(base, MAX_BACKOFF).delay(attempt);
    let wait = doubled.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0));
    let rate_limit = Duration::from_millis(error.and_then(|e| e.retry_after_ms).unwrap_or(0));
    Some(wait.max(rate_limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use car_schemas::document::Manifest;
    use serde_json::{Value, json};

    fn error(kind: RunErrorKind) -> RunError {
        RunError::new(kind, "it went wrong", "try again")
    }

    fn agent(retries: Value) -> AgentSpec {
        let doc = json!({"apiVersion": "car/v1", "kind": "Agent", "metadata": {"name": "a"},
            "spec": {"prompt": "x", "retries": retries}});
        car_schemas::de::from_json::<Manifest<AgentSpec>>(&doc).unwrap().spec
    }

    #[test]
    fn waits_double_per_attempt_within_the_jitter_and_stop_at_max() {
        let spec = agent(json!({"max": 3, "backoff": "10s"}));
        let lost = error(RunErrorKind::Lost);
        let at = |attempt, jitter| next_attempt(&spec, attempt, RunStatus::Lost, Some(&lost), jitter);
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
        let retry = |status, kind| next_attempt(&spec, 1, status, Some(&error(kind)), 0.5);
        use RunErrorKind::*;
        assert_eq!(retry(RunStatus::Failed, Execution), Some(DEFAULT_BACKOFF));
        assert_eq!(retry(RunStatus::Failed, Script), Some(DEFAULT_BACKOFF));
        assert!(retry(RunStatus::Lost, Lost).is_some());
        for kind in [Config, Refused, Cancelled, Reported, Budget] {
            assert_eq!(retry(RunStatus::Failed, kind), None, "{kind:?} was retried");
        }
        assert_eq!(retry(RunStatus::Cancelled, Cancelled), None);
        assert_eq!(next_attempt(&spec, 1, RunStatus::Succeeded, None, 0.5), None);
        assert_eq!(retry(RunStatus::TimedOut, TimedOut), None);
        let none = next_attempt(&agent(Value::Null), 1, RunStatus::Lost, None, 0.5);
        assert_eq!(none, None, "no retries declared");
    }

    #[test]
    fn a_rate_limited_run_waits_at_least_what_the_api_said() {
        let spec = agent(json!({"max": 2, "backoff": "1s"}));
        let limited = RunError { retry_after_ms: Some(90_000), ..error(RunErrorKind::RateLimited) };
        assert_eq!(next_attempt(&spec, 1, RunStatus::Failed, Some(&limited), 0.5), Some(Duration::from_secs(90)));
    }

    #[test]
    fn waits_are_capped() {
        let spec = agent(json!({"max": 10, "backoff": "30m"}));
        assert_eq!(next_attempt(&spec, 10, RunStatus::Lost, None, 0.5), Some(MAX_BACKOFF));
    }
}
