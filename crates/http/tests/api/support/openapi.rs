//! The official OpenAPI document (`shared/reference/monime-openapi.yaml`, beside the repository),
//! loaded once, and validation of response bodies against its documented `200` schemas.
//!
//! OpenAPI 3.0 schemas are turned into JSON Schema 2020-12: `nullable: true` becomes a `null`
//! alternative, and `#/components/schemas/X` references point into `$defs`. On top of what the
//! document states, the response envelope and each top-level resource schema are checked "closed":
//! every documented property must be present and no undocumented one may appear, so a missing or
//! misspelled field fails the check (the document lists no `required` properties for responses).

use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// Where the document is looked for: `OPENMONIME_OFFICIAL_OPENAPI`, else `shared/reference/`
/// beside the repository (as here and in CI). It has no licence, so it is never committed.
pub fn official_path() -> std::path::PathBuf {
    match std::env::var_os("OPENMONIME_OFFICIAL_OPENAPI") {
        Some(path) => path.into(),
        None => concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/reference/monime-openapi.yaml").into(),
    }
}

/// The official document's text, or `None` after saying loudly that `what` was skipped.
pub fn official_text(what: &str) -> Option<String> {
    let path = official_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            crate::support::say_skipped(
                what,
                &format!(
                    "Monime's official OpenAPI document is not at {} ({e}); set OPENMONIME_OFFICIAL_OPENAPI \
                     or see scripts/fetch-official-openapi.sh",
                    path.display()
                ),
            );
            None
        }
    }
}

/// Component schemas that are a response's `result` (checked closed).
const RESOURCES: &[&str] =
    &["FinancialAccount", "FinancialTransaction", "InternalTransfer", "Webhook", "PaymentCode", "Payment", "UssdOtp"];

/// Fields of a closed resource that openmonime leaves out rather than send a `null` the document
/// does not allow: a code's `authorizedPhoneNumber` when any number may pay it.
const LEFT_OUT_WHEN_UNSET: &[(&str, &str)] = &[("PaymentCode", "authorizedPhoneNumber")];

pub struct Spec {
    doc: Value,
    defs: Map<String, Value>,
}

/// Checks against the official document, which may be absent (then each check says it skipped).
pub struct Official(Option<Spec>);

impl Official {
    /// Checks `body` against `operation_id`'s documented `200` schema, or says loudly that the
    /// check was skipped because the document is absent.
    pub fn check(&self, operation_id: &str, body: &Value) {
        match &self.0 {
            Some(spec) => spec.check(operation_id, body),
            None => crate::support::say_skipped(
                &format!("the official-schema check of {operation_id}"),
                "the official OpenAPI document is absent (see above)",
            ),
        }
    }
}

/// The document, parsed once per test process.
pub fn spec() -> &'static Official {
    static SPEC: OnceLock<Official> = OnceLock::new();
    SPEC.get_or_init(|| {
        let Some(text) = official_text("official-document checks") else {
            return Official(None);
        };
        let doc: Value = serde_norway::from_str(&text).expect("the OpenAPI document is valid YAML");
        let schemas = doc["components"]["schemas"].as_object().expect("components.schemas");
        let defs = schemas
            .iter()
            .map(|(name, schema)| {
                let converted = convert(schema);
                let mut converted = if RESOURCES.contains(&name.as_str()) { closed(converted) } else { converted };
                for (resource, field) in LEFT_OUT_WHEN_UNSET {
                    if resource == name {
                        if let Some(Value::Array(required)) = converted.get_mut("required") {
                            required.retain(|k| k != field);
                        }
                    }
                }
                (name.clone(), converted)
            })
            .collect();
        Official(Some(Spec { doc, defs }))
    })
}

/// OpenAPI 3.0 → JSON Schema, recursively.
fn convert(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let value = match key.as_str() {
                    "$ref" => {
                        let target = value.as_str().expect("$ref is a string");
                        let name = target.strip_prefix("#/components/schemas/").expect("local component reference");
                        json!(format!("#/$defs/{name}"))
                    }
                    "properties" => Value::Object(
                        value.as_object().expect("properties").iter().map(|(k, v)| (k.clone(), convert(v))).collect(),
                    ),
                    "items" | "additionalProperties" | "not" => convert(value),
                    "allOf" | "anyOf" | "oneOf" => {
                        Value::Array(value.as_array().expect("schema list").iter().map(convert).collect())
                    }
                    "nullable" => continue,
                    _ => value.clone(),
                };
                out.insert(key.clone(), value);
            }
            if map.get("nullable") == Some(&json!(true)) {
                if let Some(Value::String(t)) = out.get("type").cloned() {
                    out.insert("type".into(), json!([t, "null"]));
                }
                if let Some(Value::Array(values)) = out.get_mut("enum") {
                    values.push(Value::Null);
                }
                if out.contains_key("$ref") {
                    let reference = out.remove("$ref").expect("checked");
                    out.insert("anyOf".into(), json!([{"$ref": reference}, {"type": "null"}]));
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Every documented property required, no other property allowed.
fn closed(mut schema: Value) -> Value {
    let keys: Vec<Value> =
        schema["properties"].as_object().map(|p| p.keys().map(|k| json!(k)).collect()).unwrap_or_default();
    schema["required"] = Value::Array(keys);
    schema["additionalProperties"] = json!(false);
    schema
}

impl Spec {
    /// The `200` response schema of an operation, as JSON Schema with its `$defs`.
    pub fn response_schema(&self, operation_id: &str) -> Value {
        let paths = self.doc["paths"].as_object().expect("paths");
        let operation = paths
            .values()
            .filter_map(Value::as_object)
            .flat_map(|methods| methods.values())
            .find(|op| op["operationId"] == operation_id)
            .unwrap_or_else(|| panic!("no operation {operation_id} in the document"));
        let schema = &operation["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{operation_id} documents no JSON 200 response");
        let mut root = closed(convert(schema));
        root["$defs"] = Value::Object(self.defs.clone());
        root
    }

    /// Panics, listing every violation, unless `body` matches the operation's `200` schema.
    pub fn check(&self, operation_id: &str, body: &Value) {
        let schema = self.response_schema(operation_id);
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("schema of {operation_id} does not compile: {e}"));
        let errors: Vec<String> =
            validator.iter_errors(body).map(|e| format!("at `{}`: {e}", e.instance_path())).collect();
        assert!(
            errors.is_empty(),
            "{operation_id} response does not match the official document:\n{}\nbody: {body:#}",
            errors.join("\n")
        );
        assert_eq!(body["success"], true, "{operation_id}: {body}");
    }
}

#[test]
fn the_converter_rejects_what_the_document_forbids() {
    // A guard on the checker itself: it must fail on a wrong type, a missing documented field,
    // an undocumented field and a bad enum value, and accept `null` where the document allows it.
    let Some(spec) = &spec().0 else {
        return crate::support::say_skipped("the_converter_rejects_what_the_document_forbids", "no official document");
    };
    let schema = spec.response_schema("GetInternalTransfer");
    let validator = jsonschema::options().should_validate_formats(true).build(&schema).expect("compiles");
    let good = json!({"success": true, "messages": [], "result": {
        "id": "trn-1", "status": "completed", "amount": {"currency": "SLE", "value": 5},
        "sourceFinancialAccount": {"id": "fac-1"}, "destinationFinancialAccount": {"id": "fac-2"},
        "financialTransactionReference": null, "description": null, "failureDetail": null, "ownershipGraph": null,
        "createTime": "2025-01-01T00:00:00Z", "updateTime": null, "metadata": null}});
    assert!(validator.is_valid(&good), "{:?}", validator.iter_errors(&good).map(|e| e.to_string()).collect::<Vec<_>>());
    let mut wrong_type = good.clone();
    wrong_type["result"]["amount"]["value"] = json!("5");
    let mut missing = good.clone();
    missing["result"].as_object_mut().unwrap().remove("metadata");
    let mut extra = good.clone();
    extra["result"]["createdAt"] = json!("2025-01-01T00:00:00Z");
    let mut bad_enum = good.clone();
    bad_enum["result"]["status"] = json!("done");
    let mut bad_time = good.clone();
    bad_time["result"]["createTime"] = json!("yesterday");
    let mut null_not_allowed = good.clone();
    null_not_allowed["result"]["status"] = Value::Null;
    for (what, body) in [
        ("wrong type", wrong_type),
        ("missing", missing),
        ("extra", extra),
        ("enum", bad_enum),
        ("format", bad_time),
        ("null", null_not_allowed),
    ] {
        assert!(!validator.is_valid(&body), "{what} was accepted");
    }
}
