//! Signing in and out of the console: email and password (argon2id, checked off the async
//! threads), or a one-time link the operator printed; signing out here or everywhere.
//!
//! The sign-in forms have no session yet, so their CSRF value is a random one in a cookie scoped
//! to `/console/sign-in`, echoed in the form (double submit), and a form from another site is
//! refused by its `Origin`. Attempts are limited per address and per account, always (whatever
//! the API's rate-limit setting), and an unknown address costs the same hashing as a wrong
//! password, so timing tells no one which addresses exist. A link is spent by its `POST`, not by
//! opening it, so a mail scanner that fetches the link does not use it up.

use super::{
    back, check_csrf, cookie, respond, same_origin, set_cookie, small_form, Answer, Bare, Posted, Refusal,
    SESSION_COOKIE,
};
use crate::auth::ClientIp;
use crate::pages::render;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use openmonime_domain::console_auth::{decoy_hash, new_secret, secret_hash, verify_password};
use openmonime_domain::ids::{random_base62, MonimeerId};
use openmonime_store::console::SESSION_LIFETIME;
use std::net::IpAddr;
use std::num::NonZeroU32;

/// The pre-session CSRF cookie of the sign-in forms.
const SIGN_IN_COOKIE: &str = "om_sign_in";

/// Sign-in attempts allowed per minute, from one address and against one account.
const ATTEMPTS_PER_MINUTE: u32 = 10;

/// The sign-in attempt limits, per client address and per account (email address).
pub struct Limits {
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
    by_account: DefaultKeyedRateLimiter<String>,
}

impl Default for Limits {
    fn default() -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(ATTEMPTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN));
        Limits { by_ip: RateLimiter::keyed(quota), by_account: RateLimiter::keyed(quota) }
    }
}

impl Limits {
    /// Charges one attempt; refuses (429) once the address or the account is over its budget.
    fn charge(&self, ip: IpAddr, account: Option<&str>) -> Result<(), Refusal> {
        let over = self.by_ip.check_key(&ip).is_err()
            || account.is_some_and(|a| self.by_account.check_key(&a.trim().to_lowercase()).is_err());
        if over {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                "sign_in_rate_limited",
                "too many sign-in attempts; wait a minute and try again",
            ));
        }
        Ok(())
    }

    /// Forgets idle keys so memory stays bounded.
    pub fn prune(&self) {
        self.by_ip.retain_recent();
        self.by_account.retain_recent();
    }
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage<'a> {
    frame: Bare,
    csrf: String,
    email: &'a str,
    notice: Option<&'a str>,
    /// The link page: whom the link signs in as, and where its form posts.
    link_name: Option<String>,
    action: String,
}

/// The sign-in form (or a link's confirmation) with a fresh pre-session CSRF cookie.
fn sign_in_page(state: &AppState, status: StatusCode, mut page: SignInPage<'_>) -> Response {
    page.csrf = random_base62(32);
    let mut response = respond(status, &page.frame.nonce, render(&page));
    let cookie = set_cookie(state, SIGN_IN_COOKIE, &page.csrf, "/console/sign-in", 1800);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

fn blank<'a>(action: String) -> SignInPage<'a> {
    SignInPage { frame: Bare::new(), csrf: String::new(), email: "", notice: None, link_name: None, action }
}

/// Opens a session and sends the browser into the console with its cookie; a session the browser
/// already held ends (signing in again, perhaps as someone else, leaves no second live session).
async fn open_session(state: &AppState, monimeer: &MonimeerId, ip: IpAddr, headers: &HeaderMap) -> Answer {
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        if let Some(session) = state.store.console_session(&secret_hash(old)).await? {
            state.store.end_console_session(&session.id).await?;
        }
    }
    let secret = new_secret();
    state.store.open_console_session(monimeer, &secret_hash(&secret), &random_base62(32), &ip.to_string()).await?;
    let mut response = back("/console".into());
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(state, SESSION_COOKIE, &secret, "/console", SESSION_LIFETIME.whole_seconds()),
    );
    headers.append(header::SET_COOKIE, set_cookie(state, SIGN_IN_COOKIE, "", "/console/sign-in", 0));
    Ok(response)
}

/// The pre-session form checks: same site, and the CSRF cookie echoed.
fn pre_session_checks(state: &AppState, headers: &HeaderMap, sent: Option<&str>) -> Result<(), Refusal> {
    same_origin(state, headers)?;
    // No cookie (a cross-site form carries none): refused whatever the form says.
    let expected = cookie(headers, SIGN_IN_COOKIE).filter(|c| !c.is_empty());
    check_csrf(expected.unwrap_or(""), sent.filter(|_| expected.is_some()))
}

/// `GET /console/sign-in`.
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        if let Ok(Some(_)) = state.store.console_session(&secret_hash(secret)).await {
            return back("/console".into());
        }
    }
    sign_in_page(&state, StatusCode::OK, blank("/console/sign-in".into()))
}

/// `POST /console/sign-in`: email and password.
pub async fn with_password(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let fields = small_form(body);
    pre_session_checks(&state, &headers, fields.get("csrf"))?;
    let email = fields.get("email").unwrap_or("");
    let password = fields.raw("password").unwrap_or_default().to_owned();
    state.sign_in.charge(ip, Some(email).filter(|e| !e.is_empty()))?;
    let found = state.store.console_password(email).await?;
    let (monimeer, stored) = match found {
        Some((m, hash)) => (Some(m), hash),
        None => (None, decoy_hash().to_owned()),
    };
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &stored)).await.unwrap_or(false);
    match monimeer.filter(|_| matches) {
        Some(monimeer) => open_session(&state, &monimeer, ip, &headers).await,
        None => {
            let mut page = blank("/console/sign-in".into());
            page.email = email;
            page.notice = Some("That email address and password do not match an account.");
            Ok(sign_in_page(&state, StatusCode::UNAUTHORIZED, page))
        }
    }
}

fn link_gone(state: &AppState) -> Response {
    let mut page = blank("/console/sign-in".into());
    page.notice =
        Some("That sign-in link has been used or has expired. Ask for a new one, or sign in with your password.");
    sign_in_page(state, StatusCode::GONE, page)
}

/// `GET /console/sign-in/link/{secret}`: whom the link signs in as, and a button that uses it.
pub async fn show_link(State(state): State<AppState>, Path(secret): Path<String>) -> Response {
    match state.store.peek_sign_in_link(&secret_hash(&secret)).await {
        Ok(Some(name)) => {
            let mut page = blank(format!("/console/sign-in/link/{secret}"));
            page.link_name = Some(name);
            sign_in_page(&state, StatusCode::OK, page)
        }
        Ok(None) => link_gone(&state),
        Err(e) => Refusal::from(e).into_response(),
    }
}

/// `POST /console/sign-in/link/{secret}`: spends the link (once) and signs in.
pub async fn with_link(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Path(secret): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let fields = small_form(body);
    pre_session_checks(&state, &headers, fields.get("csrf"))?;
    // Only a link that does not work is charged: links cannot be guessed, but trying costs a write.
    match state.store.use_sign_in_link(&secret_hash(&secret)).await? {
        Some(monimeer) => open_session(&state, &monimeer, ip, &headers).await,
        None => {
            state.sign_in.charge(ip, None)?;
            Ok(link_gone(&state))
        }
    }
}

fn signed_out(state: &AppState) -> Response {
    let mut response = back("/console/sign-in".into());
    response.headers_mut().append(header::SET_COOKIE, set_cookie(state, SESSION_COOKIE, "", "/console", 0));
    response
}

/// `POST /console/sign-out`.
pub async fn sign_out(Posted { console, .. }: Posted) -> Answer {
    console.state.store.end_console_session(&console.session.id).await?;
    Ok(signed_out(&console.state))
}

/// `POST /console/sign-out-everywhere`: ends every session of this person, on every device.
pub async fn sign_out_everywhere(Posted { console, .. }: Posted) -> Answer {
    console.state.store.end_console_sessions(&console.session.monimeer_id).await?;
    Ok(signed_out(&console.state))
}
