//! Webhook delivery throughput and latency (issue 15): events queued in a temporary SQLite
//! store are delivered by the real worker to a real receiver on loopback, against a plain
//! `reqwest` client posting the same bodies, with the same headers and the same concurrency, to
//! the same receiver in the same run (the ceiling any delivery worker could reach here). Then
//! the event-to-delivery latency (from just before the change commits to the receiver reading
//! the body) at a steady load below that throughput.
//!
//! Target: worker ≥ 0.5 × plain client. Run with
//! `cargo bench -p openmonime-http --bench deliveries`. `BENCH_EVENTS`, `BENCH_REPS` and
//! `BENCH_CONCURRENCY` override the events per run, the repetitions and the attempts under way
//! at once (the worker's and the plain client's alike); `BENCH_RECEIVER_MS` has the receiver
//! wait that long before answering; `BENCH_DATABASE_URL=postgres://…` runs on a scratch
//! PostgreSQL database instead.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use openmonime_domain::entities::Tenant;
use openmonime_domain::event::EventName;
use openmonime_domain::money::Currency;
use openmonime_domain::webhook::{ApiRelease, SigningMethod};
use openmonime_domain::Environment;
use openmonime_http::delivery::alerts::Alerts;
use openmonime_http::delivery::{DeliveryConfig, SystemClock, Worker};
use openmonime_store::backend::StoreOptions;
use openmonime_store::journal::Actor;
use openmonime_store::ledger::NewAccount;
use openmonime_store::webhooks::NewWebhook;
use openmonime_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the receiver saw: each body with its headers, and when it arrived.
type Arrival = (Bytes, HeaderMap, Instant);

async fn receive(State(seen): State<mpsc::UnboundedSender<Arrival>>, headers: HeaderMap, body: Bytes) -> &'static str {
    let _ = seen.send((body, headers, Instant::now()));
    // A receiver that takes its time before answering, as real ones do (`BENCH_RECEIVER_MS`).
    let think = env("BENCH_RECEIVER_MS", 0);
    if think > 0 {
        tokio::time::sleep(Duration::from_millis(think as u64)).await;
    }
    "ok"
}

/// A receiver on loopback answering 200 to every POST; returns its URL and what it saw.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Arrival>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let app = Router::new().route("/hook", post(receive)).with_state(tx);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });
    (url, rx)
}

async fn fixture(store: &Store, url: &str) -> Tenant {
    let owner = store.create_monimeer("Bench owner", None).await.expect("monimeer");
    let space = store.create_space("Bench Space", &owner.id, &Actor::Operator).await.expect("space");
    let tenant = Tenant { space_id: space.id, environment: Environment::Test };
    let hook = NewWebhook {
        name: "bench".into(),
        url: url.to_owned(),
        enabled: true,
        events: vec![EventName::FinancialAccountCreated],
        api_release: ApiRelease::Caph,
        signing: SigningMethod::Hs256,
        signing_secret: "whsec_bench_0123456789abcdefghijklmnop".to_owned().into(),
        public_key: None,
        headers: Default::default(),
        alert_emails: Vec::new(),
        metadata: None,
    };
    store.create_webhook(&tenant, &hook, None, |_| String::new(), &Actor::Operator).await.expect("webhook");
    tenant
}

/// Creates an account: one committed change, one `financial_account.created` event.
async fn publish(store: &Store, tenant: &Tenant, n: usize) {
    let new = NewAccount {
        name: format!("till {n}"),
        currency: Currency::Sle,
        reference: None,
        description: None,
        metadata: None,
    };
    store.create_account(tenant, &new, None, |_| String::new()).await.expect("account");
}

fn config() -> DeliveryConfig {
    DeliveryConfig {
        concurrency: env("BENCH_CONCURRENCY", DeliveryConfig::default().concurrency),
        ..DeliveryConfig::default()
    }
}

fn worker(store: &Store) -> Worker {
    Worker::new(store.clone(), config(), Vec::new(), Arc::new(SystemClock), Alerts::none(), "http://127.0.0.1".into())
}

/// Waits for `n` arrivals; returns them.
async fn collect(seen: &mut mpsc::UnboundedReceiver<Arrival>, n: usize) -> Vec<Arrival> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let arrival = tokio::time::timeout(Duration::from_secs(60), seen.recv()).await.expect("deliveries stalled");
        got.push(arrival.expect("receiver"));
    }
    got
}

/// Deliveries per second: `n` queued events delivered by a worker started once they are queued.
async fn worker_rate(
    store: &Store,
    tenant: &Tenant,
    seen: &mut mpsc::UnboundedReceiver<Arrival>,
    n: usize,
) -> (f64, Vec<Arrival>) {
    for i in 0..n {
        publish(store, tenant, i).await;
    }
    let stop = CancellationToken::new();
    let run = tokio::spawn(worker(store).run(stop.clone()));
    let started = Instant::now();
    let got = collect(seen, n).await;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    stop.cancel();
    run.await.expect("worker");
    (rate, got)
}

/// Posts per second: the same bodies and headers through a plain client, `concurrency` at once.
async fn plain_rate(
    url: &str,
    bodies: &[Arrival],
    seen: &mut mpsc::UnboundedReceiver<Arrival>,
    concurrency: usize,
) -> f64 {
    let client = reqwest::Client::new();
    let queue = Arc::new(Mutex::new(bodies.iter().map(|(b, h, _)| (b.clone(), h.clone())).collect::<Vec<_>>()));
    let started = Instant::now();
    let mut posters = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, queue, url) = (client.clone(), queue.clone(), url.to_owned());
        posters.spawn(async move {
            loop {
                let Some((body, headers)) = queue.lock().expect("queue").pop() else { return };
                let mut request = client.post(&url).body(body);
                for name in ["content-type", "monime-signature"] {
                    if let Some(value) = headers.get(name) {
                        request = request.header(name, value);
                    }
                }
                let answer = request.send().await.expect("post");
                answer.bytes().await.expect("answer");
            }
        });
    }
    let got = collect(seen, bodies.len()).await;
    while posters.join_next().await.is_some() {}
    assert_eq!(got.len(), bodies.len());
    bodies.len() as f64 / started.elapsed().as_secs_f64()
}

/// Event-to-delivery latencies (ms, sorted) at `rate` events per second for `n` events.
async fn latencies(
    store: &Store,
    tenant: &Tenant,
    seen: &mut mpsc::UnboundedReceiver<Arrival>,
    rate: f64,
    n: usize,
) -> Vec<f64> {
    let stop = CancellationToken::new();
    let run = tokio::spawn(worker(store).run(stop.clone()));
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    for i in 0..n {
        ticker.tick().await;
        sent.insert(format!("till {i}"), Instant::now());
        publish(store, tenant, i).await;
    }
    let got = collect(seen, n).await;
    stop.cancel();
    run.await.expect("worker");
    let mut ms: Vec<f64> = got
        .iter()
        .map(|(body, _, at)| {
            let v: serde_json::Value = serde_json::from_slice(body).expect("JSON");
            let name = v["data"]["name"].as_str().expect("the account's name");
            at.duration_since(sent[name]).as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let events = env("BENCH_EVENTS", 2000);
    let reps = env("BENCH_REPS", 3);
    let dir = tempfile::tempdir().expect("temporary directory");
    // A scratch PostgreSQL database instead of the temporary SQLite file, if given.
    let url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite:{}", dir.path().join("bench.db").display()));
    println!("store: {}", url.split(':').next().unwrap_or("?"));
    let store = Store::open(&url, StoreOptions::default()).await.expect("store");
    let (hook_url, mut seen) = receiver().await;
    let tenant = fixture(&store, &hook_url).await;
    let concurrency = config().concurrency;

    let (mut ours, mut plain, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 1..=reps {
        let (worker_per_s, bodies) = worker_rate(&store, &tenant, &mut seen, events).await;
        let plain_per_s = plain_rate(&hook_url, &bodies, &mut seen, concurrency).await;
        println!(
            "rep {rep}: worker {worker_per_s:.0}/s, plain client {plain_per_s:.0}/s, ratio {:.2}",
            worker_per_s / plain_per_s
        );
        ours.push(worker_per_s);
        plain.push(plain_per_s);
        ratios.push(worker_per_s / plain_per_s);
    }
    let worker_median = median(ours);
    println!(
        "deliveries/s (median of {reps} × {events}): worker {worker_median:.0}, plain client {:.0}, ratio {:.2} (target ≥ 0.5)",
        median(plain),
        median(ratios)
    );

    // The steady load: half the worker's measured rate, so the queue stays short.
    let load = (worker_median / 2.0).max(1.0);
    let ms = latencies(&store, &tenant, &mut seen, load, events).await;
    println!(
        "event-to-delivery latency at {load:.0} events/s over {events} events: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        percentile(&ms, 1.0)
    );
    store.close().await;
}
