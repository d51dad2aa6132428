//! The OpenAPI 3.0 document this server serves at `/openapi.json`, generated from the route table
//! so that paths, methods and required permissions cannot drift from what is served.
//!
//! For Monime's own operations the parameters and schemas mirror the official document
//! (release caph.2025-08-23) so clients generated from either work the same; a test compares the
//! two. On top, every operation documents the error envelope for each status it can answer, and
//! `x-required-permission` (null only for `GET /v1/me`, which any valid token may call). The
//! management operations, which Monime does not publish, are documented here alone.

use crate::auth::routes::RouteSpec;
use crate::auth::Access;
use axum::http::Method;
use openmonime_domain::version::ApiVersion;
use serde_json::{json, Map, Value};

fn string() -> Value {
    json!({"type": "string"})
}

fn nullable_string(max: Option<u32>) -> Value {
    let mut s = json!({"type": "string", "nullable": true});
    if let Some(max) = max {
        s["maxLength"] = json!(max);
    }
    s
}

fn time(nullable: bool) -> Value {
    let mut s = json!({"type": "string", "format": "date-time"});
    if nullable {
        s["nullable"] = json!(true);
    }
    s
}

fn money() -> Value {
    json!({"type": "object", "properties": {"currency": string(), "value": {"type": "integer"}}, "additionalProperties": false})
}

fn metadata() -> Value {
    json!({"maxProperties": 64, "type": "object", "nullable": true})
}

fn ownership_graph() -> Value {
    json!({
        "type": "object",
        "properties": {"owner": {
            "type": "object",
            "properties": {
                "id": string(),
                "type": string(),
                "metadata": metadata(),
                "owner": {"$ref": "#/components/schemas/CoreresourcesParentOwningObject"},
            },
            "additionalProperties": false,
        }},
        "additionalProperties": false,
        "nullable": true,
    })
}

fn account_ref() -> Value {
    json!({"type": "object", "properties": {"id": string()}, "additionalProperties": false})
}

/// The component schemas.
fn schemas() -> Value {
    json!({
        "CoreresourcesParentOwningObject": {
            "type": "object",
            "properties": {
                "id": string(),
                "type": string(),
                "metadata": metadata(),
                "owner": {"$ref": "#/components/schemas/CoreresourcesParentOwningObject"},
            },
            "additionalProperties": false,
        },
        "FinancialAccount": {
            "type": "object",
            "properties": {
                "id": string(),
                "uvan": string(),
                "name": string(),
                "currency": string(),
                "reference": nullable_string(None),
                "description": nullable_string(None),
                "balance": {"type": "object", "properties": {"available": money()}, "nullable": true},
                "createTime": time(false),
                "updateTime": time(true),
                "metadata": metadata(),
            },
        },
        "FinancialTransaction": {
            "type": "object",
            "properties": {
                "id": string(),
                "type": {"enum": ["credit", "debit"], "type": "string"},
                "amount": money(),
                "timestamp": time(false),
                "reference": nullable_string(None),
                "financialAccount": {
                    "type": "object",
                    "properties": {
                        "id": string(),
                        "balance": {"type": "object", "properties": {"after": money()}, "additionalProperties": false, "nullable": true},
                    },
                    "additionalProperties": false,
                },
                "originatingReversal": {
                    "type": "object",
                    "properties": {"originTxnId": string(), "originTxnRef": string()},
                    "additionalProperties": false,
                    "nullable": true,
                },
                "originatingFee": {"type": "object", "properties": {"code": string()}, "additionalProperties": false, "nullable": true},
                "ownershipGraph": ownership_graph(),
                "metadata": metadata(),
            },
        },
        "InternalTransfer": {
            "type": "object",
            "properties": {
                "id": string(),
                "status": {"enum": ["pending", "processing", "failed", "completed"], "type": "string"},
                "amount": money(),
                "sourceFinancialAccount": account_ref(),
                "destinationFinancialAccount": account_ref(),
                "financialTransactionReference": nullable_string(None),
                "description": nullable_string(None),
                "failureDetail": {
                    "type": "object",
                    "properties": {
                        "code": {"enum": ["unknown", "fund_insufficient"], "type": "string"},
                        "message": nullable_string(None),
                    },
                    "nullable": true,
                },
                "ownershipGraph": ownership_graph(),
                "createTime": time(false),
                "updateTime": time(true),
                "metadata": metadata(),
            },
        },
        "Error": {
            "type": "object",
            "required": ["success", "messages", "error"],
            "properties": {
                "success": {"type": "boolean", "enum": [false]},
                "messages": {"type": "array", "items": {}},
                "error": {
                    "type": "object",
                    "required": ["code", "reason", "message", "details"],
                    "properties": {
                        "code": {"type": "integer", "description": "The HTTP status."},
                        "reason": {"type": "string", "description": "A stable snake_case word; see docs/api.md for the list."},
                        "message": string(),
                        "details": {"type": "array", "items": {}},
                    },
                },
            },
        },
        "AccessToken": {
            "type": "object",
            "properties": {
                "id": string(),
                "name": string(),
                "hint": string(),
                "environment": {"enum": ["test", "live"], "type": "string"},
                "status": {"enum": ["ACTIVE", "EXPIRED", "REVOKED"], "type": "string"},
                "permissions": {"type": "array", "items": string()},
                "spaceId": nullable_string(None),
                "allowedIps": {"type": "array", "items": string()},
                "expireTime": time(true),
                "apiVersion": string(),
                "createTime": time(false),
                "revokeTime": time(true),
                "createdBy": {"type": "string", "nullable": true, "description": "The token whose request created this one; null when the operator did."},
                "lastUsedTime": time(true),
                "lastUsedIp": nullable_string(None),
                "requestCount": {"type": "integer"},
                "token": {"type": "string", "description": "The secret: present only in the create and rotate responses."},
            },
        },
        "SpaceMember": {"type": "object", "properties": {"monimeerId": string(), "role": string()}},
        "SpaceRole": {
            "type": "object",
            "properties": {
                "name": string(),
                "builtin": {"type": "boolean"},
                "permissions": {"type": "array", "items": string()},
                "memberCount": {"type": "integer"},
                "affected": {"type": "object", "properties": {"members": {"type": "integer"}, "tokens": {"type": "integer"}}},
            },
        },
        "SpacePolicy": {
            "type": "object",
            "properties": {
                "maxTokenLifetimeSeconds": {"type": "integer", "nullable": true},
                "allowUnboundTokens": {"type": "boolean"},
            },
        },
        "AuditEvent": {
            "type": "object",
            "properties": {
                "id": string(),
                "environment": nullable_string(None),
                "actor": string(),
                "action": string(),
                "subject": string(),
                "detail": {"type": "object", "nullable": true},
                "ipAddress": nullable_string(None),
                "createTime": time(false),
            },
        },
        "Me": {"type": "object", "properties": {
            "monimeer": {"type": "object"},
            "token": {"$ref": "#/components/schemas/AccessToken"},
            "space": {"type": "object", "nullable": true},
        }},
    })
}

fn query(name: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "schema": schema})
}

fn limit_and_after() -> [Value; 2] {
    [
        query("limit", json!({"maximum": 50, "minimum": 1, "type": "integer", "default": 10})),
        query("after", json!({"maxLength": 2000, "type": "string", "nullable": true})),
    ]
}

fn path_id(pattern: Option<&str>) -> Value {
    let mut schema = string();
    if let Some(p) = pattern {
        schema["pattern"] = json!(p);
    }
    json!({"name": "id", "in": "path", "required": true, "schema": schema})
}

/// The query and path parameters of an operation, by `operationId`.
fn own_parameters(operation: &str) -> Vec<Value> {
    let mut p = match operation {
        "ListFinancialAccounts" => vec![
            query("uvan", nullable_string(Some(16))),
            query("reference", nullable_string(Some(64))),
            query("withBalance", json!({"type": "boolean"})),
        ],
        "GetFinancialAccount" => vec![query("withBalance", json!({"type": "boolean"})), path_id(Some("^fac-.*$"))],
        "UpdateFinancialAccount" => vec![path_id(Some("^fac-.*$"))],
        "ListFinancialTransactions" => vec![
            query("financialAccountId", nullable_string(None)),
            query("reference", nullable_string(None)),
            query("type", json!({"enum": ["credit", "debit"], "type": "string", "nullable": true})),
        ],
        "GetTransaction" => vec![path_id(Some("^txn-.*$"))],
        "ListInternalTransfers" => vec![
            query(
                "status",
                json!({"enum": ["pending", "processing", "failed", "completed"], "type": "string", "nullable": true}),
            ),
            query("sourceFinancialAccountId", nullable_string(None)),
            query("destinationFinancialAccountId", nullable_string(None)),
            query("financialTransactionReference", nullable_string(None)),
        ],
        "GetInternalTransfer" | "DeleteInternalTransfer" => vec![path_id(Some("^trn-.*$"))],
        "PatchInternalTransfer" => vec![path_id(None)],
        "ListAccessTokens" => vec![
            query("status", json!({"enum": ["active", "expired", "revoked"], "type": "string"})),
            query("environment", json!({"enum": ["test", "live"], "type": "string"})),
            query("expiringWithin", json!({"type": "string", "example": "7d"})),
        ],
        "ListAuditEvents" => vec![query("action", string()), query("actor", string())],
        "GetAccessToken" | "RevokeAccessToken" | "RotateAccessToken" => vec![path_id(Some("^tok-.*$"))],
        "UpdateSpaceMember" | "RemoveSpaceMember" => vec![path_id(Some("^mmr-.*$"))],
        "UpdateSpaceRole" | "DeleteSpaceRole" => {
            vec![json!({"name": "name", "in": "path", "required": true, "schema": string()})]
        }
        _ => vec![],
    };
    if operation.starts_with("List") && operation != "ListAccessTokens" && !operation.starts_with("ListSpace") {
        p.extend(limit_and_after());
    }
    p
}

/// The query parameters an operation accepts, by `operationId`: the handlers refuse any other
/// name, so what is documented and what is accepted cannot drift apart.
pub fn query_parameter_names(operation: &str) -> Vec<String> {
    own_parameters(operation)
        .iter()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

/// Operations that create through Monime's API and so require `Idempotency-Key`.
fn needs_idempotency_key(operation: &str) -> bool {
    matches!(operation, "CreateFinancialAccount" | "CreateInternalTransfer")
}

fn request_body(operation: &str) -> Option<Value> {
    let account_patch = |nullable_name: bool| {
        let mut name = json!({"maxLength": 100, "type": "string"});
        if nullable_name {
            name["nullable"] = json!(true);
        }
        json!({
            "name": name,
            "reference": nullable_string(Some(64)),
            "description": nullable_string(Some(150)),
            "metadata": metadata(),
        })
    };
    let schema = match operation {
        "CreateFinancialAccount" => {
            let mut props = account_patch(false);
            props["currency"] = string();
            json!({"required": ["name", "currency"], "type": "object", "properties": props, "additionalProperties": false})
        }
        "UpdateFinancialAccount" => {
            json!({"type": "object", "properties": account_patch(true), "additionalProperties": false})
        }
        "CreateInternalTransfer" => {
            let account = json!({"required": ["id"], "type": "object", "properties": {"id": {"maxLength": 64, "type": "string"}}});
            json!({
                "required": ["amount", "sourceFinancialAccount", "destinationFinancialAccount"],
                "type": "object",
                "properties": {
                    "amount": money(),
                    "sourceFinancialAccount": account,
                    "destinationFinancialAccount": account,
                    "description": nullable_string(Some(150)),
                    "metadata": metadata(),
                },
                "additionalProperties": false,
            })
        }
        "PatchInternalTransfer" => json!({
            "type": "object",
            "properties": {"description": nullable_string(Some(255)), "metadata": metadata()},
            "additionalProperties": false,
        }),
        "CreateAccessToken" => json!({
            "required": ["name", "permissions"],
            "type": "object",
            "properties": {
                "name": {"maxLength": 100, "type": "string"},
                "permissions": {"type": "array", "items": string(), "description": "Permission words; `*` and `resource:*` expand."},
                "environment": {"enum": ["test", "live"], "type": "string"},
                "spaceId": string(),
                "allowedIps": {"type": "array", "items": string()},
                "expireTime": time(false),
                "neverExpires": {"type": "boolean"},
                "apiVersion": {"enum": ApiVersion::supported_ids(), "type": "string"},
            },
            "additionalProperties": false,
        }),
        "RevokeAccessToken" => json!({
            "type": "object",
            "properties": {"descendants": {"type": "boolean", "description": "Also revoke every token this one created, transitively."}},
            "additionalProperties": false,
        }),
        "RotateAccessToken" => json!({
            "type": "object",
            "properties": {"gracePeriodSeconds": {"type": "integer", "minimum": 0, "maximum": 2_592_000}},
            "additionalProperties": false,
        }),
        "AddSpaceMember" => json!({
            "required": ["monimeerId", "role"],
            "type": "object",
            "properties": {"monimeerId": string(), "role": string()},
            "additionalProperties": false,
        }),
        "UpdateSpaceMember" => {
            json!({"required": ["role"], "type": "object", "properties": {"role": string()}, "additionalProperties": false})
        }
        "CreateSpaceRole" => json!({
            "required": ["name", "permissions"],
            "type": "object",
            "properties": {"name": {"maxLength": 40, "type": "string"}, "permissions": {"type": "array", "items": string()}},
            "additionalProperties": false,
        }),
        "UpdateSpaceRole" => json!({
            "required": ["permissions"],
            "type": "object",
            "properties": {"permissions": {"type": "array", "items": string()}},
            "additionalProperties": false,
        }),
        "UpdateSpacePolicies" => json!({
            "type": "object",
            "properties": {
                "maxTokenLifetimeSeconds": {"type": "integer", "minimum": 1, "nullable": true},
                "allowUnboundTokens": {"type": "boolean"},
            },
            "additionalProperties": false,
        }),
        _ => return None,
    };
    Some(json!({"content": {"application/json": {"schema": schema}}}))
}

/// The component a successful answer carries, and whether it is a list.
fn result_schema(operation: &str) -> Option<(&'static str, bool)> {
    Some(match operation {
        "ListFinancialAccounts" => ("FinancialAccount", true),
        "CreateFinancialAccount" | "GetFinancialAccount" | "UpdateFinancialAccount" => ("FinancialAccount", false),
        "ListFinancialTransactions" => ("FinancialTransaction", true),
        "GetTransaction" => ("FinancialTransaction", false),
        "ListInternalTransfers" => ("InternalTransfer", true),
        "CreateInternalTransfer" | "GetInternalTransfer" | "PatchInternalTransfer" => ("InternalTransfer", false),
        "GetMe" => ("Me", false),
        "ListAccessTokens" => ("AccessToken", true),
        "CreateAccessToken" | "GetAccessToken" | "RevokeAccessToken" | "RotateAccessToken" => ("AccessToken", false),
        "ListSpaceMembers" => ("SpaceMember", true),
        "AddSpaceMember" | "UpdateSpaceMember" => ("SpaceMember", false),
        "ListSpaceRoles" => ("SpaceRole", true),
        "CreateSpaceRole" | "UpdateSpaceRole" => ("SpaceRole", false),
        "GetSpacePolicies" | "UpdateSpacePolicies" => ("SpacePolicy", false),
        "ListAuditEvents" | "ListMyTokenAuditEvents" => ("AuditEvent", true),
        _ => return None,
    })
}

fn envelope_base() -> Map<String, Value> {
    let mut props = Map::new();
    props.insert("success".into(), json!({"type": "boolean"}));
    props.insert("messages".into(), json!({"type": "array", "items": {}}));
    props
}

fn success_schema(operation: &str) -> Value {
    let mut props = envelope_base();
    if let Some((component, list)) = result_schema(operation) {
        let reference = json!({"$ref": format!("#/components/schemas/{component}")});
        if list {
            props.insert("result".into(), json!({"type": "array", "items": reference, "nullable": true}));
            props.insert(
                "pagination".into(),
                json!({"type": "object", "properties": {"count": {"type": "integer"}, "next": {"type": "string", "nullable": true}}}),
            );
        } else {
            props.insert("result".into(), reference);
        }
    }
    json!({"type": "object", "properties": props})
}

fn error_statuses(spec: &RouteSpec) -> Vec<(&'static str, &'static str)> {
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
        out.push(("404", "No such object in this Space and environment."));
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

fn operation(spec: &RouteSpec) -> Value {
    let mut parameters = own_parameters(spec.operation);
    if needs_idempotency_key(spec.operation) {
        parameters.push(json!({"name": "Idempotency-Key", "in": "header", "required": true, "schema": {"maxLength": 64, "type": "string"}}));
    }
    parameters.push(json!({
        "name": "Monime-Version",
        "in": "header",
        "schema": {"enum": ApiVersion::supported_ids(), "type": "string", "nullable": true},
    }));
    let space_scoped = matches!(spec.access, Access::Space(_));
    if space_scoped {
        parameters.push(json!({
            "name": "Monime-Space-Id",
            "in": "header",
            "required": true,
            "schema": {"maxLength": 64, "pattern": "^spc-.*$", "type": "string"},
        }));
    } else if spec.operation == "GetMe" {
        parameters.push(json!({
            "name": "Monime-Space-Id",
            "in": "header",
            "description": "Optional: adds the caller's role and effective permissions in this Space.",
            "schema": {"maxLength": 64, "pattern": "^spc-.*$", "type": "string"},
        }));
    }
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({"description": "OK", "content": {"application/json": {"schema": success_schema(spec.operation)}}}),
    );
    for (status, description) in error_statuses(spec) {
        responses.insert(status.into(), json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}));
    }
    let mut op = json!({
        "operationId": spec.operation,
        "parameters": parameters,
        "responses": responses,
        "x-required-permission": spec.access.permission().map(|p| p.word()),
        "x-space-scoped": space_scoped,
    });
    if let Some(body) = request_body(spec.operation) {
        op["requestBody"] = body;
    }
    op
}

/// The whole document for the given routes, with `public_url` as the server.
pub fn document(routes: &[RouteSpec], public_url: &str) -> Value {
    let mut paths = Map::new();
    for spec in routes {
        let item = paths.entry(spec.path.to_owned()).or_insert_with(|| json!({}));
        item[spec.method.as_str().to_ascii_lowercase()] = operation(spec);
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
            "schemas": schemas(),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "mon_… / mon_test_…"}},
        },
    })
}
