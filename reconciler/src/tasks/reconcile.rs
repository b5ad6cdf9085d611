//! Object reconcilers in the style of kube-runtime: keys of changed objects
//! enter a de-duplicating, debounced [`Queue`]; [`run`] takes due keys
//! and calls `reconcile(key)`, which answers when to look again; failures
//! come back with per-key exponential backoff. One key is never reconciled
//! twice at once.
//!
//! Today one kind needs it: nodes, whose runners are probed for health,
//! version and capabilities (the nodes' reconcile).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::queue::Queue;

/// What a reconcile asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Look again after this long.
    Requeue(Duration),
    /// Nothing to do until the object changes.
    AwaitChange,
}

/// Reconciles keys from `queue` forever, at most `concurrency` at a time.
pub async fn run<K, F, Fut, E>(queue: Arc<Queue<K>>, concurrency: usize, reconcile: F)
where
    K: Clone + Eq + std::hash::Hash + std::fmt::Display + Send + Sync + 'static,
    F: Fn(K) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let reconcile = Arc::new(reconcile);
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    loop {
        let key = queue.next().await;
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let (queue, reconcile) = (queue.clone(), reconcile.clone());
        tokio::spawn(async move {
            let span = tracing::info_span!("reconcile", key = %key);
            let result = tracing::Instrument::instrument(reconcile(key.clone()), span).await;
            match result {
                Ok(action) => queue.done(&key, Ok(action)),
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "reconcile failed; backing off");
                    queue.done(&key, Err(()));
                }
            }
            drop(permit);
        });
    }
}
