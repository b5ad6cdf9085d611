//! Supervised background tasks: the sync, the node reconciles, the
//! dispatcher, the scheduler, retention. A task that panics or returns is
//! logged by name with why, restarted after a [`Backoff`] (which starts
//! over once it has run a while), and reported down by [`Health`] (so
//! `/readyz` turns red) from its death until it has run [`RECOVERED`] again.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::backoff::Backoff;

/// Restarts wait 1 s, then longer, at most a minute.
pub const RESTART: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
/// A restarted task counts as healthy, and its backoff starts over, after running this long.
pub const RECOVERED: Duration = Duration::from_secs(30);

/// Which tasks are down now, and why; cheap to clone.
#[derive(Clone, Default)]
pub struct Health {
    tasks: Arc<Mutex<BTreeMap<&'static str, State>>>,
}

#[derive(Debug, Clone)]
struct State {
    /// When it (re)started; `None` while it waits to restart.
    running_since: Option<Instant>,
    /// Why it last died, and when.
    died: Option<(Instant, String)>,
    restarts: u32,
}

impl Health {
    /// Each task that is down, or died less than [`RECOVERED`] ago, with why.
    pub fn down(&self) -> Vec<String> {
        let tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks
            .iter()
            .filter_map(|(name, s)| {
                let (at, why) = s.died.as_ref()?;
                let recovered = s.running_since.is_some_and(|since| since.elapsed() >= RECOVERED);
                (!recovered).then(|| {
                    format!(
                        "the {name} task died {}s ago ({why}); restarted {} times",
                        at.elapsed().as_secs(),
                        s.restarts
                    )
                })
            })
            .collect()
    }

    fn update(&self, name: &'static str, f: impl FnOnce(&mut State)) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        f(tasks.entry(name).or_insert(State { running_since: None, died: None, restarts: 0 }));
    }
}

/// Runs tasks and restarts them when they die; dropping it stops them all.
#[derive(Default)]
pub struct Supervisor {
    health: Health,
    set: JoinSet<()>,
}

impl Supervisor {
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Runs `task()` as `name`, forever: when the future it makes ends or
    /// panics, a new one is made after a backoff.
    pub fn spawn<F, Fut>(&mut self, name: &'static str, task: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let health = self.health.clone();
        self.set.spawn(async move {
            let mut failures = 0;
            loop {
                let started = Instant::now();
                health.update(name, |s| s.running_since = Some(started));
                let run = tokio::spawn(task());
                // Aborting the supervisor aborts the task too.
                let _abort = AbortOnDrop(run.abort_handle());
                let why = match run.await {
                    Ok(()) => "it returned".to_string(),
                    Err(e) if e.is_panic() => format!("it panicked: {}", panic_message(e.into_panic())),
                    Err(_) => return,
                };
                if started.elapsed() >= RECOVERED {
                    failures = 0;
                }
                failures += 1;
                let wait = RESTART.delay(failures);
                tracing::error!(task = name, why = %why, restart_in = ?wait, "a background task died; restarting it");
                health.update(name, |s| {
                    s.running_since = None;
                    s.died = Some((Instant::now(), why));
                    s.restarts += 1;
                });
                tokio::time::sleep(wait).await;
            }
        });
    }

    /// Stops every task.
    pub async fn shutdown(mut self) {
        self.set.shutdown().await;
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().map_or_else(|| "no message".to_string(), |s| s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_restarted_and_reported_down_until_it_recovers() {
        let mut sup = Supervisor::default();
        let starts = Arc::new(AtomicU32::new(0));
        let counter = starts.clone();
        sup.spawn("dispatcher", move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    panic!("boom {n}");
                }
                std::future::pending::<()>().await;
            }
        });
        let health = sup.health();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let down = health.down();
        assert_eq!(down.len(), 1, "{down:?}");
        assert!(down[0].contains("the dispatcher task died") && down[0].contains("it panicked: boom 0"), "{down:?}");
        // 1 s, then 2 s of backoff: the third start stays up.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(starts.load(Ordering::SeqCst), 3);
        assert!(health.down()[0].contains("boom 1") && health.down()[0].contains("restarted 2 times"));
        tokio::time::sleep(RECOVERED).await;
        assert!(health.down().is_empty(), "healthy again after running {RECOVERED:?}");
        sup.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_returns_counts_as_dead_and_shutdown_stops_the_tasks() {
        let mut sup = Supervisor::default();
        let starts = Arc::new(AtomicU32::new(0));
        let counter = starts.clone();
        sup.spawn("sync", move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {}
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(starts.load(Ordering::SeqCst), 2, "restarted after 1 s");
        assert!(sup.health().down()[0].contains("it returned"));
        sup.shutdown().await;
        let before = starts.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(starts.load(Ordering::SeqCst), before, "no restarts after shutdown");
    }
}
