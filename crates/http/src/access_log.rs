//! The request log: one line per request, with the fields and layout the `tracing` formatter
//! gives them (`human` or `json`), written without a `tracing` event. Formatting an event through
//! `tracing-subscriber` (its field visitors, `Debug` quoting, the timer, the ANSI wrappers) cost
//! about a fifth of the instructions of a `GET /`; here the line is built once, by hand, into a
//! buffer each thread reuses, and handed to the same background writer the other logs use.
//!
//! A library user (and the test suite) that configures nothing gets [`AccessLog::Tracing`]: the
//! same line as a `tracing` event, target `openmonime::request`, so a subscriber still sees it.

use openmonime_domain::time_fmt::push_rfc3339_micros;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

/// Where a finished line goes (the CLI passes its non-blocking stderr writer).
pub trait LineSink: Send + Sync {
    /// Writes one line, newline included; never blocks the request on I/O.
    fn write_line(&self, line: &[u8]);
}

/// The two layouts, as `--log-format` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    Human,
    Json,
}

/// How this server writes its request log.
#[derive(Clone, Default)]
pub enum AccessLog {
    /// As a `tracing` event (the default when nothing else is configured).
    #[default]
    Tracing,
    /// Formatted here and written to `sink`.
    Lines { format: LineFormat, sink: Arc<dyn LineSink> },
    /// Not written (the operator's log filter excludes it).
    Off,
}

/// One request, as its log line shows it.
pub struct RequestLine<'a> {
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub duration_us: u64,
    pub request_id: &'a str,
    pub token_id: &'a str,
    pub client_ip: IpAddr,
}

thread_local! {
    /// Each thread's line buffer: grown once, reused for every line after.
    static BUFFER: RefCell<String> = RefCell::new(String::with_capacity(256));
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccessLog::Tracing => f.write_str("Tracing"),
            AccessLog::Lines { format, .. } => write!(f, "Lines({format:?})"),
            AccessLog::Off => f.write_str("Off"),
        }
    }
}

impl AccessLog {
    pub fn write(&self, r: &RequestLine<'_>) {
        match self {
            AccessLog::Off => {}
            AccessLog::Tracing => tracing::info!(
                target: "openmonime::request",
                method = r.method,
                route = r.route,
                status = r.status,
                duration_us = r.duration_us,
                request_id = r.request_id,
                token_id = r.token_id,
                client_ip = %r.client_ip,
                "request"
            ),
            AccessLog::Lines { format, sink } => BUFFER.with(|buffer| {
                let Ok(mut line) = buffer.try_borrow_mut() else { return };
                line.clear();
                format_line(&mut line, *format, time::OffsetDateTime::now_utc(), r);
                sink.write_line(line.as_bytes());
            }),
        }
    }
}

/// A string as JSON writes it (the `tracing` formatter's `Debug` quoting agrees for the values a
/// request line holds: no character here needs more than a backslash).
fn quoted(out: &mut String, s: &str) {
    // Ids, methods and route templates never need escaping: copy them whole.
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Starts field `name`: ` name=` in the human layout, `,"name":` in JSON.
fn field(out: &mut String, format: LineFormat, name: &str) {
    match format {
        LineFormat::Human => {
            out.push(' ');
            out.push_str(name);
            out.push('=');
        }
        LineFormat::Json => {
            out.push_str(",\"");
            out.push_str(name);
            out.push_str("\":");
        }
    }
}

/// An address as `Display` writes it; IPv4 (nearly every client) digit by digit.
fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut number = itoa::Buffer::new();
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(number.format(octet));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

fn format_line(out: &mut String, format: LineFormat, now: time::OffsetDateTime, r: &RequestLine<'_>) {
    let mut number = itoa::Buffer::new();
    match format {
        LineFormat::Human => {
            push_rfc3339_micros(out, now);
            out.push_str("  INFO openmonime::request: request");
        }
        LineFormat::Json => {
            out.push_str("{\"timestamp\":\"");
            push_rfc3339_micros(out, now);
            out.push_str("\",\"level\":\"INFO\",\"fields\":{\"message\":\"request\"");
        }
    }
    field(out, format, "method");
    quoted(out, r.method);
    field(out, format, "route");
    quoted(out, r.route);
    field(out, format, "status");
    out.push_str(number.format(r.status));
    field(out, format, "duration_us");
    out.push_str(number.format(r.duration_us));
    field(out, format, "request_id");
    quoted(out, r.request_id);
    field(out, format, "token_id");
    quoted(out, r.token_id);
    // An address needs no escaping; the human layout shows it unquoted (`%` in `tracing`).
    field(out, format, "client_ip");
    let json = format == LineFormat::Json;
    if json {
        out.push('"');
    }
    push_ip(out, r.client_ip);
    if json {
        out.push_str("\"},\"target\":\"openmonime::request\"}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Captures what the `tracing` formatter writes, to compare layouts byte for byte.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl LineSink for Captured {
        fn write_line(&self, line: &[u8]) {
            self.0.lock().unwrap().extend_from_slice(line);
        }
    }

    fn line<'a>(route: &'a str, token: &'a str) -> RequestLine<'a> {
        RequestLine {
            method: "GET",
            route,
            status: 200,
            duration_us: 1234,
            request_id: "req-BMY769x7GggHXS7YE5rpIF",
            token_id: token,
            client_ip: "2001:db8::1".parse().unwrap(),
        }
    }

    /// The line `tracing-subscriber` writes for the same request, timestamp removed.
    fn through_tracing(format: LineFormat, r: &RequestLine<'_>) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let builder = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).without_time();
        let emit = || AccessLog::Tracing.write(r);
        match format {
            LineFormat::Human => tracing::subscriber::with_default(builder.finish(), emit),
            LineFormat::Json => tracing::subscriber::with_default(builder.json().finish(), emit),
        }
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text
    }

    fn ours(format: LineFormat, r: &RequestLine<'_>) -> String {
        let mut out = String::new();
        format_line(&mut out, format, time::OffsetDateTime::UNIX_EPOCH, r);
        out
    }

    #[test]
    fn lines_match_the_tracing_formatters_field_for_field() {
        let mut v4 = line("/", "-");
        v4.client_ip = "203.0.113.250".parse().unwrap();
        for r in [line("/v1/financial-accounts/{id}", "tok-3MuTNyBVQl0XIgCeRVm3hO"), line("<unmatched>", "-"), v4] {
            let human = ours(LineFormat::Human, &r);
            let expected = through_tracing(LineFormat::Human, &r);
            assert_eq!(human.strip_prefix("1970-01-01T00:00:00.000000Z  ").unwrap(), expected.trim_start());
            let json: serde_json::Value = serde_json::from_str(&ours(LineFormat::Json, &r)).unwrap();
            let expected: serde_json::Value = serde_json::from_str(&through_tracing(LineFormat::Json, &r)).unwrap();
            assert_eq!(json["fields"], expected["fields"]);
            assert_eq!((&json["level"], &json["target"]), (&expected["level"], &expected["target"]));
            assert_eq!(json["timestamp"], "1970-01-01T00:00:00.000000Z");
        }
    }

    #[test]
    fn a_line_is_one_line_whatever_a_route_holds() {
        let r = line("/x\"\n\\y", "-");
        for format in [LineFormat::Human, LineFormat::Json] {
            let text = ours(format, &r);
            assert_eq!(text.matches('\n').count(), 1, "{text}");
            assert!(text.ends_with('\n'));
        }
        let json: serde_json::Value = serde_json::from_str(&ours(LineFormat::Json, &r)).unwrap();
        assert_eq!(json["fields"]["route"], "/x\"\n\\y");
    }

    #[test]
    fn lines_go_to_the_sink_and_off_writes_nothing() {
        let sink = Captured::default();
        let log = AccessLog::Lines { format: LineFormat::Json, sink: Arc::new(sink.clone()) };
        log.write(&line("/", "-"));
        log.write(&line("/", "-"));
        AccessLog::Off.write(&line("/", "-"));
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
    }
}
