//! Webhooks: where a Space delivers its events of one environment, and the rules a definition
//! must meet (checked here, purely; whether the URL's host may be connected to is
//! `webhook_destination`'s rule, applied to the addresses it resolves to).

use crate::event::EventName;
use crate::validation::Validation;
use crate::Environment;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;
use time::OffsetDateTime;

/// The API release a webhook's deliveries render their objects in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRelease {
    Caph,
    Siriusb,
}

impl ApiRelease {
    pub const ALL: [ApiRelease; 2] = [ApiRelease::Caph, ApiRelease::Siriusb];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiRelease::Caph => "caph",
            ApiRelease::Siriusb => "siriusb",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// How a webhook's deliveries are signed (see `webhook_signature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningMethod {
    /// HMAC-SHA256 with a secret shared with the receiver.
    Hs256,
    /// ECDSA P-256 with a key only the server holds; the receiver has its public key.
    Es256,
}

impl SigningMethod {
    pub const ALL: [SigningMethod; 2] = [SigningMethod::Hs256, SigningMethod::Es256];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningMethod::Hs256 => "HS256",
            SigningMethod::Es256 => "ES256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A webhook as it is shown: never its signing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: crate::ids::WebhookId,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub events: Vec<EventName>,
    pub api_release: ApiRelease,
    pub signing: SigningMethod,
    /// The ES256 public key (PEM); `None` for HS256.
    pub public_key: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub alert_emails: Vec<String>,
    pub metadata: Option<Map<String, Value>>,
    pub created_at: OffsetDateTime,
    pub updated_at: Option<OffsetDateTime>,
}

/// Longest URL, name; most events, headers, alert addresses (the document's limits).
pub const MAX_URL: usize = 255;
pub const MAX_NAME: usize = 100;
pub const MAX_EVENTS: usize = 100;
pub const MAX_HEADERS: usize = 10;
pub const MAX_ALERT_EMAILS: usize = 2;
/// An HS256 secret's length bounds, in characters (the document's).
pub const SECRET_CHARS: std::ops::RangeInclusive<usize> = 32..=256;

/// Headers a delivery sets itself, which a webhook's custom headers may not replace.
const RESERVED_HEADERS: [&str; 9] = [
    "content-type",
    "content-length",
    "host",
    "monime-signature",
    "user-agent",
    "connection",
    "transfer-encoding",
    "te",
    "upgrade",
];

/// A delivery URL: `https` (or `http` in test, for a local receiver), with a host and no
/// credentials (they would sit in every log that shows the URL). Returns the parsed URL.
pub fn check_url(field: &str, raw: &str, environment: Environment, v: &mut Validation) -> Option<url::Url> {
    if raw.chars().count() > MAX_URL {
        v.push(field, "too_long", format!("`{field}` must be at most {MAX_URL} characters"));
        return None;
    }
    let Ok(parsed) = url::Url::parse(raw) else {
        v.push(field, "invalid_url", format!("`{field}` must be an absolute http(s) URL"));
        return None;
    };
    let allowed = match environment {
        Environment::Live => parsed.scheme() == "https",
        Environment::Test => matches!(parsed.scheme(), "https" | "http"),
    };
    if !allowed {
        let message = match environment {
            Environment::Live => format!("`{field}` must use https in live"),
            Environment::Test => format!("`{field}` must use http or https"),
        };
        v.push(field, "url_scheme_not_allowed", message);
        return None;
    }
    if parsed.host().is_none() {
        v.push(field, "invalid_url", format!("`{field}` must name a host"));
        return None;
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        v.push(field, "url_has_credentials", format!("`{field}` must not carry a user name or password"));
        return None;
    }
    Some(parsed)
}

/// The IP a URL's host names literally, if it does.
pub fn literal_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// 1 to 100 distinct event names that openmonime emits.
pub fn check_events(field: &str, names: &[String], v: &mut Validation) -> Vec<EventName> {
    if names.is_empty() || names.len() > MAX_EVENTS {
        v.push(field, "invalid_length", format!("`{field}` must list 1 to {MAX_EVENTS} event names"));
        return Vec::new();
    }
    let mut events = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match EventName::parse(name) {
            Some(e) if events.contains(&e) => {
                v.push(format!("{field}[{i}]"), "duplicate_value", format!("`{name}` is listed twice"))
            }
            Some(e) => events.push(e),
            None => {
                v.push(format!("{field}[{i}]"), "unknown_event", format!("`{name}` is not an event openmonime emits"))
            }
        }
    }
    events
}

/// At most 10 headers, each a valid HTTP field name and value, none that a delivery sets itself,
/// no name twice (HTTP names are case-insensitive: `X-A` and `x-a` are one header).
pub fn check_headers(field: &str, headers: &BTreeMap<String, String>, v: &mut Validation) {
    if headers.len() > MAX_HEADERS {
        v.push(field, "too_many", format!("`{field}` may hold at most {MAX_HEADERS} headers"));
    }
    let mut seen = std::collections::HashSet::new();
    for (name, value) in headers {
        let at = format!("{field}.{name}");
        if !seen.insert(name.to_ascii_lowercase()) {
            v.push(at, "duplicate_value", format!("`{name}` is listed twice (header names ignore case)"));
            continue;
        }
        let token =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            v.push(at, "invalid_header_name", "a header name is letters, digits and !#$%&'*+-.^_`|~");
        } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            v.push(at, "reserved_header", format!("`{name}` is set by every delivery and cannot be replaced"));
        } else if value.len() > 1024 || value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
            v.push(at, "invalid_header_value", "a header value is at most 1024 visible characters");
        }
    }
}

/// At most 2 distinct addresses, each of the shape `local@domain`.
pub fn check_alert_emails(field: &str, emails: &[String], v: &mut Validation) {
    if emails.len() > MAX_ALERT_EMAILS {
        v.push(field, "too_many", format!("`{field}` may hold at most {MAX_ALERT_EMAILS} addresses"));
    }
    for (i, email) in emails.iter().enumerate() {
        let shaped = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
            })
            && !email.chars().any(char::is_whitespace);
        if !shaped {
            v.push(format!("{field}[{i}]"), "invalid_email", format!("`{email}` is not an email address"));
        } else if emails[..i].contains(email) {
            v.push(format!("{field}[{i}]"), "duplicate_value", format!("`{email}` is listed twice"));
        }
    }
}

/// An HS256 secret: 32 to 256 characters.
pub fn check_secret(field: &str, secret: &str, v: &mut Validation) {
    if !SECRET_CHARS.contains(&secret.chars().count()) {
        v.push(field, "invalid_length", format!("`{field}` must be 32 to 256 characters"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(f: impl FnOnce(&mut Validation)) -> Vec<(String, &'static str)> {
        let mut v = Validation::new();
        f(&mut v);
        v.finish().err().unwrap_or_default().into_iter().map(|e| (e.field, e.reason)).collect()
    }

    #[test]
    fn urls_are_https_in_live_http_allowed_in_test_never_with_credentials() {
        let ok = |raw, env| errors(|v| drop(check_url("url", raw, env, v))).is_empty();
        assert!(ok("https://example.com/hooks", Environment::Live));
        assert!(!ok("http://example.com/hooks", Environment::Live));
        assert!(ok("http://127.0.0.1:9000/hooks", Environment::Test));
        assert!(!ok("ftp://example.com", Environment::Test));
        assert!(!ok("https://user:pw@example.com", Environment::Live));
        assert!(!ok("not a url", Environment::Test));
        assert!(!ok(&format!("https://example.com/{}", "a".repeat(250)), Environment::Live));
        let mut v = Validation::new();
        let parsed = check_url("url", "https://[::1]:8443/x", Environment::Live, &mut v).unwrap();
        assert_eq!(literal_ip(&parsed), Some("::1".parse().unwrap()));
    }

    #[test]
    fn events_headers_and_emails_meet_their_limits() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(errors(|v| drop(check_events("events", &names(&["internal_transfer.completed"]), v))).is_empty());
        assert_eq!(errors(|v| drop(check_events("events", &[], v))), [("events".into(), "invalid_length")]);
        assert_eq!(
            errors(|v| drop(check_events(
                "events",
                &names(&["payout.delayed", "internal_transfer.failed", "internal_transfer.failed"]),
                v
            ))),
            [("events[0]".into(), "unknown_event"), ("events[2]".into(), "duplicate_value")]
        );
        let headers = |pairs: &[(&str, &str)]| {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()
        };
        assert!(errors(|v| check_headers("headers", &headers(&[("X-Tenant", "a")]), v)).is_empty());
        assert_eq!(
            errors(|v| check_headers("headers", &headers(&[("Monime-Signature", "x")]), v))[0].1,
            "reserved_header"
        );
        assert_eq!(errors(|v| check_headers("headers", &headers(&[("bad name", "x")]), v))[0].1, "invalid_header_name");
        assert_eq!(
            errors(|v| check_headers("headers", &headers(&[("X-A", "a\r\nb")]), v))[0].1,
            "invalid_header_value"
        );
        assert_eq!(
            errors(|v| check_headers("headers", &headers(&[("X-Shop", "1"), ("x-shop", "2")]), v)),
            [("headers.x-shop".into(), "duplicate_value")]
        );
        let many: Vec<_> = (0..11).map(|i| (format!("X-{i}"), "v".to_owned())).collect();
        assert_eq!(errors(|v| check_headers("headers", &many.into_iter().collect(), v))[0].1, "too_many");
        assert!(errors(|v| check_alert_emails("alertEmails", &names(&["ops@example.com"]), v)).is_empty());
        assert_eq!(errors(|v| check_alert_emails("alertEmails", &names(&["nope"]), v))[0].1, "invalid_email");
        assert_eq!(
            errors(|v| check_alert_emails("alertEmails", &names(&["a@b.co", "c@d.co", "e@f.co"]), v))[0].1,
            "too_many"
        );
        assert_eq!(errors(|v| check_secret("secret", "short", v))[0].1, "invalid_length");
        assert!(errors(|v| check_secret("secret", &"s".repeat(32), v)).is_empty());
    }
}
