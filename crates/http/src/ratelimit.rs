//! Monime's chained rate limits — per token, per Space, per endpoint per token — checked before
//! the handler, plus a stricter limit on failed authentications per client IP.
//!
//! By default each node limits on its own (GCRA, in memory). With a Redis URL the three chained
//! limits hold across the cluster: one Lua script checks all three keys and consumes from them
//! only if all pass, so a refused request spends no budget. The per-node chain is the same
//! algorithm under one lock, all-or-nothing too (governor, used for the single-key
//! failed-authentication limit, cannot check several keys atomically). If Redis stops
//! answering, the node falls back to its own limits and keeps serving; it tries Redis again a
//! second later, and cluster enforcement resumes when Redis is back.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use openmonime_domain::Environment;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Requests per second in each environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerEnvironment {
    pub live: u32,
    pub test: u32,
}

impl PerEnvironment {
    fn get(self, env: Environment) -> u32 {
        match env {
            Environment::Live => self.live,
            Environment::Test => self.test,
        }
    }
}

/// The limits a node enforces. A rate of 0 disables that level.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub enabled: bool,
    /// All requests of one token.
    pub token: PerEnvironment,
    /// All requests into one Space (per environment).
    pub space: PerEnvironment,
    /// One endpoint for one token: Monime documents 20/s live and 5/s test.
    pub endpoint: PerEnvironment,
    /// Failed authentications per client IP per minute.
    pub auth_failures_per_minute: u32,
    /// Redis for cluster-wide limits; `None` limits each node on its own.
    pub redis_url: Option<openmonime_store::secret_url::SecretUrl>,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            enabled: true,
            token: PerEnvironment { live: 100, test: 25 },
            space: PerEnvironment { live: 200, test: 50 },
            endpoint: PerEnvironment { live: 20, test: 5 },
            auth_failures_per_minute: 20,
            redis_url: None,
        }
    }
}

/// Which limit refused a request, and when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Token(Duration),
    Space(Duration),
    Endpoint(Duration),
    AuthFailures(Duration),
}

impl Refusal {
    /// The `Monime-Rate-Limit` header value.
    pub fn header(self) -> &'static str {
        match self {
            Refusal::Token(_) => "token-limit",
            Refusal::Space(_) => "space-limit",
            Refusal::Endpoint(_) => "endpoint-limit",
            Refusal::AuthFailures(_) => "auth-failure-limit",
        }
    }

    pub fn retry_after(self) -> Duration {
        match self {
            Refusal::Token(d) | Refusal::Space(d) | Refusal::Endpoint(d) | Refusal::AuthFailures(d) => d,
        }
    }
}

/// The per-node chained limits: GCRA state (each key's theoretical arrival time, in nanoseconds
/// since the limiter started) for every token, Space and endpoint key, checked and consumed
/// together under one short lock — the same algorithm as [`CHAINED_GCRA`].
#[derive(Default)]
struct LocalChain {
    tats: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

/// One key of a chained check: the key, its rate per second, and the refusal it answers.
type Link = (String, u32, fn(Duration) -> Refusal);

impl LocalChain {
    /// Allows the request only if every link allows it; only then is every link charged.
    fn check(&self, now: u64, links: &[Link]) -> Result<(), Refusal> {
        let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = [0u64; 3];
        for (i, (key, rate, refusal)) in links.iter().enumerate() {
            let interval = 1_000_000_000 / u64::from(*rate);
            let tat = tats.get(key).copied().unwrap_or(now).max(now);
            let new_tat = tat.saturating_add(interval);
            let allow_at = new_tat.saturating_sub(interval.saturating_mul(u64::from(*rate)));
            if allow_at > now {
                return Err(refusal(Duration::from_nanos(allow_at - now)));
            }
            next[i] = new_tat;
        }
        for (i, (key, _, _)) in links.iter().enumerate() {
            tats.insert(key.clone(), next[i]);
        }
        Ok(())
    }

    /// Forgets keys whose budget is full again (their state equals a fresh key's).
    fn prune(&self, now: u64) {
        self.tats.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, tat| *tat > now);
    }
}

/// The cluster side: a Redis connection and the chained-check script.
struct Cluster {
    connection: redis::aio::ConnectionManager,
    script: redis::Script,
    /// Unix millis before which Redis is not tried again after a failure.
    retry_at: AtomicU64,
    degraded: AtomicBool,
}

/// GCRA over up to three keys, all-or-nothing. ARGV: now_ms, then per key: interval_ms, burst.
/// Returns 0 when allowed, else `level * 1e9 + wait_ms` for the first refusing level (1-based).
const CHAINED_GCRA: &str = r#"
local now = tonumber(ARGV[1])
local tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - interval * burst
  if allow_at > now then
    return i * 1000000000 + (allow_at - now)
  end
  tats[i] = new_tat
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], tats[i], 'PX', math.ceil(tats[i] - now) + 1000)
end
return 0
"#;

fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A node's rate limiter.
pub struct Limiter {
    config: RateLimits,
    local: LocalChain,
    /// The origin of the local chain's clock.
    started: std::time::Instant,
    auth_failures: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Set once Redis has answered (see [`Limiter::connect_cluster`]).
    cluster: std::sync::OnceLock<Cluster>,
}

impl Limiter {
    /// Builds a per-node limiter; [`Limiter::connect_cluster`] adds Redis later.
    pub fn new(config: RateLimits) -> Limiter {
        let auth_failures =
            NonZeroU32::new(config.auth_failures_per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Limiter {
            local: LocalChain::default(),
            started: std::time::Instant::now(),
            auth_failures,
            cluster: std::sync::OnceLock::new(),
            config,
        }
    }

    /// Connects to Redis when configured, retrying until it answers; meanwhile limits are per node.
    pub async fn connect_cluster(&self) {
        let Some(url) = self.config.redis_url.clone().filter(|_| self.config.enabled) else { return };
        let mut warned = false;
        loop {
            match Self::connect(url.expose()).await {
                Ok(connection) => {
                    let cluster = Cluster {
                        connection,
                        script: redis::Script::new(CHAINED_GCRA),
                        retry_at: AtomicU64::new(0),
                        degraded: AtomicBool::new(false),
                    };
                    let _ = self.cluster.set(cluster);
                    tracing::info!("rate limits are cluster-wide (Redis)");
                    return;
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(error = %e, "Redis unavailable; rate limits are per node until it answers");
                        warned = true;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn connect(url: &str) -> redis::RedisResult<redis::aio::ConnectionManager> {
        let client = redis::Client::open(url)?;
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(200)))
            .set_number_of_retries(1);
        redis::aio::ConnectionManager::new_with_config(client, cfg).await
    }

    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// True while cluster enforcement is in use (Redis configured and answering).
    pub fn is_clustered(&self) -> bool {
        self.cluster.get().is_some_and(|c| !c.degraded.load(Ordering::Relaxed))
    }

    /// The chained check for one authenticated request.
    pub async fn check(
        &self,
        env: Environment,
        token: &str,
        space: Option<&str>,
        endpoint: &str,
    ) -> Result<(), Refusal> {
        if !self.config.enabled {
            return Ok(());
        }
        if let Some(cluster) = self.cluster.get() {
            if now_millis() >= cluster.retry_at.load(Ordering::Relaxed) {
                match self.check_cluster(cluster, env, token, space, endpoint).await {
                    Ok(result) => {
                        if cluster.degraded.swap(false, Ordering::Relaxed) {
                            tracing::info!("Redis is back; rate limits are cluster-wide again");
                        }
                        return result;
                    }
                    Err(e) => {
                        cluster.retry_at.store(now_millis() + 1000, Ordering::Relaxed);
                        if !cluster.degraded.swap(true, Ordering::Relaxed) {
                            tracing::warn!(error = %e, "Redis unreachable; rate limits fall back to per node");
                        }
                    }
                }
            }
        }
        self.check_local(env, token, space, endpoint)
    }

    fn check_local(&self, env: Environment, token: &str, space: Option<&str>, endpoint: &str) -> Result<(), Refusal> {
        let mut links: Vec<Link> = Vec::with_capacity(3);
        let mut link = |rate: u32, key: String, refusal: fn(Duration) -> Refusal| {
            if rate > 0 {
                links.push((key, rate, refusal));
            }
        };
        link(self.config.token.get(env), format!("t:{token}"), Refusal::Token);
        if let Some(space) = space {
            link(self.config.space.get(env), format!("s:{space}:{}", env.as_str()), Refusal::Space);
        }
        link(self.config.endpoint.get(env), format!("e:{token}:{endpoint}"), Refusal::Endpoint);
        self.local.check(self.nanos(), &links)
    }

    fn nanos(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    async fn check_cluster(
        &self,
        cluster: &Cluster,
        env: Environment,
        token: &str,
        space: Option<&str>,
        endpoint: &str,
    ) -> redis::RedisResult<Result<(), Refusal>> {
        let levels = [
            (self.config.token.get(env), format!("om:rl:t:{token}"), 1u64),
            (
                space.map_or(0, |_| self.config.space.get(env)),
                format!("om:rl:s:{}:{}", space.unwrap_or(""), env.as_str()),
                2,
            ),
            (self.config.endpoint.get(env), format!("om:rl:e:{token}:{endpoint}"), 3),
        ];
        let mut invocation = cluster.script.prepare_invoke();
        invocation.arg(now_millis());
        let mut order = Vec::new();
        for (rate, key, level) in &levels {
            if *rate == 0 {
                continue;
            }
            invocation.key(key).arg(1000.0 / *rate as f64).arg(*rate);
            order.push(*level);
        }
        if order.is_empty() {
            return Ok(Ok(()));
        }
        let mut conn = cluster.connection.clone();
        let answer: f64 = tokio::time::timeout(Duration::from_millis(250), invocation.invoke_async(&mut conn))
            .await
            .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "timed out")))??;
        if answer <= 0.0 {
            return Ok(Ok(()));
        }
        let index = (answer / 1e9).floor() as usize;
        let wait = Duration::from_millis((answer % 1e9).ceil() as u64);
        Ok(Err(match order.get(index.saturating_sub(1)) {
            Some(1) => Refusal::Token(wait),
            Some(2) => Refusal::Space(wait),
            _ => Refusal::Endpoint(wait),
        }))
    }

    /// Counts a failed authentication from `ip`; refuses once the IP is over its budget.
    pub fn failed_authentication(&self, ip: IpAddr) -> Result<(), Refusal> {
        match (&self.auth_failures, self.config.enabled) {
            (Some(l), true) => {
                l.check_key(&ip).map_err(|n| Refusal::AuthFailures(n.wait_time_from(DefaultClock::default().now())))
            }
            _ => Ok(()),
        }
    }

    /// Forgets idle keys so memory stays bounded.
    pub fn prune(&self) {
        self.local.prune(self.nanos());
        if let Some(l) = &self.auth_failures {
            l.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(token: u32, space: u32, endpoint: u32) -> Limiter {
        let rates = |n| PerEnvironment { live: n, test: n };
        Limiter::new(RateLimits {
            token: rates(token),
            space: rates(space),
            endpoint: rates(endpoint),
            ..RateLimits::default()
        })
    }

    /// Issue 12, finding 18: a request one level refuses spends nothing at the others, as in
    /// the Redis script.
    #[test]
    fn a_refusal_at_one_level_charges_no_other() {
        let l = limiter(60, 0, 5);
        let mut served = 0;
        for _ in 0..60 {
            match l.check_local(Environment::Test, "tok", None, "GET /a") {
                Ok(()) => served += 1,
                Err(Refusal::Endpoint(_)) => {}
                Err(other) => panic!("only the endpoint level refuses here: {other:?}"),
            }
        }
        assert_eq!(served, 5);
        // The token spent 5 of its 60: another endpoint still gets its whole budget.
        let other = (0..5).filter(|_| l.check_local(Environment::Test, "tok", None, "GET /b").is_ok()).count();
        assert_eq!(other, 5);
    }

    #[test]
    fn the_chain_refuses_at_the_first_exhausted_level_and_prunes_full_keys() {
        let l = limiter(3, 100, 100);
        for _ in 0..3 {
            l.check_local(Environment::Live, "tok", Some("spc-1"), "GET /a").unwrap();
        }
        let refused = l.check_local(Environment::Live, "tok", Some("spc-1"), "GET /a").unwrap_err();
        assert!(matches!(refused, Refusal::Token(wait) if wait > Duration::ZERO && wait <= Duration::from_secs(1)));
        // The Space was charged 3 times, not 4: other tokens find 97 left.
        let admitted = (0..100)
            .filter(|i| l.check_local(Environment::Live, &format!("t{i}"), Some("spc-1"), "GET /a").is_ok())
            .count();
        assert_eq!(admitted, 97);
        l.prune();
        assert!(!l.local.tats.lock().unwrap().is_empty(), "keys still inside their window are kept");
    }
}
