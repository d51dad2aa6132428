//! The HTTP client deliveries are made with: it connects only to addresses
//! `webhook_destination` admits for the webhook's environment — checked on the addresses the
//! name resolves to at connect time, not at creation, so a name re-pointed at an internal
//! address (DNS rebinding) is refused — follows no redirect, uses no proxy, and gives up after
//! the attempt timeout.

use ipnet::IpNet;
use openmonime_domain::webhook::literal_ip;
use openmonime_domain::webhook_destination;
use openmonime_domain::webhook_retry::Answer;
use openmonime_domain::Environment;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How much of an answer the delivery log keeps.
pub const RESPONSE_HEAD_BYTES: usize = 1024;

/// What one POST found.
#[derive(Debug, Clone)]
pub struct Sent {
    pub answer: Answer,
    pub response_head: Option<String>,
    /// Why there was no answer; never the URL (it can carry a receiver's own secret).
    pub error: Option<String>,
}

/// The refusal the resolver reports, found again in the client's error chain.
#[derive(Debug)]
struct DestinationRefused;

impl std::fmt::Display for DestinationRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host resolves only to addresses deliveries may not reach")
    }
}

impl std::error::Error for DestinationRefused {}

/// Resolves a name and keeps only the addresses deliveries may reach in `environment`.
struct GuardedResolver {
    environment: Environment,
    allowed: Arc<Vec<IpNet>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (environment, allowed) = (self.environment, self.allowed.clone());
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let admitted: Vec<SocketAddr> =
                found.filter(|a| webhook_destination::check(a.ip(), environment, &allowed).is_ok()).collect();
            if admitted.is_empty() {
                return Err(Box::new(DestinationRefused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(admitted.into_iter()) as Addrs)
        })
    }
}

/// One client per environment (their resolvers differ); connections are pooled per host.
#[derive(Clone)]
pub struct Sender {
    test: reqwest::Client,
    live: reqwest::Client,
    allowed: Arc<Vec<IpNet>>,
}

impl Sender {
    pub fn new(allowed: Vec<IpNet>, timeout: Duration) -> Sender {
        let allowed = Arc::new(allowed);
        let client = |environment| {
            reqwest::Client::builder()
                .dns_resolver(Arc::new(GuardedResolver { environment, allowed: allowed.clone() }))
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(timeout)
                .connect_timeout(timeout)
                .user_agent(concat!("openmonime-webhooks/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("the delivery client's settings are valid")
        };
        Sender { test: client(Environment::Test), live: client(Environment::Live), allowed }
    }

    /// POSTs `body` to `url` with the webhook's own headers and the signature.
    pub async fn post(
        &self,
        environment: Environment,
        url: &str,
        custom: &BTreeMap<String, String>,
        signature: &str,
        body: Vec<u8>,
    ) -> Sent {
        let failed = |answer, error: &str| Sent { answer, response_head: None, error: Some(error.to_owned()) };
        let Ok(parsed) = url::Url::parse(url) else {
            return failed(Answer::Unreachable, "the URL does not parse");
        };
        // The resolver never sees a literal address: check it here.
        if let Some(ip) = literal_ip(&parsed) {
            if let Err(refusal) = webhook_destination::check(ip, environment, &self.allowed) {
                return failed(Answer::Refused, refusal.message());
            }
        }
        let mut headers = HeaderMap::new();
        for (name, value) in custom {
            // Validated when the webhook was written; anything that is no longer a header is skipped.
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str()))
            {
                headers.insert(name, value);
            }
        }
        headers.insert(reqwest::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(value) = HeaderValue::try_from(signature) {
            headers.insert(openmonime_domain::webhook_signature::HEADER, value);
        }
        let client = match environment {
            Environment::Test => &self.test,
            Environment::Live => &self.live,
        };
        match client.post(parsed).headers(headers).body(body).send().await {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let mut head = Vec::new();
                // The first bytes only; a slow or endless body is cut off by the timeout.
                while head.len() < RESPONSE_HEAD_BYTES {
                    match response.chunk().await {
                        Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                        Ok(None) | Err(_) => break,
                    }
                }
                head.truncate(RESPONSE_HEAD_BYTES);
                let response_head = (!head.is_empty()).then(|| String::from_utf8_lossy(&head).into_owned());
                Sent { answer: Answer::Status(status), response_head, error: None }
            }
            Err(e) => {
                let refused = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
                    .any(|e| e.is::<DestinationRefused>());
                if refused {
                    failed(Answer::Refused, &DestinationRefused.to_string())
                } else if e.is_timeout() {
                    failed(Answer::Timeout, "no complete answer within the attempt timeout")
                } else {
                    failed(Answer::Unreachable, &describe(e.without_url()))
                }
            }
        }
    }
}

/// An error and its causes, in one line.
fn describe(e: reqwest::Error) -> String {
    let mut words = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        words.push_str(": ");
        words.push_str(&c.to_string());
        cause = c.source();
    }
    words
}
