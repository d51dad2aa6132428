//! The webhook delivery worker: leases due deliveries from the store, renders and signs each,
//! POSTs it (`sender`), and records the attempt, which schedules the next one on the published
//! retry schedule (`webhook_retry`) or disables the webhook (`alerts`).
//!
//! Every node runs one. A lease makes each attempt one node's; a node that dies mid-attempt
//! loses its lease when it expires and another node makes the attempt again, with the same
//! `event.id` (at-least-once).

pub mod alerts;
pub mod sender;

use crate::views::webhooks::Delivery;
use alerts::Alerts;
use openmonime_domain::webhook::SigningMethod;
use openmonime_domain::webhook_retry::{self, Answer};
use openmonime_domain::webhook_signature::{self, Es256Key};
use openmonime_store::deliveries::{AttemptReport, DueDelivery};
use openmonime_store::Store;
use secrecy::ExposeSecret;
use sender::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How this node delivers.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Whether this node makes deliveries (every node queues them either way).
    pub enabled: bool,
    /// How often the store is asked for due deliveries when nothing woke the worker sooner.
    pub poll: Duration,
    /// Longest one attempt may take (`webhook_retry::ATTEMPT_TIMEOUT`).
    pub attempt_timeout: Duration,
    /// How long a lease holds a delivery: longer than an attempt, so only a dead node loses one.
    pub lease: Duration,
    /// Most attempts under way at once on this node. Receivers are slow (tens to hundreds of
    /// milliseconds), so this, not the database, bounds a node's deliveries per second against
    /// real ones: 128 at 100 ms each is 1280 a second.
    pub concurrency: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        let attempt_timeout = Duration::try_from(webhook_retry::ATTEMPT_TIMEOUT).unwrap_or(Duration::from_secs(15));
        DeliveryConfig {
            enabled: true,
            poll: Duration::from_secs(1),
            attempt_timeout,
            lease: attempt_timeout * 2,
            concurrency: 128,
        }
    }
}

/// Where the worker reads the time: the system's, or one a test moves by hand to drive the
/// retry schedule without waiting for it.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        openmonime_domain::time_fmt::now()
    }
}

/// One node's delivery worker.
#[derive(Clone)]
pub struct Worker(Arc<Inner>);

struct Inner {
    store: Store,
    sender: Sender,
    /// Where the server's own links point (a checkout session's `redirectUrl`).
    public_url: String,
    clock: Arc<dyn Clock>,
    config: DeliveryConfig,
    alerts: Alerts,
}

impl Worker {
    pub fn new(
        store: Store,
        config: DeliveryConfig,
        allowed: Vec<ipnet::IpNet>,
        clock: Arc<dyn Clock>,
        alerts: Alerts,
        public_url: String,
    ) -> Worker {
        let sender = Sender::new(allowed, config.attempt_timeout);
        Worker(Arc::new(Inner { store, sender, clock, config, alerts, public_url }))
    }

    /// Delivers until `stop`, then lets the attempts under way finish (each within the attempt
    /// timeout) and records them, so none is left for a lease to expire.
    pub async fn run(self, stop: CancellationToken) {
        let inner = &self.0;
        let concurrency = inner.config.concurrency.max(1);
        let permits = Arc::new(Semaphore::new(concurrency));
        let wake = inner.store.deliveries_queued();
        let lease = time::Duration::try_from(inner.config.lease).unwrap_or(time::Duration::seconds(30));
        // Finished attempts go to one recorder, which writes them in batches.
        let (finished, to_record) = mpsc::channel(concurrency * 4);
        let recorder = tokio::spawn(self.clone().record(to_record));
        let mut attempts = JoinSet::new();
        loop {
            while attempts.try_join_next().is_some() {}
            let free = permits.available_permits();
            // Claim in batches: with attempts under way, wait until half the permits are free
            // rather than claiming (one write each) every time a single attempt ends.
            if free == 0 || (!attempts.is_empty() && free < concurrency.div_ceil(2)) {
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => break,
                    _ = attempts.join_next() => continue,
                }
            }
            let due = match inner.store.claim_due_deliveries(inner.clock.now(), lease, free as u32).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "could not claim due deliveries");
                    Vec::new()
                }
            };
            if due.is_empty() {
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => break,
                    _ = wake.notified() => {}
                    _ = attempts.join_next(), if !attempts.is_empty() => {}
                    _ = tokio::time::sleep(inner.config.poll) => {}
                }
                continue;
            }
            for delivery in due {
                let Ok(permit) = permits.clone().acquire_owned().await else { break };
                let (worker, finished) = (self.clone(), finished.clone());
                attempts.spawn(async move {
                    let report = worker.attempt(&delivery).await;
                    drop(permit);
                    // The recorder ends only after every sender has gone.
                    let _ = finished.send((delivery, report)).await;
                });
            }
        }
        while attempts.join_next().await.is_some() {}
        drop(finished);
        let _ = recorder.await;
    }

    /// Records finished attempts as they come, as many per transaction as are waiting.
    async fn record(self, mut finished: mpsc::Receiver<(DueDelivery, AttemptReport)>) {
        let inner = &self.0;
        let mut batch = Vec::new();
        while finished.recv_many(&mut batch, RECORD_BATCH).await > 0 {
            match inner.store.record_attempts(&batch).await {
                Ok(recorded) => {
                    for disabled in recorded.into_iter().filter_map(|r| r.disabled) {
                        tracing::warn!(
                            webhook = %disabled.webhook, space = %disabled.tenant.space_id,
                            reason = disabled.reason.as_str(), "webhook disabled by its deliveries"
                        );
                        inner.alerts.webhook_disabled(&disabled).await;
                    }
                }
                // Their leases expire and the deliveries are attempted again.
                Err(error) => tracing::warn!(%error, attempts = batch.len(), "could not record delivery attempts"),
            }
            batch.clear();
        }
    }

    /// Makes one attempt; returns what it found.
    async fn attempt(&self, due: &DueDelivery) -> AttemptReport {
        let inner = &self.0;
        let started_at = inner.clock.now();
        let started = Instant::now();
        let sent = match serde_json::to_vec(&Delivery::new(&due.event, due.api_release, &inner.public_url)) {
            Ok(body) => match sign(due, started_at.unix_timestamp(), &body) {
                Some(signature) => {
                    inner.sender.post(due.tenant.environment, &due.url, &due.headers, &signature, body).await
                }
                None => unsent("the webhook's signing key is unreadable"),
            },
            Err(_) => unsent("the event did not serialize"),
        };
        let report = AttemptReport {
            started_at,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            answer: sent.answer,
            response_head: sent.response_head,
            error: sent.error,
            finished_at: inner.clock.now(),
            jitter: webhook_retry::random_jitter(),
        };
        tracing::info!(
            webhook = %due.webhook, event = %due.event.id, attempt = due.attempt,
            outcome = report.answer.outcome(), duration_ms = report.duration_ms, "webhook delivery attempted"
        );
        report
    }
}

/// Most finished attempts recorded in one transaction.
const RECORD_BATCH: usize = 256;

/// An attempt that could not be made at all, retried like an unreachable receiver.
fn unsent(why: &str) -> sender::Sent {
    sender::Sent { answer: Answer::Unreachable, response_head: None, error: Some(why.into()) }
}

/// The `Monime-Signature` value for `body` at `timestamp`; `None` if the stored key is unusable.
fn sign(due: &DueDelivery, timestamp: i64, body: &[u8]) -> Option<String> {
    let secret = due.secret.expose_secret();
    match due.signing {
        SigningMethod::Hs256 => Some(webhook_signature::sign(secret.as_bytes(), timestamp, body)),
        SigningMethod::Es256 => {
            let scalar = secrecy::SecretSlice::from(hex::decode(secret).ok()?);
            Some(Es256Key::from_bytes(scalar.expose_secret())?.sign(timestamp, body))
        }
    }
}
