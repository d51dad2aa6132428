//! The server's own HTML pages: the hosted checkout page (`checkout`), the test environment's
//! handset simulator (`handset`) and the web console (`console`). Server-rendered from templates compiled into the binary
//! (`crates/http/templates`), working without JavaScript, with no third-party asset: every
//! answer carries a strict Content-Security-Policy (its one inline style allowed by a nonce),
//! `no-referrer` (a checkout link is a capability and must not leak to the merchant's site), and
//! refuses to be framed.

pub mod checkout;
pub mod console;
pub mod handset;

use crate::state::AppState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use openmonime_domain::ids::random_base62;

/// The pages' routes (outside `/v1`: no token; a checkout page's capability is its path).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/checkout/{token}", get(checkout::show))
        .route("/checkout/{token}/pay", post(checkout::pay))
        .route("/checkout/{token}/cancel", post(checkout::cancel))
        .route("/sandbox/handset", get(handset::show).post(handset::dial))
        .merge(console::routes())
}

/// What every page's frame needs: the style nonce and the brand colours.
pub struct Frame {
    pub nonce: String,
    pub brand: String,
    pub on_brand: &'static str,
}

impl Frame {
    /// A frame in `colour` (`#RGB` or `#RRGGBB`, checked at creation), or openmonime's own.
    pub fn new(colour: Option<&str>) -> Frame {
        let brand = colour.filter(|c| is_hex_colour(c)).unwrap_or("#0b5d4b").to_owned();
        let on_brand = if luminance(&brand) > 0.4 { "#111111" } else { "#ffffff" };
        Frame { nonce: random_base62(22), brand, on_brand }
    }
}

fn is_hex_colour(c: &str) -> bool {
    c.strip_prefix('#').is_some_and(|h| matches!(h.len(), 3 | 6) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// WCAG relative luminance of a `#RGB`/`#RRGGBB` colour, to pick legible text on it.
fn luminance(c: &str) -> f64 {
    let hex = c.trim_start_matches('#');
    let channel = |s: &str| u8::from_str_radix(s, 16).map(f64::from).unwrap_or(0.0) / 255.0;
    let (r, g, b) = if hex.len() == 3 {
        let d = |i: usize| {
            let s = &hex[i..=i];
            channel(&format!("{s}{s}"))
        };
        (d(0), d(1), d(2))
    } else {
        (channel(&hex[0..2]), channel(&hex[2..4]), channel(&hex[4..6]))
    };
    let lin = |v: f64| if v <= 0.03928 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// An HTML answer with the pages' security headers; `form_targets` are the origins a form on the
/// page may end at after its redirect (Chromium applies `form-action` to redirects too).
pub fn html(status: StatusCode, frame: &Frame, body: String, form_targets: &[String]) -> Response {
    let mut form_action = String::from("'self'");
    for origin in form_targets {
        form_action.push(' ');
        form_action.push_str(origin);
    }
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{}'; form-action {form_action}; base-uri 'none'; frame-ancestors 'none'",
        frame.nonce
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A template rendered, or a plain 500 page if it cannot be (it always can: the templates are
/// compiled and their values are owned strings).
pub fn render<T: askama::Template>(template: &T) -> String {
    template.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "a page template failed to render");
        String::from("<!doctype html><title>Error</title><p>Something went wrong.</p>")
    })
}

/// A value of the request's `Cookie` header(s).
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `scheme://host[:port]` of an absolute URL.
pub fn origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(parsed.origin().ascii_serialization()).filter(|o| o != "null")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_on_the_brand_colour_stays_legible() {
        assert_eq!(Frame::new(Some("#ffff00")).on_brand, "#111111");
        assert_eq!(Frame::new(Some("#003366")).on_brand, "#ffffff");
        assert_eq!(Frame::new(Some("#fff")).on_brand, "#111111");
        assert_eq!(
            Frame::new(Some("red; } body { display:none")).brand,
            "#0b5d4b",
            "only a hex colour reaches the CSS"
        );
    }
}
