//! The one error type at the HTTP boundary: every refusal becomes Monime's error envelope with a
//! stable `reason`; internal causes are logged, never sent.

use crate::views::{ErrorDetail, ErrorEnvelope, Messages};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use openmonime_domain::FieldError;
use openmonime_store::StoreError;
use serde_json::{json, Value};
use std::borrow::Cow;

/// An error answer: HTTP status, stable snake_case reason, human message, structured details.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: &'static str,
    /// Borrowed when it is a fixed text, so the common refusals allocate nothing.
    pub message: Cow<'static, str>,
    pub details: Vec<Value>,
    /// Extra response headers (e.g. `Retry-After`).
    pub headers: Vec<(&'static str, HeaderValue)>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError { status, reason, message: message.into(), details: Vec::new(), headers: Vec::new() }
    }

    pub fn with_detail(mut self, detail: Value) -> Self {
        self.details.push(detail);
        self
    }

    pub fn bad_request(reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, message)
    }

    pub fn unauthorized(reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, reason, message)
    }

    pub fn forbidden(reason: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, reason, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    /// A 400 naming each invalid field in `details`.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let message = match errors.as_slice() {
            [one] => one.message.clone(),
            _ => format!("{} fields are invalid", errors.len()),
        };
        let mut err = Self::bad_request("validation_failed", message);
        err.details =
            errors.into_iter().map(|e| json!({"field": e.field, "reason": e.reason, "message": e.message})).collect();
        err
    }

    /// A 400 for one field.
    pub fn field(field: &str, reason: &'static str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError { field: field.to_owned(), reason, message: message.into() }])
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred; it is safe to retry",
        )
    }

    /// The envelope, typed.
    pub fn envelope(self) -> ErrorEnvelope {
        ErrorEnvelope {
            success: false,
            messages: Messages,
            error: ErrorDetail {
                code: self.status.as_u16(),
                reason: self.reason,
                message: self.message,
                details: self.details,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        let status = self.status;
        let headers = std::mem::take(&mut self.headers);
        let mut response = (status, axum::Json(self.envelope())).into_response();
        for (name, value) in headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// A grant the request's authority does not cover: 403, naming the permissions it lacks.
impl From<openmonime_domain::grant::GrantRefusal> for ApiError {
    fn from(refusal: openmonime_domain::grant::GrantRefusal) -> Self {
        let detail = serde_json::json!({"permissions": refusal.permissions()});
        ApiError::forbidden(refusal.reason(), refusal.message()).with_detail(detail)
    }
}

/// 403 `token_amount_limit`, naming the limit the movement would pass.
fn amount_limit_error(refusal: openmonime_store::amount_limits::LimitRefusal) -> ApiError {
    use openmonime_domain::amount_limit::LimitBreach;
    let currency = refusal.currency.code();
    let (message, detail) = match refusal.breach {
        LimitBreach::PerMovement { limit } => (
            format!("this access token moves at most {limit} {currency} (minor units) at a time"),
            serde_json::json!({"currency": currency, "limit": "perMovement", "value": limit}),
        ),
        LimitBreach::Per24Hours { limit, spent } => (
            format!(
                "this access token moves at most {limit} {currency} (minor units) in 24 hours, and has moved {spent}"
            ),
            serde_json::json!({"currency": currency, "limit": "per24Hours", "value": limit, "spent": spent}),
        ),
    };
    ApiError::forbidden("token_amount_limit", message).with_detail(detail)
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::not_found("object"),
            StoreError::Conflict(conflict) => {
                ApiError::new(StatusCode::CONFLICT, conflict.reason(), conflict.message())
            }
            StoreError::Refused(refusal) => refusal.into(),
            StoreError::AmountLimit(refusal) => amount_limit_error(refusal),
            StoreError::IdempotencyKeyInUse => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_use",
                "this Idempotency-Key was already used with a different request (method, path or body)",
            ),
            StoreError::Database(
                sqlx_err @ (openmonime_store::error::SqlxError::PoolTimedOut
                | openmonime_store::error::SqlxError::PoolClosed),
            ) => {
                tracing::warn!(error = %sqlx_err, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "the database is busy; retry shortly",
                )
            }
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::internal()
            }
        }
    }
}
