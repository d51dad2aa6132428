//! Shared request parts: path parameters, list paging, patch semantics.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views::query::{Cursor, Limit};
use crate::views::List;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use openmonime_domain::cursor::CursorScope;
use openmonime_domain::entities::Tenant;
use openmonime_domain::ids::{
    CheckoutSessionId, FinancialAccountId, FinancialTransactionId, InternalTransferId, MonimeerId, PaymentCodeId,
    PaymentId, PayoutId, TokenId, UssdOtpId, WebhookId,
};
use openmonime_domain::role::RoleName;
use openmonime_store::{ListFilter, Page, PageRequest};
use serde::{Deserialize, Deserializer};

/// A path parameter, parsed into its type before any query: a value that cannot name an object of
/// the route's kind (an id of the wrong kind: `GET /v1/financial-accounts/trn-…`) is 404, exactly
/// like a well-formed id that names nothing, so the answer tells a prober nothing more. It also
/// answers in the envelope when the path cannot be read at all: axum's own `Path` answers
/// `text/plain` "Invalid URL…" for a percent-encoding that is not UTF-8 (`/v1/…/%ff`). Every
/// handler takes its path parameter through this.
pub struct ApiPath<T>(pub T);

/// A value a route's path carries: its name in the template, its documented pattern, and what
/// a 404 calls the object it names.
pub trait PathParam: Sized {
    const NAME: &'static str;
    /// The id prefix the document's pattern names (`^fac-.*$`), if it gives one.
    const PREFIX: Option<&'static str>;
    /// "financial account": the 404 says "financial account not found".
    const KIND: &'static str;
    /// The longest value the document allows, if it gives a bound.
    const MAX_LENGTH: Option<usize> = None;

    fn parse(raw: &str) -> Option<Self>;
}

macro_rules! path_ids {
    ($($id:ty => $kind:literal),* $(,)?) => {$(
        impl PathParam for $id {
            const NAME: &'static str = "id";
            const PREFIX: Option<&'static str> = Some(<$id>::PREFIX);
            const KIND: &'static str = $kind;

            fn parse(raw: &str) -> Option<Self> {
                <$id>::parse(raw)
            }
        }
    )*};
}

path_ids! {
    FinancialAccountId => "financial account",
    FinancialTransactionId => "financial transaction",
    InternalTransferId => "internal transfer",
    TokenId => "access token",
    MonimeerId => "member",
    WebhookId => "webhook",
    PaymentCodeId => "payment code",
    CheckoutSessionId => "checkout session",
    PaymentId => "payment",
    UssdOtpId => "USSD OTP",
    PayoutId => "payout",
}

/// An id whose pattern the official document does not publish for this route (it gives
/// `PATCH /v1/internal-transfers/{id}` none): parsed the same, documented as any string.
pub struct Unpatterned<T>(pub T);

impl<T: PathParam> PathParam for Unpatterned<T> {
    const NAME: &'static str = T::NAME;
    const PREFIX: Option<&'static str> = None;
    const KIND: &'static str = T::KIND;

    fn parse(raw: &str) -> Option<Self> {
        T::parse(raw).map(Unpatterned)
    }
}

/// A role's name in a path: a name no role can have is 404, like a role that does not exist.
impl PathParam for RoleName {
    const NAME: &'static str = "name";
    const PREFIX: Option<&'static str> = None;
    const KIND: &'static str = "role";

    fn parse(raw: &str) -> Option<Self> {
        RoleName::parse(raw)
    }
}

impl<T: PathParam> crate::openapi::Describe for ApiPath<T> {
    fn describe(operation: &mut crate::openapi::Operation, _: &mut schemars::SchemaGenerator) {
        let mut schema = serde_json::json!({"type": "string"});
        if let Some(prefix) = T::PREFIX {
            schema["pattern"] = format!("^{prefix}.*$").into();
        }
        if let Some(max) = T::MAX_LENGTH {
            schema["maxLength"] = max.into();
        }
        operation
            .parameters
            .push(serde_json::json!({"name": T::NAME, "in": "path", "required": true, "schema": schema}));
    }
}

impl<S: Send + Sync, T: PathParam + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(raw)) => T::parse(&raw).map(ApiPath).ok_or_else(|| ApiError::not_found(T::KIND)),
            Err(PathRejection::FailedToDeserializePathParams(err)) => Err(match err.into_kind() {
                ErrorKind::InvalidUtf8InPathParam { key } => ApiError::field(
                    &key,
                    "invalid_encoding",
                    format!("`{key}` in the path is not valid UTF-8 once percent-decoded"),
                ),
                // The handler reads parameters its route does not have: a programming error.
                kind @ (ErrorKind::WrongNumberOfParameters { .. } | ErrorKind::UnsupportedType { .. }) => {
                    tracing::error!(error = %kind, "path parameters do not fit the handler");
                    ApiError::internal()
                }
                // The value is the caller's text and is not echoed.
                ErrorKind::ParseErrorAtKey { key, .. } | ErrorKind::DeserializeError { key, .. } => {
                    ApiError::field(&key, "invalid_value", format!("`{key}` in the path is not a valid value"))
                }
                _ => ApiError::field("path", "invalid_value", "a path parameter is not a valid value"),
            }),
            Err(other) => {
                // Only a handler mounted on a route without the parameters it reads gets here.
                tracing::error!(error = %other, "path parameters missing");
                Err(ApiError::internal())
            }
        }
    }
}

/// `limit` and `after` (an opaque cursor this deployment issued for this `scope`: a cursor from
/// another Space, environment, list or filter is refused exactly like a garbled one, so it tells
/// the caller nothing).
pub fn page(limit: Limit, after: Option<&Cursor>, scope: &CursorScope) -> ApiResult<PageRequest> {
    let after =
        match after.map(|c| c.0.as_str()).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(scope.decode(raw).ok_or_else(|| {
                ApiError::field("after", "invalid_cursor", "`after` is not a cursor this server issued")
            })?),
        };
    Ok(PageRequest { after, limit: limit.0 })
}

/// Where the cursors of one list request are valid: its list, its tenant, its filter (only
/// `limit` and rendering switches such as `withBalance` may change between pages). The key is the
/// deployment's, shared by every node.
pub async fn list_scope<F: ListFilter>(state: &AppState, tenant: &Tenant, filter: &F) -> ApiResult<CursorScope> {
    let key = state.store.cursor_key().await?;
    Ok(CursorScope::new(&key, tenant.space_id.as_str(), tenant.environment, F::LIST, &filter.fingerprint()))
}

/// A store page in the list envelope, each item in its view, its next cursor sealed to `scope`.
pub fn page_of<T, V>(page: Page<T>, scope: &CursorScope, view: impl Fn(T) -> V) -> List<V> {
    let next = page.next_after.map(|seq| scope.encode(seq));
    List::new(page.items.into_iter().map(view).collect(), next)
}

/// Deserializes a field that may be absent (`None`), explicitly `null` (`Some(None)`), or a value.
pub fn patch_field<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Deserializes a field that may be absent (`None`) or a value, but not `null`: for the optional
/// fields the document does not mark nullable, where a `null` would otherwise pass as "absent".
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}
