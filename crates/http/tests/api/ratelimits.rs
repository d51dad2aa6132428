//! Issue 5: Monime's chained rate limits (token, Space, endpoint), the failed-authentication
//! throttle, and cluster-wide limits through Redis with per-node fallback.

use crate::support::*;
use openmonime_http::ratelimit::{PerEnvironment, RateLimits};
use openmonime_http::ServerConfig;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const OFF: PerEnvironment = PerEnvironment { live: 0, test: 0 };

fn limits(token: PerEnvironment, space: PerEnvironment, endpoint: PerEnvironment) -> ServerConfig {
    ServerConfig {
        rate_limits: RateLimits { token, space, endpoint, auth_failures_per_minute: 0, ..RateLimits::default() },
        ..ServerConfig::default()
    }
}

fn test_rate(n: u32) -> PerEnvironment {
    PerEnvironment { live: 1000, test: n }
}

async fn assert_limited(res: reqwest::Response, which: &str) {
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["monime-rate-limit"], which);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_error(429, &body, 429, "rate_limited");
}

#[tokio::test]
async fn the_endpoint_limit_counts_per_endpoint_per_token() {
    let app = TestApp::spawn_rate_limited(limits(OFF, OFF, test_rate(2))).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    for _ in 0..2 {
        assert_eq!(
            app.req(Method::GET, "/v1/financial-accounts", &token, &owner.space).send().await.unwrap().status(),
            200
        );
    }
    assert_limited(
        app.req(Method::GET, "/v1/financial-accounts", &token, &owner.space).send().await.unwrap(),
        "endpoint-limit",
    )
    .await;
    assert_eq!(
        app.req(Method::GET, "/v1/internal-transfers", &token, &owner.space).send().await.unwrap().status(),
        200,
        "another endpoint has its own budget"
    );
    let other = app.token(&owner.monimeer).await;
    assert_eq!(
        app.req(Method::GET, "/v1/financial-accounts", &other, &owner.space).send().await.unwrap().status(),
        200,
        "another token has its own budget"
    );
}

#[tokio::test]
async fn the_token_and_space_limits_span_endpoints_and_tokens() {
    let app = TestApp::spawn_rate_limited(limits(test_rate(2), OFF, OFF)).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    assert_eq!(
        app.req(Method::GET, "/v1/financial-accounts", &token, &owner.space).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        app.req(Method::GET, "/v1/internal-transfers", &token, &owner.space).send().await.unwrap().status(),
        200
    );
    assert_limited(
        app.req(Method::GET, "/v1/financial-transactions", &token, &owner.space).send().await.unwrap(),
        "token-limit",
    )
    .await;

    let app = TestApp::spawn_rate_limited(limits(OFF, test_rate(2), OFF)).await;
    let owner = app.owner().await;
    let a = app.token(&owner.monimeer).await;
    let b = app.token(&owner.monimeer).await;
    assert_eq!(app.req(Method::GET, "/v1/financial-accounts", &a, &owner.space).send().await.unwrap().status(), 200);
    assert_eq!(app.req(Method::GET, "/v1/financial-accounts", &b, &owner.space).send().await.unwrap().status(), 200);
    assert_limited(
        app.req(Method::GET, "/v1/internal-transfers", &a, &owner.space).send().await.unwrap(),
        "space-limit",
    )
    .await;
    let elsewhere = app.owner().await;
    let c = app.token(&elsewhere.monimeer).await;
    assert_eq!(
        app.req(Method::GET, "/v1/financial-accounts", &c, &elsewhere.space).send().await.unwrap().status(),
        200,
        "another Space is unaffected"
    );
}

#[tokio::test]
async fn a_refused_request_has_no_side_effects() {
    let app = TestApp::spawn_rate_limited(limits(OFF, OFF, test_rate(1))).await;
    let owner = app.owner().await;
    let token = app.token(&owner.monimeer).await;
    let create = |key: &str| {
        app.req(Method::POST, "/v1/financial-accounts", &token, &owner.space)
            .header("Idempotency-Key", key)
            .json(&json!({"name": "n", "currency": "SLE"}))
    };
    assert_eq!(create("a").send().await.unwrap().status(), 200);
    assert_limited(create("b").send().await.unwrap(), "endpoint-limit").await;
    let tenant = openmonime_domain::entities::Tenant {
        space_id: owner.space.clone(),
        environment: openmonime_domain::Environment::Test,
    };
    let page = app
        .store()
        .list_accounts(&tenant, &Default::default(), openmonime_store::PageRequest { after: None, limit: 50 })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2, "main + the one admitted create");
}

#[tokio::test]
async fn failed_authentications_are_throttled_per_client_ip() {
    let config = ServerConfig {
        rate_limits: RateLimits { auth_failures_per_minute: 3, ..RateLimits::default() },
        ..ServerConfig::default()
    };
    let app = TestApp::spawn_rate_limited(config).await;
    let owner = app.owner().await;
    let bogus = openmonime_domain::token::generate(openmonime_domain::Environment::Test);
    for _ in 0..3 {
        let (status, _, body) =
            send(app.req(Method::GET, "/v1/financial-accounts", bogus.plaintext.expose(), &owner.space)).await;
        assert_error(status, &body, 401, "token_unknown");
    }
    let res =
        app.req(Method::GET, "/v1/financial-accounts", bogus.plaintext.expose(), &owner.space).send().await.unwrap();
    assert_limited(res, "auth-failure-limit").await;
    let good = app.token(&owner.monimeer).await;
    assert_eq!(
        app.req(Method::GET, "/v1/financial-accounts", &good, &owner.space).send().await.unwrap().status(),
        200,
        "valid tokens still pass"
    );
}

/// A throwaway Redis server on a free port, stopped on drop.
struct TempRedis {
    port: u16,
    child: std::process::Child,
}

impl TempRedis {
    fn start(port: Option<u16>) -> Option<TempRedis> {
        let port =
            port.unwrap_or_else(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(TempRedis { port, child });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for TempRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis_or_skip(test: &str) -> Option<TempRedis> {
    let redis = TempRedis::start(None);
    if redis.is_none() {
        if std::env::var("OPENMONIME_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
            panic!("{test} needs redis-server on PATH");
        }
        say_skipped(test, "needs redis-server on PATH");
    }
    redis
}

fn clustered(redis: &TempRedis, endpoint: PerEnvironment) -> ServerConfig {
    let mut config = limits(OFF, OFF, endpoint);
    config.rate_limits.redis_url = Some(redis.url().into());
    config
}

async fn wait_clustered(app: &TestApp) {
    for _ in 0..100 {
        if app.state.limiter.is_clustered() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the node never reached Redis");
}

#[tokio::test]
async fn with_redis_the_limits_hold_across_nodes() {
    let Some(redis) = redis_or_skip("with_redis_the_limits_hold_across_nodes") else { return };
    let a = TestApp::spawn_rate_limited(clustered(&redis, test_rate(2))).await;
    let b = a.another_node(clustered(&redis, test_rate(2))).await;
    wait_clustered(&a).await;
    wait_clustered(&b).await;
    let owner = a.owner().await;
    let token = a.token(&owner.monimeer).await;
    assert_eq!(a.req(Method::GET, "/v1/financial-accounts", &token, &owner.space).send().await.unwrap().status(), 200);
    assert_eq!(b.req(Method::GET, "/v1/financial-accounts", &token, &owner.space).send().await.unwrap().status(), 200);
    assert_limited(
        a.req(Method::GET, "/v1/financial-accounts", &token, &owner.space).send().await.unwrap(),
        "endpoint-limit",
    )
    .await;
    assert_limited(
        b.req(Method::GET, "/v1/financial-accounts", &token, &owner.space).send().await.unwrap(),
        "endpoint-limit",
    )
    .await;
}

#[tokio::test]
async fn when_redis_goes_away_nodes_limit_on_their_own_and_resume_when_it_returns() {
    let Some(redis) = redis_or_skip("when_redis_goes_away_nodes_limit_on_their_own_and_resume_when_it_returns") else {
        return;
    };
    let port = redis.port;
    let a = TestApp::spawn_rate_limited(clustered(&redis, test_rate(2))).await;
    wait_clustered(&a).await;
    let owner = a.owner().await;
    let token = a.token(&owner.monimeer).await;
    drop(redis);

    // Redis is gone: requests are still served, and the node's own limit still applies.
    assert_eq!(a.req(Method::GET, "/v1/internal-transfers", &token, &owner.space).send().await.unwrap().status(), 200);
    assert!(!a.state.limiter.is_clustered());
    assert_eq!(a.req(Method::GET, "/v1/internal-transfers", &token, &owner.space).send().await.unwrap().status(), 200);
    assert_limited(
        a.req(Method::GET, "/v1/internal-transfers", &token, &owner.space).send().await.unwrap(),
        "endpoint-limit",
    )
    .await;

    // Redis returns: cluster enforcement resumes within about a second.
    let _back = TempRedis::start(Some(port)).expect("restart redis");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut resumed = false;
    for _ in 0..40 {
        let _ = a.req(Method::GET, "/v1/financial-transactions", &token, &owner.space).send().await.unwrap();
        if a.state.limiter.is_clustered() {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(resumed, "cluster enforcement did not resume");
}
