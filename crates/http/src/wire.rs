//! Conventions every response follows: request id, timing and checksum headers, the body-size
//! limit, client-IP resolution, duplicated-header refusal, panic containment, and the one-line
//! request log.

use crate::access_log::RequestLine;
use crate::auth::{ClientIp, LoggedTokenId};
use crate::client_ip;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use openmonime_domain::ids::RequestId;
use openmonime_domain::time_fmt;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::time::Instant;

tokio::task_local! {
    /// The id of the request being served, for answers built far from the request (panics).
    pub static REQUEST_ID: RequestId;
}

/// SHA-256 of method, path and body: the `Monime-Request-Checksum` header and the idempotency
/// fingerprint.
#[derive(Debug, Clone)]
pub struct RequestChecksum(pub HeaderValue);

/// As the header's value: a clone of it is a reference count, not a copy.
fn checksum(method: &str, path: &str, body: &[u8]) -> HeaderValue {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    // Lowercase hex is always a valid header value.
    HeaderValue::try_from(hex::encode(h.finalize())).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Paths longer than this are not remembered by [`bodyless_checksum`], so the memo's memory stays
/// bounded whatever paths strangers send.
const MEMO_PATH_MAX: usize = 256;

/// The checksum of a request without a body, remembered per method and path: most requests are
/// reads of the same few paths, and SHA-256 was a tenth of a `GET /`.
fn bodyless_checksum(state: &AppState, method: &Method, path: String) -> HeaderValue {
    let key = (method.clone(), path);
    if let Some(hit) = state.checksums.get(&key) {
        return hit;
    }
    let sum = checksum(key.0.as_str(), &key.1, b"");
    if key.1.len() <= MEMO_PATH_MAX {
        state.checksums.insert(key, sum.clone());
    }
    sum
}

static MONIME_REQUEST_ID: HeaderName = HeaderName::from_static("monime-request-id");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static MONIME_REQUEST_TIMESTAMP: HeaderName = HeaderName::from_static("monime-request-timestamp");
static MONIME_REQUEST_DURATION: HeaderName = HeaderName::from_static("monime-request-duration");
static MONIME_REQUEST_CHECKSUM: HeaderName = HeaderName::from_static("monime-request-checksum");

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the request body exceeds the {limit}-byte limit"),
    )
}

async fn read_body(body: Body, declared: Option<usize>, limit: usize) -> Result<Bytes, ApiError> {
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(err) => {
            let is_limit = std::error::Error::source(&err).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            Err(if is_limit {
                too_large(limit)
            } else {
                ApiError::bad_request("body_unreadable", "the request body could not be read")
            })
        }
    }
}

/// The outermost layer.
pub async fn wire(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let arrived = time::OffsetDateTime::now_utc();
    let request_id = RequestId::generate();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();

    let (mut parts, body) = request.into_parts();
    // This layer wraps each route (`Router::layer`), so routing has already happened: a matched
    // request carries its template (a shared string), the fallback's none.
    let route = parts.extensions.get::<MatchedPath>().cloned();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    let resolved =
        client_ip::resolve(peer, &parts.headers, &state.config.trusted_proxies, state.config.client_ip_header);
    // A request refused here has no client address; its log line shows the peer that sent it.
    let ip = resolved.unwrap_or_else(|_| client_ip::canonical(peer));
    parts.extensions.insert(ClientIp(ip));
    // Refused before routing: an unreadable forwarding chain, or a duplicated single-valued header.
    let refused = match resolved {
        Err(unreadable) => Some(ApiError::from(unreadable)),
        Ok(_) => crate::auth::refuse_duplicated_headers(&parts.headers).err(),
    };
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());

    let read = match refused {
        Some(err) => Err(err),
        None => read_body(body, declared, state.config.body_limit).await,
    };
    let (sum, mut response) = match read {
        Ok(bytes) => {
            let sum = if bytes.is_empty() {
                bodyless_checksum(&state, &method, path)
            } else {
                checksum(method.as_str(), &path, &bytes)
            };
            parts.extensions.insert(RequestChecksum(sum.clone()));
            let request = Request::from_parts(parts, Body::from(bytes));
            // Reads write nothing, so cancelling them is harmless and they skip the extra task.
            let response = if method == Method::GET || method == Method::HEAD {
                REQUEST_ID.scope(request_id.clone(), next.run(request)).await
            } else {
                run_to_completion(request_id.clone(), next, request).await
            };
            (sum, response)
        }
        Err(err) => (bodyless_checksum(&state, &method, path), err.into_response()),
    };

    let elapsed = started.elapsed();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id.as_str()) {
        headers.insert(MONIME_REQUEST_ID.clone(), v.clone());
        headers.insert(X_REQUEST_ID.clone(), v);
    }
    let mut stamp = String::with_capacity(27);
    time_fmt::push_rfc3339_micros(&mut stamp, arrived);
    // `try_from` a `String` takes its buffer: no second allocation and copy.
    if let Ok(v) = HeaderValue::try_from(stamp) {
        headers.insert(MONIME_REQUEST_TIMESTAMP.clone(), v);
    }
    let micros = elapsed.as_micros();
    // Integer arithmetic: formatting an f64 costs more than the rest of this header.
    let mut number = itoa::Buffer::new();
    let mut duration = String::with_capacity(16);
    duration.push_str(number.format(micros / 1000));
    duration.push('.');
    let thousandths = micros % 1000;
    if thousandths < 100 {
        duration.push('0');
    }
    if thousandths < 10 {
        duration.push('0');
    }
    duration.push_str(number.format(thousandths));
    duration.push_str("ms");
    if let Ok(v) = HeaderValue::try_from(duration) {
        headers.insert(MONIME_REQUEST_DURATION.clone(), v);
    }
    headers.insert(MONIME_REQUEST_CHECKSUM.clone(), sum);

    let extensions = response.extensions();
    state.config.access_log.write(&RequestLine {
        method: method.as_str(),
        route: route.as_ref().map_or("<unmatched>", MatchedPath::as_str),
        status: response.status().as_u16(),
        duration_us: micros as u64,
        request_id: request_id.as_str(),
        token_id: extensions.get::<LoggedTokenId>().map_or("-", |t| t.0.as_str()),
        client_ip: ip,
    });
    response
}

/// Runs the rest of a writing request's stack in its own task, so a client that disconnects cannot
/// cancel it halfway: a write transaction always reaches its commit or rollback (a cancelled
/// `BEGIN` could otherwise leave a pooled SQLite connection holding the write lock).
async fn run_to_completion(request_id: RequestId, next: Next, request: Request) -> Response {
    match tokio::spawn(REQUEST_ID.scope(request_id, next.run(request))).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "request task failed");
            ApiError::internal().into_response()
        }
    }
}

/// A handler panicked: answer 500 in the envelope with the request id; the server keeps serving.
pub fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let request_id = REQUEST_ID.try_with(|id| id.to_string()).unwrap_or_default();
    // The payload is deliberately not logged or echoed: it is free text from anywhere in the code.
    tracing::error!(request_id = %request_id, "handler panicked");
    ApiError::internal().with_detail(serde_json::json!({"requestId": request_id})).into_response()
}

pub async fn not_found() -> ApiError {
    route_not_found()
}

/// The answer for a path no route serves (and for a test helper called with a live token, which
/// must not learn more than that).
pub fn route_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "no such route; see the API reference for the available paths",
    )
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not accept that HTTP method")
}
