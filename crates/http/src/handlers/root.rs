//! `GET /`: who the platform thinks you are. Always 200, never enveloped; an invalid token is
//! simply "not authenticated". Serialized from borrowed structs: it is the hottest route.

use crate::auth::{authenticate, requested_version, ClientIp};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde::Serialize;
use std::net::IpAddr;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Root {
    platform: &'static str,
    tagline: &'static str,
    status: Status,
    api_version: Option<ApiVersionInfo>,
    request_origin: RequestOrigin,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    environment: Option<&'static str>,
    is_authenticated: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiVersionInfo {
    id: &'static str,
    release: Release,
    deprecated: bool,
    api_schemas: ApiSchemas,
}

#[derive(Serialize)]
struct Release {
    name: &'static str,
    date: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiSchemas {
    open_api: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestOrigin {
    country: Option<String>,
    ip_address: IpAddr,
}

pub async fn root(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
) -> Result<Json<Root>, crate::error::ApiError> {
    let caller = match authenticate(&state, &headers, ip).await {
        Ok(found) => Some(found),
        // A presented token that fails counts against the per-IP failed-authentication limit, as on
        // `/v1`: otherwise this route would be an unthrottled validity oracle.
        Err(_) if headers.contains_key(axum::http::header::AUTHORIZATION) => {
            state.limiter.failed_authentication(ip).map_err(crate::auth::too_many)?;
            None
        }
        Err(_) => None,
    };
    let api_version = caller.as_ref().map(|found| {
        let version = requested_version(&headers).ok().flatten().unwrap_or(found.token.api_version);
        let (name, date) = version.release();
        ApiVersionInfo {
            id: version.id(),
            release: Release { name, date },
            deprecated: version.deprecated(),
            api_schemas: ApiSchemas {
                open_api: format!("{}/openapi.json", state.config.public_url.trim_end_matches('/')),
            },
        }
    });
    Ok(Json(Root {
        platform: "Monime - Ⓜ️",
        tagline: "APIs Beyond Payments ⚡️⚙️💰️",
        status: Status {
            environment: caller.as_ref().map(|f| f.token.environment.as_str()),
            is_authenticated: caller.is_some(),
        },
        api_version,
        request_origin: RequestOrigin { country: state.geoip.as_ref().and_then(|g| g.country(ip)), ip_address: ip },
    }))
}
