//! The console's token pages: the signed-in person's tokens usable in this Space and environment
//! (create with the secret shown once, rotate with a grace period, revoke one or several), and a
//! Space-wide review of every member's tokens for those who manage members.
//!
//! Tokens are minted by the one issuing rule (`domain::issuance`) with the person as issuer: a
//! root token, whatever it names still capped by its owner's role on every request.

use super::{back, page, shown_time, Answer, Console, Frame, Posted, Refusal};
use crate::handlers::access_tokens::issue_error;
use crate::state::AppState;
use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use openmonime_domain::entities::{AccessToken, TokenStatus};
use openmonime_domain::ids::TokenId;
use openmonime_domain::issuance::{self, Expiry, Issuer, NotActive, Rotation, TokenRequest};
use openmonime_domain::permission::{Permission, PermissionSet};
use openmonime_domain::review::{self, Flag, Spans};
use openmonime_domain::{time_fmt, token};
use openmonime_store::identity::AuthChange;
use serde::Deserialize;
use time::OffsetDateTime;

/// One token as the list shows it.
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub status: &'static str,
    pub active: bool,
    pub owner: String,
    pub last_used: String,
    pub last_ip: String,
    pub country: String,
    pub requests: i64,
    pub expires: String,
    pub permissions: String,
    pub flags: Vec<&'static str>,
}

fn flag_label(f: Flag) -> &'static str {
    match f {
        Flag::NeverUsed => "never used",
        Flag::Idle => "idle 90 days",
        Flag::NoExpiry => "no expiry",
        Flag::AllPermissions => "all permissions",
        Flag::ExpiresSoon => "expires within 7 days",
        Flag::Exposed => "seen in a browser",
    }
}

fn row(state: &AppState, t: &AccessToken, now: OffsetDateTime) -> TokenRow {
    let ip = t.usage.last_used_ip.clone();
    let country = ip
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .and_then(|ip| state.geoip.as_ref().and_then(|g| g.country(ip)))
        .unwrap_or_default();
    let permissions = if t.permissions == PermissionSet::all() {
        "all permissions".to_owned()
    } else {
        t.permissions.words().join(", ")
    };
    let status = t.status(now);
    TokenRow {
        id: t.id.to_string(),
        name: t.name.clone(),
        hint: t.hint.clone(),
        status: status.as_str(),
        active: status == TokenStatus::Active,
        owner: t.monimeer_id.to_string(),
        last_used: shown_time(t.usage.last_used_at, "never"),
        last_ip: ip.unwrap_or_default(),
        country,
        requests: t.usage.request_count,
        expires: shown_time(t.expires_at, "never"),
        permissions,
        flags: review::flags(t, now, Spans::default()).into_iter().map(flag_label).collect(),
    }
}

/// A group of permissions in the picker (one resource).
pub struct PermissionGroup {
    pub resource: &'static str,
    pub words: Vec<&'static str>,
}

fn permission_groups() -> Vec<PermissionGroup> {
    let mut groups: Vec<PermissionGroup> = Vec::new();
    for p in Permission::ALL {
        let word = p.word();
        let resource = word.split(':').next().unwrap_or(word);
        match groups.last_mut() {
            Some(g) if g.resource == resource => g.words.push(word),
            _ => groups.push(PermissionGroup { resource, words: vec![word] }),
        }
    }
    groups
}

/// A review flag and how many tokens carry it.
pub struct FlagCount {
    pub label: &'static str,
    pub count: usize,
}

fn flag_counts(rows: &[TokenRow]) -> Vec<FlagCount> {
    Flag::ALL
        .into_iter()
        .map(|f| {
            let label = flag_label(f);
            FlagCount { label, count: rows.iter().filter(|r| r.flags.contains(&label)).count() }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "console/tokens.html")]
struct TokensPage {
    frame: Frame,
    base: String,
    tokens: Vec<TokenRow>,
    counts: Vec<FlagCount>,
    may_write: bool,
    may_review: bool,
    groups: Vec<PermissionGroup>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    notice: Option<String>,
}

/// Whether the tokens page of `here` lists `t`: this environment, bound to this Space or to none.
fn listed_here(here: &super::InSpace, t: &AccessToken) -> bool {
    t.environment == here.tenant.environment && t.space_id.as_ref().is_none_or(|s| s == &here.tenant.space_id)
}

/// The person's tokens usable here (see [`listed_here`]).
async fn own_tokens(console: &Console) -> Result<Vec<AccessToken>, Refusal> {
    let here = console.in_space()?;
    let mut tokens = console.state.store.list_tokens(&console.session.monimeer_id).await?;
    tokens.retain(|t| listed_here(here, t));
    for t in &mut tokens {
        console.state.usage.overlay(t);
    }
    Ok(tokens)
}

/// `GET …/tokens`.
pub async fn list(console: Console, Query(q): Query<ListQuery>) -> Answer {
    let now = time_fmt::now();
    let tokens: Vec<TokenRow> = own_tokens(&console).await?.iter().map(|t| row(&console.state, t, now)).collect();
    let counts = flag_counts(&tokens);
    let notice = q.notice.as_deref().and_then(|n| match n {
        "revoked" => Some("Revoked.".to_owned()),
        "none" => Some("Choose at least one token.".to_owned()),
        _ => None,
    });
    let page_ = TokensPage {
        frame: Frame::new(&console, "tokens"),
        base: console.base(),
        tokens,
        counts,
        may_write: console.may(Permission::AccessTokensWrite),
        may_review: console.may(Permission::SpaceMembersWrite),
        groups: permission_groups(),
        notice,
    };
    Ok(page(&page_.frame, &page_))
}

#[derive(Template)]
#[template(path = "console/token_secret.html")]
struct SecretPage {
    frame: Frame,
    base: String,
    heading: &'static str,
    name: String,
    id: String,
    secret: String,
    old_stops: Option<String>,
}

fn secret_page(
    console: &Console,
    heading: &'static str,
    t: &AccessToken,
    secret: &str,
    old_stops: Option<String>,
) -> Answer {
    let page_ = SecretPage {
        frame: Frame::new(console, "tokens"),
        base: console.base(),
        heading,
        name: t.name.clone(),
        id: t.id.to_string(),
        secret: secret.to_owned(),
        old_stops,
    };
    Ok(page(&page_.frame, &page_))
}

fn invalid(message: String) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "invalid_value", message)
}

/// `POST …/tokens`: mints a token; the answer shows its secret, once.
pub async fn create(Posted { console, fields }: Posted) -> Answer {
    let here = console.in_space()?;
    let permissions: Vec<String> = fields.all("permission").map(str::to_owned).collect();
    if permissions.is_empty() {
        return Err(invalid("choose at least one permission".into()));
    }
    let allowed_ips: Vec<String> = fields
        .get("allowedIps")
        .unwrap_or("")
        .split([',', ' ', '\n', '\r'])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let expiry = match fields.get("expiresIn").unwrap_or("90d") {
        "never" => Expiry::Never,
        span => Expiry::In(span),
    };
    let space = here.tenant.space_id.to_string();
    let bound = fields.get("binding") != Some("unbound");
    let request = TokenRequest {
        name: fields.get("name").unwrap_or(""),
        permissions: &permissions,
        environment: Some(here.tenant.environment.as_str()),
        space_id: bound.then_some(space.as_str()),
        allowed_ips: &allowed_ips,
        expiry,
        api_version: None,
        amount_limits: None,
    };
    let new = issuance::validate(&request, Issuer::Console { monimeer: &console.session.monimeer_id }, time_fmt::now())
        .map_err(issue_error)?;
    let minted = token::generate(new.environment);
    let stored = console.state.store.create_token(&new, &minted.hash, &minted.hint, &console.actor()).await?;
    secret_page(&console, "Token created", &stored, minted.plaintext.expose(), None)
}

/// One of the person's tokens that this page lists (this environment, bound to this Space or
/// to none): a token bound elsewhere is managed from its own Space's pages, where that role
/// applies. Any other is 404, like one that does not exist.
async fn own_token(console: &Console, id: &str) -> Result<AccessToken, Refusal> {
    let here = console.in_space()?;
    let not_found = || Refusal::new(StatusCode::NOT_FOUND, "not_found", "no such token of yours here");
    TokenId::parse(id).ok_or_else(not_found)?;
    let token = console.state.store.get_own_token(&console.session.monimeer_id, id).await.map_err(|_| not_found())?;
    listed_here(here, &token).then_some(token).ok_or_else(not_found)
}

/// `POST …/tokens/{id}/rotate`: a successor with the same settings; the old token keeps working
/// for the grace period chosen (at most what the API allows).
pub async fn rotate(Posted { console, fields }: Posted) -> Answer {
    let old = own_token(&console, console.param("id")).await?;
    let seconds: i64 = fields.get("graceSeconds").and_then(|g| g.parse().ok()).unwrap_or(0);
    let grace = issuance::grace(time::Duration::seconds(seconds)).map_err(issue_error)?;
    let Rotation { successor, old_stops_at } =
        issuance::rotation(&old, grace, None, time_fmt::now()).map_err(|NotActive| {
            Refusal::new(StatusCode::CONFLICT, "token_not_active", "only an active token can be rotated")
        })?;
    let minted = token::generate(successor.environment);
    let stored = console
        .state
        .store
        .rotate_token(&old, &successor, &minted.hash, &minted.hint, old_stops_at, &console.actor())
        .await?;
    console.state.auth.invalidate(&AuthChange::Token(old.id.clone()));
    secret_page(
        &console,
        "Token rotated",
        &stored,
        minted.plaintext.expose(),
        Some(shown_time(Some(old_stops_at), "now")),
    )
}

async fn revoke_one(console: &Console, id: &str, descendants: bool) -> Result<(), Refusal> {
    let token = own_token(console, id).await?;
    let (_, stopped) = console.state.store.revoke_lineage(&token.id, descendants, &console.actor()).await?;
    for id in std::iter::once(&token.id).chain(&stopped) {
        console.state.auth.invalidate(&AuthChange::Token(id.clone()));
    }
    Ok(())
}

/// `POST …/tokens/{id}/revoke`.
pub async fn revoke(Posted { console, fields }: Posted) -> Answer {
    revoke_one(&console, console.param("id"), fields.checked("descendants")).await?;
    Ok(back(format!("{}/tokens?notice=revoked", console.base())))
}

/// `POST …/tokens/revoke`: the tokens ticked in the list, each as if revoked alone; one that
/// cannot be (already revoked) does not stop the others.
pub async fn revoke_many(Posted { console, fields }: Posted) -> Answer {
    let ids: Vec<&str> = fields.all("token").collect();
    if ids.is_empty() {
        return Ok(back(format!("{}/tokens?notice=none", console.base())));
    }
    for id in ids.into_iter().take(500) {
        match revoke_one(&console, id, false).await {
            Ok(()) => {}
            Err(e) if e.status == StatusCode::CONFLICT => {}
            Err(e) => return Err(e),
        }
    }
    Ok(back(format!("{}/tokens?notice=revoked", console.base())))
}

#[derive(Template)]
#[template(path = "console/review.html")]
struct ReviewPage {
    frame: Frame,
    counts: Vec<FlagCount>,
    flagged: Vec<TokenRow>,
    total: usize,
}

/// `GET …/review`: every member's active tokens usable in this Space and environment, by flag.
pub async fn review(console: Console) -> Answer {
    let here = console.in_space()?;
    let now = time_fmt::now();
    let mut tokens = console.state.store.list_space_tokens(&here.tenant.space_id).await?;
    tokens.retain(|t| t.environment == here.tenant.environment && t.status(now) == TokenStatus::Active);
    let rows: Vec<TokenRow> = tokens
        .iter_mut()
        .map(|t| {
            console.state.usage.overlay(t);
            row(&console.state, t, now)
        })
        .collect();
    let total = rows.len();
    let counts = flag_counts(&rows);
    let flagged: Vec<TokenRow> = rows.into_iter().filter(|r| !r.flags.is_empty()).collect();
    let page_ = ReviewPage { frame: Frame::new(&console, "tokens"), counts, flagged, total };
    Ok(page(&page_.frame, &page_))
}
