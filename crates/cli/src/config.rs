//! Settings from flags, environment variables and an optional TOML file, in that order of
//! precedence (a flag wins over its variable, which wins over the file, which wins over defaults).

use clap::Args;
use ipnet::IpNet;
use openmonime_http::client_ip::ClientIpHeader;
use openmonime_http::ratelimit::PerEnvironment;
use openmonime_http::ServerConfig;
use openmonime_store::secret_url::SecretUrl;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_DATABASE: &str = "sqlite:openmonime.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite:PATH` (default `sqlite:openmonime.db`) or `postgres://…`.
    #[arg(long, env = "OPENMONIME_DATABASE_URL", global = true)]
    pub database: Option<SecretUrl>,
    /// TOML configuration file.
    #[arg(long, env = "OPENMONIME_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log format: `human` or `json`.
    #[arg(long, env = "OPENMONIME_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "OPENMONIME_LISTEN")]
    pub listen: Option<String>,
    /// Public base URL, used in links the API returns (default http://LISTEN).
    #[arg(long, env = "OPENMONIME_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// MaxMind-format country database (.mmdb) for `requestOrigin.country`.
    #[arg(long, env = "OPENMONIME_GEOIP_DB")]
    pub geoip_db: Option<PathBuf>,
    /// The countries, banks and momos the catalogue routes serve: a JSON file in the shape of the
    /// shipped one (crates/http/catalogue.json), which is used without it.
    #[arg(long, env = "OPENMONIME_CATALOGUE")]
    pub catalogue: Option<PathBuf>,
    /// The fees charged on payments: a TOML file with a `default` schedule and per-Space ones
    /// (see docs/collections.md). Without it, payments pay no fees.
    #[arg(long, env = "OPENMONIME_FEES")]
    pub fees: Option<PathBuf>,
    /// GitHub's secret-scanning keys, as GitHub publishes them (a JSON key document): without
    /// them (or a URL), `POST /secret-scanning/github` answers 503.
    #[arg(long, env = "OPENMONIME_SECRET_SCANNING_KEYS")]
    pub secret_scanning_keys: Option<PathBuf>,
    /// Where to fetch that key document again, at start and every 6 hours (GitHub's is
    /// https://api.github.com/meta/public_keys/secret_scanning); the keys held stay when it fails.
    #[arg(long, env = "OPENMONIME_SECRET_SCANNING_KEYS_URL")]
    pub secret_scanning_keys_url: Option<String>,
    /// A proxy range whose forwarding headers are trusted (repeatable; comma-separated in the variable).
    #[arg(long = "trusted-proxy", env = "OPENMONIME_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpNet>,
    /// A network webhooks may deliver to although it is private, loopback or otherwise refused in
    /// live (repeatable; comma-separated in the variable).
    #[arg(long = "webhook-allow-network", env = "OPENMONIME_WEBHOOK_ALLOW_NETWORKS", value_delimiter = ',')]
    pub webhook_allow_networks: Vec<IpNet>,
    /// The one forwarding header the trusted proxy appends to: `x-forwarded-for` (default) or
    /// `forwarded`; the other is then ignored entirely.
    #[arg(long, env = "OPENMONIME_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<ClientIpHeader>,
    /// Largest accepted request body in bytes (default 65536).
    #[arg(long, env = "OPENMONIME_BODY_LIMIT")]
    pub body_limit: Option<usize>,
    /// Redis URL: rate limits then hold across every node sharing it.
    #[arg(long, env = "OPENMONIME_REDIS_URL")]
    pub redis_url: Option<SecretUrl>,
    /// `on` (default) or `off`: turn every rate limit off (load tests, trusted networks).
    #[arg(long, env = "OPENMONIME_RATE_LIMITS")]
    pub rate_limits: Option<String>,
    /// Per-token requests/second as LIVE,TEST (default 100,25; 0 disables).
    #[arg(long, env = "OPENMONIME_RATE_LIMIT_TOKEN")]
    pub rate_limit_token: Option<String>,
    /// Per-Space requests/second as LIVE,TEST (default 200,50).
    #[arg(long, env = "OPENMONIME_RATE_LIMIT_SPACE")]
    pub rate_limit_space: Option<String>,
    /// Per-endpoint-per-token requests/second as LIVE,TEST (default 20,5: Monime's figures).
    #[arg(long, env = "OPENMONIME_RATE_LIMIT_ENDPOINT")]
    pub rate_limit_endpoint: Option<String>,
    /// Failed authentications allowed per client IP per minute (default 20).
    #[arg(long, env = "OPENMONIME_AUTH_FAILURES_PER_MINUTE")]
    pub auth_failures_per_minute: Option<u32>,
    /// Longest a request head may take to arrive, like `10s` or `500ms` (default 10s).
    #[arg(long, env = "OPENMONIME_HEADER_TIMEOUT")]
    pub header_timeout: Option<String>,
    /// Longest a request body may take to arrive after its head (default 30s).
    #[arg(long, env = "OPENMONIME_BODY_TIMEOUT")]
    pub body_timeout: Option<String>,
    /// A connection on which nothing moves this long is closed (default 60s).
    #[arg(long, env = "OPENMONIME_IDLE_TIMEOUT")]
    pub idle_timeout: Option<String>,
    /// Most connections served at once (default 10000, kept below the open-files limit).
    #[arg(long, env = "OPENMONIME_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Longest SIGTERM waits for open connections before exiting (default 20s).
    #[arg(long, env = "OPENMONIME_DRAIN_TIMEOUT")]
    pub drain_timeout: Option<String>,
    /// `on` (default) or `off`: whether this node delivers webhooks (every node queues them).
    #[arg(long, env = "OPENMONIME_WEBHOOK_DELIVERIES")]
    pub webhook_deliveries: Option<String>,
    /// How long a node holds a delivery it is attempting; a node that dies loses its deliveries
    /// to the others after this (default 30s, at least the 15s attempt timeout).
    #[arg(long, env = "OPENMONIME_WEBHOOK_LEASE")]
    pub webhook_lease: Option<String>,
    /// SMTP server for the mail sent to a webhook's `alertEmails` when it is disabled:
    /// `smtp://host:port` (plain), `smtp://host?tls=required` (STARTTLS) or `smtps://host`, with
    /// credentials as `smtp://user:password@host`. Without it no alert mail is sent.
    #[arg(long, env = "OPENMONIME_SMTP_URL")]
    pub smtp_url: Option<SecretUrl>,
    /// The sender of alert mail (default `openmonime <openmonime@localhost>`).
    #[arg(long, env = "OPENMONIME_ALERT_FROM")]
    pub alert_from: Option<String>,
}

fn per_environment(flag: &str, raw: &str) -> Result<PerEnvironment, String> {
    let bad = || format!("--{flag} must be LIVE,TEST requests per second, like 20,5");
    let (live, test) = raw.split_once(',').ok_or_else(bad)?;
    Ok(PerEnvironment { live: live.trim().parse().map_err(|_| bad())?, test: test.trim().parse().map_err(|_| bad())? })
}

/// A duration: a number with the unit `ms`, `s` or `m` (seconds when bare).
fn duration(flag: &str, raw: &str) -> Result<Duration, String> {
    use openmonime_domain::duration::{parse, Unit};
    parse(raw.trim(), &[Unit::Millis, Unit::Seconds, Unit::Minutes], Some(Unit::Seconds))
        .ok_or_else(|| format!("--{flag} must be a positive duration like 10s, 500ms or 2m, not `{raw}`"))
}

/// A duration in the TOML file: a string like `"10s"`, or a bare number of seconds.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum FileDuration {
    Seconds(u64),
    Text(String),
}

impl FileDuration {
    fn text(self) -> String {
        match self {
            FileDuration::Seconds(n) => n.to_string(),
            FileDuration::Text(s) => s,
        }
    }
}

/// The optional TOML file; every key mirrors a flag.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    database: Option<SecretUrl>,
    log_format: Option<String>,
    listen: Option<String>,
    public_url: Option<String>,
    geoip_db: Option<PathBuf>,
    catalogue: Option<PathBuf>,
    fees: Option<PathBuf>,
    secret_scanning_keys: Option<PathBuf>,
    secret_scanning_keys_url: Option<String>,
    #[serde(default)]
    trusted_proxies: Vec<IpNet>,
    #[serde(default)]
    webhook_allow_networks: Vec<IpNet>,
    client_ip_header: Option<String>,
    body_limit: Option<usize>,
    redis_url: Option<SecretUrl>,
    rate_limits: Option<String>,
    rate_limit_token: Option<String>,
    rate_limit_space: Option<String>,
    rate_limit_endpoint: Option<String>,
    auth_failures_per_minute: Option<u32>,
    header_timeout: Option<FileDuration>,
    body_timeout: Option<FileDuration>,
    idle_timeout: Option<FileDuration>,
    max_connections: Option<usize>,
    drain_timeout: Option<FileDuration>,
    webhook_deliveries: Option<String>,
    webhook_lease: Option<FileDuration>,
    smtp_url: Option<SecretUrl>,
    alert_from: Option<String>,
}

fn load_file(path: &Option<PathBuf>) -> Result<FileConfig, String> {
    match path {
        None => Ok(FileConfig::default()),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            toml::from_str(&text).map_err(|e| format!("invalid config file {}: {e}", path.display()))
        }
    }
}

pub struct DatabaseSettings {
    pub database: SecretUrl,
    pub log_format: String,
    /// The server's public URL as the file (or `OPENMONIME_PUBLIC_URL`) gives it, for the links
    /// admin commands print (default `http://LISTEN`).
    pub public_url: String,
}

impl DatabaseArgs {
    pub fn resolve(&self) -> Result<DatabaseSettings, String> {
        let file = load_file(&self.config)?;
        Ok(DatabaseSettings {
            database: self.database.clone().or(file.database).unwrap_or_else(|| SecretUrl::from(DEFAULT_DATABASE)),
            log_format: self.log_format.clone().or(file.log_format).unwrap_or_else(|| "human".into()),
            public_url: std::env::var("OPENMONIME_PUBLIC_URL")
                .ok()
                .filter(|u| !u.is_empty())
                .or(file.public_url)
                .unwrap_or_else(|| {
                    format!(
                        "http://{}",
                        std::env::var("OPENMONIME_LISTEN")
                            .ok()
                            .or(file.listen)
                            .unwrap_or_else(|| DEFAULT_LISTEN.into())
                    )
                }),
        })
    }
}

pub struct ServeSettings {
    pub database: SecretUrl,
    pub log_format: String,
    pub listen: String,
    pub geoip_db: Option<PathBuf>,
    pub server: ServerConfig,
    /// Where alert mail goes out, if configured.
    pub smtp_url: Option<SecretUrl>,
    pub alert_from: String,
}

impl ServeArgs {
    pub fn resolve(&self) -> Result<ServeSettings, String> {
        let file = load_file(&self.db.config)?;
        let listen = self.listen.clone().or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into());
        let public_url = self.public_url.clone().or(file.public_url).unwrap_or_else(|| format!("http://{listen}"));
        let mut server = ServerConfig { public_url, ..ServerConfig::default() };
        server.trusted_proxies =
            if self.trusted_proxies.is_empty() { file.trusted_proxies } else { self.trusted_proxies.clone() };
        server.webhook_allow_networks = if self.webhook_allow_networks.is_empty() {
            file.webhook_allow_networks
        } else {
            self.webhook_allow_networks.clone()
        };
        if let Some(header) = self.client_ip_header {
            server.client_ip_header = header;
        } else if let Some(raw) = file.client_ip_header {
            server.client_ip_header = raw.parse()?;
        }
        if let Some(limit) = self.body_limit.or(file.body_limit) {
            server.body_limit = limit;
        }
        let limits = &mut server.rate_limits;
        limits.redis_url = self.redis_url.clone().or(file.redis_url);
        match self.rate_limits.clone().or(file.rate_limits).as_deref() {
            None | Some("on") => {}
            Some("off") => limits.enabled = false,
            Some(other) => return Err(format!("--rate-limits must be `on` or `off`, not `{other}`")),
        }
        if let Some(raw) = self.rate_limit_token.clone().or(file.rate_limit_token) {
            limits.token = per_environment("rate-limit-token", &raw)?;
        }
        if let Some(raw) = self.rate_limit_space.clone().or(file.rate_limit_space) {
            limits.space = per_environment("rate-limit-space", &raw)?;
        }
        if let Some(raw) = self.rate_limit_endpoint.clone().or(file.rate_limit_endpoint) {
            limits.endpoint = per_environment("rate-limit-endpoint", &raw)?;
        }
        if let Some(n) = self.auth_failures_per_minute.or(file.auth_failures_per_minute) {
            limits.auth_failures_per_minute = n;
        }
        let timeouts = [
            ("header-timeout", &self.header_timeout, file.header_timeout, &mut server.header_timeout),
            ("body-timeout", &self.body_timeout, file.body_timeout, &mut server.body_timeout),
            ("idle-timeout", &self.idle_timeout, file.idle_timeout, &mut server.idle_timeout),
            ("drain-timeout", &self.drain_timeout, file.drain_timeout, &mut server.drain_timeout),
            ("webhook-lease", &self.webhook_lease, file.webhook_lease, &mut server.delivery.lease),
        ];
        for (flag, given, from_file, setting) in timeouts {
            if let Some(raw) = given.clone().or(from_file.map(FileDuration::text)) {
                *setting = duration(flag, &raw)?;
            }
        }
        if server.delivery.lease < server.delivery.attempt_timeout {
            return Err("--webhook-lease must be at least the 15s attempt timeout".into());
        }
        match self.webhook_deliveries.clone().or(file.webhook_deliveries).as_deref() {
            None | Some("on") => {}
            Some("off") => server.delivery.enabled = false,
            Some(other) => return Err(format!("--webhook-deliveries must be `on` or `off`, not `{other}`")),
        }
        match self.max_connections.or(file.max_connections) {
            Some(0) => return Err("--max-connections must be at least 1".into()),
            Some(n) => server.max_connections = n,
            None => {}
        }
        if let Some(path) = self.catalogue.clone().or(file.catalogue) {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read the catalogue {}: {e}", path.display()))?;
            let catalogue = openmonime_http::views::catalogue::Catalogue::parse(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            server.catalogue = std::sync::Arc::new(catalogue);
        }
        if let Some(path) = self.fees.clone().or(file.fees) {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("cannot read the fees {}: {e}", path.display()))?;
            let fees: openmonime_domain::fees::FeeConfig =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            fees.check().map_err(|e| format!("{}: {e}", path.display()))?;
            server.fees = std::sync::Arc::new(fees);
        }
        let keys_url = self.secret_scanning_keys_url.clone().or(file.secret_scanning_keys_url);
        let keys = match self.secret_scanning_keys.clone().or(file.secret_scanning_keys) {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read the secret-scanning keys {}: {e}", path.display()))?;
                openmonime_domain::leak_report::SigningKeys::parse(&text)
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => Default::default(),
        };
        server.leak_keys = openmonime_http::leak_keys::LeakKeys::new(keys, keys_url);
        Ok(ServeSettings {
            database: self.db.database.clone().or(file.database).unwrap_or_else(|| SecretUrl::from(DEFAULT_DATABASE)),
            log_format: self.db.log_format.clone().or(file.log_format).unwrap_or_else(|| "human".into()),
            listen,
            geoip_db: self.geoip_db.clone().or(file.geoip_db),
            server,
            smtp_url: self.smtp_url.clone().or(file.smtp_url),
            alert_from: self
                .alert_from
                .clone()
                .or(file.alert_from)
                .unwrap_or_else(|| "openmonime <openmonime@localhost>".into()),
        })
    }
}

/// The logging set up by [`init_logging`]: keep it alive until exit so the last lines are
/// flushed.
pub struct Logging {
    _guard: tracing_appender::non_blocking::WorkerGuard,
    writer: tracing_appender::non_blocking::NonBlocking,
    format: openmonime_http::access_log::LineFormat,
    ansi: bool,
}

/// The request log's lines, into the same background writer as every other line (so their order
/// holds).
struct StderrLines(tracing_appender::non_blocking::NonBlocking);

impl openmonime_http::access_log::LineSink for StderrLines {
    fn write_line(&self, line: &[u8]) {
        use std::io::Write;
        let _ = self.0.clone().write_all(line);
    }
}

impl Logging {
    /// How the server writes its request log: off when `RUST_LOG` excludes it, as a `tracing`
    /// event on a terminal (coloured like the rest), and otherwise formatted by the server itself
    /// in the same layout (see `openmonime_http::access_log`).
    pub fn access_log(&self) -> openmonime_http::access_log::AccessLog {
        use openmonime_http::access_log::AccessLog;
        if !tracing::enabled!(target: "openmonime::request", tracing::Level::INFO) {
            return AccessLog::Off;
        }
        if self.ansi {
            return AccessLog::Tracing;
        }
        AccessLog::Lines { format: self.format, sink: std::sync::Arc::new(StderrLines(self.writer.clone())) }
    }
}

/// Human lines (coloured only on a terminal), or one JSON object per line; level from `RUST_LOG`
/// (default info). Lines are written by a background thread so a request never waits on a
/// `write` to stderr.
pub fn init_logging(format: &str) -> Logging {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into());
    let ansi = std::io::stderr().is_terminal();
    // The background thread flushes after each batch it drains, so under load one `write` carries
    // many lines instead of one syscall per line, and an idle server's lines still appear at once.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer.clone()).with_ansi(ansi);
    let json = format == "json";
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
    let format = if json {
        openmonime_http::access_log::LineFormat::Json
    } else {
        openmonime_http::access_log::LineFormat::Human
    };
    Logging { _guard: guard, writer, format, ansi }
}

#[cfg(test)]
mod tests {
    use super::duration;
    use std::time::Duration;

    #[test]
    fn durations_take_a_unit_or_mean_seconds() {
        assert_eq!(duration("f", "10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("f", "7"), Ok(Duration::from_secs(7)));
        assert_eq!(duration("f", "250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("f", "2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "0", "0s", "s", "1h", "-1s", "1.5s", "99999999999999999999m"] {
            assert!(duration("f", bad).is_err(), "{bad}");
        }
    }

    /// Settings that hold a credential-bearing URL can be logged or printed: their `Debug` shows
    /// the URL without its password, from flags and from the file alike.
    #[test]
    fn settings_never_show_a_password_in_debug() {
        use clap::Parser;
        #[derive(Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            serve: super::ServeArgs,
        }
        let cli = Cli::parse_from([
            "openmonime",
            "--database",
            "postgres://app:s3cr3t@db/openmonime",
            "--redis-url",
            "redis://:hunter2@cache:6379",
        ]);
        let file: super::FileConfig =
            toml::from_str("database = \"postgres://app:s3cr3t@db/x\"\nredis-url = \"redis://:hunter2@c\"").unwrap();
        let settings =
            super::DatabaseArgs { database: Some("postgres://app:s3cr3t@db/x".into()), config: None, log_format: None }
                .resolve()
                .unwrap();
        let limits = cli.serve.resolve().unwrap().server.rate_limits;
        for text in [format!("{cli:?}"), format!("{file:?}"), format!("{:?}", settings.database), format!("{limits:?}")]
        {
            assert!(!text.contains("s3cr3t") && !text.contains("hunter2"), "{text}");
            assert!(text.contains("***"), "{text}");
        }
        assert_eq!(settings.database.expose(), "postgres://app:s3cr3t@db/x");
    }
}
