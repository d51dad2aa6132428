//! The web console, `{public-url}/console`: where a Monimeer manages their tokens, a Space's
//! members, roles, policies and webhooks, and reads its audit log and money.
//!
//! Who is acting: a signed-in Monimeer (a server-side session, named by an `HttpOnly`,
//! `SameSite=Strict` cookie whose secret the store keeps only as a hash). What they may do: their
//! role in the Space, checked with the API's own rule (`permission::decide`) against the one
//! permission each route names where it is registered ([`routes`]); a session is its person, like
//! a live token holding every permission, so it is never more than the person's role. Changes go
//! through the store methods the API's handlers call, with an [`Actor::Console`] that the store's
//! grant checks and audit log treat like a request (so every change is audited like its API
//! twin, naming the session). Every form carries the session's CSRF value, and every page a
//! strict Content-Security-Policy.

pub mod money;
pub mod sign_in;
pub mod space;
pub mod tokens;
pub mod webhooks;

pub use super::cookie;
use super::{html, render};
use crate::auth::ClientIp;
use crate::error::ApiError;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{on, MethodFilter};
use axum::{Extension, Router};
use openmonime_domain::console_auth::{new_secret, same_secret, secret_hash};
use openmonime_domain::entities::Tenant;
use openmonime_domain::grant::Authority;
use openmonime_domain::ids::{random_base62, MonimeerId, SpaceId};
use openmonime_domain::permission::{decide, Permission, PermissionSet};
use openmonime_domain::Environment;
use openmonime_store::console::{ConsoleSession, SpaceChoice};
use openmonime_store::error::StoreResult;
use openmonime_store::identity::ResolvedRole;
use openmonime_store::journal::Actor;
use openmonime_store::Store;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// The session cookie.
pub const SESSION_COOKIE: &str = "om_console";
/// Largest console form accepted, in bytes.
const FORM_LIMIT: usize = 64 * 1024;

/// What a console route requires, named where it is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// A signed-in Monimeer; no Space.
    Session,
    /// A signed-in member of the path's Space whose role holds the permission.
    Space(Permission),
}

/// One registered console route, as the tests walk them.
#[derive(Debug, Clone)]
pub struct ConsoleRoute {
    pub method: Method,
    pub path: &'static str,
    pub needs: Needs,
}

/// The console's route table: every route names what it needs, once.
struct Table {
    router: Router<AppState>,
    routes: Vec<ConsoleRoute>,
}

impl Table {
    fn add<H, T>(mut self, method: Method, path: &'static str, needs: Needs, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        let filter = if method == Method::POST { MethodFilter::POST } else { MethodFilter::GET };
        let route = on(filter, handler).layer(Extension(needs));
        self.router = std::mem::take(&mut self.router).route(path, route);
        self.routes.push(ConsoleRoute { method, path, needs });
        self
    }

    fn page<H: axum::handler::Handler<T, AppState>, T: 'static>(self, path: &'static str, needs: Needs, h: H) -> Self {
        self.add(Method::GET, path, needs, h)
    }

    fn form<H: axum::handler::Handler<T, AppState>, T: 'static>(self, path: &'static str, needs: Needs, h: H) -> Self {
        self.add(Method::POST, path, needs, h)
    }
}

fn table() -> Table {
    use Needs::{Session, Space};
    use Permission as P;
    let t = Table { router: Router::new(), routes: Vec::new() };
    t.page("/console", Session, home)
        .page("/console/switch", Session, switch)
        .form("/console/sign-out", Session, sign_in::sign_out)
        .form("/console/sign-out-everywhere", Session, sign_in::sign_out_everywhere)
        .page("/console/{space}/{env}/tokens", Space(P::AccessTokensRead), tokens::list)
        .form("/console/{space}/{env}/tokens", Space(P::AccessTokensWrite), tokens::create)
        .form("/console/{space}/{env}/tokens/revoke", Space(P::AccessTokensWrite), tokens::revoke_many)
        .form("/console/{space}/{env}/tokens/{id}/rotate", Space(P::AccessTokensWrite), tokens::rotate)
        .form("/console/{space}/{env}/tokens/{id}/revoke", Space(P::AccessTokensWrite), tokens::revoke)
        .page("/console/{space}/{env}/review", Space(P::SpaceMembersWrite), tokens::review)
        .page("/console/{space}/{env}/members", Space(P::SpaceMembersRead), space::members)
        .form("/console/{space}/{env}/members", Space(P::SpaceMembersWrite), space::add_member)
        .form("/console/{space}/{env}/members/{monimeer}/role", Space(P::SpaceMembersWrite), space::set_role)
        .form("/console/{space}/{env}/members/{monimeer}/remove", Space(P::SpaceMembersWrite), space::remove_member)
        .page("/console/{space}/{env}/roles", Space(P::SpaceRolesRead), space::roles)
        .form("/console/{space}/{env}/roles", Space(P::SpaceRolesWrite), space::save_role)
        .page("/console/{space}/{env}/policies", Space(P::SpacePoliciesRead), space::policies)
        .form("/console/{space}/{env}/policies", Space(P::SpacePoliciesWrite), space::save_policies)
        .page("/console/{space}/{env}/audit", Space(P::AuditEventsRead), space::audit)
        .page("/console/{space}/{env}/webhooks", Space(P::WebhooksRead), webhooks::list)
        .form("/console/{space}/{env}/webhooks", Space(P::WebhooksWrite), webhooks::create)
        .page("/console/{space}/{env}/webhooks/{id}", Space(P::WebhooksRead), webhooks::deliveries)
        .form("/console/{space}/{env}/webhooks/{id}/enabled", Space(P::WebhooksWrite), webhooks::set_enabled)
        .form("/console/{space}/{env}/webhooks/{id}/redeliveries", Space(P::WebhooksWrite), webhooks::redeliver)
        .page("/console/{space}/{env}/money", Space(P::FinancialAccountsRead), money::accounts)
        .page("/console/{space}/{env}/money/transactions", Space(P::FinancialTransactionsRead), money::transactions)
        .page("/console/{space}/{env}/money/transfers", Space(P::InternalTransfersRead), money::transfers)
        .page("/console/{space}/{env}/money/payment-codes", Space(P::PaymentCodesRead), money::payment_codes)
        .page("/console/{space}/{env}/money/payouts", Space(P::PayoutsRead), money::payouts)
}

/// The console's routes: the sign-in pages (no session yet) and the table's.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/sign-in", axum::routing::get(sign_in::show).post(sign_in::with_password))
        .route("/console/sign-in/link/{secret}", axum::routing::get(sign_in::show_link).post(sign_in::with_link))
        .merge(table().router)
}

/// Every session-guarded console route with what it needs (for tests over the whole table).
pub fn route_table() -> Vec<ConsoleRoute> {
    table().routes
}

/// A fresh one-time sign-in link for a Monimeer: its URL and when it stops working. The secret
/// is in the URL only; the store keeps its hash.
pub async fn issue_sign_in_link(
    store: &Store,
    public_url: &str,
    monimeer: &MonimeerId,
) -> StoreResult<(String, time::OffsetDateTime)> {
    let secret = new_secret();
    let expires = store.create_sign_in_link(monimeer, &secret_hash(&secret)).await?;
    Ok((format!("{}/console/sign-in/link/{secret}", public_url.trim_end_matches('/')), expires))
}

/// A refusal or failure, shown as a page.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Refusal { status, reason, message: message.into() }
    }

    fn forbidden(reason: &'static str, message: impl Into<String>) -> Self {
        Refusal::new(StatusCode::FORBIDDEN, reason, message)
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        // A field error's own message says what to fix; the envelope's says only that fields were
        // wrong.
        let fields: Vec<&str> = e.details.iter().filter_map(|d| d["message"].as_str()).collect();
        let message = if fields.is_empty() { e.message.into_owned() } else { fields.join("; ") };
        Refusal { status: e.status, reason: e.reason, message }
    }
}

impl From<openmonime_store::StoreError> for Refusal {
    fn from(e: openmonime_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

/// The frame of a page outside the console's navigation (sign-in, a refusal): its nonce only.
pub struct Bare {
    pub nonce: String,
}

impl Bare {
    pub fn new() -> Bare {
        Bare { nonce: random_base62(22) }
    }
}

impl Default for Bare {
    fn default() -> Self {
        Bare::new()
    }
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    frame: Bare,
    title: &'a str,
    message: &'a str,
    reason: &'a str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        if self.status == StatusCode::UNAUTHORIZED {
            // No (or an ended) session: the sign-in page, for pages and forms alike.
            return Redirect::to("/console/sign-in").into_response();
        }
        let title = match self.status {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
            s if s.is_server_error() => "Something went wrong",
            _ => "That did not work",
        };
        let page = MessagePage { frame: Bare::new(), title, message: &self.message, reason: self.reason };
        respond(self.status, &page.frame.nonce, render(&page))
    }
}

pub type Answer = Result<Response, Refusal>;

/// An HTML answer with the pages' headers, and a CSP that also allows the page's own (nonced)
/// script — the copy button — and nothing else. The referrer policy is `strict-origin`, not the
/// checkout pages' `no-referrer`: under `no-referrer` a browser sends `Origin: null` on the
/// console's own forms, which the origin check could not tell from a sandboxed attacker's page;
/// `strict-origin` still never sends a path (a sign-in link's secret) anywhere.
pub fn respond(status: StatusCode, nonce: &str, body: String) -> Response {
    let frame = super::Frame { nonce: nonce.to_owned(), brand: String::new(), on_brand: "" };
    let mut response = html(status, &frame, body, &[]);
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin"));
    response
}

/// `Set-Cookie` for a console cookie: `HttpOnly`, `SameSite=Strict`, under `path`, `Secure` when
/// the console is served over https; `max_age` 0 deletes it.
pub fn set_cookie(state: &AppState, name: &str, value: &str, path: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.public_url.starts_with("https://") { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("om_invalid=; Max-Age=0"))
}

/// A form's fields, in order (a field may repeat: the bulk revoke's checkboxes).
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(url::form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// A field as sent, untrimmed (a password).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// The Space a console route acts in, and the signed-in member's place in it.
pub struct InSpace {
    pub tenant: Tenant,
    pub name: String,
    pub role: Arc<ResolvedRole>,
    pub spaces: Vec<SpaceChoice>,
}

/// A console request that passed its route's check: who, where, and from which address.
pub struct Console {
    pub state: AppState,
    pub session: ConsoleSession,
    pub ip: IpAddr,
    pub space: Option<InSpace>,
    params: HashMap<String, String>,
}

impl Console {
    /// A path parameter of the route (`id`, `monimeer`).
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }

    /// The Space of a Space route (always present there: the table guarantees it).
    pub fn in_space(&self) -> Result<&InSpace, Refusal> {
        self.space.as_ref().ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "not_found", "no Space here"))
    }

    /// Whether the member's role grants `p` here (what a page shows; the route checks anyway).
    pub fn may(&self, p: Permission) -> bool {
        self.space.as_ref().is_some_and(|s| s.role.permissions.contains(p))
    }

    /// The store's actor for this person's changes: their role's permissions, as a live,
    /// non-retiring request (the session is the person), naming the session.
    pub fn actor(&self) -> Actor<'_> {
        let permissions = self.space.as_ref().map(|s| s.role.permissions).unwrap_or(PermissionSet::EMPTY);
        Actor::Console {
            authority: Authority { permissions, environment: Environment::Live, retiring: false },
            session: &self.session.id,
            monimeer: &self.session.monimeer_id,
            ip: self.ip,
            space: self.space.as_ref().map(|s| &s.tenant.space_id),
        }
    }

    /// `/console/{space}/{env}` of this request, and of its other environment.
    pub fn base(&self) -> String {
        match &self.space {
            Some(s) => format!("/console/{}/{}", s.tenant.space_id, s.tenant.environment.as_str()),
            None => "/console".into(),
        }
    }
}

async fn resolve(parts: &mut Parts, state: &AppState) -> Result<Console, Refusal> {
    let needs = parts.extensions.get::<Needs>().copied().ok_or_else(|| {
        // Fail closed: a handler mounted outside the table has declared nothing.
        Refusal::forbidden("route_not_permitted", "this page declares no permission")
    })?;
    let ip = parts.extensions.get::<ClientIp>().map(|c| c.0).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let signed_out = || Refusal::new(StatusCode::UNAUTHORIZED, "session_missing", "sign in to use the console");
    let secret = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(signed_out)?;
    let session = state.store.console_session(&secret_hash(secret)).await?.ok_or_else(signed_out)?;
    let params: HashMap<String, String> =
        Path::<HashMap<String, String>>::from_request_parts(parts, state).await.map(|p| p.0).unwrap_or_default();
    let space = match needs {
        Needs::Session => None,
        Needs::Space(needed) => Some(in_space(state, &session, &params, needed).await?),
    };
    Ok(Console { state: state.clone(), session, ip, space, params })
}

async fn in_space(
    state: &AppState,
    session: &ConsoleSession,
    params: &HashMap<String, String>,
    needed: Permission,
) -> Result<InSpace, Refusal> {
    let not_member =
        || Refusal::forbidden("space_access_denied", "the Space does not exist or you are not a member of it");
    let space = params.get("space").and_then(|s| SpaceId::parse(s)).ok_or_else(not_member)?;
    let environment = params
        .get("env")
        .and_then(|e| Environment::parse(e))
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "not_found", "the environment is `test` or `live`"))?;
    let role = state.auth.role(&space, &session.monimeer_id).await?.ok_or_else(not_member)?;
    decide(needed, PermissionSet::all(), role.permissions).map_err(|_| {
        Refusal::forbidden(
            "permission_denied",
            format!("this needs `{needed}`, and your role in this Space (`{}`) does not grant it", role.name),
        )
    })?;
    let spaces = state.store.spaces_of_monimeer(&session.monimeer_id).await?;
    let name = spaces.iter().find(|s| s.id == space).map(|s| s.name.clone()).unwrap_or_default();
    Ok(InSpace { tenant: Tenant { space_id: space, environment }, name, role, spaces })
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        resolve(parts, state).await
    }
}

/// A posted console form: the request passed its route's check, came from this site, and carries
/// the session's CSRF value.
pub struct Posted {
    pub console: Console,
    pub fields: Fields,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let console = resolve(&mut parts, state).await?;
        same_origin(state, &parts.headers)?;
        let bytes = axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the form is too large"))?;
        let fields = Fields::parse(&bytes);
        check_csrf(&console.session.csrf, fields.get("csrf"))?;
        Ok(Posted { console, fields })
    }
}

/// Refuses a form whose `Origin` (sent by every browser on a POST) is another site's. An opaque
/// `Origin: null` passes only when the browser also says the request is `Sec-Fetch-Site:
/// same-origin` (a page can set neither header).
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let ours = super::origin(&state.config.public_url);
    if origin.to_str().ok().is_some_and(|o| Some(o) == ours.as_deref()) {
        return Ok(());
    }
    let same_origin_fetch = headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"same-origin");
    if origin.as_bytes() == b"null" && same_origin_fetch {
        return Ok(());
    }
    Err(Refusal::forbidden("csrf_origin_mismatch", "this form was sent from another site"))
}

/// Refuses a form without the expected CSRF value.
pub fn check_csrf(expected: &str, sent: Option<&str>) -> Result<(), Refusal> {
    match sent {
        Some(sent) if !expected.is_empty() && same_secret(expected, sent) => Ok(()),
        _ => Err(Refusal::forbidden(
            "csrf_token_invalid",
            "this form's security token is missing or out of date; reload the page and try again",
        )),
    }
}

/// A link in the console's navigation.
pub struct NavLink {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

/// What every console page's frame shows: who is signed in, the Space and environment switchers
/// (the environment always visible, live in a warning colour), and the sections the member's
/// role lets them read.
pub struct Frame {
    pub nonce: String,
    pub who: String,
    pub csrf: String,
    pub space_id: String,
    pub space_name: String,
    pub env: &'static str,
    pub live: bool,
    pub other_env_href: String,
    pub spaces: Vec<SpaceChoice>,
    pub nav: Vec<NavLink>,
}

impl Frame {
    /// The frame of a page in `section` (`tokens`, `members`, …).
    pub fn new(console: &Console, section: &str) -> Frame {
        let mut frame = Frame {
            nonce: random_base62(22),
            who: console.session.monimeer_name.clone(),
            csrf: console.session.csrf.clone(),
            space_id: String::new(),
            space_name: String::new(),
            env: "test",
            live: false,
            other_env_href: String::new(),
            spaces: Vec::new(),
            nav: Vec::new(),
        };
        let Some(space) = &console.space else { return frame };
        let env = space.tenant.environment;
        let other = if env == Environment::Live { "test" } else { "live" };
        frame.space_id = space.tenant.space_id.to_string();
        frame.space_name = space.name.clone();
        frame.env = env.as_str();
        frame.live = env == Environment::Live;
        frame.other_env_href = format!("/console/{}/{other}/{section}", space.tenant.space_id);
        frame.spaces = space.spaces.clone();
        let base = console.base();
        frame.nav = SECTIONS
            .into_iter()
            .filter(|(_, _, p)| console.may(*p))
            .map(|(path, label, _)| NavLink {
                href: format!("{base}/{path}"),
                label,
                current: section.split('/').next() == Some(path),
            })
            .collect();
        frame
    }
}

/// A page of the console rendered in its frame.
pub fn page<T: Template>(frame: &Frame, template: &T) -> Response {
    respond(StatusCode::OK, &frame.nonce, render(template))
}

/// A time as the pages show it: `2026-12-06 21:05:13 UTC`, or `none` when there is none.
pub fn shown_time(t: Option<time::OffsetDateTime>, none: &str) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.and_then(|t| t.to_offset(time::UtcOffset::UTC).format(FORMAT).ok()).unwrap_or_else(|| none.to_owned())
}

/// After a change: back to a page (303, so a reload does not post again).
pub fn back(to: String) -> Response {
    Redirect::to(&to).into_response()
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage {
    frame: Frame,
    spaces: Vec<SpaceChoice>,
}

/// `GET /console`: the Spaces to choose from (straight to the only one, when there is one).
async fn home(console: Console) -> Answer {
    let spaces = console.state.store.spaces_of_monimeer(&console.session.monimeer_id).await?;
    if let [only] = spaces.as_slice() {
        return Ok(back(format!("/console/{}/test/tokens", only.id)));
    }
    let frame = Frame::new(&console, "");
    let page_ = HomePage { frame, spaces };
    Ok(page(&page_.frame, &page_))
}

/// `GET /console/switch?space=…&env=…&section=…`: the Space switcher's form (works without
/// script); membership is checked by the page it lands on.
async fn switch(_: Console, axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>) -> Answer {
    let space = q.get("space").and_then(|s| SpaceId::parse(s));
    let env = q.get("env").and_then(|e| Environment::parse(e)).unwrap_or(Environment::Test);
    let section = q
        .get("section")
        .and_then(|asked| SECTIONS.iter().map(|(path, _, _)| *path).find(|path| path == asked))
        .unwrap_or("tokens");
    Ok(match space {
        Some(space) => back(format!("/console/{space}/{}/{section}", env.as_str())),
        None => back("/console".into()),
    })
}

/// The console's sections: path, navigation label, and the permission that shows the link (the
/// route table checks the same one). The Space switcher lands only on these.
const SECTIONS: [(&str, &str, Permission); 7] = [
    ("tokens", "Tokens", Permission::AccessTokensRead),
    ("members", "Members", Permission::SpaceMembersRead),
    ("roles", "Roles", Permission::SpaceRolesRead),
    ("policies", "Policies", Permission::SpacePoliciesRead),
    ("audit", "Audit log", Permission::AuditEventsRead),
    ("webhooks", "Webhooks", Permission::WebhooksRead),
    ("money", "Money", Permission::FinancialAccountsRead),
];

/// A body small enough to parse, for the sign-in forms (no session yet).
pub fn small_form(body: Bytes) -> Fields {
    Fields::parse(&body[..body.len().min(FORM_LIMIT)])
}
