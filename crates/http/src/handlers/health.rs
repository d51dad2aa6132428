//! Operator probes outside `/v1`: liveness and readiness.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

/// A probe's answer: `{"status": "ok"}` or `{"status": "ready"}`.
#[derive(Serialize)]
pub struct Probe {
    status: &'static str,
}

/// The process is up.
pub async fn healthz() -> Json<Probe> {
    Json(Probe { status: "ok" })
}

/// The process can reach its database.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Probe>, ApiError> {
    match state.store.ping().await {
        Ok(()) => Ok(Json(Probe { status: "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database_unreachable", "the database is not reachable"))
        }
    }
}
