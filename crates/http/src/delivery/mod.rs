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
    /// Most attempts under way at once on this node.
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
            concurrency: 32,
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
    ) -> Worker {
        let sender = Sender::new(allowed, config.attempt_timeout);
        Worker(Arc::new(Inner { store, sender, clock, config, alerts }))
    }

    /// Delivers until `stop`, then lets the attempts under way finish (each within the attempt
    /// timeout) so none is left for a lease to expire.
    pub async fn run(self, stop: CancellationToken) {
        let inner = &self.0;
        let permits = Arc::new(Semaphore::new(inner.config.concurrency.max(1)));
        let wake = inner.store.deliveries_queued();
        let lease = time::Duration::try_from(inner.config.lease).unwrap_or(time::Duration::seconds(30));
        let mut attempts = JoinSet::new();
        loop {
            while attempts.try_join_next().is_some() {}
            let free = permits.available_permits();
            if free == 0 {
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
                    _ = tokio::time::sleep(inner.config.poll) => {}
                }
                continue;
            }
            for delivery in due {
                let Ok(permit) = permits.clone().acquire_owned().await else { break };
                let worker = self.clone();
                attempts.spawn(async move {
                    worker.attempt(delivery).await;
                    drop(permit);
                });
            }
        }
        while attempts.join_next().await.is_some() {}
    }

    /// Makes one attempt and records it.
    async fn attempt(&self, due: DueDelivery) {
        let inner = &self.0;
        let body = match serde_json::to_vec(&Delivery::new(&due.event, due.api_release)) {
            Ok(body) => body,
            Err(_) => return tracing::error!(event = %due.event.id, "a delivery body did not serialize"),
        };
        let started_at = inner.clock.now();
        let started = Instant::now();
        let sent = match sign(&due, started_at.unix_timestamp(), &body) {
            Some(signature) => {
                inner.sender.post(due.tenant.environment, &due.url, &due.headers, &signature, body).await
            }
            None => sender::Sent {
                answer: Answer::Unreachable,
                response_head: None,
                error: Some("the webhook's signing key is unreadable".into()),
            },
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
        match inner.store.record_attempt(&due, &report).await {
            Ok(recorded) => {
                if let Some(disabled) = recorded.disabled {
                    tracing::warn!(
                        webhook = %disabled.webhook, space = %disabled.tenant.space_id,
                        reason = disabled.reason.as_str(), "webhook disabled by its deliveries"
                    );
                    inner.alerts.webhook_disabled(&disabled).await;
                }
            }
            // The lease expires and the delivery is attempted again.
            Err(error) => tracing::warn!(webhook = %due.webhook, %error, "could not record a delivery attempt"),
        }
    }
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
