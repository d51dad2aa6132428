//! `/v1/access-tokens`: the caller's own tokens — list, get, create, revoke, rotate.
//!
//! A token can only create or rotate into tokens no broader than itself (permissions,
//! environment, Space binding, IP allowlist, expiry); each refusal names the axis. The plaintext
//! appears once, in the create/rotate response. These creates take no `Idempotency-Key` replay:
//! replaying would mean storing the secret, and the store keeps only its hash.

use super::audit_events::actor;
use super::params::ApiPath;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::json::{ApiJson, OptionalApiJson};
use crate::state::AppState;
use crate::views::access::{
    AccessToken as TokenView, CreateAccessToken, ListAccessTokensQuery, Replaces, RevokeAccessToken, RotateAccessToken,
    Span,
};
use crate::views::query::{ApiQuery, Flag, NoQuery};
use crate::views::{List, One, Time};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use openmonime_domain::entities::{AccessToken, NewAccessToken, TokenStatus};
use openmonime_domain::escalation::{self, Escalation};
use openmonime_domain::ids::TokenId;
use openmonime_domain::issuance::{self, Expiry, IssueError, Issuer, NotActive, Rotation, TokenRequest};
use openmonime_domain::permission::PermissionSet;
use openmonime_domain::{review, time_fmt, token};
use openmonime_store::identity::AuthChange;
use openmonime_store::StoreError;
use serde_json::json;
use time::OffsetDateTime;

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("access token"),
        other => other.into(),
    }
}

fn escalation_error(e: Escalation) -> ApiError {
    let (message, detail) = match &e {
        Escalation::Permissions(extra) => (
            format!("the new token would hold permissions yours lacks: {}", extra.join(", ")),
            json!({"permissions": extra}),
        ),
        Escalation::Environment => {
            ("a token can only create tokens in its own environment".to_owned(), json!({"field": "environment"}))
        }
        Escalation::Space => (
            "your token is bound to a Space, so the new token must be bound to the same Space".to_owned(),
            json!({"field": "spaceId"}),
        ),
        Escalation::IpAllowlist => (
            "your token has an IP allowlist, so the new token's allowlist must lie within it".to_owned(),
            json!({"field": "allowedIps"}),
        ),
        Escalation::Expiry => ("the new token cannot outlive yours".to_owned(), json!({"field": "expireTime"})),
        Escalation::AmountLimit => (
            "your token limits the money it moves, so the new token needs limits no higher in every currency yours limits"
                .to_owned(),
            json!({"field": "amountLimits"}),
        ),
    };
    ApiError::forbidden(e.reason(), message).with_detail(detail)
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListAccessTokensQuery>,
) -> ApiResult<Json<List<TokenView>>> {
    let status = query.status.map(|s| s.0);
    let environment = query.environment.map(|e| e.0);
    let now = time_fmt::now();
    let tokens = state.store.list_tokens(&caller.token.token.monimeer_id).await?;
    let items: Vec<TokenView> = tokens
        .iter()
        .filter(|t| escalation::manages(&caller.token.token, t))
        .filter(|t| status.is_none_or(|s| t.status(now) == s))
        .filter(|t| environment.is_none_or(|e| t.environment == e))
        .filter(|t| review_filter(&query, t, now))
        .map(TokenView::new)
        .collect();
    Ok(Json(List::all(items)))
}

/// The review filters of `GET /v1/access-tokens`: each one asked for narrows to active tokens
/// that have its flag (the rules live in `domain::review`, shared with `admin token review`).
fn review_filter(query: &ListAccessTokensQuery, t: &AccessToken, now: OffsetDateTime) -> bool {
    let span = |s: &Option<Span>| s.as_ref().and_then(|s| s.0);
    let asked = |f: &Option<Flag>| f.is_some_and(|f| f.0);
    let active = t.status(now) == TokenStatus::Active;
    span(&query.expiring_within).is_none_or(|w| review::expires_within(t, now, w))
        && span(&query.unused_for).is_none_or(|w| active && review::unused_for(t, now, w))
        && (!asked(&query.without_expiry) || (active && t.expires_at.is_none()))
        && (!asked(&query.all_permissions) || (active && t.permissions == PermissionSet::all()))
        && (!asked(&query.exposed) || t.exposure.is_some())
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<TokenId>,
) -> ApiResult<Json<One<TokenView>>> {
    let token = managed_token(&state, &caller, &id).await?;
    Ok(Json(One::new(TokenView::new(&token))))
}

/// One of the caller's tokens that the calling token manages (see `escalation::manages`); any
/// other is 404, like a token that does not exist.
async fn managed_token(state: &AppState, caller: &Caller, id: &TokenId) -> ApiResult<AccessToken> {
    let token = state.store.get_own_token(&caller.token.token.monimeer_id, id.as_str()).await.map_err(not_found)?;
    if !escalation::manages(&caller.token.token, &token) {
        return Err(ApiError::not_found("access token"));
    }
    Ok(token)
}

/// Refuses minting by a token in its rotation grace.
fn may_mint(caller: &Caller) -> ApiResult<()> {
    if escalation::may_mint(&caller.token.token) {
        return Ok(());
    }
    Err(openmonime_domain::grant::GrantRefusal::TokenRetiring.into())
}

/// A refusal of the one token-issuing rule, in the API's spelling of its fields.
pub fn issue_error(e: IssueError) -> ApiError {
    let message = e.message(|f| format!("`{}`", f.api_name()));
    ApiError::field(e.field.api_name(), e.reason, message)
}

fn validate_create(body: &CreateAccessToken, caller: &Caller, now: OffsetDateTime) -> ApiResult<NewAccessToken> {
    let limits: Option<Vec<_>> = body.amount_limits.as_ref().map(|l| l.iter().map(|&l| l.into()).collect());
    let request = TokenRequest {
        name: &body.name,
        permissions: &body.permissions,
        environment: body.environment.as_deref(),
        space_id: body.space_id.as_deref(),
        allowed_ips: &body.allowed_ips,
        expiry: Expiry::from_fields(body.never_expires, body.expire_time.as_deref()).map_err(issue_error)?,
        api_version: body.api_version.as_deref(),
        amount_limits: limits.as_deref(),
    };
    issuance::validate(&request, Issuer::Token(&caller.token.token), now).map_err(issue_error)
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    _: ApiQuery<NoQuery>,
    ApiJson(body): ApiJson<CreateAccessToken>,
) -> ApiResult<Json<One<TokenView>>> {
    may_mint(&caller)?;
    let new = validate_create(&body, &caller, time_fmt::now())?;
    escalation::check(&caller.token.token, &new).map_err(escalation_error)?;
    let minted = token::generate(new.environment);
    let stored =
        state.store.create_token(&new, &minted.hash, &minted.hint, &actor(&caller)).await.map_err(|e| match e {
            // Unknown, and not a member: one answer, so Space ids cannot be probed.
            StoreError::NotFound => {
                ApiError::field("spaceId", "space_not_found", "`spaceId` names no Space you are a member of")
            }
            other => other.into(),
        })?;
    Ok(Json(One::new(TokenView::with_secret(&stored, minted.plaintext.expose()))))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<TokenId>,
    OptionalApiJson(body): OptionalApiJson<RevokeAccessToken>,
) -> ApiResult<Json<One<TokenView>>> {
    let descendants = body.unwrap_or_default().descendants;
    let token = managed_token(&state, &caller, &id).await?;
    // Descendants never exceed their ancestor (each was escalation-checked against its creator),
    // so a caller managing this token may stop them too.
    let (revoked, stopped) =
        state.store.revoke_lineage(&token.id, descendants, &actor(&caller)).await.map_err(not_found)?;
    for id in std::iter::once(&token.id).chain(&stopped) {
        state.auth.invalidate(&AuthChange::Token(id.clone()));
    }
    let mut result = TokenView::new(&revoked);
    if descendants {
        result.revoked_descendants = Some(stopped.into_iter().map(String::from).collect());
    }
    Ok(Json(One::new(result)))
}

/// The body is optional (no body: rotate now, no grace).
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<TokenId>,
    OptionalApiJson(body): OptionalApiJson<RotateAccessToken>,
) -> ApiResult<Json<One<TokenView>>> {
    let body = body.unwrap_or_default();
    let grace =
        issuance::grace(time::Duration::seconds(body.grace_period_seconds.unwrap_or(0))).map_err(issue_error)?;
    may_mint(&caller)?;
    let old = managed_token(&state, &caller, &id).await?;
    // The successor is created by this request's token (the old token itself, or a wider one).
    let Rotation { successor: new, old_stops_at: stops } =
        issuance::rotation(&old, grace, Some(&caller.token.token), time_fmt::now()).map_err(|NotActive| {
            ApiError::new(StatusCode::CONFLICT, "token_not_active", "only an active token can be rotated")
        })?;
    escalation::check(&caller.token.token, &new).map_err(escalation_error)?;
    let minted = token::generate(new.environment);
    let stored = state.store.rotate_token(&old, &new, &minted.hash, &minted.hint, stops, &actor(&caller)).await?;
    state.auth.invalidate(&AuthChange::Token(old.id.clone()));
    let mut result = TokenView::with_secret(&stored, minted.plaintext.expose());
    result.replaces = Some(Replaces { id: old.id.to_string(), stops_working_at: Time(stops) });
    Ok(Json(One::new(result)))
}
