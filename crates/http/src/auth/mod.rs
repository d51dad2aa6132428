//! The authorization pipeline: one place that decides whether a request may proceed.
//!
//! Order (Monime's documented pipeline): the token (401 on any failure), then for Space-scoped
//! routes the Space (400 if the header is missing or malformed, 403 if unknown or not a member —
//! the same answer, so Space ids cannot be probed), the token's Space binding (403), the caller's
//! IP against the token's allowlist (403), and finally the permission against token ∩ role (403,
//! naming the permission and which side lacks it). Every route declares its [`Access`] where it is
//! registered (see [`routes`]); there is no way to register a `/v1` route without one.

pub mod cache;
pub mod routes;

use crate::error::{ApiError, ApiResult};
use crate::ratelimit::Refusal;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use openmonime_domain::entities::{SpacePolicy, Tenant};
use openmonime_domain::ids::{SpaceId, TokenId, ID_MAX_LEN};
use openmonime_domain::permission::{decide, MissingFrom, Permission};
use openmonime_domain::time_fmt;
use openmonime_domain::token::{self, TokenFormatError, TokenHash};
use openmonime_domain::version::ApiVersion;
use openmonime_store::identity::{ResolvedRole, TokenLookup};
use serde_json::json;
use std::net::IpAddr;
use std::sync::Arc;

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A Space-scoped route: `Monime-Space-Id` required; permission checked against token ∩ role.
    Space(Permission),
    /// A route outside any Space (catalogue, the caller's own tokens): the token's permission only.
    Account(Permission),
    /// Any valid token, no permission: only `GET /v1/me`, so a token can always ask what it may do.
    Authenticated,
}

impl Access {
    pub fn permission(self) -> Option<Permission> {
        match self {
            Access::Space(p) | Access::Account(p) => Some(p),
            Access::Authenticated => None,
        }
    }
}

/// The resolved client address of this request (see `client_ip`).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// Who is calling and in what scope; inserted by the pipeline, read by handlers.
#[derive(Clone)]
pub struct Caller {
    pub token: Arc<TokenLookup>,
    /// Present on Space-scoped routes.
    pub tenant: Option<Tenant>,
    pub role: Option<Arc<ResolvedRole>>,
    pub version: ApiVersion,
    pub ip: IpAddr,
}

/// The caller of a Space-scoped route, with its tenant (the Space and environment every query of
/// the request is scoped to). The route table registers a handler taking this only on a
/// Space-scoped route, where the pipeline always sets the tenant.
pub struct SpaceCaller {
    pub caller: Caller,
    pub tenant: Tenant,
}

impl std::ops::Deref for SpaceCaller {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SpaceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let mut caller = Caller::from_request_parts(parts, state).await?;
        match caller.tenant.take() {
            Some(tenant) => Ok(SpaceCaller { caller, tenant }),
            // Unreachable: `ApiRouter::route` refuses to register such a handler elsewhere.
            None => {
                tracing::error!("a SpaceCaller on a route without a Space");
                Err(ApiError::internal())
            }
        }
    }
}

impl crate::openapi::Describe for SpaceCaller {
    const NEEDS_SPACE: bool = true;
}

impl Caller {
    /// What this request may hand out: token ∩ role, its environment, whether it is retiring.
    pub fn authority(&self) -> openmonime_domain::grant::Authority {
        let role = self.role.as_ref().map(|r| r.permissions).unwrap_or_default();
        openmonime_domain::grant::Authority::of(&self.token.token, role)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Only reachable through the pipeline; a handler mounted without it is refused outright.
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::forbidden("route_not_permitted", "this route declares no permission and cannot be called")
        })
    }
}

/// The token id of an authenticated request, left in the response for the request log.
#[derive(Debug, Clone)]
pub struct LoggedTokenId(pub TokenId);

// Header names read on every request, as names: a `&str` key is parsed and validated on each
// look-up.
static MONIME_SPACE_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("monime-space-id");
static MONIME_VERSION: axum::http::HeaderName = axum::http::HeaderName::from_static("monime-version");
static SEC_FETCH_SITE: axum::http::HeaderName = axum::http::HeaderName::from_static("sec-fetch-site");

/// Headers that carry one value: a second copy is refused rather than resolved (first or last
/// wins would differ between this server and any proxy or log in front of it).
static SINGLE_VALUED: [axum::http::HeaderName; 5] = [
    axum::http::header::AUTHORIZATION,
    axum::http::HeaderName::from_static("monime-space-id"),
    axum::http::HeaderName::from_static("monime-version"),
    axum::http::HeaderName::from_static("idempotency-key"),
    axum::http::header::CONTENT_TYPE,
];

/// 400 `header_duplicated` when a single-valued header appears more than once. The wire layer runs
/// it before anything else, so no part of the server ever picks one of the copies.
pub fn refuse_duplicated_headers(headers: &HeaderMap) -> ApiResult<()> {
    // Every request pays this: when no header name repeats at all (the usual case), there is
    // nothing to look up.
    if headers.len() == headers.keys_len() {
        return Ok(());
    }
    for name in &SINGLE_VALUED {
        let mut values = headers.get_all(name).iter();
        if values.next().is_some() && values.next().is_some() {
            return Err(ApiError::bad_request(
                "header_duplicated",
                format!("the `{}` header was sent more than once; send it once", name.as_str()),
            )
            .with_detail(json!({"header": name.as_str()})));
        }
    }
    Ok(())
}

/// Reads `Authorization: Bearer <token>` and checks the token offline (format and checksum):
/// every 401 that needs no lookup.
pub fn presented_token(headers: &HeaderMap) -> ApiResult<&str> {
    let raw = headers.get(axum::http::header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized("authorization_missing", "send `Authorization: Bearer <access token>`")
    })?;
    // Bytes, not `to_str`: the token check below refuses anything that is not ASCII anyway, so a
    // garbage value is refused without a separate pass over it.
    let value = raw.as_bytes();
    // The scheme is case-insensitive (RFC 9110 §11.1): `Bearer`, `bearer` and `BEARER` alike.
    let presented = value
        .split_at_checked(7)
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|(_, rest)| rest.trim_ascii())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "authorization_malformed",
                "the Authorization header must be `Bearer <access token>`",
            )
        })?;
    let malformed = || {
        ApiError::unauthorized(
            "token_malformed",
            "the bearer value is not a Monime access token (`mon_…` or `mon_test_…`)",
        )
    };
    match token::parse_bytes(presented) {
        // A token that parses is ASCII, so this conversion cannot fail.
        Ok(_) => std::str::from_utf8(presented).map_err(|_| malformed()),
        Err(TokenFormatError::Malformed) => Err(malformed()),
        Err(TokenFormatError::BadChecksum) => Err(ApiError::unauthorized(
            "token_checksum_invalid",
            "the access token's checksum does not match: it was mistyped or truncated",
        )),
    }
}

/// Validates the presented token against the store (through the cache): every 401 cause; then
/// refuses a valid token that a browser sent (see [`refuse_browser_use`]).
pub async fn authenticate(state: &AppState, headers: &HeaderMap, ip: IpAddr) -> ApiResult<Arc<TokenLookup>> {
    let found = valid_token(state, headers).await?;
    refuse_browser(state, headers, &found, ip).await?;
    Ok(found)
}

/// 403 when a browser made this request (see [`browser_origin`] and [`refuse_browser_use`]).
async fn refuse_browser(state: &AppState, headers: &HeaderMap, found: &TokenLookup, ip: IpAddr) -> ApiResult<()> {
    match browser_origin(headers) {
        Some(origin) => Err(refuse_browser_use(state, found, origin, ip).await),
        None => Ok(()),
    }
}

/// `Some(origin)` when a browser made this request: every current browser sends `Sec-Fetch-Site`
/// on every request, and `Origin` on cross-origin ones and on every POST. `Sec-Fetch-Mode` alone
/// does not count: Node's built-in `fetch` sends `Sec-Fetch-Mode: cors` from servers
/// (nodejs/undici#1305), and a server is where a token belongs.
fn browser_origin(headers: &HeaderMap) -> Option<Option<&str>> {
    if !headers.contains_key(axum::http::header::ORIGIN) && !headers.contains_key(&SEC_FETCH_SITE) {
        return None;
    }
    // Kept for the owner to find the page; bounded so a header cannot grow the row.
    let origin = headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok()).map(|o| &o[..o.len().min(256)]);
    Some(origin)
}

/// 403 `token_used_from_browser`. A token in a browser's request is in a web page's code, where
/// anyone can read it: the token is marked exposed (shown on it and in `/v1/me`), once, with an
/// audit record, and revoked with its descendants when a Space it could act in says so. The
/// refusal stands even when the write fails: the request is refused either way.
async fn refuse_browser_use(state: &AppState, found: &TokenLookup, origin: Option<&str>, ip: IpAddr) -> ApiError {
    let token = &found.token;
    let mut revoked = false;
    if token.exposure.is_none() {
        let actor = openmonime_store::journal::Actor::Request {
            authority: openmonime_domain::grant::Authority::of(
                token,
                openmonime_domain::permission::PermissionSet::EMPTY,
            ),
            token: &token.id,
            monimeer: &token.monimeer_id,
            ip,
            space: None,
        };
        match state.store.record_token_exposure(&token.id, origin, &actor).await {
            Ok(recorded) => {
                revoked |= recorded.revoked.is_some();
                if recorded.first {
                    state.auth.invalidate(&openmonime_store::identity::AuthChange::Token(token.id.clone()));
                    if let Some(stopped) = &recorded.revoked {
                        for child in stopped {
                            state.auth.invalidate(&openmonime_store::identity::AuthChange::Token(child.clone()));
                        }
                    }
                }
            }
            Err(err) => tracing::error!(token = %token.id, error = %err, "recording a token's exposure failed"),
        }
    }
    let message = if revoked {
        "access tokens must not be used from a browser: this one is now in a web page's code, and this Space's policy has revoked it"
    } else {
        "access tokens must not be used from a browser: this one is now in a web page's code, where anyone can read it; call Monime from your server, and rotate this token"
    };
    ApiError::forbidden("token_used_from_browser", message)
        .with_detail(json!({"tokenId": token.id.as_str(), "revoked": revoked}))
}

/// The presented token, checked against the store: every 401 cause.
async fn valid_token(state: &AppState, headers: &HeaderMap) -> ApiResult<Arc<TokenLookup>> {
    let presented = presented_token(headers)?;
    let found = state.auth.token(&TokenHash::of(presented)).await?;
    let found =
        found.ok_or_else(|| ApiError::unauthorized("token_unknown", "no access token matches the one presented"))?;
    let now = time_fmt::now();
    if found.token.revoked_at.is_some_and(|r| r <= now) {
        return Err(ApiError::unauthorized("token_revoked", "the access token has been revoked"));
    }
    if found.token.expires_at.is_some_and(|e| e <= now) {
        return Err(ApiError::unauthorized("token_expired", "the access token has expired"));
    }
    if found.owner_offboarded {
        return Err(ApiError::unauthorized(
            "token_owner_offboarded",
            "the access token's owner no longer has access to Monime",
        ));
    }
    Ok(found)
}

/// Parses `Monime-Version`; absent means the token's default release.
pub fn requested_version(headers: &HeaderMap) -> ApiResult<Option<ApiVersion>> {
    // An empty value is refused like any other value outside the enum: a header cannot carry
    // JSON's null, so "nullable" in the document can only mean "absent".
    let Some(raw) = headers.get(&MONIME_VERSION) else { return Ok(None) };
    let supported = ApiVersion::supported_ids();
    raw.to_str().ok().and_then(ApiVersion::parse).map(Some).ok_or_else(|| {
        ApiError::bad_request(
            "api_version_unsupported",
            format!("Monime-Version must be one of: {}", supported.join(", ")),
        )
        .with_detail(json!({"header": "Monime-Version", "supported": supported}))
    })
}

/// Reads `Monime-Space-Id`: 400 when missing or malformed.
pub fn space_header(headers: &HeaderMap) -> ApiResult<SpaceId> {
    let raw = headers.get(&MONIME_SPACE_ID).ok_or_else(|| {
        ApiError::bad_request("space_id_missing", "this route is Space-scoped: send the `Monime-Space-Id` header")
    })?;
    raw.to_str().ok().filter(|s| s.len() <= ID_MAX_LEN).and_then(SpaceId::parse).ok_or_else(|| {
        ApiError::bad_request(
            "space_id_malformed",
            "`Monime-Space-Id` must be `spc-` followed by letters and digits, at most 64 characters",
        )
    })
}

fn permission_denied(needed: Permission, missing: MissingFrom) -> ApiError {
    let side = match missing {
        MissingFrom::Token => "your access token does not include it",
        MissingFrom::Role => "your role in this Space does not grant it",
        MissingFrom::TokenAndRole => "neither your access token nor your role in this Space grants it",
    };
    ApiError::forbidden("permission_denied", format!("this request needs `{needed}`, and {side}"))
        .with_detail(json!({"permission": needed.word(), "missingFrom": missing}))
}

/// Checks a Space's token policy.
fn check_policy(token: &openmonime_domain::entities::AccessToken, policy: &SpacePolicy) -> ApiResult<()> {
    if !policy.allow_unbound_tokens && token.space_id.is_none() {
        return Err(ApiError::forbidden(
            "space_policy_unbound_token",
            "this Space's policy accepts only tokens bound to it; create a token bound to this Space",
        ));
    }
    if let Some(max) = policy.max_token_lifetime_seconds {
        let lifetime = token.expires_at.map(|e| (e - token.created_at).whole_seconds());
        if lifetime.is_none_or(|l| l > max) {
            return Err(ApiError::forbidden(
                "space_policy_token_lifetime",
                format!("this Space's policy accepts only tokens that expire within {max} seconds of their creation"),
            )
            .with_detail(json!({"maxTokenLifetimeSeconds": max})));
        }
    }
    Ok(())
}

/// Runs the whole pipeline for a route with the given access requirement (no rate limits: the
/// benchmarks' entry point; requests go through [`authorize_limited`]).
pub async fn authorize(state: &AppState, access: Access, headers: &HeaderMap, ip: IpAddr) -> ApiResult<Caller> {
    authorize_limited(state, access, headers, ip, None).await
}

/// Charges an authenticated request to the limits that apply to it. The Space's budget is charged
/// only for its members: a stranger's refused requests cannot spend another tenant's budget.
async fn charge(
    state: &AppState,
    token: &openmonime_domain::entities::AccessToken,
    space: Option<&SpaceId>,
    endpoint: Option<&str>,
) -> ApiResult<()> {
    let Some(endpoint) = endpoint else { return Ok(()) };
    state
        .limiter
        .check(token.environment, token.id.as_str(), space.map(SpaceId::as_str), endpoint)
        .await
        .map_err(too_many)
}

/// The pipeline with the rate limits: once a token has authenticated, every request it makes on
/// `endpoint` is charged, whether it is then admitted or refused (a refusal is not free).
pub async fn authorize_limited(
    state: &AppState,
    access: Access,
    headers: &HeaderMap,
    ip: IpAddr,
    endpoint: Option<&str>,
) -> ApiResult<Caller> {
    let found = valid_token(state, headers).await?;
    let token = &found.token;
    if let Err(refused) = refuse_browser(state, headers, &found, ip).await {
        // Charged like any refusal of a valid token, so a page cannot hammer it for free.
        charge(state, token, None, endpoint).await?;
        return Err(refused);
    }
    let version = requested_version(headers)?.unwrap_or(token.api_version);
    let allowed_ip = token.allowed_ips.is_empty() || token.allowed_ips.iter().any(|net| net.contains(&ip));
    let ip_refused = || {
        ApiError::forbidden("ip_not_allowed", "the caller's IP address is outside this access token's allowlist")
            .with_detail(json!({"ipAddress": ip.to_string()}))
    };
    let space_scoped = matches!(access, Access::Space(_))
        || (access == Access::Authenticated && headers.contains_key(&MONIME_SPACE_ID));
    if !space_scoped {
        charge(state, token, None, endpoint).await?;
        if !allowed_ip {
            return Err(ip_refused());
        }
        if let Some(needed) = access.permission() {
            if !token.permissions.contains(needed) {
                return Err(permission_denied(needed, MissingFrom::Token));
            }
        }
        return Ok(Caller { token: found.clone(), tenant: None, role: None, version, ip });
    }
    let space = match space_header(headers) {
        Ok(space) => space,
        Err(err) => {
            charge(state, token, None, endpoint).await?;
            return Err(err);
        }
    };
    let role = state.auth.role(&space, &token.monimeer_id).await?;
    charge(state, token, role.as_ref().map(|_| &space), endpoint).await?;
    let role = role.ok_or_else(|| {
        ApiError::forbidden("space_access_denied", "the Space does not exist or you are not a member of it")
    })?;
    let checks = || -> ApiResult<()> {
        if token.space_id.as_ref().is_some_and(|bound| bound != &space) {
            return Err(ApiError::forbidden("token_space_mismatch", "this access token is bound to a different Space"));
        }
        check_policy(token, &role.policy)?;
        if !allowed_ip {
            return Err(ip_refused());
        }
        if let Some(needed) = access.permission() {
            decide(needed, token.permissions, role.permissions)
                .map_err(|missing| permission_denied(needed, missing))?;
        }
        Ok(())
    };
    if let Err(err) = checks() {
        audit_denial(state, &space, &found, ip, &err);
        return Err(err);
    }
    let tenant = Tenant { space_id: space, environment: token.environment };
    Ok(Caller { token: found.clone(), tenant: Some(tenant), role: Some(role), version, ip })
}

/// Counts a member's refused request for the Space's audit log (coalesced; see `denials`).
fn audit_denial(state: &AppState, space: &SpaceId, found: &TokenLookup, ip: IpAddr, err: &ApiError) {
    let token = &found.token;
    state.denials.record(space, token.environment, &token.id, &token.monimeer_id, err.reason, ip);
}

/// What the pipeline knows about the route it guards.
#[derive(Clone)]
pub struct RouteGuard {
    pub state: AppState,
    pub access: Access,
    /// `METHOD /path/template`: the rate limiter's endpoint key.
    pub endpoint: Arc<str>,
}

pub(crate) fn too_many(refusal: Refusal) -> ApiError {
    let secs = refusal.retry_after().as_secs_f64().ceil().max(1.0) as u64;
    let message = match refusal {
        Refusal::AuthFailures(_) => "too many failed authentications from this address; slow down".to_owned(),
        _ => format!("rate limit reached ({}); retry after {secs} s", refusal.header()),
    };
    let mut err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        .with_detail(json!({"limit": refusal.header(), "retryAfterSeconds": secs}));
    err.headers.push(("monime-rate-limit", axum::http::HeaderValue::from_static(refusal.header())));
    err.headers.push(("retry-after", axum::http::HeaderValue::from(secs)));
    err
}

/// The per-route middleware: runs [`authorize`], then the rate limits, and hands the [`Caller`]
/// to the handler. A refused request never reaches the handler, so it has no side effects.
pub async fn pipeline(State(guard): State<RouteGuard>, mut request: Request, next: Next) -> Response {
    let RouteGuard { state, access, endpoint } = guard;
    let ip = request.extensions().get::<ClientIp>().map(|c| c.0).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let authorized = match authorize_limited(&state, access, request.headers(), ip, Some(&endpoint)).await {
        Err(err) if err.status == StatusCode::UNAUTHORIZED => match state.limiter.failed_authentication(ip) {
            Ok(()) => Err(err),
            Err(refusal) => Err(too_many(refusal)),
        },
        other => other,
    };
    match authorized {
        Ok(caller) => {
            let token_id = caller.token.token.id.clone();
            state.usage.record(&token_id, ip);
            // When the token stops working: its expiry, or the end of a rotation's grace if sooner.
            let expires = match (caller.token.token.expires_at, caller.token.token.revoked_at) {
                (Some(e), Some(r)) => Some(e.min(r)),
                (e, r) => e.or(r),
            };
            request.extensions_mut().insert(caller);
            let mut response = next.run(request).await;
            response.extensions_mut().insert(LoggedTokenId(token_id));
            if let Some(expires) = expires {
                if let Ok(v) = time_fmt::rfc3339(expires).parse() {
                    response.headers_mut().insert("monime-token-expiration", v);
                }
            }
            response
        }
        Err(err) => {
            if err.status == StatusCode::UNAUTHORIZED || err.status == StatusCode::FORBIDDEN {
                tracing::info!(reason = err.reason, client_ip = %ip, "request refused");
            }
            err.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    fn headers(name: &'static str, value: &[u8]) -> Option<HeaderMap> {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_bytes(value).ok()?);
        Some(h)
    }

    #[test]
    fn a_minted_token_is_presented_and_its_neighbours_are_not() {
        let minted = openmonime_domain::token::generate(openmonime_domain::Environment::Live);
        let value = format!("Bearer {}", minted.plaintext.expose());
        let h = headers("authorization", value.as_bytes()).unwrap();
        assert_eq!(presented_token(&h).unwrap(), minted.plaintext.expose());
        let h = headers("authorization", b"Basic abc").unwrap();
        assert_eq!(presented_token(&h).unwrap_err().reason, "authorization_malformed");
        assert_eq!(presented_token(&HeaderMap::new()).unwrap_err().reason, "authorization_missing");
    }

    proptest! {
        #[test]
        fn authorization_parsing_never_panics_and_refuses_with_a_401(value in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Some(h) = headers("authorization", &value) {
                if let Err(e) = presented_token(&h) {
                    prop_assert_eq!(e.status, StatusCode::UNAUTHORIZED);
                }
            }
        }

        #[test]
        fn space_header_parsing_never_panics_and_refuses_with_a_400(value in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Some(h) = headers("monime-space-id", &value) {
                match space_header(&h) {
                    Ok(id) => prop_assert!(id.as_str().starts_with("spc-") && id.as_str().len() <= 64),
                    Err(e) => prop_assert_eq!(e.status, StatusCode::BAD_REQUEST),
                }
            }
        }
    }
}
