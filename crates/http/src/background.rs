//! The server's background work, started with it and stopped with it: a task is told to stop
//! (tokio-util's `CancellationToken`) and awaited (`TaskTracker`), never aborted, so a write under
//! way when shutdown begins — a usage batch, a denial batch — finishes instead of being lost.

use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// When a periodic task first runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum First {
    AtStart,
    AfterOnePeriod,
}

/// The running background tasks and the signal that stops them.
#[derive(Default)]
pub struct Background {
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl Background {
    /// Runs `step` every `period` until stopped; a step under way when the stop comes runs to its
    /// end.
    pub fn every<F, Fut>(&self, period: Duration, first: First, mut step: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            let mut ticker = tokio::time::interval(period);
            if first == First::AfterOnePeriod {
                ticker.tick().await;
            }
            loop {
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => return,
                    _ = ticker.tick() => step().await,
                }
            }
        });
    }

    /// Runs `task` until stopped, dropping it at the stop: for work that only reads, such as
    /// following the change feed.
    pub fn until_stopped(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(self.stop.clone().run_until_cancelled_owned(task));
    }

    /// Runs `task`, handed the stop signal so that it winds down itself: for work that must not
    /// be cut off midway, such as webhook attempts under way.
    pub fn until_done<F, Fut>(&self, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task(self.stop.clone()));
    }

    /// Stops every task and waits until each has returned.
    pub async fn stop(self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}
