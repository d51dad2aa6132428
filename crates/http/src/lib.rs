//! openmonime's HTTP API: Monime's wire conventions, the authorization pipeline, and thin handlers
//! over the store.
//!
//! [`app`] builds the whole application as a `Router`, so tests drive exactly what production
//! serves; [`serve`] runs it on a listener until a shutdown signal.

pub mod access_log;
pub mod auth;
pub mod background;
pub mod client_ip;
pub mod delivery;
pub mod denials;
pub mod envelope;
pub mod error;
pub mod geoip;
pub mod handlers;
pub mod idempotency;
pub mod json;
pub mod leak_keys;
pub mod openapi;
pub mod pages;
pub mod payout_worker;
mod protocol_errors;
pub mod rail;
pub mod ratelimit;
pub mod server;
pub mod state;
pub mod usage;
pub mod views;
pub mod wire;

pub use state::{AppState, ServerConfig};

use axum::middleware::from_fn_with_state;
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
        .route("/secret-scanning/github", axum::routing::post(handlers::token_reports::github))
        .route("/token-reports", axum::routing::post(handlers::token_reports::public))
        .merge(api)
        .merge(pages::routes())
        .merge(extra)
        .fallback(wire::not_found)
        .method_not_allowed_fallback(wire::method_not_allowed)
        .route_layer(CatchPanicLayer::custom(wire::panic_response))
        // Applied to each route and the fallbacks, after routing: `wire` sees the matched route.
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
    use background::{Background, First};
    let background = Background::default();
    background.until_stopped(auth::cache::follow_changes(
        state.auth.clone(),
        state.store.clone(),
        state.config.change_poll,
        state.config.cache_ttl,
    ));
    let limiter = state.limiter.clone();
    background.until_stopped(async move { limiter.connect_cluster().await });
    let (limiter, pruned) = (state.limiter.clone(), state.clone());
    background.every(std::time::Duration::from_secs(60), First::AtStart, move || {
        limiter.prune();
        pruned.sign_in.prune();
        std::future::ready(())
    });
    let store = state.store.clone();
    background
        .every(std::time::Duration::from_secs(3600), First::AtStart, move || purge_idempotency_records(store.clone()));
    let (usage, store) = (state.usage.clone(), state.store.clone());
    background.every(state.config.usage_flush, First::AfterOnePeriod, move || {
        let (usage, store) = (usage.clone(), store.clone());
        async move { usage.flush(&store).await }
    });
    let (denials, store) = (state.denials.clone(), state.store.clone());
    background.every(state.config.denial_flush, First::AfterOnePeriod, move || {
        let (denials, store) = (denials.clone(), store.clone());
        async move { denials.flush(&store).await }
    });
    let store = state.store.clone();
    background.every(state.config.sweep_every, First::AtStart, move || sweep_due(store.clone()));
    let (store, rails) = (state.store.clone(), state.config.rails.clone());
    background.every(state.config.sweep_every, First::AtStart, move || {
        let (store, rails) = (store.clone(), rails.clone());
        async move {
            match payout_worker::settle_due(&store, &rails, None, payout_worker::BATCH).await {
                Ok(ended) if ended > 0 => tracing::info!(ended, "payouts settled"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the payout worker's run failed"),
            }
        }
    });
    let store = state.store.clone();
    background.every(std::time::Duration::from_secs(60), First::AtStart, move || {
        let store = store.clone();
        async move {
            match store.sweep_token_lifecycle(openmonime_domain::time_fmt::now()).await {
                Ok(swept) if swept.announced + swept.idle_expired > 0 => {
                    tracing::info!(
                        announced = swept.announced,
                        idle_expired = swept.idle_expired,
                        "token lifecycle swept"
                    )
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "the token lifecycle sweep failed"),
            }
        }
    });
    if state.config.leak_keys.url.is_some() {
        let keys = state.config.leak_keys.clone();
        background.every(leak_keys::REFRESH_EVERY, First::AtStart, move || {
            let keys = keys.clone();
            async move {
                match keys.refresh().await {
                    Ok(count) => tracing::info!(keys = count, "secret-scanning keys refreshed"),
                    Err(error) => tracing::warn!(%error, "secret-scanning keys not refreshed; keeping the ones held"),
                }
            }
        });
    }
    if state.config.delivery.enabled {
        let worker = delivery::Worker::new(
            state.store.clone(),
            state.config.delivery.clone(),
            state.config.webhook_allow_networks.clone(),
            state.clock.clone(),
            state.alerts.clone(),
            state.config.public_url.clone(),
        );
        background.until_done(move |stop| worker.run(stop));
        let (store, clock) = (state.store.clone(), state.clock.clone());
        background.every(std::time::Duration::from_secs(3600), First::AtStart, move || {
            purge_delivery_log(store.clone(), clock.now())
        });
    }
    let result = server::run(listener, app(state.clone()), &state.config, shutdown).await;
    // Stopped, not aborted: a batch being written now is finished, then what remains is written.
    background.stop().await;
    state.usage.flush(&state.store).await;
    state.denials.flush(&state.store).await;
    result
}

/// How many due objects of each kind one sweep settles; the rest wait for the next.
const SWEEP_BATCH: u32 = 500;

/// Fires what fell due on every tenant's clock (see `store::collections::sweep`).
async fn sweep_due(store: openmonime_store::Store) {
    match store.sweep_due(None, SWEEP_BATCH).await {
        Ok(swept) if swept != Default::default() => tracing::info!(
            expired_codes = swept.expired_codes,
            expired_otps = swept.expired_otps,
            completed_payments = swept.completed_payments,
            "due collections settled"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "sweep of due collections failed"),
    }
}

/// Deletes the delivery log past its retention.
async fn purge_delivery_log(store: openmonime_store::Store, now: time::OffsetDateTime) {
    match store.purge_delivery_log(now).await {
        Ok(n) if n > 0 => tracing::info!(purged = n, "expired delivery log entries deleted"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "delivery log purge failed"),
    }
}

/// Deletes idempotency records past their retention.
async fn purge_idempotency_records(store: openmonime_store::Store) {
    match store.purge_idempotency().await {
        Ok(n) if n > 0 => tracing::info!(purged = n, "expired idempotency records deleted"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
    }
}
