//! The payout worker: moves each due payout along its state machine — marks it `processing`,
//! sends it to its environment's rail (or asks again how it went), and records the rail's answer.
//! Every node runs it; each step is a compare-and-set in the store (`store::payouts`) and the rail
//! is asked with the payout's id as its idempotency key, so a second node, or a node restarted
//! after a crash, can repeat a step but a payout is paid and settled once.

use crate::rail::{Rails, ASK_AGAIN_AFTER};
use openmonime_domain::entities::Tenant;
use openmonime_store::payouts::Settlement;
use openmonime_store::{Store, StoreError};

/// How many payouts one run moves; the rest wait for the next.
pub const BATCH: u32 = 500;

/// Moves what is due (only `only`'s, if given); answers how many payouts this call ended.
pub async fn settle_due(store: &Store, rails: &Rails, only: Option<&Tenant>, limit: u32) -> Result<usize, StoreError> {
    let mut ended = 0;
    for (id, tenant) in store.due_payouts(only, limit).await? {
        match settle_one(store, rails, &tenant, &id).await {
            Ok(true) => ended += 1,
            Ok(false) => {}
            // One payout's trouble (a database hiccup, an overflowing reversal) does not hold
            // up the others; it is due again on the next run.
            Err(e) => tracing::warn!(payout = %id, error = %e, "a payout could not be moved on"),
        }
    }
    Ok(ended)
}

async fn settle_one(store: &Store, rails: &Rails, tenant: &Tenant, id: &str) -> Result<bool, StoreError> {
    // No rail in this environment now (a live payout can only be created while one is
    // connected): the payout stays as it is — pending ones are not announced as processing —
    // and is looked at again later.
    let Some(rail) = rails.of(tenant.environment) else {
        let later = store.tenant_now(tenant).await? + ASK_AGAIN_AFTER;
        return store.settle_payout(tenant, id, &Settlement::AskAgainAt(later)).await;
    };
    let Some(payout) = store.send_payout(tenant, id).await? else { return Ok(false) };
    let settlement = rail.send_payout(store, tenant, &payout).await?;
    store.settle_payout(tenant, id, &settlement).await
}
