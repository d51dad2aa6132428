//! Request-body extraction that answers every bad body with the error envelope: wrong content
//! type (415), malformed JSON (400 `json_malformed`), a field that is unknown, missing or of the
//! wrong type (400 `validation_failed`, naming the field). No body at all (and no
//! `Content-Type`) reads as `{}`.

use crate::error::ApiError;
use crate::openapi::{inline_schema_for, Describe, Operation};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use schemars::{JsonSchema, SchemaGenerator};
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{DeserializeOwned, Deserializer, IntoDeserializer, Unexpected, Visitor};

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
    // typed parse would stumble on a wrong type before it reaches the syntax error. The same pass
    // refuses a key repeated inside any object (`metadata` included), which a map would otherwise
    // resolve silently, last copy winning.
    check_syntax_and_keys(bytes)?;
    // The typed parse straight from the text, which refuses duplicate fields.
    // The syntax is known good here, so anything it reports is about shape (an array where a
    // struct of fewer fields belongs ends in "trailing characters"), never `json_malformed`.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, T>(&mut de).map_err(shape_error)?;
    // Again over the parsed value, where an object, and only an object, makes a struct: serde's
    // derived `Deserialize` also builds a struct from an array, field by field in declaration
    // order, so `[null, null]` would otherwise PATCH an account's name and reference to null.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("json_malformed", format!("the request body is not valid JSON: {e}")))?;
    serde_path_to_error::deserialize(Strict(value)).map_err(typed_error)
}

/// One step of the path to a value: an object key or an array index.
enum Step {
    Key(String),
    Index(usize),
}

/// The path in the `details[].field` style (`metadata.a`, `items[2].name`).
fn render_path(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Walks a JSON text, checking its syntax and that no object repeats a key; the path of the first
/// repeated key is left in `duplicate`. The walk goes on to the end, so a body that is also not
/// JSON is `json_malformed` (syntax first).
struct KeyCheck<'a> {
    path: &'a mut Vec<Step>,
    duplicate: &'a mut Option<String>,
}

impl<'de> serde::de::DeserializeSeed<'de> for KeyCheck<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyCheck<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            self.path.push(Step::Index(index));
            let more = seq.next_element_seed(KeyCheck { path: self.path, duplicate: self.duplicate })?;
            self.path.pop();
            if more.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        // Keys arrive unescaped, so `"a"` and `"\u0061"` are the same key, as they are to serde.
        while let Some(key) = map.next_key::<String>()? {
            let repeated = !seen.insert(key.clone());
            self.path.push(Step::Key(key));
            if repeated && self.duplicate.is_none() {
                *self.duplicate = Some(render_path(self.path));
            }
            map.next_value_seed(KeyCheck { path: self.path, duplicate: self.duplicate })?;
            self.path.pop();
        }
        Ok(())
    }
}

fn check_syntax_and_keys(bytes: &[u8]) -> Result<(), ApiError> {
    let (mut path, mut duplicate) = (Vec::new(), None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let walked =
        serde::de::DeserializeSeed::deserialize(KeyCheck { path: &mut path, duplicate: &mut duplicate }, &mut de)
            .and_then(|()| de.end());
    match (walked, duplicate) {
        (Err(e), _) => Err(ApiError::bad_request("json_malformed", format!("the request body is not valid JSON: {e}"))),
        (Ok(()), None) => Ok(()),
        (Ok(()), Some(field)) => {
            // The key is the caller's text: a pathological one is cut, not echoed whole.
            let field: String = field.chars().take(200).collect();
            let message = format!("`{field}` appears more than once in its object; send each key once");
            Err(ApiError::field(&field, "duplicate_key", message))
        }
    }
}

/// A typed-parse failure on a body whose syntax is already known to be valid.
fn shape_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    match err.inner().classify() {
        serde_json::error::Category::Data => typed_error(err),
        _ => {
            let field = if path.is_empty() { ".".to_owned() } else { path };
            ApiError::field(
                &field,
                "invalid_value",
                format!("the value at `{field}` does not have the documented shape"),
            )
        }
    }
}

fn typed_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let message = inner.to_string();
    match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof | serde_json::error::Category::Io => {
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
}

/// A parsed body that deserializes like [`serde_json::Value`], except that a struct accepts an
/// object alone (never an array), at every depth.
struct Strict(serde_json::Value);

impl<'de> IntoDeserializer<'de, serde_json::Error> for Strict {
    type Deserializer = Strict;

    fn into_deserializer(self) -> Strict {
        self
    }
}

fn unexpected(value: &serde_json::Value) -> Unexpected<'_> {
    use serde_json::Value::*;
    match value {
        Null => Unexpected::Unit,
        Bool(b) => Unexpected::Bool(*b),
        Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Unexpected::Signed(i),
            (None, Some(u)) => Unexpected::Unsigned(u),
            _ => Unexpected::Float(n.as_f64().unwrap_or_default()),
        },
        String(s) => Unexpected::Str(s),
        Array(_) => Unexpected::Seq,
        Object(_) => Unexpected::Map,
    }
}

fn visit_object<'de, V: Visitor<'de>>(
    object: serde_json::Map<String, serde_json::Value>,
    visitor: V,
) -> Result<V::Value, serde_json::Error> {
    let mut map = MapDeserializer::new(object.into_iter().map(|(k, v)| (k, Strict(v))));
    let value = visitor.visit_map(&mut map)?;
    map.end()?;
    Ok(value)
}

impl<'de> Deserializer<'de> for Strict {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        match self.0 {
            serde_json::Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter().map(Strict));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            serde_json::Value::Object(object) => visit_object(object, visitor),
            scalar => scalar.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        match self.0 {
            serde_json::Value::Object(object) => visit_object(object, visitor),
            other => Err(serde::de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        match self.0 {
            serde_json::Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map identifier ignored_any
    }
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

fn not_json() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "content_type_unsupported",
        "send the body as JSON with `Content-Type: application/json`",
    )
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(&request);
        let declared = request.headers().contains_key(axum::http::header::CONTENT_TYPE);
        // The wire layer has already read and size-checked the body.
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::bad_request("body_unreadable", "the request body could not be read"))?;
        // Monime's document makes no request body required, so no body at all (nothing sent, no
        // `Content-Type`) reads as `{}`: a PATCH changes nothing, a create names its first missing
        // field. A body that is declared must be JSON, and an empty one declared JSON is not.
        if bytes.is_empty() && !declared {
            return decode(b"{}").map(ApiJson);
        }
        if !json {
            return Err(not_json());
        }
        decode(&bytes).map(ApiJson)
    }
}

/// The body's type describes the request body (inline, as the official document writes bodies).
impl<T: JsonSchema> Describe for ApiJson<T> {
    fn describe(operation: &mut Operation, generator: &mut SchemaGenerator) {
        operation.body = Some(inline_schema_for::<T>(generator));
    }
}

impl<T: JsonSchema> Describe for OptionalApiJson<T> {
    fn describe(operation: &mut Operation, generator: &mut SchemaGenerator) {
        operation.body = Some(inline_schema_for::<T>(generator));
    }
}

/// An optional JSON body: `None` when the request has no body at all; otherwise exactly like
/// [`ApiJson`] (415 unless it is declared JSON, then decoded).
pub struct OptionalApiJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(&request);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::bad_request("body_unreadable", "the request body could not be read"))?;
        if bytes.is_empty() {
            return Ok(OptionalApiJson(None));
        }
        if !json {
            return Err(not_json());
        }
        decode(&bytes).map(|body| OptionalApiJson(Some(body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
            "[a-zA-Z0-9 _-]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        "name|currency|amount|value|id|metadata|description|reference|permissions"
                            .prop_map(String::from),
                        "[a-z]{1,8}"
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn each_body(bytes: &[u8]) -> Vec<Result<(), ApiError>> {
        vec![
            decode::<crate::views::ledger::CreateFinancialAccount>(bytes).map(|_| ()),
            decode::<crate::views::ledger::UpdateFinancialAccount>(bytes).map(|_| ()),
            decode::<crate::views::ledger::CreateInternalTransfer>(bytes).map(|_| ()),
            decode::<crate::views::ledger::PatchInternalTransfer>(bytes).map(|_| ()),
            decode::<crate::views::access::CreateAccessToken>(bytes).map(|_| ()),
        ]
    }

    #[test]
    fn a_repeated_key_at_any_depth_is_refused_naming_it() {
        for (body, field) in [
            (r#"{"name":"a","name":"b"}"#, "name"),
            (r#"{"name":"a","metadata":{"k":"1","k":"2"}}"#, "metadata.k"),
            (r#"{"name":"a","metadata":{"k":"1","\u006b":"2"}}"#, "metadata.k"),
            (r#"{"x":[{"a":1},{"a":1,"a":2}]}"#, "x[1].a"),
        ] {
            let err = check_syntax_and_keys(body.as_bytes()).unwrap_err();
            assert_eq!(err.reason, "validation_failed", "{body}");
            assert_eq!(err.details[0]["reason"], "duplicate_key", "{body}");
            assert_eq!(err.details[0]["field"], field, "{body}");
        }
        // The same key in sibling objects is no repeat; syntax errors still come first.
        assert!(check_syntax_and_keys(br#"{"a":{"k":1},"b":{"k":1}}"#).is_ok());
        assert_eq!(check_syntax_and_keys(br#"{"a":1,"a":2,"#).unwrap_err().reason, "json_malformed");
        assert_eq!(check_syntax_and_keys(br#"{"a":1} x"#).unwrap_err().reason, "json_malformed");
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_answer_400(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for result in each_body(&bytes) {
                if let Err(e) = result {
                    prop_assert_eq!(e.status, StatusCode::BAD_REQUEST);
                }
            }
        }

        #[test]
        fn any_json_decodes_or_names_the_field(value in arbitrary_json()) {
            let bytes = serde_json::to_vec(&value).unwrap();
            for result in each_body(&bytes) {
                if let Err(e) = result {
                    prop_assert_eq!(e.status, StatusCode::BAD_REQUEST);
                    prop_assert!(e.reason == "validation_failed", "valid JSON is never json_malformed: {}", e.message);
                    prop_assert!(e.details[0]["field"].is_string());
                }
            }
        }
    }
}
