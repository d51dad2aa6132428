//! `GET /`: who the platform thinks you are. Always 200, never enveloped; an invalid token is
//! simply "not authenticated". It is the hottest route, and all of its answer but the caller's
//! address and country is one of a handful of texts (anonymous, or a token's environment and API
//! version): those are serialized once per server ([`Answers`]), and each answer serializes only
//! its request origin after them.

use crate::auth::{authenticate, requested_version, ClientIp};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use openmonime_domain::environment::Environment;
use openmonime_domain::version::ApiVersion;
use serde::Serialize;
use std::net::IpAddr;

/// The whole answer, in field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    platform: &'static str,
    tagline: &'static str,
    status: Status,
    api_version: Option<ApiVersionInfo>,
    request_origin: RequestOrigin,
}

const PLATFORM: &str = "Monime - Ⓜ️";
const TAGLINE: &str = "APIs Beyond Payments ⚡️⚙️💰️";

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

/// Who asked, as far as the answer's fixed part goes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Caller {
    environment: Environment,
    version: ApiVersion,
}

/// The answer up to its request origin (`{"platform":…,"requestOrigin":`) for every kind of
/// caller, serialized when the server starts.
pub struct Answers {
    anonymous: Vec<u8>,
    authenticated: Vec<(Caller, Vec<u8>)>,
}

impl Answers {
    pub fn new(public_url: &str) -> Self {
        let open_api = format!("{}/openapi.json", public_url.trim_end_matches('/'));
        let anonymous = prefix(&whole(None, &open_api, PLACEHOLDER_ORIGIN));
        let authenticated = Environment::ALL
            .into_iter()
            .flat_map(|environment| ApiVersion::SUPPORTED.map(|version| Caller { environment, version }))
            .map(|caller| (caller, prefix(&whole(Some(caller), &open_api, PLACEHOLDER_ORIGIN))))
            .collect();
        Answers { anonymous, authenticated }
    }

    /// The answer for `caller` from `origin`.
    fn answer(&self, caller: Option<Caller>, origin: &RequestOrigin) -> Vec<u8> {
        let head = caller
            .and_then(|c| self.authenticated.iter().find(|(known, _)| *known == c))
            .map_or(&self.anonymous, |(_, head)| head);
        let mut body = Vec::with_capacity(head.len() + 64);
        body.extend_from_slice(head);
        if serde_json::to_writer(&mut body, origin).is_err() {
            body.extend_from_slice(b"null");
        }
        body.push(b'}');
        body
    }
}

/// Stands for the origin in the serialized prefixes, which end before it.
const PLACEHOLDER_ORIGIN: RequestOrigin =
    RequestOrigin { country: None, ip_address: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED) };

/// The answer as one object (what [`Answers`] splices must equal).
fn whole(caller: Option<Caller>, open_api: &str, origin: RequestOrigin) -> Answer {
    Answer {
        platform: PLATFORM,
        tagline: TAGLINE,
        status: Status { environment: caller.map(|c| c.environment.as_str()), is_authenticated: caller.is_some() },
        api_version: caller.map(|Caller { version, .. }| {
            let (name, date) = version.release();
            ApiVersionInfo {
                id: version.id(),
                release: Release { name, date },
                deprecated: version.deprecated(),
                api_schemas: ApiSchemas { open_api: open_api.to_owned() },
            }
        }),
        request_origin: origin,
    }
}

/// `answer`'s JSON cut just after `"requestOrigin":`.
fn prefix(answer: &Answer) -> Vec<u8> {
    let json = serde_json::to_vec(answer).unwrap_or_default();
    const KEY: &[u8] = b"\"requestOrigin\":";
    let cut = json.windows(KEY.len()).rposition(|w| w == KEY).map_or(json.len(), |at| at + KEY.len());
    json[..cut].to_vec()
}

pub async fn root(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    request: Request,
) -> Result<Response, crate::error::ApiError> {
    // Borrowed from the request: extracting a `HeaderMap` would clone every header.
    let headers = request.headers();
    let caller = match authenticate(&state, headers, ip).await {
        Ok(found) => Some(Caller {
            environment: found.token.environment,
            version: requested_version(headers).ok().flatten().unwrap_or(found.token.api_version),
        }),
        // A presented token that fails counts against the per-IP failed-authentication limit, as on
        // `/v1`: otherwise this route would be an unthrottled validity oracle.
        Err(_) if headers.contains_key(axum::http::header::AUTHORIZATION) => {
            state.limiter.failed_authentication(ip).map_err(crate::auth::too_many)?;
            None
        }
        Err(_) => None,
    };
    let origin = RequestOrigin { country: state.geoip.as_ref().and_then(|g| g.country(ip)), ip_address: ip };
    let body = state.root_answers.answer(caller, &origin);
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every spliced answer is exactly what serializing the whole object at once gives, for every
    /// kind of caller and origin.
    #[test]
    fn the_spliced_answer_is_the_whole_object() {
        let answers = Answers::new("http://x/");
        let callers = std::iter::once(None).chain(
            Environment::ALL
                .into_iter()
                .flat_map(|environment| ApiVersion::SUPPORTED.map(|version| Some(Caller { environment, version }))),
        );
        for caller in callers {
            for (country, ip) in [(Some("SL"), "10.0.0.1"), (None, "2001:db8::1"), (Some("\"x"), "127.0.0.1")] {
                let origin = || RequestOrigin { country: country.map(str::to_owned), ip_address: ip.parse().unwrap() };
                let spliced = answers.answer(caller, &origin());
                assert_eq!(spliced, serde_json::to_vec(&whole(caller, "http://x/openapi.json", origin())).unwrap());
                let parsed: serde_json::Value = serde_json::from_slice(&spliced).unwrap();
                assert_eq!(parsed["platform"], "Monime - Ⓜ️");
                assert_eq!(parsed["requestOrigin"]["ipAddress"], ip);
                assert_eq!(parsed["status"]["isAuthenticated"], caller.is_some());
            }
        }
    }
}
