//! The `openmonime` binary: `serve`, `migrate`, and `admin …`, sharing one configuration.

#![forbid(unsafe_code)]

mod admin;
mod config;
mod quickstart;

use clap::{Parser, Subcommand};
use config::{DatabaseArgs, ServeArgs};
use openmonime_store::backend::StoreOptions;
use openmonime_store::Store;
use std::process::ExitCode;

/// A request allocates and frees many small objects, often on different threads (a response built
/// on one worker, a log line written by another); mimalloc's per-thread free lists keep that off
/// glibc's arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "openmonime", version, about = "An open, self-hostable implementation of the Monime API platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server.
    // Boxed, as is `Admin`: their flags outweigh the other commands' many times over.
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Operator commands that work on the database directly.
    Admin(Box<admin::AdminArgs>),
    /// Print the OpenAPI document this server serves at /openapi.json.
    Openapi {
        /// The server URL to put in the document.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        public_url: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            Command::Migrate(args) => {
                let settings = args.resolve()?;
                let _logging = config::init_logging(&settings.log_format);
                let store = Store::open(settings.database.expose(), StoreOptions::default())
                    .await
                    .map_err(|e| format!("migration failed: {e}"))?;
                store.close().await;
                println!("migrations applied");
                Ok(())
            }
            Command::Admin(args) => admin::run(*args).await,
            Command::Openapi { public_url } => {
                let document =
                    openmonime_http::openapi::document(&openmonime_http::handlers::route_table(), &public_url);
                println!("{}", serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?);
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let mut settings = args.resolve()?;
    let logging = config::init_logging(&settings.log_format);
    settings.server.access_log = logging.access_log();
    // Installed before the port opens: a SIGTERM that arrives as soon as the server is reachable
    // must already mean "drain and exit 0", not the default kill.
    let shutdown = shutdown_signal();
    let store = Store::open(settings.database.expose(), StoreOptions::default())
        .await
        .map_err(|e| format!("cannot open database: {e}"))?;
    quickstart::ensure(&store, &settings.server.public_url, &settings.log_format)
        .await
        .map_err(|e| format!("quick-start setup failed: {e}"))?;
    let geoip = match &settings.geoip_db {
        Some(path) => Some(openmonime_http::geoip::GeoIp::open(path)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(listen = %local, backend = ?store.backend(), "openmonime serving");
    let alerts = match &settings.smtp_url {
        Some(url) => openmonime_http::delivery::alerts::Alerts::smtp(url.expose(), &settings.alert_from)?,
        None => {
            tracing::warn!("no SMTP server configured (--smtp-url): a disabled webhook's alertEmails get no mail");
            openmonime_http::delivery::alerts::Alerts::none()
        }
    };
    if !settings.server.delivery.enabled {
        tracing::info!("webhook deliveries are off on this node (--webhook-deliveries off)");
    }
    let state = openmonime_http::AppState::with_delivery(
        store.clone(),
        settings.server,
        geoip,
        std::sync::Arc::new(openmonime_http::delivery::SystemClock),
        alerts,
    );
    openmonime_http::serve(listener, state, shutdown).await.map_err(|e| e.to_string())?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Installs the SIGINT and SIGTERM handlers now; the future completes on either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    // Spawned so that the SIGINT handler is installed now too; if it cannot be, only SIGTERM stops us.
    let interrupt = tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    });
    async move {
        #[cfg(unix)]
        let terminate = async move {
            match terminate {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = interrupt => {},
            _ = terminate => {},
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
    }
}
