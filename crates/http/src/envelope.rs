//! A response from JSON already rendered: an idempotent replay, or a fresh result rendered for the
//! idempotency record. (The envelope types themselves are in [`crate::views`].)

use axum::response::{IntoResponse, Response};

/// A pre-rendered JSON body, optionally marked as coming from the idempotent-request cache.
pub fn raw_json(body: String, replayed: bool) -> Response {
    let mut response = ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response();
    if replayed {
        response.headers_mut().insert("monime-cache", axum::http::HeaderValue::from_static("irc"));
    }
    response
}
