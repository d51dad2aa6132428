//! The `openmonime` binary: `serve`, `migrate`, and `admin …`, sharing one configuration.

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
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Operator commands that work on the database directly.
    Admin(admin::AdminArgs),
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
            Command::Serve(args) => serve(args).await,
            Command::Migrate(args) => {
                let settings = args.resolve()?;
                let _logging = config::init_logging(&settings.log_format);
                let store = Store::open(&settings.database, StoreOptions::default())
                    .await
                    .map_err(|e| format!("migration failed: {e}"))?;
                store.close().await;
                println!("migrations applied");
                Ok(())
            }
            Command::Admin(args) => admin::run(args).await,
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
    let settings = args.resolve()?;
    let _logging = config::init_logging(&settings.log_format);
    let store = Store::open(&settings.database, StoreOptions::default())
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
    let state = openmonime_http::AppState::new(store.clone(), settings.server, geoip);
    openmonime_http::serve(listener, state, shutdown_signal()).await.map_err(|e| e.to_string())?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
