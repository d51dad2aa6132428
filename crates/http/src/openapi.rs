//! The OpenAPI 3.0 document this server serves at `/openapi.json`, derived from the route table and
//! the types of each route's handler: its path, query and body extractors and its answer describe
//! the operation ([`Describe`]), and `schemars` turns the wire types of [`crate::views`] into
//! schemas. Nothing here names an operation, so an operation cannot be documented apart from
//! what serves it.
//!
//! For Monime's own operations the result mirrors the official document (release caph.2025-08-23)
//! so clients generated from either work the same; a test compares the two. On top, every
//! operation documents the error envelope for each status it can answer, and
//! `x-required-permission` (null only for `GET /v1/me`, which any valid token may call).

use crate::auth::routes::RouteSpec;
use crate::auth::Access;
use axum::http::Method;
use openmonime_domain::version::ApiVersion;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};

/// What one operation says of itself, gathered from its handler's types.
#[derive(Debug, Default)]
pub struct Operation {
    /// Path and query parameters, in OpenAPI's parameter-object form.
    pub parameters: Vec<Value>,
    /// The request body's schema.
    pub body: Option<Schema>,
    /// The operation replays on `Idempotency-Key`, which it then requires.
    pub idempotency_key: bool,
    /// The `200` answer's schema.
    pub answer: Option<Schema>,
    /// Refusals a part of the handler adds to the common ones (status, description).
    pub extra_statuses: Vec<(&'static str, &'static str)>,
}

/// A part of a handler — an extractor or its answer — and what it adds to the operation's
/// description. Parts that add nothing (state, headers, the caller) keep the default.
pub trait Describe {
    /// True for the extractor that needs the route to be Space-scoped ([`crate::auth::SpaceCaller`]).
    const NEEDS_SPACE: bool = false;

    fn describe(_operation: &mut Operation, _generator: &mut SchemaGenerator) {}
}

/// A handler whose every argument and whose answer are [`Describe`]: the route table registers only
/// these, so each operation's description comes from what serves it.
pub trait DescribedHandler<T> {
    const NEEDS_SPACE: bool;

    fn describe(operation: &mut Operation, generator: &mut SchemaGenerator);
}

macro_rules! described_handler {
    ($($arg:ident),*) => {
        impl<F, Fut, Answer, $($arg,)*> DescribedHandler<(Answer, $($arg,)*)> for F
        where
            F: FnOnce($($arg,)*) -> Fut,
            Fut: std::future::Future<Output = Answer>,
            Answer: Describe,
            $($arg: Describe,)*
        {
            const NEEDS_SPACE: bool = false $(|| $arg::NEEDS_SPACE)*;

            fn describe(operation: &mut Operation, generator: &mut SchemaGenerator) {
                $($arg::describe(operation, generator);)*
                Answer::describe(operation, generator);
            }
        }
    };
}

described_handler!();
described_handler!(A1);
described_handler!(A1, A2);
described_handler!(A1, A2, A3);
described_handler!(A1, A2, A3, A4);
described_handler!(A1, A2, A3, A4, A5);
described_handler!(A1, A2, A3, A4, A5, A6);
described_handler!(A1, A2, A3, A4, A5, A6, A7);

/// Parts that say nothing about the wire.
macro_rules! silent {
    ($($ty:ty),* $(,)?) => {$(impl Describe for $ty {})*};
}

silent!(axum::http::HeaderMap, crate::auth::Caller);

impl<S> Describe for axum::extract::State<S> {}
impl<T> Describe for axum::Extension<T> {}

impl<A: Describe> Describe for Result<A, crate::error::ApiError> {
    const NEEDS_SPACE: bool = A::NEEDS_SPACE;

    fn describe(operation: &mut Operation, generator: &mut SchemaGenerator) {
        A::describe(operation, generator)
    }
}

/// A JSON answer: the envelope type is the `200` schema.
impl<T: JsonSchema> Describe for axum::Json<T> {
    fn describe(operation: &mut Operation, generator: &mut SchemaGenerator) {
        operation.answer = Some(schema_for::<T>(generator));
    }
}

/// The generator every schema of the document comes from: OpenAPI 3.0 (`nullable`, components
/// under `#/components/schemas/`), in the official document's dialect.
pub fn generator() -> SchemaGenerator {
    SchemaSettings::openapi3().with_transform(crate::views::openapi30).into_generator()
}

/// `T`'s schema as the document embeds it (a `$ref` for a named component), with the dialect's
/// transforms applied (the generator applies them itself only to whole documents).
pub fn schema_for<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = generator.subschema_for::<T>();
    for transform in generator.transforms_mut() {
        transform.transform(&mut schema);
    }
    schema
}

/// `T`'s own schema, never a `$ref` (a request body, a query type), with the dialect's transforms.
pub fn inline_schema_for<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = T::json_schema(generator);
    for transform in generator.transforms_mut() {
        transform.transform(&mut schema);
    }
    schema
}

/// The query parameters of the object type `T`, one per property.
pub fn query_parameters<T: JsonSchema>(operation: &mut Operation, generator: &mut SchemaGenerator) {
    let schema = inline_schema_for::<T>(generator);
    let required = |name: &str| {
        schema.get("required").and_then(Value::as_array).is_some_and(|list| list.iter().any(|r| r == name))
    };
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (name, property) in properties {
            let mut parameter = json!({"name": name, "in": "query", "schema": property});
            if required(name) {
                parameter["required"] = json!(true);
            }
            operation.parameters.push(parameter);
        }
    }
}

/// The documented query parameter names of a route, which its query extractor accepts.
pub fn query_parameter_names(spec: &RouteSpec) -> Vec<String> {
    let mut operation = Operation::default();
    (spec.describe)(&mut operation, &mut generator());
    operation
        .parameters
        .iter()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

fn error_statuses(spec: &RouteSpec, extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut out = vec![(
        "401",
        "The access token is missing, malformed, unknown, revoked or expired, or its owner was offboarded.",
    )];
    if matches!(spec.access, Access::Space(_)) {
        out.push(("400", "Validation failed, or `Monime-Space-Id` / `Monime-Version` is missing or malformed."));
        out.push(("403", "Not a member of the Space, token bound elsewhere, IP outside the allowlist, Space policy, or a missing permission (named in `details`)."));
    } else {
        out.push(("400", "Validation failed, or `Monime-Version` is unsupported."));
        out.push(("403", "IP outside the allowlist, or a missing permission (named in `details`)."));
    }
    if spec.path.contains('{') {
        out.push(("404", "No such object in this Space and environment (an id of the wrong kind names none either)."));
    }
    for (status, description) in extra {
        match out.iter_mut().find(|(s, _)| s == status) {
            Some(entry) => entry.1 = description,
            None => out.push((status, description)),
        }
    }
    if spec.method == Method::POST || spec.method == Method::PATCH || spec.method == Method::DELETE {
        out.push(("409", "The request conflicts with the current state (the `reason` says how), or an `Idempotency-Key` was reused for a different request."));
    }
    if spec.method == Method::POST || spec.method == Method::PATCH {
        out.push(("413", "The body exceeds the size limit."));
        out.push(("415", "The body is not `application/json`."));
    }
    out.push(("429", "A rate limit was reached; `Monime-Rate-Limit` names it and `Retry-After` says when to retry."));
    out.push(("500", "An internal error; safe to retry."));
    out
}

fn space_id_header(required: bool, description: Option<&str>) -> Value {
    let mut header = json!({
        "name": "Monime-Space-Id",
        "in": "header",
        "schema": {"maxLength": 64, "pattern": "^spc-.*$", "type": "string"},
    });
    if required {
        header["required"] = json!(true);
    }
    if let Some(description) = description {
        header["description"] = json!(description);
    }
    header
}

fn operation(spec: &RouteSpec, generator: &mut SchemaGenerator) -> Value {
    let mut described = Operation::default();
    (spec.describe)(&mut described, generator);
    let mut parameters = described.parameters;
    if described.idempotency_key {
        parameters.push(json!({"name": "Idempotency-Key", "in": "header", "required": true, "schema": {"maxLength": 64, "type": "string"}}));
    }
    parameters.push(json!({
        "name": "Monime-Version",
        "in": "header",
        "schema": {"enum": ApiVersion::supported_ids(), "type": "string", "nullable": true},
    }));
    let space_scoped = matches!(spec.access, Access::Space(_));
    if space_scoped {
        parameters.push(space_id_header(true, None));
    } else if spec.access == Access::Authenticated {
        parameters.push(space_id_header(
            false,
            Some("Optional: adds the caller's role and effective permissions in this Space."),
        ));
    }
    let mut responses = Map::new();
    let answer = described.answer.map(Value::from).unwrap_or_else(|| json!({}));
    responses.insert("200".into(), json!({"description": "OK", "content": {"application/json": {"schema": answer}}}));
    let error = schema_for::<crate::views::ErrorEnvelope>(generator);
    for (status, description) in error_statuses(spec, &described.extra_statuses) {
        responses.insert(
            status.into(),
            json!({"description": description, "content": {"application/json": {"schema": error}}}),
        );
    }
    let mut op = json!({
        "operationId": spec.operation,
        "parameters": parameters,
        "responses": responses,
        "x-required-permission": spec.access.permission().map(|p| p.word()),
        "x-space-scoped": space_scoped,
    });
    if let Some(body) = described.body {
        op["requestBody"] = json!({"content": {"application/json": {"schema": body}}});
    }
    op
}

/// The whole document for the given routes, with `public_url` as the server.
pub fn document(routes: &[RouteSpec], public_url: &str) -> Value {
    let mut generator = generator();
    let mut paths = Map::new();
    for spec in routes {
        let item = paths.entry(spec.path.to_owned()).or_insert_with(|| json!({}));
        item[spec.method.as_str().to_ascii_lowercase()] = operation(spec, &mut generator);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "openmonime",
            "description": "An open implementation of the Monime API. Monime's operations match release caph.2025-08-23; the access-token, member, role, policy and audit operations are openmonime's own.",
            "version": ApiVersion::LATEST.id(),
        },
        "servers": [{"url": public_url}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": generator.take_definitions(true),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "mon_… / mon_test_…"}},
        },
    })
}
