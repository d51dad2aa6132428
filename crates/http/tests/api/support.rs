//! The test-app builder: spawn a server, create people, Spaces and tokens, and send requests.

pub mod openapi;
pub mod receiver;

use openmonime_domain::entities::{NewAccessToken, Tenant};
use openmonime_domain::ids::{FinancialAccountId, MonimeerId, SpaceId};
use openmonime_domain::permission::PermissionSet;
pub use openmonime_domain::role::RoleName;
use openmonime_domain::version::ApiVersion;
use openmonime_domain::{time_fmt, token, Environment};
use openmonime_http::{AppState, ServerConfig};
use openmonime_store::backend::StoreOptions;
pub use openmonime_store::journal::Actor;
use openmonime_store::Store;
use serde_json::Value;
use std::net::SocketAddr;
use tokio::sync::OnceCell;

/// The PostgreSQL database shared by this test process, created once.
static POSTGRES: OnceCell<String> = OnceCell::const_new();

/// Creates a uniquely named database on the server named by `admin_url` and returns its URL.
async fn fresh_postgres_database(admin_url: &str) -> String {
    let name = format!("openmonime_test_{}", openmonime_domain::ids::random_base62(10).to_lowercase());
    let admin = Store::connect(admin_url, StoreOptions { max_connections: 1, ..Default::default() })
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin.pool()).await.expect("create test database");
    admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').expect("postgres URL with a database name");
    format!("{base}/{name}")
}

/// The database URL for a new test app.
pub async fn database_url(dir: &tempfile::TempDir) -> String {
    match std::env::var("OPENMONIME_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => POSTGRES.get_or_init(|| fresh_postgres_database(&url)).await.clone(),
        _ => format!("sqlite:{}", dir.path().join("test.db").display()),
    }
}

/// A running server with its own database (or its own Spaces in a shared PostgreSQL database).
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
    /// The database this node uses; [`TestApp::another_node`] starts a second node on it.
    pub database_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// `config` with rate limits off and a delivery worker that polls often.
fn delivering(mut config: ServerConfig) -> ServerConfig {
    config.rate_limits.enabled = false;
    config.delivery.poll = std::time::Duration::from_millis(50);
    config
}

/// A Monimeer who owns a fresh Space.
#[derive(Clone)]
pub struct Owner {
    pub monimeer: MonimeerId,
    pub space: SpaceId,
}

/// Options for minting a token in a test.
#[derive(Clone)]
pub struct TokenSpec {
    pub environment: Environment,
    pub permissions: PermissionSet,
    pub space: Option<SpaceId>,
    pub allowed_ips: Vec<ipnet::IpNet>,
    pub expires_at: Option<time::OffsetDateTime>,
}

impl Default for TokenSpec {
    fn default() -> Self {
        TokenSpec {
            environment: Environment::Test,
            permissions: PermissionSet::all(),
            space: None,
            allowed_ips: vec![],
            expires_at: None,
        }
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(ServerConfig::default(), None).await
    }

    /// A server with `config`, rate limits off (most tests send bursts; the rate-limit tests use
    /// [`TestApp::spawn_rate_limited`]).
    pub async fn spawn_with(mut config: ServerConfig, geoip: Option<openmonime_http::geoip::GeoIp>) -> TestApp {
        config.rate_limits.enabled = false;
        Self::start(config, geoip).await
    }

    /// A server with a database of its own even on PostgreSQL, for a test whose background
    /// workers must not share work with other tests' servers (in the shared database, any
    /// node's payout worker sends every pending payout at once).
    pub async fn spawn_alone(mut config: ServerConfig) -> TestApp {
        config.rate_limits.enabled = false;
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match std::env::var("OPENMONIME_TEST_DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => fresh_postgres_database(&url).await,
            _ => database_url(&dir).await,
        };
        Self::start_on(dir, url, config, None).await
    }

    /// A server that enforces `config.rate_limits` as given.
    pub async fn spawn_rate_limited(config: ServerConfig) -> TestApp {
        Self::start(config, None).await
    }

    async fn start(config: ServerConfig, geoip: Option<openmonime_http::geoip::GeoIp>) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = database_url(&dir).await;
        Self::start_on(dir, url, config, geoip).await
    }

    /// A second server on this one's database: another node of the same deployment.
    pub async fn another_node(&self, config: ServerConfig) -> TestApp {
        Self::start_on(tempfile::tempdir().expect("temp dir"), self.database_url.clone(), config, None).await
    }

    /// Another node of this deployment with rate limits off, like every test app's.
    pub async fn another_unlimited_node(&self, mut config: ServerConfig) -> TestApp {
        config.rate_limits.enabled = false;
        self.another_node(config).await
    }

    /// A server whose delivery worker reads `clock` and mails alerts through `alerts`; the
    /// worker polls every 50 ms, so a test waits little for what the clock makes due.
    pub async fn spawn_delivering(
        config: ServerConfig,
        clock: std::sync::Arc<dyn openmonime_http::delivery::Clock>,
        alerts: openmonime_http::delivery::alerts::Alerts,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        // A worker leases due deliveries of every tenant in its database, so on PostgreSQL a
        // delivering app gets a database of its own: in the shared one, another test's worker
        // (on its own stepped clock) would make this test's attempts.
        let url = match std::env::var("OPENMONIME_TEST_DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => fresh_postgres_database(&url).await,
            _ => database_url(&dir).await,
        };
        Self::start_full(dir, url, delivering(config), None, clock, alerts).await
    }

    /// Another node on this one's database, delivering by `clock`.
    pub async fn another_delivering_node(
        &self,
        config: ServerConfig,
        clock: std::sync::Arc<dyn openmonime_http::delivery::Clock>,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_full(dir, self.database_url.clone(), delivering(config), None, clock, Default::default()).await
    }

    async fn start_on(
        dir: tempfile::TempDir,
        url: String,
        config: ServerConfig,
        geoip: Option<openmonime_http::geoip::GeoIp>,
    ) -> TestApp {
        let clock = std::sync::Arc::new(openmonime_http::delivery::SystemClock);
        Self::start_full(dir, url, config, geoip, clock, Default::default()).await
    }

    async fn start_full(
        dir: tempfile::TempDir,
        url: String,
        config: ServerConfig,
        geoip: Option<openmonime_http::geoip::GeoIp>,
        clock: std::sync::Arc<dyn openmonime_http::delivery::Clock>,
        alerts: openmonime_http::delivery::alerts::Alerts,
    ) -> TestApp {
        let store = Store::open(&url, StoreOptions::default()).await.expect("open store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let config = ServerConfig { public_url: format!("http://{addr}"), ..config };
        let state = AppState::with_delivery(store, config, geoip, clock, alerts);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let server = tokio::spawn(async move {
            openmonime_http::serve(listener, served, async {
                let _ = rx.await;
            })
            .await
            .expect("server");
        });
        TestApp {
            addr,
            state,
            client: reqwest::Client::new(),
            database_url: url,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
        }
    }

    /// Shuts the server down as a signal would, and waits until `serve` has returned.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server task");
        }
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A new Monimeer owning a new Space.
    pub async fn owner(&self) -> Owner {
        let m = self.store().create_monimeer("Test Owner", None).await.unwrap();
        let s = self.store().create_space("Test Space", &m.id, &Actor::Operator).await.unwrap();
        Owner { monimeer: m.id, space: s.id }
    }

    /// A new Monimeer added to `space` with `role`.
    pub async fn member(&self, space: &SpaceId, role: &str) -> MonimeerId {
        let m = self.store().create_monimeer("Test Member", None).await.unwrap();
        self.store().add_member(space, &m.id, &RoleName::stored(role), &Actor::Operator).await.unwrap();
        m.id
    }

    /// Mints and stores a token; returns its plaintext and id.
    pub async fn token_with(
        &self,
        monimeer: &MonimeerId,
        spec: TokenSpec,
    ) -> (String, openmonime_domain::ids::TokenId) {
        let minted = token::generate(spec.environment);
        let new = NewAccessToken {
            monimeer_id: monimeer.clone(),
            name: "test".into(),
            environment: spec.environment,
            permissions: spec.permissions,
            space_id: spec.space,
            allowed_ips: spec.allowed_ips,
            expires_at: spec.expires_at,
            api_version: ApiVersion::LATEST,
            created_by: None,
            amount_limits: Vec::new(),
        };
        let stored = self.store().create_token(&new, &minted.hash, &minted.hint, &Actor::Operator).await.unwrap();
        (minted.plaintext.expose().to_owned(), stored.id)
    }

    /// An all-permission test token for `monimeer`.
    pub async fn token(&self, monimeer: &MonimeerId) -> String {
        self.token_with(monimeer, TokenSpec::default()).await.0
    }

    /// An all-permission live token for `monimeer`: members, roles and policies span both
    /// environments, so only a live token may change them.
    pub async fn live_token(&self, monimeer: &MonimeerId) -> String {
        self.token_with(monimeer, TokenSpec { environment: Environment::Live, ..TokenSpec::default() }).await.0
    }

    /// A request with the token and Space headers set.
    pub fn req(&self, method: reqwest::Method, path: &str, token: &str, space: &SpaceId) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(token).header("Monime-Space-Id", space.as_str())
    }

    /// The `main` account of a Space in an environment.
    pub async fn main_account(&self, space: &SpaceId, environment: Environment) -> FinancialAccountId {
        let tenant = Tenant { space_id: space.clone(), environment };
        let page = self
            .store()
            .list_accounts(
                &tenant,
                &openmonime_store::ledger::AccountFilter { reference: Some("main".into()), uvan: None },
                openmonime_store::PageRequest { after: None, limit: 1 },
            )
            .await
            .unwrap();
        page.items[0].id.clone()
    }

    /// Credits an account the way an operator does.
    pub async fn fund(&self, space: &SpaceId, environment: Environment, account: &FinancialAccountId, amount: i64) {
        let tenant = Tenant { space_id: space.clone(), environment };
        self.store().credit_account(&tenant, account, amount, None, &Actor::Operator).await.unwrap();
    }
}

impl TestApp {
    /// Moves the test clock of `space`'s test environment on by `seconds`; returns its view.
    pub async fn advance_test_clock(&self, token: &str, space: &SpaceId, seconds: i64) -> Value {
        let body = serde_json::json!({"seconds": seconds});
        let (status, _, res) = send(self.post("/v1/test-helpers/clock/advance", token, space, &body)).await;
        assert_eq!(status, 200, "advance: {res}");
        res["result"].clone()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Sends and returns status, headers and JSON body.
pub async fn send(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is not JSON: {text}"));
    (status, headers, body)
}

/// Asserts the error envelope with the given status and reason; returns the `error` object.
pub fn assert_error(status: u16, body: &Value, want_status: u16, want_reason: &str) -> Value {
    assert_documented(want_reason);
    assert_eq!(status, want_status, "status for {body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["messages"], serde_json::json!([]), "{body}");
    assert_eq!(body["error"]["code"], want_status, "{body}");
    assert_eq!(body["error"]["reason"], want_reason, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(body["error"]["details"].is_array(), "{body}");
    for detail in body["error"]["details"].as_array().unwrap() {
        if let Some(reason) = detail["reason"].as_str() {
            assert_documented(reason);
        }
    }
    body["error"].clone()
}

/// Every reason a test expects must be in the reason table of docs/api.md, so the table cannot
/// fall behind the code.
pub fn assert_documented(reason: &str) {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md")).expect("docs/api.md")
    });
    assert!(doc.contains(&format!("`{reason}`")), "reason `{reason}` is not documented in docs/api.md");
}

/// Says on the real stderr (not the test harness's captured one) that a test did not run.
pub fn say_skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// The PostgreSQL URL under test, or `None` after saying loudly that `test` was skipped. With
/// `OPENMONIME_REQUIRE_POSTGRES=1` (CI) a missing URL fails the test instead.
pub fn postgres_or_skip(test: &str) -> Option<String> {
    match std::env::var("OPENMONIME_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => Some(url),
        _ if std::env::var("OPENMONIME_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
            panic!("{test} needs PostgreSQL: set OPENMONIME_TEST_DATABASE_URL")
        }
        _ => {
            say_skipped(test, "needs PostgreSQL (set OPENMONIME_TEST_DATABASE_URL=postgres://…)");
            None
        }
    }
}

pub fn now_plus(d: time::Duration) -> Option<time::OffsetDateTime> {
    Some(time_fmt::now() + d)
}

/// A fresh random `Idempotency-Key`.
pub fn idem_key() -> String {
    format!("key-{}", openmonime_domain::ids::random_base62(20))
}

/// A permission set from a list.
pub fn perms(list: &[openmonime_domain::permission::Permission]) -> PermissionSet {
    list.iter().copied().collect()
}

/// Polls `check` until it returns true or `within` has passed; returns whether it became true.
/// For changes made directly in the store, which reach the server through the change feed.
pub async fn eventually<F, Fut>(within: std::time::Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

impl TestApp {
    /// A creating POST with a fresh `Idempotency-Key` and a JSON body.
    pub fn post(&self, path: &str, token: &str, space: &SpaceId, body: &Value) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::POST, path, token, space).header("Idempotency-Key", idem_key()).json(body)
    }

    /// A PATCH with a JSON body.
    pub fn patch(&self, path: &str, token: &str, space: &SpaceId, body: &Value) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::PATCH, path, token, space).json(body)
    }

    /// A GET.
    pub fn get(&self, path: &str, token: &str, space: &SpaceId) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::GET, path, token, space)
    }

    /// Creates a financial account through the API; returns the `result`.
    pub async fn create_account(&self, token: &str, space: &SpaceId, body: Value) -> Value {
        let (status, _, res) = send(self.post("/v1/financial-accounts", token, space, &body)).await;
        assert_eq!(status, 200, "create account: {res}");
        res["result"].clone()
    }

    /// Creates an internal transfer through the API; returns the `result` (completed or failed).
    pub async fn transfer(&self, token: &str, space: &SpaceId, from: &str, to: &str, value: i64) -> Value {
        let body = serde_json::json!({
            "amount": {"currency": "SLE", "value": value},
            "sourceFinancialAccount": {"id": from},
            "destinationFinancialAccount": {"id": to},
        });
        let (status, _, res) = send(self.post("/v1/internal-transfers", token, space, &body)).await;
        assert_eq!(status, 200, "create transfer: {res}");
        res["result"].clone()
    }

    /// An account's available balance as the API reports it.
    pub async fn balance(&self, token: &str, space: &SpaceId, account: &str) -> i64 {
        let (status, _, res) =
            send(self.get(&format!("/v1/financial-accounts/{account}?withBalance=true"), token, space)).await;
        assert_eq!(status, 200, "get account: {res}");
        res["result"]["balance"]["available"]["value"].as_i64().expect("balance value")
    }

    /// Every item of a list endpoint, following `pagination.next` (`query` may be empty).
    pub async fn list_all(&self, path: &str, query: &str, token: &str, space: &SpaceId) -> Vec<Value> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut url = format!("{path}?limit=50{query}");
            if let Some(a) = &after {
                url.push_str(&format!("&after={a}"));
            }
            let (status, _, res) = send(self.get(&url, token, space)).await;
            assert_eq!(status, 200, "list {url}: {res}");
            items.extend(res["result"].as_array().expect("result array").iter().cloned());
            match res["pagination"]["next"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => return items,
            }
        }
    }
}
