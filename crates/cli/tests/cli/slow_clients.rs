//! Issue 12, findings 5 and 13: slow clients and protocol-level answers against a real server
//! process over raw TCP — a half-sent head is closed within the header timeout, a half-sent body
//! is answered 408 within the body timeout, an idle keep-alive connection is closed, the
//! connection cap holds and the server recovers, SIGTERM exits within the drain timeout while
//! requests hang, and oversized headers get 431 in the envelope.
//!
//! Timeouts are about a second and every bound is several times that: these tests show that a
//! wait ends, not how precisely.

use super::{free_port, openmonime, Db, Server};
use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// `openmonime serve` with `extra` flags on a fresh database, once it answers.
fn start(db: &Db, extra: &[&str]) -> Server {
    let server = Server::start_with(db, extra);
    let port = server.port;
    let deadline = Instant::now() + Duration::from_secs(30);
    // `/healthz` rather than a bare connect: the server must be answering, not only listening.
    loop {
        if let Ok(mut probe) = TcpStream::connect(("127.0.0.1", port)) {
            probe.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = probe.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut answer = Vec::new();
            let _ = probe.read_to_end(&mut answer);
            if answer.starts_with(b"HTTP/1.1 200") {
                return server;
            }
        }
        assert!(Instant::now() < deadline, "the server did not start answering");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A connection that has sent `sent` and nothing more.
fn send_partial(server: &Server, sent: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.write_all(sent).unwrap();
    stream
}

/// Blocks until the server closes `stream` (or `bound` passes); returns what it sent and when.
fn wait_for_close(stream: &mut TcpStream, bound: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    stream.set_read_timeout(Some(bound)).unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            // A reset also means the server let go of the connection.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the server still held the connection after {bound:?}; it sent: {received:?}")
            }
            Err(e) => panic!("reading failed: {e}"),
        }
    }
    (received, started.elapsed())
}

/// Whether the server still holds `stream` open (nothing arrived, no close).
fn still_open(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let open = matches!((&*stream).read(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock);
    stream.set_nonblocking(false).unwrap();
    open
}

/// Splits a raw HTTP/1.1 answer into status, lower-cased head and the JSON body (None when empty).
fn parse(raw: &[u8]) -> (u16, String, Option<Value>) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status: {head}"));
    let head = head.to_ascii_lowercase();
    let body = if head.contains("transfer-encoding: chunked") { super::dechunk(body) } else { body.to_owned() };
    let json = (!body.is_empty()).then(|| serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}")));
    (status, head, json)
}

/// Reads exactly one answer with a `Content-Length` off a kept-alive connection.
fn read_one_answer(stream: &mut TcpStream) -> (u16, Value) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "the connection closed mid-answer");
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("a Content-Length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    raw.extend_from_slice(&body);
    let (status, _, json) = parse(&raw);
    (status, json.expect("a body"))
}

fn assert_envelope(json: &Value, reason: &str) {
    assert_eq!(json["success"], false, "{json}");
    assert_eq!(json["error"]["reason"], reason, "{json}");
    assert!(json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{json}");
}

const HALF_HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

fn half_body() -> Vec<u8> {
    let mut request = b"POST /v1/financial-accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
        Content-Length: 100\r\n\r\n"
        .to_vec();
    request.extend_from_slice(&[b' '; 50]);
    request
}

#[test]
fn a_half_sent_request_head_is_closed_within_the_header_timeout() {
    let db = Db::new();
    let server = start(&db, &["--header-timeout", "1s", "--idle-timeout", "60s"]);
    let mut slow = send_partial(&server, HALF_HEAD);
    let (received, took) = wait_for_close(&mut slow, Duration::from_secs(8));
    // hyper offers no hook at this point, so the connection is closed without an answer.
    assert!(received.is_empty(), "{}", String::from_utf8_lossy(&received));
    assert!(took >= Duration::from_millis(500), "closed before the timeout: {took:?}");
    assert_eq!(server.get("/healthz", &[]).0, 200);
    let (clean, _) = server.terminate();
    assert!(clean);
}

#[test]
fn a_body_sent_halfway_is_answered_408_within_the_body_timeout() {
    let db = Db::new();
    let server = start(&db, &["--body-timeout", "1s", "--header-timeout", "60s", "--idle-timeout", "60s"]);
    let mut slow = send_partial(&server, &half_body());
    let (received, took) = wait_for_close(&mut slow, Duration::from_secs(8));
    let (status, head, json) = parse(&received);
    assert_eq!(status, 408, "{head}");
    assert_envelope(&json.expect("an envelope"), "request_timeout");
    assert!(head.contains("connection: close"), "{head}");
    assert!(head.contains("monime-request-id:"), "the app's headers are kept: {head}");
    assert!(took >= Duration::from_millis(500), "answered before the timeout: {took:?}");
    let (clean, _) = server.terminate();
    assert!(clean);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let db = Db::new();
    // The header timeout is long, so what closes the connection is the idle timeout.
    let server = start(&db, &["--idle-timeout", "1s", "--header-timeout", "60s"]);
    let mut stream = send_partial(&server, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let (status, json) = read_one_answer(&mut stream);
    assert_eq!((status, &json["status"]), (200, &Value::from("ok")));
    // Still usable while requests keep coming.
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    assert_eq!(read_one_answer(&mut stream).0, 200);
    let (received, took) = wait_for_close(&mut stream, Duration::from_secs(8));
    assert!(received.is_empty(), "{}", String::from_utf8_lossy(&received));
    assert!(took >= Duration::from_millis(500), "closed before the idle timeout: {took:?}");
    let (clean, _) = server.terminate();
    assert!(clean);
}

#[test]
fn the_connection_cap_holds_slow_clients_and_the_server_recovers() {
    let db = Db::new();
    let server = start(&db, &["--max-connections", "3", "--header-timeout", "3s", "--idle-timeout", "60s"]);
    // Below the cap, slow clients do not stop anyone else.
    let held: Vec<TcpStream> = (0..2).map(|_| send_partial(&server, HALF_HEAD)).collect();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.get("/healthz", &[]).0, 200);
    assert!(held.iter().all(still_open), "the slow clients were held while /healthz answered");

    // At the cap a new client waits (in the kernel's backlog, not refused) until the header
    // timeout frees a slot, and is then answered.
    let mut held = held;
    held.push(send_partial(&server, HALF_HEAD));
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut waiting = send_partial(&server, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let (received, _) = wait_for_close(&mut waiting, Duration::from_secs(15));
    let waited = started.elapsed();
    let (status, _, json) = parse(&received);
    assert_eq!((status, json.unwrap()["status"].clone()), (200, Value::from("ok")));
    assert!(waited >= Duration::from_millis(1000), "answered at once although the cap was full: {waited:?}");
    for mut stream in held {
        wait_for_close(&mut stream, Duration::from_secs(8));
    }
    assert_eq!(server.get("/healthz", &[]).0, 200);
    let (clean, log) = server.terminate();
    assert!(clean);
    assert!(log.contains("connection cap reached"), "the cap is logged:\n{log}");
}

#[test]
fn sigterm_with_hanging_requests_exits_cleanly_within_the_drain_timeout() {
    let db = Db::new();
    let server = start(
        &db,
        &["--drain-timeout", "2s", "--header-timeout", "60s", "--body-timeout", "60s", "--idle-timeout", "60s"],
    );
    let _head = send_partial(&server, HALF_HEAD);
    // A request in flight: the app is waiting for its body, so the drain cannot finish by itself.
    let _body = send_partial(&server, &half_body());
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (clean, log) = server.terminate();
    let took = started.elapsed();
    assert!(clean, "serve must exit 0 on SIGTERM; log:\n{log}");
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");
    assert!(log.contains("drain timeout passed"), "the drain ended by its bound:\n{log}");
}

#[test]
fn oversized_headers_get_431_in_the_envelope() {
    let db = Db::new();
    let server = start(&db, &[]);
    let ask = |extra: &str| {
        let request = format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n");
        let mut stream = send_partial(&server, request.as_bytes());
        let (received, _) = wait_for_close(&mut stream, Duration::from_secs(10));
        parse(&received)
    };

    // One huge field, and too many small ones.
    let big = format!("X-Big: {}\r\n", "a".repeat(40 * 1024));
    let many: String = (0..150).map(|i| format!("X-Field-{i}: {i}\r\n")).collect();
    for extra in [big, many] {
        let (status, head, json) = ask(&extra);
        assert_eq!(status, 431, "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert_envelope(&json.expect("an envelope"), "headers_too_large");
    }

    // Just under the limits is served.
    let near: String = (0..90).map(|i| format!("X-Field-{i}: {}\r\n", "b".repeat(250))).collect();
    let (status, _, json) = ask(&near);
    assert_eq!((status, json.unwrap()["status"].clone()), (200, Value::from("ok")));
    let (clean, _) = server.terminate();
    assert!(clean);
}

/// What hyper answers by itself — an unparseable head, a target too long, a head past hyper's own
/// limits — is the envelope too.
#[test]
fn hypers_own_protocol_answers_are_the_envelope() {
    let db = Db::new();
    let server = start(&db, &[]);
    let ask = |request: Vec<u8>| {
        let mut stream = send_partial(&server, &request);
        let (received, _) = wait_for_close(&mut stream, Duration::from_secs(10));
        parse(&received)
    };
    let huge_head: String = (0..300).map(|i| format!("X-Field-{i}: {}\r\n", "c".repeat(600))).collect();
    let cases = [
        (b"GET / HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n".to_vec(), 400, "request_malformed"),
        (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(), 400, "request_malformed"),
        (format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)).into_bytes(), 414, "uri_too_long"),
        (format!("GET / HTTP/1.1\r\nHost: x\r\n{huge_head}\r\n").into_bytes(), 431, "headers_too_large"),
    ];
    for (request, want, reason) in cases {
        let (status, head, json) = ask(request);
        assert_eq!(status, want, "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert_envelope(&json.unwrap_or_else(|| panic!("no envelope after {head}")), reason);
    }
    // The server is unharmed, and its own answers are untouched.
    let (status, _, json) = ask(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec());
    assert_eq!((status, json.unwrap()["status"].clone()), (200, Value::from("ok")));
    let (clean, _) = server.terminate();
    assert!(clean);
}

#[test]
fn bad_timeout_and_cap_settings_are_refused_with_a_clear_message() {
    let db = Db::new();
    let config = db.dir.path().join("openmonime.toml");
    std::fs::write(&config, "header-timeout = \"soon\"\n").unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--header-timeout", "0s"], "--header-timeout must be a positive duration"),
        (&["--body-timeout", "1h"], "--body-timeout must be a positive duration"),
        (&["--idle-timeout=-5"], "--idle-timeout must be a positive duration"),
        (&["--max-connections", "0"], "--max-connections must be at least 1"),
        (&["--config", config.to_str().unwrap()], "--header-timeout must be a positive duration"),
    ];
    for (args, needle) in cases {
        let out = openmonime()
            .args(["serve", "--database", &db.url, "--listen", &format!("127.0.0.1:{}", free_port())])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert_ne!(out.status.code(), Some(101), "{args:?} panicked: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: expected `{needle}` in: {stderr}");
    }
}

#[test]
fn a_client_that_stops_reading_loses_its_connection_and_slot() {
    let db = Db::new();
    // One slot: `/healthz` at the end answers only if the stuck connection gave it back.
    let server = start(&db, &["--max-connections", "1", "--idle-timeout", "1s", "--header-timeout", "60s"]);
    // Far more answer (the OpenAPI document, ~65 KB, a thousand times) than socket buffers hold.
    let requests = "GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(1000);
    let mut stuck = send_partial(&server, requests.as_bytes());
    // Never read while the server's writes block; by now it has dropped the connection.
    std::thread::sleep(Duration::from_secs(5));
    let (received, _) = wait_for_close(&mut stuck, Duration::from_secs(10));
    assert!(received.len() < 1000 * 60_000, "the whole answer was written: {} bytes", received.len());
    assert_eq!(server.get("/healthz", &[]).0, 200);
    let (clean, _) = server.terminate();
    assert!(clean);
}
