//! Real receivers for the delivery tests: an HTTP server on loopback that records every request
//! and answers from a script, a TCP listener that only counts connections, a minimal SMTP server
//! that keeps the mail it is given, and a clock a test moves forward.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use openmonime_http::delivery::Clock;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a delivery body is JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Waits this long before answering (past the attempt timeout: a timeout).
    pub delay: Duration,
    pub location: Option<&'static str>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply { status, delay: Duration::ZERO, location: None }
    }
}

#[derive(Default)]
struct Log {
    received: Vec<Received>,
    script: VecDeque<Reply>,
}

/// An HTTP receiver: answers from its script, then 200 once the script is used up.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    /// Every request's answer is delayed this long (for overlap in concurrency tests).
    base_delay: Duration,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::start_with(Duration::ZERO).await
    }

    pub async fn start_with(base_delay: Duration) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let receiver = Receiver { addr, log: Arc::default(), base_delay };
        let handler = receiver.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let handler = handler.clone();
            async move { handler.answer(uri.path().to_owned(), headers, body).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    async fn answer(&self, path: String, headers: HeaderMap, body: Bytes) -> axum::response::Response {
        use axum::response::IntoResponse;
        let reply = {
            let mut log = self.log.lock().unwrap();
            log.received.push(Received { path, headers, body });
            log.script.pop_front().unwrap_or(Reply::status(200))
        };
        tokio::time::sleep(self.base_delay + reply.delay).await;
        let status = StatusCode::from_u16(reply.status).unwrap();
        match reply.location {
            Some(to) => (status, [(axum::http::header::LOCATION, to)], "moved").into_response(),
            None => (status, format!("answer {}", reply.status)).into_response(),
        }
    }

    /// Answers the next requests so, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.log.lock().unwrap().script.extend(replies);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().received.clone()
    }

    /// Waits (at most 10 s) until `n` requests have arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.received();
            if got.len() >= n || tokio::time::Instant::now() >= deadline {
                assert!(got.len() >= n, "expected {n} deliveries, got {}", got.len());
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A TCP listener that accepts and counts connections and never answers.
pub struct Silent {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
}

impl Silent {
    pub async fn start() -> Silent {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                open.push(socket);
            }
        });
        Silent { addr, accepted }
    }
}

/// One message the sink received: its recipients and its data.
pub type Mail = (Vec<String>, String);

/// A minimal SMTP server (RFC 5321's happy path) keeping each message's envelope and data.
#[derive(Clone, Default)]
pub struct SmtpSink {
    pub addr: Option<SocketAddr>,
    pub mail: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink { addr: Some(listener.local_addr().unwrap()), mail: Arc::default() };
        let mail = sink.mail.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let mail = mail.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let (mut to, mut data, mut in_data) = (Vec::new(), String::new(), false);
                    while let Ok(Some(line)) = lines.next_line().await {
                        if in_data {
                            if line == "." {
                                in_data = false;
                                mail.lock().unwrap().push((std::mem::take(&mut to), std::mem::take(&mut data)));
                                let _ = write.write_all(b"250 queued\r\n").await;
                            } else {
                                data.push_str(&line);
                                data.push('\n');
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let answer: &[u8] = match verb.as_str() {
                            "EHLO" | "HELO" => b"250 sink\r\n",
                            "RCPT" => {
                                to.push(line[8..].trim().to_owned());
                                b"250 ok\r\n"
                            }
                            "DATA" => {
                                in_data = true;
                                b"354 go on\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"250 ok\r\n",
                        };
                        let _ = write.write_all(answer).await;
                    }
                });
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr.expect("started"))
    }
}

/// The system clock plus an offset a test moves forward, so the retry schedule is driven
/// instead of waited for (deliveries queued now are due at once; a retry in 5 minutes is due
/// as soon as the test advances 5 minutes).
#[derive(Default)]
pub struct SteppedClock {
    ahead_micros: AtomicI64,
}

impl SteppedClock {
    pub fn advance(&self, by: time::Duration) {
        self.ahead_micros.fetch_add(by.whole_microseconds() as i64, Ordering::SeqCst);
    }
}

impl Clock for SteppedClock {
    fn now(&self) -> OffsetDateTime {
        openmonime_domain::time_fmt::now() + time::Duration::microseconds(self.ahead_micros.load(Ordering::SeqCst))
    }
}
