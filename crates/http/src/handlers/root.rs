//! `GET /`: who the platform thinks you are. Always 200, never enveloped; an invalid token is
//! simply "not authenticated". It is the hottest route: the fixed head of the answer (the
//! platform and its tagline, whose emoji made escaping them the costliest part of serializing)
//! is serialized once, and each answer serializes only what varies after it.

use crate::auth::{authenticate, requested_version, ClientIp};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Serialize;
use std::net::IpAddr;

/// The answer: [`Head`] (the same for every request), then [`Varying`], as one JSON object.
#[derive(Serialize)]
struct Head {
    platform: &'static str,
    tagline: &'static str,
}

const HEAD: Head = Head { platform: "Monime - Ⓜ️", tagline: "APIs Beyond Payments ⚡️⚙️💰️" };

/// The answer's fields after the head.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Varying {
    status: Status,
    api_version: Option<ApiVersionInfo>,
    request_origin: RequestOrigin,
}

/// `{"platform":…,"tagline":…,` serialized once: the head's object without its closing brace.
fn head() -> &'static [u8] {
    static HEAD_JSON: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    HEAD_JSON.get_or_init(|| {
        let mut json = serde_json::to_vec(&HEAD).unwrap_or_else(|_| b"{}".to_vec());
        json.pop();
        json.push(b',');
        json
    })
}

/// The whole answer's bytes: the head, then the varying fields' object without its opening brace.
fn answer(varying: &Varying) -> Vec<u8> {
    let head = head();
    let mut body = Vec::with_capacity(head.len() + 256);
    body.extend_from_slice(head);
    let start = body.len();
    if serde_json::to_writer(&mut body, varying).is_err() {
        body.truncate(start);
        body.extend_from_slice(b"{}");
    }
    body.remove(start);
    body
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
) -> Result<Response, crate::error::ApiError> {
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
    let varying = Varying {
        status: Status {
            environment: caller.as_ref().map(|f| f.token.environment.as_str()),
            is_authenticated: caller.is_some(),
        },
        api_version,
        request_origin: RequestOrigin { country: state.geoip.as_ref().and_then(|g| g.country(ip)), ip_address: ip },
    };
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], answer(&varying)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spliced answer is exactly what serializing the whole object at once gives.
    #[test]
    fn the_answer_is_one_object_in_field_order() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Whole<'a> {
            platform: &'static str,
            tagline: &'static str,
            #[serde(flatten)]
            rest: &'a Varying,
        }
        let varying = Varying {
            status: Status { environment: Some("test"), is_authenticated: true },
            api_version: Some(ApiVersionInfo {
                id: "caph.2025-08-23",
                release: Release { name: "caph", date: "2025-08-23" },
                deprecated: false,
                api_schemas: ApiSchemas { open_api: "http://x/openapi.json".into() },
            }),
            request_origin: RequestOrigin { country: Some("SL".into()), ip_address: "10.0.0.1".parse().unwrap() },
        };
        let whole = Whole { platform: HEAD.platform, tagline: HEAD.tagline, rest: &varying };
        assert_eq!(answer(&varying), serde_json::to_vec(&whole).unwrap());
        let parsed: serde_json::Value = serde_json::from_slice(&answer(&varying)).unwrap();
        assert_eq!(parsed["platform"], "Monime - Ⓜ️");
        assert_eq!(parsed["requestOrigin"]["ipAddress"], "10.0.0.1");
    }
}
