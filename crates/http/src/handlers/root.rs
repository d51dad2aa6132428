//! `GET /`: who the platform thinks you are. Always 200, never enveloped; an invalid token is
//! simply "not authenticated".

use crate::auth::{authenticate, requested_version, ClientIp};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde_json::{json, Value};

pub async fn root(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
) -> Json<Value> {
    let caller = authenticate(&state, &headers).await.ok();
    let (environment, api_version) = match &caller {
        None => (Value::Null, Value::Null),
        Some(found) => {
            let version = requested_version(&headers).ok().flatten().unwrap_or(found.token.api_version);
            let (name, date) = version.release();
            let openapi = format!("{}/openapi.json", state.config.public_url.trim_end_matches('/'));
            (
                json!(found.token.environment.as_str()),
                json!({
                    "id": version.id(),
                    "release": {"name": name, "date": date},
                    "deprecated": version.deprecated(),
                    "apiSchemas": {"openApi": openapi},
                }),
            )
        }
    };
    let country = state.geoip.as_ref().and_then(|g| g.country(ip));
    Json(json!({
        "platform": "Monime - Ⓜ️",
        "tagline": "APIs Beyond Payments ⚡️⚙️💰️",
        "status": {"environment": environment, "isAuthenticated": caller.is_some()},
        "apiVersion": api_version,
        "requestOrigin": {"country": country, "ipAddress": ip.to_string()},
    }))
}
