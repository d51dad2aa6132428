//! The `Idempotency-Key` header of creating POSTs, turned into a claim the store honours in the
//! same transaction as the effects.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::wire::RequestChecksum;
use axum::http::HeaderMap;
use openmonime_store::IdempotencyClaim;

pub const MAX_KEY_LEN: usize = 64;

/// Requires a key of 1..=64 visible characters.
pub fn claim(headers: &HeaderMap, caller: &Caller, checksum: &RequestChecksum) -> ApiResult<IdempotencyClaim> {
    let raw = headers.get("idempotency-key").ok_or_else(|| {
        ApiError::bad_request("idempotency_key_missing", "creating requests need an `Idempotency-Key` header")
    })?;
    let key =
        raw.to_str().ok().map(str::trim).filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN).ok_or_else(|| {
            ApiError::bad_request(
                "idempotency_key_invalid",
                format!("`Idempotency-Key` must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            )
        })?;
    Ok(IdempotencyClaim {
        monimeer_id: caller.token.token.monimeer_id.clone(),
        key: key.to_owned(),
        fingerprint: checksum.0.clone(),
    })
}
