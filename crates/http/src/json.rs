//! Request-body extraction that answers every bad body with the error envelope: wrong content
//! type (415), malformed JSON (400 `json_malformed`), a field that is unknown, missing or of the
//! wrong type (400 `validation_failed`, naming the field).

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// A JSON body of type `T`.
pub struct ApiJson<T>(pub T);

fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The field a serde message is about: `unknown field `x``, `missing field `y``.
fn quoted_name(message: &str) -> Option<&str> {
    message.split('`').nth(1)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first: a body that is not JSON at all (`[1,`) is `json_malformed`, even where the
    // typed parse would stumble on a wrong type before it reaches the syntax error.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|e| ApiError::bad_request("json_malformed", format!("the request body is not valid JSON: {e}")))?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => {
                ApiError::bad_request("json_malformed", format!("the request body is not valid JSON: {message}"))
            }
            serde_json::error::Category::Data => {
                let (reason, field) = if message.starts_with("unknown field") {
                    ("unknown_field", join(&path, quoted_name(&message)))
                } else if message.starts_with("missing field") {
                    ("missing_field", join(&path, quoted_name(&message)))
                } else {
                    ("invalid_value", path.clone())
                };
                ApiError::field(&field, reason, message)
            }
        }
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request("json_malformed", format!("the request body is not valid JSON: {e}")))?;
    Ok(value)
}

/// The full field path: serde_path_to_error already ends the path with an unknown field's name,
/// but stops at the parent object for a missing one.
fn join(path: &str, name: Option<&str>) -> String {
    match (path, name) {
        (".", Some(n)) | ("", Some(n)) => n.to_owned(),
        (p, Some(n)) if p == n || p.ends_with(&format!(".{n}")) => p.to_owned(),
        (p, Some(n)) => format!("{p}.{n}"),
        (p, None) => p.to_owned(),
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&request) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type_unsupported",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        // The wire layer has already read and size-checked the body.
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::bad_request("body_unreadable", "the request body could not be read"))?;
        decode(&bytes).map(ApiJson)
    }
}
