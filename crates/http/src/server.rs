//! The connection layer under the application: an accept loop with a connection cap, hyper's
//! HTTP/1.1 and HTTP/2 with header, body and idle timeouts, the header limit answered in the
//! envelope, and a bounded drain on shutdown.
//!
//! Every wait here is bounded, so a client that stops sending or stops reading cannot hold a
//! connection slot for long:
//!
//! - **headers**: hyper's `header_read_timeout` closes an HTTP/1 connection whose request head is
//!   not complete within `header_timeout`. hyper starts that timer as soon as the connection waits
//!   for a request, so it also bounds the quiet wait between two requests on a kept-alive
//!   connection. hyper offers no hook to answer here, so the connection is closed without a reply;
//! - **body**: a request body not fully received within `body_timeout` of its head is answered 408
//!   `request_timeout` in the envelope, and the connection is closed;
//! - **idle**: a connection on which no byte moved in either direction for `idle_timeout` is asked
//!   to close gracefully (a request in flight still gets its answer); if still nothing moves for
//!   another `idle_timeout` (a client that stopped reading our answer) it is dropped;
//! - **cap**: at most `max_connections` connections are served at once (kept below the process's
//!   file-descriptor limit); past it, new connections wait in the kernel's backlog until a slot
//!   frees, so the server never fails on `EMFILE` and recovers as soon as the timeouts free slots;
//! - **drain**: on shutdown the listener closes, every connection is asked to finish, and after
//!   `drain_timeout` whatever is left is dropped.

use crate::error::ApiError;
use crate::state::ServerConfig;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Body as _;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Most header fields a request may carry (larger requests get 431 `headers_too_large`).
pub const MAX_HEADERS: usize = 100;
/// Most bytes of header names and values a request may carry.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// hyper answers 431 itself for a head over these (its empty answer is rewritten into the envelope
/// by `protocol_errors`); they sit well above ours so that an oversized request normally reaches
/// [`headers_too_large`], which can name our limits. (More header slots cost hyper a heap
/// allocation per request, hence only twice ours.)
const HYPER_MAX_HEADERS: usize = 2 * MAX_HEADERS;
const HYPER_MAX_HEAD_BYTES: usize = 4 * MAX_HEADER_BYTES;

/// File descriptors kept for everything that is not a client connection: database pool, log,
/// GeoIP database, Redis, the listener.
const FD_HEADROOM: usize = 256;
/// The connection cap when the descriptor limit is unknown or very high.
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// The default connection cap: 10 000, or the soft `RLIMIT_NOFILE` minus [`FD_HEADROOM`] (half the
/// limit when it is small), whichever is lower.
pub fn default_max_connections() -> usize {
    match fd_limit() {
        Some(limit) => limit_below(limit).min(DEFAULT_MAX_CONNECTIONS),
        None => DEFAULT_MAX_CONNECTIONS,
    }
}

fn limit_below(fd_limit: usize) -> usize {
    if fd_limit > 2 * FD_HEADROOM {
        fd_limit - FD_HEADROOM
    } else {
        (fd_limit / 2).max(1)
    }
}

/// The soft limit on open files, if there is one.
#[cfg(unix)]
#[allow(unsafe_code)] // The workspace's one unsafe call: libc has no safe wrapper for it.
fn fd_limit() -> Option<usize> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` only writes the struct it is given, which lives for the whole call.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then(|| usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}

#[cfg(not(unix))]
fn fd_limit() -> Option<usize> {
    None
}

/// The settings this module reads, copied out of [`ServerConfig`] once.
#[derive(Debug, Clone, Copy)]
struct Limits {
    body: Duration,
    idle: Duration,
    drain: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then drains for at most the
/// configured drain timeout.
pub async fn run(
    listener: TcpListener,
    router: Router,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = Limits { body: config.body_timeout, idle: config.idle_timeout, drain: config.drain_timeout };
    let cap = effective_cap(config.max_connections);
    let builder = Arc::new(builder(config));
    let permits = Arc::new(Semaphore::new(cap));
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut saturated = false;
    tokio::pin!(shutdown);
    loop {
        // A slot first, then the accept: at the cap, new connections wait in the kernel's backlog
        // (costing us no descriptor) instead of being accepted and failing.
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                saturated = false;
                permit
            }
            Err(_) => {
                if !saturated {
                    saturated = true;
                    tracing::warn!(max_connections = cap, "connection cap reached; new connections wait for a slot");
                }
                tokio::select! {
                    _ = &mut shutdown => break,
                    permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                }
            }
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let task = connection(stream, peer, router.clone(), builder.clone(), limits, stopped.clone(), permit);
        connections.spawn(task);
    }

    // New connections are refused from here on, not left waiting in a backlog nobody accepts.
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.drain, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tracing::warn!(open = connections.len(), "drain timeout passed; closing the remaining connections");
        connections.shutdown().await;
    }
    Ok(())
}

/// The configured cap, kept below the descriptor limit.
fn effective_cap(configured: usize) -> usize {
    let cap = match fd_limit().map(limit_below) {
        Some(most) if configured > most => {
            tracing::warn!(
                configured,
                used = most,
                "max connections exceeds what the open-files limit allows; raise `ulimit -n` to serve more"
            );
            most
        }
        _ => configured,
    };
    // The semaphore's own bound; no descriptor limit comes near it.
    cap.clamp(1, Semaphore::MAX_PERMITS)
}

fn builder(config: &ServerConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_headers(HYPER_MAX_HEADERS)
        .max_buf_size(HYPER_MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(HYPER_MAX_HEAD_BYTES).unwrap_or(u32::MAX));
    builder
}

/// An accept error is not the server's end: a peer that reset before we accepted is routine, and
/// running out of descriptors (only possible through other files, given the cap) passes.
async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Serves one connection until it ends, is idle too long, or the server stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let moved = Arc::new(AtomicBool::new(true));
    let io = TokioIo::new(crate::protocol_errors::EnvelopeIo::new(Watched { inner: stream, moved: moved.clone() }));
    let service = hyper::service::service_fn(move |request| handle(request, peer, router.clone(), limits));
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);

    // Idleness is sampled, not timed per byte: a flag set on every read and write, checked four
    // times per idle timeout, so a quiet connection closes between 1 and 1.25 idle timeouts.
    let tick = (limits.idle / 4).max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut quiet = Duration::ZERO;
    let mut closing = false;
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
        closing = true;
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, client_ip = %peer.ip(), "connection ended with an error");
                }
                return;
            }
            // An error means the server is gone: stop as well.
            _ = stop.changed(), if !stopping => {
                stopping = true;
                if !closing {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            _ = ticker.tick() => {
                if moved.swap(false, Ordering::Relaxed) {
                    quiet = Duration::ZERO;
                    continue;
                }
                quiet += tick;
                if quiet >= 2 * limits.idle {
                    tracing::debug!(client_ip = %peer.ip(), "dropping a connection on which nothing moved");
                    return;
                }
                if quiet >= limits.idle && !closing {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// One request: the header limit, the connecting address, the body deadline, then the app.
async fn handle(
    mut request: Request<Incoming>,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
) -> Result<Response, Infallible> {
    let http1 = request.version() <= Version::HTTP_11;
    if headers_too_large(&request) {
        tracing::info!(client_ip = %peer.ip(), "request refused: headers over the limit");
        let refusal =
            ApiError::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", headers_over_the_limit());
        // The rest of the request is not read, so the connection cannot carry another one.
        return Ok(closing(refusal.into_response(), http1));
    }
    request.extensions_mut().insert(ConnectInfo(peer));
    if request.body().is_end_stream() {
        return Ok(router.oneshot(request.map(Body::new)).await.unwrap_or_else(|never| match never {}));
    }
    let timed_out = Arc::new(AtomicBool::new(false));
    let deadline = Box::pin(tokio::time::sleep(limits.body));
    let request = request.map(|inner| Body::new(Deadline { inner, deadline, timed_out: timed_out.clone() }));
    let response = router.oneshot(request).await.unwrap_or_else(|never| match never {});
    if !timed_out.load(Ordering::Relaxed) {
        return Ok(response);
    }
    // The app saw an unreadable body; the true cause is the deadline, so say that instead, keeping
    // the headers the app set (request id, timing).
    let request_id = response.headers().get("monime-request-id").cloned();
    tracing::info!(
        client_ip = %peer.ip(),
        request_id = request_id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-"),
        "request body did not arrive within the body timeout; answered 408"
    );
    let (mut parts, _) = response.into_parts();
    let mut answer = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!("the request body did not arrive within {} ms", limits.body.as_millis()),
    )
    .into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    for (name, value) in answer.headers_mut().drain() {
        if let Some(name) = name {
            parts.headers.insert(name, value);
        }
    }
    parts.status = answer.status();
    Ok(closing(Response::from_parts(parts, answer.into_body()), http1))
}

/// Whether the request carries more header fields or bytes than [`MAX_HEADERS`] and
/// [`MAX_HEADER_BYTES`] allow.
/// The message of every 431, ours or hyper's rewritten one.
pub(crate) fn headers_over_the_limit() -> String {
    format!("the request headers exceed the limit ({MAX_HEADERS} fields, {MAX_HEADER_BYTES} bytes)")
}

fn headers_too_large<B>(request: &Request<B>) -> bool {
    let headers = request.headers();
    if headers.len() > MAX_HEADERS {
        return true;
    }
    let mut bytes = 0;
    for (name, value) in headers {
        bytes += name.as_str().len() + value.len();
        if bytes > MAX_HEADER_BYTES {
            return true;
        }
    }
    false
}

/// Adds `Connection: close` on HTTP/1 (HTTP/2 has no such header; its stream simply ends).
fn closing(mut response: Response, http1: bool) -> Response {
    if http1 {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request body that fails once its deadline passes, noting that it did.
struct Deadline {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timed_out: Arc<AtomicBool>,
}

/// The error a body past its deadline yields (the answer itself is built in [`handle`]).
#[derive(Debug)]
struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

impl hyper::body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.timed_out.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(BodyTimedOut.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A TCP stream that notes whenever a byte moves, for the idle check.
struct Watched {
    inner: TcpStream,
    moved: Arc<AtomicBool>,
}

impl Watched {
    fn note<T>(&self, result: &Poll<io::Result<T>>, progressed: impl FnOnce(&T) -> bool) {
        if let Poll::Ready(Ok(value)) = result {
            if progressed(value) {
                self.moved.store(true, Ordering::Relaxed);
            }
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let after = buf.filled().len();
        self.note(&result, |_| after > before);
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(&result, |n| *n > 0);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(&result, |n| *n > 0);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        assert_eq!(limit_below(1024), 768);
        assert_eq!(limit_below(256), 128);
        assert_eq!(limit_below(1), 1);
        assert!(default_max_connections() <= DEFAULT_MAX_CONNECTIONS);
        if let Some(limit) = fd_limit() {
            assert!(default_max_connections() < limit);
        }
    }
}
