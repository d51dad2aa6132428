//! openmonime's HTTP API: Monime's wire conventions, the authorization pipeline, and thin handlers
//! over the store.
//!
//! [`app`] builds the whole application as a `Router`, so tests drive exactly what production
//! serves; [`serve`] runs it on a listener until a shutdown signal.

pub mod auth;
pub mod client_ip;
pub mod denials;
pub mod envelope;
pub mod error;
pub mod geoip;
pub mod handlers;
pub mod idempotency;
pub mod json;
pub mod openapi;
mod protocol_errors;
pub mod ratelimit;
pub mod server;
pub mod state;
pub mod usage;
pub mod wire;

pub use state::{AppState, ServerConfig};

use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use axum::Router;
use std::future::Future;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

/// The whole application.
pub fn app(state: AppState) -> Router {
    app_with(state, Router::new())
}

/// The whole application with `extra` routes mounted inside the same layers (tests use it to
/// reach paths the product does not have, such as a handler that panics).
pub fn app_with(state: AppState, extra: Router<AppState>) -> Router {
    let (api, routes) = handlers::api_routes(state.clone()).finish();
    let document: axum::body::Bytes = serde_json::to_vec(&openapi::document(&routes, &state.config.public_url))
        .expect("the OpenAPI document serializes")
        .into();
    Router::new()
        .route("/", get(handlers::root::root))
        .route(
            "/openapi.json",
            get(move || {
                std::future::ready(([(axum::http::header::CONTENT_TYPE, "application/json")], document.clone()))
            }),
        )
        .route("/healthz", get(handlers::health::healthz))
        .route("/readyz", get(handlers::health::readyz))
        .merge(api)
        .merge(extra)
        .fallback(wire::not_found)
        .method_not_allowed_fallback(wire::method_not_allowed)
        // A panic becomes a response inside `remember_route`, so its log line still names the
        // route.
        .route_layer(CatchPanicLayer::custom(wire::panic_response))
        .route_layer(from_fn(wire::remember_route))
        .layer(from_fn_with_state(state.clone(), wire::wire))
        .with_state(state)
}

/// Serves until `shutdown` completes, then lets in-flight requests finish for at most the drain
/// timeout (connection handling, timeouts and the cap live in [`server`]). Also follows the
/// store's change feed so authorization changes made elsewhere take effect here.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let follower = tokio::spawn(auth::cache::follow_changes(
        state.auth.clone(),
        state.store.clone(),
        state.config.change_poll,
        state.config.cache_ttl,
    ));
    let purger = tokio::spawn(purge_idempotency_records(state.store.clone()));
    let usage = tokio::spawn(usage::flush_periodically(state.usage.clone(), state.store.clone()));
    let denials = tokio::spawn(denials::flush_periodically(
        state.denials.clone(),
        state.store.clone(),
        state.config.denial_flush,
    ));
    let limiter = state.limiter.clone();
    let limits = tokio::spawn(async move {
        limiter.connect_cluster().await;
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            ticker.tick().await;
            limiter.prune();
        }
    });
    let result = server::run(listener, app(state.clone()), &state.config, shutdown).await;
    follower.abort();
    purger.abort();
    usage.abort();
    limits.abort();
    denials.abort();
    state.usage.flush(&state.store).await;
    state.denials.flush(&state.store).await;
    result
}

/// Deletes idempotency records past their retention, hourly.
async fn purge_idempotency_records(store: openmonime_store::Store) {
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        ticker.tick().await;
        match store.purge_idempotency().await {
            Ok(n) if n > 0 => tracing::info!(purged = n, "expired idempotency records deleted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
        }
    }
}
