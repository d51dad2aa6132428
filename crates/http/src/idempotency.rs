//! The `Idempotency-Key` header of creating POSTs, turned into a claim the store honours in the
//! same transaction as the effects.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::openapi::{schema_for, Describe, Operation};
use crate::wire::RequestChecksum;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use openmonime_store::{IdempotencyClaim, Outcome};
use schemars::{JsonSchema, SchemaGenerator};
use serde::Serialize;
use std::marker::PhantomData;

pub const MAX_KEY_LEN: usize = 64;

/// What a creating request brings for its `Idempotency-Key`, read but not yet judged: the
/// handler calls [`Idempotent::claim`] after the body parsed, so a bad body is reported first.
/// Taking this extractor is what documents the header as required.
pub struct Idempotent {
    key: Option<HeaderValue>,
    checksum: RequestChecksum,
}

impl<S: Send + Sync> FromRequestParts<S> for Idempotent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let checksum = parts.extensions.get::<RequestChecksum>().cloned().ok_or_else(|| {
            tracing::error!("no request checksum: the route is not behind the wire layer");
            ApiError::internal()
        })?;
        Ok(Idempotent { key: parts.headers.get("idempotency-key").cloned(), checksum })
    }
}

impl Describe for Idempotent {
    fn describe(operation: &mut Operation, _: &mut SchemaGenerator) {
        operation.idempotency_key = true;
    }
}

impl Idempotent {
    /// The claim the store honours, for this caller: a key of 1..=64 visible characters.
    pub fn claim(&self, caller: &Caller) -> ApiResult<IdempotencyClaim> {
        let raw = self.key.as_ref().ok_or_else(|| {
            ApiError::bad_request("idempotency_key_missing", "creating requests need an `Idempotency-Key` header")
        })?;
        let key =
            raw.to_str().ok().map(str::trim).filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN).ok_or_else(|| {
                ApiError::bad_request(
                    "idempotency_key_invalid",
                    format!("`Idempotency-Key` must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
                )
            })?;
        Ok(IdempotencyClaim {
            monimeer_id: caller.token.token.monimeer_id.clone(),
            key: key.to_owned(),
            fingerprint: self.checksum.0.to_str().unwrap_or_default().to_owned(),
        })
    }
}

/// The answer of an idempotent create: the body rendered once, inside the transaction, and
/// replayed verbatim (`Monime-Cache: irc`) on a retry with the same key. `T` is its envelope type.
pub struct Replayable<T>(Response, PhantomData<fn() -> T>);

impl<T: Serialize> Replayable<T> {
    /// The body to record: `T` as JSON.
    pub fn render(value: &T) -> String {
        serde_json::to_string(value).expect("a view serializes")
    }

    pub fn from_outcome<V>(outcome: Outcome<V>) -> Self {
        let response = match outcome {
            Outcome::Fresh { body, .. } => crate::envelope::raw_json(body, false),
            Outcome::Replayed { body } => crate::envelope::raw_json(body, true),
        };
        Replayable(response, PhantomData)
    }
}

impl<T> IntoResponse for Replayable<T> {
    fn into_response(self) -> Response {
        self.0
    }
}

impl<T: JsonSchema> Describe for Replayable<T> {
    fn describe(operation: &mut Operation, generator: &mut SchemaGenerator) {
        operation.answer = Some(schema_for::<T>(generator));
    }
}
