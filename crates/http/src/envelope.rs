//! Monime's success envelopes: one object, a page of objects, or an acknowledgement.

use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// The envelope's fixed part; the result is moved in, never copied.
fn envelope(result: Value) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("success".into(), Value::Bool(true));
    map.insert("messages".into(), Value::Array(Vec::new()));
    map.insert("result".into(), result);
    map
}

/// `{success, messages, result}`.
pub fn one(result: Value) -> Value {
    Value::Object(envelope(result))
}

/// `{success, messages, result: [...], pagination: {count, next}}`.
pub fn page(items: Vec<Value>, next: Option<String>) -> Value {
    let count = items.len();
    let mut map = envelope(Value::Array(items));
    map.insert("pagination".into(), json!({"count": count, "next": next}));
    Value::Object(map)
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
