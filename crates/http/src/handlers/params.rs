//! Shared request parts: path and query parameters, list paging, text-field checks, patch semantics.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{FromRequestParts, MatchedPath, Path, Query};
use axum::http::request::Parts;
use axum::http::Method;
use openmonime_domain::cursor::CursorScope;
use openmonime_domain::entities::Tenant;
use openmonime_domain::FieldError;
use openmonime_store::{ListFilter, Page, PageRequest};
use serde::{Deserialize, Deserializer};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 50;

/// All query parameters as strings; each handler validates the ones it knows. Every `/v1` handler
/// takes this extractor, even one that reads no parameter: a name the operation does not document
/// (see [`crate::openapi::query_parameter_names`]) is refused like an unknown body field, with a
/// 400 naming it, rather than ignored, so a misspelt filter (`withbalance=true`) cannot silently
/// widen a list.
pub struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("query_malformed", "the query string could not be parsed"))?;
        // A repeated name is refused, not resolved: `?limit=1&limit=2` has no one meaning, and a
        // proxy or log in front of the server may have read the other copy.
        let mut map = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if map.contains_key(&name) {
                let shown: String = name.chars().take(64).collect();
                return Err(ApiError::bad_request(
                    "query_parameter_duplicated",
                    format!("the query parameter `{shown}` was sent more than once; send it once"),
                )
                .with_detail(serde_json::json!({"parameter": shown})));
            }
            map.insert(name, value);
        }
        let route = parts.extensions.get::<MatchedPath>().map(MatchedPath::as_str);
        if let Some(known) = route.and_then(|path| documented_query_names(&parts.method, path)) {
            let mut unknown: Vec<&String> = map.keys().filter(|name| !known.contains(*name)).collect();
            if !unknown.is_empty() {
                unknown.sort();
                return Err(ApiError::validation(unknown.into_iter().map(|name| unknown_parameter(name)).collect()));
            }
        }
        Ok(QueryParams(map))
    }
}

/// The documented query parameter names of the `/v1` route with this method and path template.
fn documented_query_names(method: &Method, path: &str) -> Option<&'static HashSet<String>> {
    type Table = HashMap<Method, HashMap<&'static str, HashSet<String>>>;
    static TABLE: OnceLock<Table> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = Table::new();
        for spec in super::route_table() {
            let names = crate::openapi::query_parameter_names(spec.operation).into_iter().collect();
            table.entry(spec.method).or_default().insert(spec.path, names);
        }
        table
    });
    table.get(method)?.get(path)
}

fn unknown_parameter(name: &str) -> FieldError {
    // The name is the caller's own text; a pathological one is cut, not echoed whole.
    let shown: String = name.chars().take(64).collect();
    FieldError {
        message: format!("`{shown}` is not a query parameter of this operation"),
        field: shown,
        reason: "unknown_field",
    }
}

/// A path parameter, answering in the envelope when it cannot be read: axum's own `Path` answers
/// `text/plain` "Invalid URL…" for a percent-encoding that is not UTF-8 (`/v1/…/%ff`). Every
/// handler takes its path parameters through this.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
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

impl QueryParams {
    pub fn text(&self, name: &str, max_len: usize) -> ApiResult<Option<String>> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) if v.chars().count() > max_len => {
                Err(ApiError::field(name, "too_long", format!("`{name}` must be at most {max_len} characters")))
            }
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    pub fn boolean(&self, name: &str) -> ApiResult<bool> {
        match self.0.get(name).map(String::as_str) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ApiError::field(name, "invalid_value", format!("`{name}` must be `true` or `false`"))),
        }
    }

    /// Parses an enum-valued parameter.
    pub fn choice<T>(&self, name: &str, parse: fn(&str) -> Option<T>, allowed: &str) -> ApiResult<Option<T>> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) => parse(v)
                .map(Some)
                .ok_or_else(|| ApiError::field(name, "invalid_value", format!("`{name}` must be one of: {allowed}"))),
        }
    }

    /// `limit` (1..=50, default 10) and `after` (an opaque cursor this deployment issued for this
    /// `scope`: a cursor from another Space, environment, list or filter is refused exactly like a
    /// garbled one, so it tells the caller nothing).
    pub fn page(&self, scope: &CursorScope) -> ApiResult<PageRequest> {
        let limit = match self.0.get("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => raw.parse::<u32>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                ApiError::field("limit", "out_of_range", format!("`limit` must be an integer from 1 to {MAX_LIMIT}"))
            })?,
        };
        let after = match self.0.get("after").filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(scope.decode(raw).ok_or_else(|| {
                ApiError::field("after", "invalid_cursor", "`after` is not a cursor this server issued")
            })?),
        };
        Ok(PageRequest { after, limit })
    }
}

/// Where the cursors of one list request are valid: its list, its tenant, its filter (only
/// `limit` and rendering switches such as `withBalance` may change between pages). The key is the
/// deployment's, shared by every node.
pub async fn list_scope<F: ListFilter>(state: &AppState, tenant: &Tenant, filter: &F) -> ApiResult<CursorScope> {
    let key = state.store.cursor_key().await?;
    Ok(CursorScope::new(&key, tenant.space_id.as_str(), tenant.environment, F::LIST, &filter.fingerprint()))
}

/// Renders a store page in the list envelope, its next cursor sealed to `scope`.
pub fn page_envelope<T>(
    page: Page<T>,
    scope: &CursorScope,
    render: impl Fn(&T) -> serde_json::Value,
) -> serde_json::Value {
    let items: Vec<_> = page.items.iter().map(render).collect();
    crate::envelope::page(items, page.next_after.map(|seq| scope.encode(seq)))
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
