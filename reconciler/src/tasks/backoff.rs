//! Exponential backoff, shared by everything that retries: the supervisor
//! restarting a task, the node reconciles, a follower reconnecting to its
//! runner, and start-up waiting for PostgreSQL.

use std::time::Duration;

/// Waits `base` after the first failure in a row, twice as long after each
/// further one, never longer than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max }
    }

    /// The wait after `failures` failures in a row (0 waits nothing).
    pub fn delay(&self, failures: u32) -> Duration {
        match failures {
            0 => Duration::ZERO,
            n => self.base.saturating_mul(1 << (n - 1).min(16)).min(self.max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_from_base_up_to_max() {
        let b = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
        let waits: Vec<u128> = (0..8).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(waits, [0, 250, 500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(5), "no overflow after many failures");
    }
}
