//! Leaked tokens, reported from outside: `POST /secret-scanning/github` (GitHub's secret-scanning
//! partner format, signed by a key GitHub publishes) and `POST /token-reports` (anyone who found
//! one). A reported string that is a live or test token is revoked at once, with its lineage, and
//! its owner and Space see a `token.leaked` record; a string whose checksum fails is no token and
//! costs no database lookup.

use crate::auth::{too_many, ClientIp};
use crate::error::{ApiError, ApiResult};
use crate::json::decode;
use crate::state::AppState;
use crate::views::leaks::{GithubFeedback, GithubMatch, ReportReceived, TokenReport};
use crate::views::One;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use openmonime_domain::leak_report::{Label, ReportSignatureError, KEY_ID_HEADER, SIGNATURE_HEADER};
use openmonime_domain::token::{self, TokenHash};
use openmonime_store::identity::AuthChange;

/// At most this many matches in one GitHub report (the body limit bounds it too).
pub const MAX_MATCHES: usize = 1000;
/// A reported URL is kept up to this many characters.
const URL_MAX: usize = 2048;

/// Revokes the token `presented` is, if it is one. `true` when it was a token of this server.
async fn report(state: &AppState, presented: &str, url: Option<&str>, reporter: &'static str) -> ApiResult<bool> {
    // The checksum answers for anything that is not a token, with no lookup.
    if token::parse(presented).is_err() {
        return Ok(false);
    }
    let url = url.map(|u| u.char_indices().nth(URL_MAX).map_or(u, |(end, _)| &u[..end]));
    let Some(leak) = state.store.record_token_leak(&TokenHash::of(presented), url, reporter).await? else {
        return Ok(false);
    };
    state.auth.invalidate(&AuthChange::Token(leak.token.id.clone()));
    for child in leak.stopped.iter().flatten() {
        state.auth.invalidate(&AuthChange::Token(child.clone()));
    }
    tracing::warn!(token = %leak.token.id, reporter, "a leaked token was reported and revoked");
    Ok(true)
}

/// `POST /secret-scanning/github`.
pub async fn github(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Vec<GithubFeedback>>> {
    let keys = state.config.leak_keys.current();
    if keys.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "secret_scanning_not_configured",
            "this server has no secret-scanning keys (see `--secret-scanning-keys`)",
        ));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(key_id), Some(signature)) = (header(KEY_ID_HEADER), header(SIGNATURE_HEADER)) else {
        state.limiter.failed_authentication(ip).map_err(too_many)?;
        return Err(ApiError::unauthorized(
            "signature_missing",
            "send `Github-Public-Key-Identifier` and `Github-Public-Key-Signature`",
        ));
    };
    if let Err(refusal) = keys.verify(key_id, signature, &body) {
        // A forged report costs one signature check, then counts against the sender's address.
        state.limiter.failed_authentication(ip).map_err(too_many)?;
        let (reason, message) = match refusal {
            ReportSignatureError::UnknownKey => ("signature_key_unknown", "no configured key has this identifier"),
            ReportSignatureError::Malformed | ReportSignatureError::Mismatch => {
                ("signature_invalid", "the signature does not verify against the named key")
            }
        };
        return Err(ApiError::unauthorized(reason, message));
    }
    let matches: Vec<GithubMatch> = decode(&body)?;
    if matches.len() > MAX_MATCHES {
        return Err(ApiError::bad_request("report_too_large", format!("a report holds at most {MAX_MATCHES} matches")));
    }
    let mut feedback = Vec::with_capacity(matches.len());
    for m in matches {
        let real = report(&state, &m.token, m.url.as_deref(), "github-secret-scanning").await?;
        let label = if real { Label::TruePositive } else { Label::FalsePositive };
        feedback.push(GithubFeedback { token_raw: m.token, token_type: m.token_type, label: label.as_str() });
    }
    Ok(Json(feedback))
}

/// `POST /token-reports`: the same answer whether or not the token was real, so the form is no
/// way to test a token; every report counts against the sender's address.
pub async fn public(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    body: Bytes,
) -> ApiResult<Json<One<ReportReceived>>> {
    state.limiter.failed_authentication(ip).map_err(too_many)?;
    let found: TokenReport = decode(&body)?;
    report(&state, &found.token, found.url.as_deref(), "token-report").await?;
    Ok(Json(One::new(ReportReceived { received: true })))
}
