//! Monime's success envelopes: one object, a page of objects, or an acknowledgement.

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

/// `{success, messages, result}`.
pub fn one<T: Serialize>(result: T) -> Value {
    json!({"success": true, "messages": [], "result": result})
}

/// `{success, messages, result: [...], pagination: {count, next}}`.
pub fn page<T: Serialize>(items: Vec<T>, next: Option<String>) -> Value {
    json!({"success": true, "messages": [], "result": items, "pagination": {"count": items.len(), "next": next}})
}

/// What a DELETE answers.
pub fn deleted() -> Value {
    json!({"success": true, "messages": []})
}

/// A pre-rendered JSON body (an idempotent replay, or a fresh result already rendered for the
/// idempotency record), optionally marked as coming from the idempotent-request cache.
pub fn raw_json(body: String, replayed: bool) -> Response {
    let mut response = ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response();
    if replayed {
        response.headers_mut().insert("monime-cache", axum::http::HeaderValue::from_static("irc"));
    }
    response
}
