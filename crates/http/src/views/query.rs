//! Query strings as typed structs: [`ApiQuery`] reads one into an operation's query type, whose
//! fields are the value types here — each knows its rule, its refusal and its schema, so what the
//! document says a parameter accepts is what the handler gets.
//!
//! A name the operation does not document is refused with 400 `unknown_field` (all such names,
//! sorted), a repeated name with 400 `query_parameter_duplicated`: a misspelt filter
//! (`withbalance=true`) cannot silently widen a list, and `?limit=1&limit=2` has no one meaning.

use super::{Word, Words};
use crate::error::ApiError;
use axum::extract::{FromRequestParts, MatchedPath, Query};
use axum::http::request::Parts;
use axum::http::Method;
use openmonime_domain::FieldError;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

/// Separates a refusal's stable reason from its text inside a serde error message.
const SEPARATOR: char = '\u{1f}';

/// A refusal of one parameter's value: `` `{name}` {tail} ``, with `reason`.
pub(crate) fn refuse<E: de::Error>(reason: &str, tail: impl fmt::Display) -> E {
    E::custom(format!("{reason}{SEPARATOR}{tail}"))
}

/// An operation's query parameters, read into `T`.
pub struct ApiQuery<T>(pub T);

impl<T: JsonSchema> crate::openapi::Describe for ApiQuery<T> {
    fn describe(operation: &mut crate::openapi::Operation, generator: &mut SchemaGenerator) {
        crate::openapi::query_parameters::<T>(operation, generator);
    }
}

/// The query type of an operation that takes no parameter.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoQuery {}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("query_malformed", "the query string could not be parsed"))?;
        let mut seen = HashSet::with_capacity(pairs.len());
        for (name, _) in &pairs {
            if !seen.insert(name.as_str()) {
                let shown = shown(name);
                return Err(ApiError::bad_request(
                    "query_parameter_duplicated",
                    format!("the query parameter `{shown}` was sent more than once; send it once"),
                )
                .with_detail(serde_json::json!({"parameter": shown})));
            }
        }
        let route = parts.extensions.get::<MatchedPath>().map(MatchedPath::as_str);
        if let Some(known) = route.and_then(|path| documented_names(&parts.method, path)) {
            let mut unknown: Vec<&String> = pairs.iter().map(|(n, _)| n).filter(|n| !known.contains(*n)).collect();
            if !unknown.is_empty() {
                unknown.sort();
                return Err(ApiError::validation(unknown.into_iter().map(|name| unknown_parameter(name)).collect()));
            }
        }
        let map = de::value::MapDeserializer::new(pairs.iter().map(|(k, v)| (k.as_str(), QueryValue(v))));
        serde_path_to_error::deserialize(map).map(ApiQuery).map_err(
            |e: serde_path_to_error::Error<de::value::Error>| {
                let mut field = e.path().to_string();
                let message = e.into_inner().to_string();
                // serde names a parameter the type requires only in its message.
                let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
                let (reason, message) = match (missing, message.split_once(SEPARATOR)) {
                    (Some(name), _) => {
                        field = name.to_owned();
                        ("missing_field", format!("the query parameter `{name}` is required"))
                    }
                    (None, Some((reason, tail))) => (known_reason(reason), format!("`{field}` {tail}")),
                    (None, None) => ("invalid_value", format!("`{field}` is not a valid value")),
                };
                ApiError::validation(vec![FieldError { field, reason, message }])
            },
        )
    }
}

/// The `'static` reason word a refusal named (the value types name only these).
fn known_reason(reason: &str) -> &'static str {
    match reason {
        "too_long" => "too_long",
        "out_of_range" => "out_of_range",
        _ => "invalid_value",
    }
}

/// The caller's own text, cut so that a pathological name is not echoed whole.
fn shown(name: &str) -> String {
    name.chars().take(64).collect()
}

fn unknown_parameter(name: &str) -> FieldError {
    let shown = shown(name);
    FieldError {
        message: format!("`{shown}` is not a query parameter of this operation"),
        field: shown,
        reason: "unknown_field",
    }
}

/// The documented query parameter names of the `/v1` route with this method and path template,
/// from the route table's own description of each operation.
fn documented_names(method: &Method, path: &str) -> Option<&'static HashSet<String>> {
    type Table = HashMap<Method, HashMap<&'static str, HashSet<String>>>;
    static TABLE: OnceLock<Table> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = Table::new();
        for spec in crate::handlers::route_table() {
            let names = crate::openapi::query_parameter_names(&spec).into_iter().collect();
            table.entry(spec.method).or_default().insert(spec.path, names);
        }
        table
    });
    table.get(method)?.get(path)
}

/// One value of a query string: a string that also reads as "present" for an `Option`.
struct QueryValue<'a>(&'a str);

impl<'de, E: de::Error> IntoDeserializer<'de, E> for QueryValue<'de> {
    type Deserializer = QueryValueDeserializer<'de, E>;

    fn into_deserializer(self) -> Self::Deserializer {
        QueryValueDeserializer(self.0, std::marker::PhantomData)
    }
}

struct QueryValueDeserializer<'de, E>(&'de str, std::marker::PhantomData<E>);

impl<'de, E: de::Error> Deserializer<'de> for QueryValueDeserializer<'de, E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// Reads a parameter's text and hands it to `parse`.
pub(crate) fn from_text<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: impl FnOnce(&str) -> Result<T, D::Error>,
) -> Result<T, D::Error> {
    let text: Cow<'de, str> = Cow::deserialize(d)?;
    parse(&text)
}

/// Text of at most `MAX` characters, a limit the document publishes. An empty value is no filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MAX: usize>(pub String);

/// Text of at most `MAX` characters, a limit openmonime keeps but the document does not publish
/// (so the schema says only "string"). An empty value is no filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capped<const MAX: usize>(pub String);

fn capped<E: de::Error>(text: &str, max: usize) -> Result<String, E> {
    if text.chars().count() > max {
        return Err(refuse("too_long", format_args!("must be at most {max} characters")));
    }
    Ok(text.to_owned())
}

/// The value of an optional text filter: `None` when absent or empty.
pub trait Filter {
    fn non_empty(self) -> Option<String>;
}

impl<const MAX: usize> Filter for Option<Text<MAX>> {
    fn non_empty(self) -> Option<String> {
        self.map(|t| t.0).filter(|s| !s.is_empty())
    }
}

impl<const MAX: usize> Filter for Option<Capped<MAX>> {
    fn non_empty(self) -> Option<String> {
        self.map(|t| t.0).filter(|s| !s.is_empty())
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, |t| capped(t, MAX).map(Text))
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Capped<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, |t| capped(t, MAX).map(Capped))
    }
}

impl<const MAX: usize> JsonSchema for Text<MAX> {
    inline_schema!("Text");

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "maxLength": MAX})
    }
}

impl<const MAX: usize> JsonSchema for Capped<MAX> {
    inline_schema!("Capped");

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string"})
    }
}

/// `true` or `false`; absent is `false`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, |t| match t {
            "true" => Ok(Flag(true)),
            "false" => Ok(Flag(false)),
            _ => Err(refuse("invalid_value", "must be `true` or `false`")),
        })
    }
}

impl JsonSchema for Flag {
    inline_schema!("Flag");

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "boolean"})
    }
}

/// How many items a page holds: 1 to 50, 10 when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub u32);

impl Limit {
    pub const DEFAULT: u32 = 10;
    pub const MAX: u32 = 50;
}

impl Default for Limit {
    fn default() -> Self {
        Limit(Self::DEFAULT)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, |t| {
            t.parse::<u32>()
                .ok()
                .filter(|n| (1..=Self::MAX).contains(n))
                .map(Limit)
                .ok_or_else(|| refuse("out_of_range", format_args!("must be an integer from 1 to {}", Self::MAX)))
        })
    }
}

impl JsonSchema for Limit {
    inline_schema!("Limit");

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"maximum": Self::MAX, "minimum": 1, "type": "integer", "default": Self::DEFAULT})
    }
}

/// `after`: the opaque cursor of the next page, opened against the list's scope by the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub String);

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, |t| Ok(Cursor(t.to_owned())))
    }
}

impl JsonSchema for Cursor {
    inline_schema!("Cursor");

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"maxLength": 2000, "type": "string"})
    }
}

impl<'de, E: Words> Deserialize<'de> for Word<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, |t| {
            E::from_word(t)
                .map(Word)
                .ok_or_else(|| refuse("invalid_value", format_args!("must be one of: {}", E::listed())))
        })
    }
}
