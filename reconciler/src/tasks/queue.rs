//! A de-duplicating, debounced work queue of object keys with per-key
//! backoff. A key scheduled several times is reconciled once, at the
//! earliest due time; a key being reconciled is not handed out again until
//! it is done (a change meanwhile reschedules it after).

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::reconcile::Action;

pub struct Queue<K> {
    state: Mutex<State<K>>,
    wake: Notify,
    debounce: Duration,
    backoff: Backoff,
}

struct State<K> {
    due: HashMap<K, Instant>,
    running: HashSet<K>,
    /// Keys scheduled while running: queued again when done.
    dirty: HashSet<K>,
    failures: HashMap<K, u32>,
}

impl<K: Clone + Eq + Hash> Queue<K> {
    /// `debounce`: how long a new key waits for more changes; `backoff`:
    /// how long it waits after failures.
    pub fn new(debounce: Duration, backoff: Backoff) -> Self {
        Queue {
            state: Mutex::new(State {
                due: HashMap::new(),
                running: HashSet::new(),
                dirty: HashSet::new(),
                failures: HashMap::new(),
            }),
            wake: Notify::new(),
            debounce,
            backoff,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The object changed: reconcile it soon.
    pub fn schedule(&self, key: K) {
        self.schedule_in(key, self.debounce);
    }

    fn schedule_in(&self, key: K, after: Duration) {
        let mut s = self.lock();
        if s.running.contains(&key) {
            s.dirty.insert(key);
            return;
        }
        let at = Instant::now() + after;
        let slot = s.due.entry(key).or_insert(at);
        if at < *slot {
            *slot = at;
        }
        drop(s);
        self.wake.notify_one();
    }

    /// Waits for the next due key and marks it running.
    pub async fn next(&self) -> K {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                let earliest = s.due.iter().min_by_key(|(_, at)| **at).map(|(k, at)| (k.clone(), *at));
                match earliest {
                    Some((key, at)) if at <= now => {
                        s.due.remove(&key);
                        s.running.insert(key.clone());
                        return key;
                    }
                    Some((_, at)) => Some(at),
                    None => None,
                }
            };
            match wait {
                Some(at) => {
                    let _ = tokio::time::timeout_at(at, self.wake.notified()).await;
                }
                None => self.wake.notified().await,
            }
        }
    }

    /// A reconcile of `key` finished.
    pub fn done(&self, key: &K, result: Result<Action, ()>) {
        let next = {
            let mut s = self.lock();
            s.running.remove(key);
            let again = s.dirty.remove(key);
            match result {
                Ok(action) => {
                    s.failures.remove(key);
                    match action {
                        _ if again => Some(self.debounce),
                        Action::Requeue(d) => Some(d),
                        Action::AwaitChange => None,
                    }
                }
                Err(()) => {
                    let n = s.failures.entry(key.clone()).or_insert(0);
                    *n = n.saturating_add(1);
                    Some(self.backoff.delay(*n))
                }
            }
        };
        if let Some(after) = next {
            self.schedule_in(key.clone(), after);
        }
    }

    /// Forgets `key` (the object was removed).
    pub fn forget(&self, key: &K) {
        let mut s = self.lock();
        s.due.remove(key);
        s.failures.remove(key);
        s.dirty.remove(key);
    }

    #[cfg(test)]
    fn failures(&self, key: &K) -> u32 {
        self.lock().failures.get(key).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> Queue<&'static str> {
        Queue::new(Duration::from_millis(100), Backoff::new(Duration::from_secs(1), Duration::from_secs(8)))
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_changes_is_reconciled_once_after_the_debounce() {
        let q = queue();
        let t = Instant::now();
        for _ in 0..5 {
            q.schedule("tower");
        }
        assert_eq!(q.next().await, "tower");
        assert_eq!(t.elapsed(), Duration::from_millis(100));
        q.done(&"tower", Ok(Action::AwaitChange));
        assert!(tokio::time::timeout(Duration::from_secs(60), q.next()).await.is_err(), "handed out twice");
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_while_running_reconciles_again_afterwards() {
        let q = queue();
        q.schedule("tower");
        assert_eq!(q.next().await, "tower");
        q.schedule("tower");
        assert!(tokio::time::timeout(Duration::from_secs(5), q.next()).await.is_err(), "ran twice at once");
        q.done(&"tower", Ok(Action::AwaitChange));
        assert_eq!(q.next().await, "tower");
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially_up_to_the_cap() {
        let q = queue();
        q.schedule("nas");
        let mut waits = Vec::new();
        q.next().await;
        for _ in 0..5 {
            let t = Instant::now();
            q.done(&"nas", Err(()));
            q.next().await;
            waits.push(t.elapsed().as_secs());
        }
        assert_eq!(waits, [1, 2, 4, 8, 8]);
        assert_eq!(q.failures(&"nas"), 5);
        q.done(&"nas", Ok(Action::Requeue(Duration::from_secs(30))));
        assert_eq!(q.failures(&"nas"), 0);
        let t = Instant::now();
        q.next().await;
        assert_eq!(t.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn the_earliest_due_key_comes_first() {
        let q = queue();
        q.schedule_in("late", Duration::from_secs(10));
        q.schedule_in("early", Duration::from_secs(1));
        assert_eq!(q.next().await, "early");
        assert_eq!(q.next().await, "late");
    }
}
