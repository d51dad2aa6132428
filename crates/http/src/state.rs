//! What every request shares: the store, the authorization cache, the GeoIP reader, the settings.

use crate::auth::cache::AuthCache;
use crate::geoip::GeoIp;
use ipnet::IpNet;
use openmonime_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// Server settings that handlers and middleware read.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Base URL clients reach this server at; used in links the API returns.
    pub public_url: String,
    /// Proxies whose forwarding headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Networks webhooks may deliver to although `webhook_destination` would refuse them.
    pub webhook_allow_networks: Vec<IpNet>,
    /// The one forwarding header a trusted proxy appends to; the other is ignored entirely.
    pub client_ip_header: crate::client_ip::ClientIpHeader,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// How often the change feed is polled for authorization changes made elsewhere.
    pub change_poll: Duration,
    /// Entries per authorization cache (tokens, roles).
    pub cache_capacity: usize,
    /// Rate limits (Monime's documented figures by default).
    pub rate_limits: crate::ratelimit::RateLimits,
    /// How often coalesced denials are written to the audit log (see `denials`).
    pub denial_flush: Duration,
    /// How often gathered token usage is written (see `usage`).
    pub usage_flush: Duration,
    /// Longest a cached authorization is trusted without a change-feed confirmation.
    pub cache_ttl: Duration,
    /// Longest an HTTP/1 request head may take to arrive (also the longest quiet wait for the
    /// next request on a kept-alive connection); past it the connection is closed.
    pub header_timeout: Duration,
    /// Longest a request body may take to arrive after its head; past it, 408 `request_timeout`.
    pub body_timeout: Duration,
    /// A connection on which no byte moves for this long is closed (see `server`).
    pub idle_timeout: Duration,
    /// Most connections served at once; kept below the open-files limit.
    pub max_connections: usize,
    /// Longest a shutdown waits for open connections to finish.
    pub drain_timeout: Duration,
    /// How this node delivers webhooks.
    pub delivery: crate::delivery::DeliveryConfig,
    /// The countries, banks and momos the catalogue routes serve.
    pub catalogue: std::sync::Arc<crate::views::catalogue::Catalogue>,
    /// How each environment reaches the providers.
    pub rails: crate::rail::Rails,
    /// The fees charged on payments, per Space (none by default).
    pub fees: std::sync::Arc<openmonime_domain::fees::FeeConfig>,
    /// How often this node fires what fell due: expiries, late payment confirmations.
    pub sweep_every: Duration,
    /// The keys that sign GitHub's secret-scanning reports (none: that route answers 503).
    pub leak_keys: crate::leak_keys::LeakKeys,
    /// How the one line per request is written (a `tracing` event unless the binary says).
    pub access_log: crate::access_log::AccessLog,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            public_url: "http://127.0.0.1:8080".into(),
            trusted_proxies: Vec::new(),
            webhook_allow_networks: Vec::new(),
            client_ip_header: crate::client_ip::ClientIpHeader::XForwardedFor,
            body_limit: 64 * 1024,
            change_poll: Duration::from_millis(250),
            cache_capacity: 100_000,
            rate_limits: crate::ratelimit::RateLimits::default(),
            denial_flush: Duration::from_secs(2),
            usage_flush: crate::usage::FLUSH_EVERY,
            cache_ttl: Duration::from_secs(60),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: crate::server::default_max_connections(),
            drain_timeout: Duration::from_secs(20),
            delivery: crate::delivery::DeliveryConfig::default(),
            catalogue: std::sync::Arc::default(),
            rails: crate::rail::Rails::default(),
            fees: std::sync::Arc::default(),
            sweep_every: Duration::from_secs(1),
            leak_keys: crate::leak_keys::LeakKeys::default(),
            access_log: crate::access_log::AccessLog::default(),
        }
    }
}

/// One per server; a clone is one reference-count increment, since every request clones it.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] points to.
pub struct Shared {
    pub store: Store,
    pub config: Arc<ServerConfig>,
    pub auth: Arc<AuthCache>,
    pub geoip: Option<Arc<GeoIp>>,
    pub usage: Arc<crate::usage::UsageRecorder>,
    pub limiter: Arc<crate::ratelimit::Limiter>,
    pub denials: Arc<crate::denials::DenialLog>,
    /// The delivery worker's clock (the system's but in tests that drive the retry schedule).
    pub clock: Arc<dyn crate::delivery::Clock>,
    /// Where a disabled webhook's alert mail goes out.
    pub alerts: crate::delivery::alerts::Alerts,
    /// The whole application, built once, for pages that send a form on as an API call (the
    /// handset simulator): building it per request would make every such request, refused or
    /// not, cost the server far more than an answer. It holds this state in turn, so it lives
    /// as long as the server does.
    pub inner_app: std::sync::OnceLock<axum::Router>,
    /// Console sign-in attempts, limited per address and per account.
    pub sign_in: crate::pages::console::sign_in::Limits,
    /// `Monime-Request-Checksum` of bodyless requests by method and path (see `wire`).
    pub checksums: quick_cache::sync::Cache<(axum::http::Method, String), axum::http::HeaderValue>,
    /// `GET /`'s answers but for the caller's address, serialized once.
    pub root_answers: crate::handlers::root::Answers,
}

impl AppState {
    pub fn new(store: Store, config: ServerConfig, geoip: Option<GeoIp>) -> Self {
        Self::with_delivery(store, config, geoip, Arc::new(crate::delivery::SystemClock), Default::default())
    }

    /// As [`AppState::new`], with the delivery worker's clock and alert mail given.
    pub fn with_delivery(
        store: Store,
        config: ServerConfig,
        geoip: Option<GeoIp>,
        clock: Arc<dyn crate::delivery::Clock>,
        alerts: crate::delivery::alerts::Alerts,
    ) -> Self {
        let auth = Arc::new(AuthCache::new(store.clone(), config.cache_capacity));
        let limiter = Arc::new(crate::ratelimit::Limiter::new(config.rate_limits.clone()));
        let root_answers = crate::handlers::root::Answers::new(&config.public_url);
        AppState(Arc::new(Shared {
            root_answers,
            store,
            config: Arc::new(config),
            auth,
            geoip: geoip.map(Arc::new),
            usage: Arc::default(),
            limiter,
            denials: Arc::default(),
            clock,
            alerts,
            inner_app: std::sync::OnceLock::new(),
            sign_in: Default::default(),
            checksums: quick_cache::sync::Cache::new(4096),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
