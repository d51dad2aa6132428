//! Domain records in the official document's response shapes (camelCase fields, snake_case
//! enum values, money as `{currency, value}` in minor units, RFC 3339 times).

use openmonime_domain::entities::*;
use openmonime_domain::money::Money;
use openmonime_domain::time_fmt::rfc3339;
use serde_json::{json, Value};

pub fn money(m: Money) -> Value {
    json!({"currency": m.currency.code(), "value": m.value})
}

fn opt_time(t: Option<time::OffsetDateTime>) -> Value {
    t.map(rfc3339).map(Value::String).unwrap_or(Value::Null)
}

pub fn account(a: &FinancialAccount, with_balance: bool) -> Value {
    let balance = if with_balance {
        json!({"available": money(Money { currency: a.currency, value: a.balance })})
    } else {
        Value::Null
    };
    json!({
        "id": a.id,
        "uvan": a.uvan,
        "name": a.name,
        "currency": a.currency.code(),
        "reference": a.reference,
        "description": a.description,
        "balance": balance,
        "createTime": rfc3339(a.created_at),
        "updateTime": opt_time(a.updated_at),
        "metadata": a.metadata,
    })
}

pub fn transaction(t: &FinancialTransaction) -> Value {
    json!({
        "id": t.id,
        "type": t.kind.as_str(),
        "amount": money(t.amount),
        "timestamp": rfc3339(t.timestamp),
        "reference": t.reference,
        "financialAccount": {
            "id": t.account_id,
            "balance": {"after": money(Money { currency: t.amount.currency, value: t.balance_after })},
        },
        "originatingReversal": null,
        "originatingFee": null,
        "ownershipGraph": {"owner": {"id": t.owner.id, "type": t.owner.kind, "metadata": t.owner.metadata}},
        "metadata": t.metadata,
    })
}

pub fn transfer(t: &InternalTransfer) -> Value {
    let failure = t.failure.as_ref().map(|(code, message)| json!({"code": code.as_str(), "message": message}));
    json!({
        "id": t.id,
        "status": t.status.as_str(),
        "amount": money(t.amount),
        "sourceFinancialAccount": {"id": t.source},
        "destinationFinancialAccount": {"id": t.destination},
        "financialTransactionReference": t.transaction_reference,
        "description": t.description,
        "failureDetail": failure,
        "ownershipGraph": null,
        "createTime": rfc3339(t.created_at),
        "updateTime": opt_time(t.updated_at),
        "metadata": t.metadata,
    })
}

/// An access token without its secret.
pub fn access_token(t: &AccessToken) -> Value {
    let now = openmonime_domain::time_fmt::now();
    json!({
        "id": t.id,
        "name": t.name,
        "hint": t.hint,
        "environment": t.environment.as_str(),
        "status": t.status(now),
        "permissions": t.permissions,
        "spaceId": t.space_id,
        "allowedIps": t.allowed_ips.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        "expireTime": opt_time(t.expires_at),
        "apiVersion": t.api_version.id(),
        "createTime": rfc3339(t.created_at),
        "revokeTime": opt_time(t.revoked_at),
        "createdBy": t.created_by,
        "lastUsedTime": opt_time(t.usage.last_used_at),
        "lastUsedIp": t.usage.last_used_ip,
        "requestCount": t.usage.request_count,
    })
}

pub fn policy(p: &SpacePolicy) -> Value {
    json!({"maxTokenLifetimeSeconds": p.max_token_lifetime_seconds, "allowUnboundTokens": p.allow_unbound_tokens})
}

/// One audit event, as the API lists it and `admin audit list` prints it.
pub fn audit_event(e: &openmonime_store::audit::AuditRecord) -> Value {
    json!({
        "id": e.id,
        "environment": e.environment.map(|v| v.as_str()),
        "actor": e.actor,
        "action": e.action,
        "subject": e.subject,
        "detail": e.detail,
        "ipAddress": e.ip,
        "createTime": rfc3339(e.created_at),
    })
}
