//! Shared request parts: list paging, metadata and text-field checks, patch semantics.

use crate::error::{ApiError, ApiResult};
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use openmonime_domain::cursor;
use openmonime_store::{Page, PageRequest};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 50;

/// All query parameters as strings; each handler validates the ones it knows.
pub struct QueryParams(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(map) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("query_malformed", "the query string could not be parsed"))?;
        Ok(QueryParams(map))
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

    /// `limit` (1..=50, default 10) and `after` (an opaque cursor this server issued).
    pub fn page(&self) -> ApiResult<PageRequest> {
        let limit = match self.0.get("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => raw.parse::<u32>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                ApiError::field("limit", "out_of_range", format!("`limit` must be an integer from 1 to {MAX_LIMIT}"))
            })?,
        };
        let after = match self.0.get("after").filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(cursor::decode(raw).ok_or_else(|| {
                ApiError::field("after", "invalid_cursor", "`after` is not a cursor this server issued")
            })?),
        };
        Ok(PageRequest { after, limit })
    }
}

/// Renders a store page in the list envelope.
pub fn page_envelope<T>(page: Page<T>, render: impl Fn(&T) -> serde_json::Value) -> serde_json::Value {
    let items: Vec<_> = page.items.iter().map(render).collect();
    crate::envelope::page(items, page.next_after.map(cursor::encode))
}

/// Deserializes a field that may be absent (`None`), explicitly `null` (`Some(None)`), or a value.
pub fn patch_field<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
