//! Payouts: created with their hold (the amount and its fees debited from the source account, one
//! reference), read, listed, patched and deleted while `pending`, and moved along their state
//! machine by the payout worker — each step a compare-and-set on the locked row in its own
//! transaction with its ledger entries and events, so a second node or a restarted one can
//! repeat a step but never apply it twice. The test rail's providers keep their side here too
//! (`test_rail_payouts`), keyed by the payout's idempotency key at the provider.

use crate::backend::{Store, WriteTx};
use crate::codec::*;
use crate::collections::clock::tenant_now;
use crate::collections::sweep::{due, due_sql};
use crate::error::{Conflict, StoreError, StoreResult};
use crate::idempotency::{IdempotencyClaim, Outcome};
use crate::journal;
use crate::ledger::{account_in, apply_delta, insert_entries_of};
use crate::tenant::scoped;
use crate::{page_of, Backend, Page, PageRequest};
use openmonime_domain::entities::{EntryKind, OwnerKind, Ownership, Tenant};
use openmonime_domain::event::{EventName, Snapshot};
use openmonime_domain::ids::*;
use openmonime_domain::money::Money;
use openmonime_domain::payment::Fee;
use openmonime_domain::payout::{self, Destination, Payout, PayoutFailure, PayoutStatus};
use openmonime_domain::test_rail::ProviderKind;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

/// A payout request, validated by the caller (amount positive, destination well formed and of
/// a provider that is paid to in the tenant's environment); `fees` from the Space's schedule.
#[derive(Debug, Clone)]
pub struct NewPayout {
    pub amount: Money,
    /// `None`: the Space's `main` account of the environment.
    pub source: Option<FinancialAccountId>,
    pub destination: Destination,
    pub fees: Vec<Fee>,
    pub metadata: Option<Map<String, Value>>,
}

/// Why a payout was refused before anything was written (a 400 naming the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutRejection {
    /// `source.financialAccountId` names no account of the tenant (or it has no `main` one).
    AccountNotFound,
    /// The source account holds another currency than the amount's.
    CurrencyMismatch,
    /// The amount and its fees add up past the 64-bit range.
    HoldOverflow,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PayoutFilter {
    pub status: Option<PayoutStatus>,
    pub source_id: Option<String>,
    pub source_reference: Option<String>,
    pub destination_reference: Option<String>,
}

/// What the rail said of a payout it was sent, as the worker records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The provider credited the destination, under its own reference.
    Completed { reference: String },
    /// The provider refused the payout: the hold returns.
    Failed { code: PayoutFailure, message: Option<String> },
    /// Not final yet: ask the rail again at this time (the tenant's clock).
    AskAgainAt(OffsetDateTime),
}

const PAYOUT_COLUMNS: &str = "seq, id, status, currency, amount, fees, source_id, source_reference, destination_type, \
     provider_id, destination_account, destination_reference, failure_code, failure_message, metadata, created_at, \
     updated_at";

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredFee {
    code: String,
    value: i64,
}

fn payout_from_row(row: &AnyRow) -> StoreResult<Payout> {
    let currency = currency(row, "currency")?;
    let fees: Vec<StoredFee> = json_column(row, "fees")?;
    let failure = match opt_text(row, "failure_code")? {
        None => None,
        Some(code) => Some((
            PayoutFailure::parse(&code).ok_or_else(|| corrupt("failure_code"))?,
            opt_text(row, "failure_message")?,
        )),
    };
    Ok(Payout {
        id: id(row, "id", PayoutId::parse)?,
        status: PayoutStatus::parse(&text(row, "status")?).ok_or_else(|| corrupt("status"))?,
        amount: Money { currency, value: int(row, "amount")? },
        source: id(row, "source_id", FinancialAccountId::parse)?,
        source_reference: opt_text(row, "source_reference")?,
        destination: Destination {
            kind: ProviderKind::parse(&text(row, "destination_type")?).ok_or_else(|| corrupt("destination_type"))?,
            provider_id: text(row, "provider_id")?,
            account: text(row, "destination_account")?,
            transaction_reference: opt_text(row, "destination_reference")?,
        },
        fees: fees.into_iter().map(|f| Fee { code: f.code, amount: Money { currency, value: f.value } }).collect(),
        failure,
        metadata: json_map(row, "metadata")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

fn lock(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

/// The payout `id` of the tenant, locked for the rest of the transaction; deleted ones are gone.
async fn locked_payout(tx: &mut WriteTx, tenant: &Tenant, id: &str) -> StoreResult<Payout> {
    let sql = format!(
        "SELECT {PAYOUT_COLUMNS} FROM payouts WHERE id = $1 AND deleted_at IS NULL AND $TENANT{}",
        lock(tx.backend)
    );
    let row = scoped(&sql, tenant).bind(id).fetch_optional(&mut *tx.tx).await?.ok_or(StoreError::NotFound)?;
    payout_from_row(&row)
}

/// The owner the payout's ledger entries name.
fn owner_of(payout: &Payout) -> Ownership {
    Ownership { id: payout.id.to_string(), kind: OwnerKind::Payout, metadata: payout.metadata.clone() }
}

/// Moves the payout's hold in or out of its source account: `Debit` takes the amount and each
/// fee (the hold), `Credit` returns them (the reversal); one entry each, all under the payout's
/// reference. `None` when the balance guard refused (too little to hold, or an overflow).
async fn move_hold(
    tx: &mut WriteTx,
    tenant: &Tenant,
    payout: &Payout,
    kind: EntryKind,
    now: i64,
) -> StoreResult<Option<()>> {
    let held = payout.held().ok_or(StoreError::Invariant("a payout's hold overflows"))?;
    let reference = payout.source_reference.as_deref().ok_or(StoreError::Invariant("a hold without a reference"))?;
    let delta = match kind {
        EntryKind::Debit => -held,
        EntryKind::Credit => held,
    };
    let Some(after) = apply_delta(&mut tx.tx, tenant, &payout.source, delta, now).await? else { return Ok(None) };
    // The balance each entry leaves, in order: the amount's entry first, then each fee's.
    let mut balance = after - delta;
    let owner = owner_of(payout);
    let parts =
        std::iter::once((payout.amount, None)).chain(payout.fees.iter().map(|f| (f.amount, Some(f.code.as_str()))));
    for (amount, fee_code) in parts {
        balance = match kind {
            EntryKind::Debit => balance - amount.value,
            EntryKind::Credit => balance + amount.value,
        };
        let entry = [(&payout.source, kind, balance)];
        insert_entries_of(&mut tx.tx, tenant, &entry, amount, fee_code, reference, &owner, now).await?;
    }
    debug_assert_eq!(balance, after);
    Ok(Some(()))
}

/// Tells the outside world the hold moved: `financial_account.debited` or `.credited`, published
/// after the payout's own event, as a payment's credit follows `payment.completed`.
async fn publish_hold(tx: &mut WriteTx, tenant: &Tenant, payout: &Payout, kind: EntryKind) -> StoreResult<()> {
    let name = match kind {
        EntryKind::Debit => EventName::FinancialAccountDebited,
        EntryKind::Credit => EventName::FinancialAccountCredited,
    };
    let account = Snapshot::FinancialAccount(account_in(&mut tx.tx, tenant, &payout.source).await?);
    journal::publish(tx, tenant, name, &account).await?;
    Ok(())
}

/// Writes a payout's changing columns.
async fn write_payout(
    tx: &mut WriteTx,
    tenant: &Tenant,
    payout: &Payout,
    next_attempt_at: Option<i64>,
) -> StoreResult<()> {
    scoped(
        "UPDATE payouts SET status = $1, destination_reference = $2, failure_code = $3, failure_message = $4, \
         metadata = $5, next_attempt_at = $6, updated_at = $7 WHERE id = $8 AND $TENANT",
        tenant,
    )
    .bind(payout.status.as_str())
    .bind(payout.destination.transaction_reference.as_deref())
    .bind(payout.failure.as_ref().map(|f| f.0.as_str()))
    .bind(payout.failure.as_ref().and_then(|f| f.1.clone()))
    .bind(encode_json_map(&payout.metadata))
    .bind(next_attempt_at)
    .bind(micros(payout.updated_at))
    .bind(payout.id.as_str())
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

fn snapshot(payout: &Payout) -> Snapshot {
    Snapshot::Payout(Box::new(payout.clone()))
}

impl Store {
    /// Creates a payout and holds its amount and fees, in one transaction: either the hold's
    /// entries are written and the payout is `pending`, or the source cannot cover it and the
    /// payout is recorded `failed` (`fund_insufficient`) with nothing held.
    /// `Ok(Err(rejection))` writes nothing.
    pub async fn create_payout(
        &self,
        tenant: &Tenant,
        new: &NewPayout,
        spender: Option<&TokenId>,
        claim: Option<&IdempotencyClaim>,
        render: impl FnOnce(&Payout) -> String,
    ) -> StoreResult<Result<Outcome<Payout>, PayoutRejection>> {
        let Some(held) = payout::held(new.amount, &new.fees) else {
            return self.refuse_recording(tenant, claim, PayoutRejection::HoldOverflow).await;
        };
        let mut tx = self.begin_write().await?;
        let row = match &new.source {
            Some(id) => {
                scoped("SELECT id, currency FROM financial_accounts WHERE id = $1 AND $TENANT", tenant)
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx.tx)
                    .await?
            }
            None => {
                scoped("SELECT id, currency FROM financial_accounts WHERE reference = 'main' AND $TENANT", tenant)
                    .fetch_optional(&mut *tx.tx)
                    .await?
            }
        };
        let Some(row) = row else {
            tx.rollback().await?;
            return self.refuse_recording(tenant, claim, PayoutRejection::AccountNotFound).await;
        };
        if currency(&row, "currency")? != new.amount.currency {
            tx.rollback().await?;
            return self.refuse_recording(tenant, claim, PayoutRejection::CurrencyMismatch).await;
        }
        let now = tenant_now(&mut tx.tx, tenant).await?;
        let now_us = micros(now);
        let mut payout = Payout {
            id: PayoutId::generate(),
            status: PayoutStatus::Pending,
            amount: new.amount,
            source: id(&row, "id", FinancialAccountId::parse)?,
            source_reference: Some(new_transaction_reference()),
            destination: new.destination.clone(),
            fees: new.fees.clone(),
            failure: None,
            metadata: new.metadata.clone(),
            created_at: now,
            updated_at: now,
        };
        let fees: Vec<StoredFee> =
            payout.fees.iter().map(|f| StoredFee { code: f.code.clone(), value: f.amount.value }).collect();
        // The row first (the entries' owner), then the hold; a hold the balance cannot cover
        // turns the payout into a failed one with no entries, in the same transaction.
        sqlx::query(
            "INSERT INTO payouts (id, space_id, environment, status, currency, amount, fees, held, source_id, \
             source_reference, destination_type, provider_id, destination_account, metadata, next_attempt_at, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(payout.id.as_str())
        .bind(tenant.space_id.as_str())
        .bind(tenant.environment.as_str())
        .bind(payout.status.as_str())
        .bind(payout.amount.currency.code())
        .bind(payout.amount.value)
        .bind(serde_json::to_string(&fees).map_err(|_| StoreError::Invariant("fees serialize"))?)
        .bind(held)
        .bind(payout.source.as_str())
        .bind(payout.source_reference.as_deref())
        .bind(payout.destination.kind.as_str())
        .bind(payout.destination.provider_id.as_str())
        .bind(payout.destination.account.as_str())
        .bind(encode_json_map(&payout.metadata))
        .bind(now_us)
        .bind(now_us)
        .bind(now_us)
        .execute(&mut *tx.tx)
        .await?;
        let held_now = move_hold(&mut tx, tenant, &payout, EntryKind::Debit, now_us).await?.is_some();
        if held_now {
            // The payout's amount counts against the creating token's money limits once it is held.
            if let Some(spender) = spender {
                crate::amount_limits::charge(&mut tx, self.backend(), spender, payout.amount, now_us).await?;
            }
            journal::publish(&mut tx, tenant, EventName::PayoutCreated, &snapshot(&payout)).await?;
            publish_hold(&mut tx, tenant, &payout, EntryKind::Debit).await?;
        } else {
            payout.status = PayoutStatus::Failed;
            payout.source_reference = None;
            let code = PayoutFailure::FundInsufficient;
            payout.failure = Some((code, Some(code.message().to_owned())));
            write_payout(&mut tx, tenant, &payout, None).await?;
            scoped("UPDATE payouts SET source_reference = NULL WHERE id = $1 AND $TENANT", tenant)
                .bind(payout.id.as_str())
                .execute(&mut *tx.tx)
                .await?;
            journal::publish(&mut tx, tenant, EventName::PayoutCreated, &snapshot(&payout)).await?;
            journal::publish(&mut tx, tenant, EventName::PayoutFailed, &snapshot(&payout)).await?;
        }
        let body = render(&payout);
        Ok(Ok(self.commit_recording(tx, tenant, claim, payout, body).await?))
    }

    pub async fn get_payout(&self, tenant: &Tenant, id: &str) -> StoreResult<Payout> {
        let sql = format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE id = $1 AND deleted_at IS NULL AND $TENANT");
        let row = scoped(&sql, tenant).bind(id).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        payout_from_row(&row)
    }

    pub async fn list_payouts(
        &self,
        tenant: &Tenant,
        filter: &PayoutFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Payout>> {
        let sql = format!(
            "SELECT {PAYOUT_COLUMNS} FROM payouts WHERE $TENANT AND deleted_at IS NULL \
             AND ($1 IS NULL OR status = $1) AND ($2 IS NULL OR source_id = $2) AND ($3 IS NULL OR source_reference = $3) \
             AND ($4 IS NULL OR destination_reference = $4) AND ($5 IS NULL OR seq < $5) ORDER BY seq DESC LIMIT $6"
        );
        let rows = scoped(&sql, tenant)
            .bind(filter.status.map(PayoutStatus::as_str))
            .bind(filter.source_id.as_deref())
            .bind(filter.source_reference.as_deref())
            .bind(filter.destination_reference.as_deref())
            .bind(page.after)
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await?;
        page_of(rows, page.limit, payout_from_row)
    }

    /// Replaces a pending payout's metadata (`None`: clears it); `Conflict::PayoutNotPending`
    /// once it was sent.
    pub async fn update_payout_metadata(
        &self,
        tenant: &Tenant,
        id: &str,
        metadata: Option<Map<String, Value>>,
    ) -> StoreResult<Payout> {
        let mut tx = self.begin_write().await?;
        let mut payout = locked_payout(&mut tx, tenant, id).await?;
        if payout.status != PayoutStatus::Pending {
            return Err(StoreError::Conflict(Conflict::PayoutNotPending));
        }
        payout.metadata = metadata;
        payout.updated_at = tenant_now(&mut tx.tx, tenant).await?;
        let next = micros(payout.updated_at);
        write_payout(&mut tx, tenant, &payout, Some(next)).await?;
        tx.commit().await?;
        Ok(payout)
    }

    /// Deletes a pending payout: its hold returns to the source account (reversing entries under
    /// the same reference) and reads no longer find it. `Conflict::PayoutNotPending` once sent.
    pub async fn delete_payout(&self, tenant: &Tenant, id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let payout = locked_payout(&mut tx, tenant, id).await?;
        if payout.status != PayoutStatus::Pending {
            return Err(StoreError::Conflict(Conflict::PayoutNotPending));
        }
        let now = micros(tenant_now(&mut tx.tx, tenant).await?);
        move_hold(&mut tx, tenant, &payout, EntryKind::Credit, now)
            .await?
            .ok_or(StoreError::Conflict(Conflict::BalanceOverflow))?;
        publish_hold(&mut tx, tenant, &payout, EntryKind::Credit).await?;
        scoped(
            "UPDATE payouts SET deleted_at = $1, next_attempt_at = NULL, updated_at = $1 WHERE id = $2 AND $TENANT",
            tenant,
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// The payouts the worker should move now: every pending one, and the processing ones whose
    /// next question to the rail is due on their tenant's clock; only `only`'s, if given.
    pub async fn due_payouts(&self, only: Option<&Tenant>, limit: u32) -> StoreResult<Vec<(String, Tenant)>> {
        let sql = due_sql(
            "payouts",
            "next_attempt_at",
            "r.status IN ('pending', 'processing') AND r.deleted_at IS NULL AND r.next_attempt_at IS NOT NULL",
        );
        due(self, &sql, only, limit).await
    }

    /// The worker's first step: marks a pending payout `processing` (`payout.processing`), to be
    /// sent to the rail; a processing one is answered as it is, to be asked about again. `None`
    /// when it has ended or is gone — another node got there first.
    pub async fn send_payout(&self, tenant: &Tenant, id: &str) -> StoreResult<Option<Payout>> {
        let mut tx = self.begin_write().await?;
        let mut payout = match locked_payout(&mut tx, tenant, id).await {
            Err(StoreError::NotFound) => return Ok(None),
            other => other?,
        };
        match payout.status {
            PayoutStatus::Processing => Ok(Some(payout)),
            PayoutStatus::Pending => {
                payout.status = PayoutStatus::Processing;
                payout.updated_at = tenant_now(&mut tx.tx, tenant).await?;
                write_payout(&mut tx, tenant, &payout, Some(micros(payout.updated_at))).await?;
                journal::publish(&mut tx, tenant, EventName::PayoutProcessing, &snapshot(&payout)).await?;
                tx.commit().await?;
                Ok(Some(payout))
            }
            PayoutStatus::Completed | PayoutStatus::Failed => Ok(None),
        }
    }

    /// Records what the rail answered about a processing payout, once: the row is re-read under
    /// its lock and changed only if still processing, so of two nodes that both asked, one
    /// settles it and the other's answer is dropped. True when this call ended the payout.
    /// `AskAgainAt` also postpones a payout still pending (no rail to send it to yet).
    pub async fn settle_payout(&self, tenant: &Tenant, id: &str, settlement: &Settlement) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let mut payout = match locked_payout(&mut tx, tenant, id).await {
            Err(StoreError::NotFound) => return Ok(false),
            other => other?,
        };
        if matches!(payout.status, PayoutStatus::Completed | PayoutStatus::Failed) {
            return Ok(false);
        }
        let now = tenant_now(&mut tx.tx, tenant).await?;
        match settlement {
            Settlement::AskAgainAt(at) => {
                scoped("UPDATE payouts SET next_attempt_at = $1 WHERE id = $2 AND $TENANT", tenant)
                    .bind(micros(*at))
                    .bind(id)
                    .execute(&mut *tx.tx)
                    .await?;
                tx.commit().await?;
                return Ok(false);
            }
            // Only a payout the rail was sent can end by what the rail said.
            _ if payout.status != PayoutStatus::Processing => return Ok(false),
            Settlement::Completed { reference } => {
                payout.status = PayoutStatus::Completed;
                payout.destination.transaction_reference = Some(reference.clone());
                payout.updated_at = now;
                write_payout(&mut tx, tenant, &payout, None).await?;
                journal::publish(&mut tx, tenant, EventName::PayoutCompleted, &snapshot(&payout)).await?;
            }
            Settlement::Failed { code, message } => {
                payout.status = PayoutStatus::Failed;
                payout.failure = Some((*code, Some(message.clone().unwrap_or_else(|| code.message().to_owned()))));
                payout.updated_at = now;
                // The hold returns in the same transaction; should the account have filled up
                // to the 64-bit limit since, the payout stays processing and is retried.
                if move_hold(&mut tx, tenant, &payout, EntryKind::Credit, micros(now)).await?.is_none() {
                    tx.rollback().await?;
                    return Err(StoreError::Conflict(Conflict::BalanceOverflow));
                }
                write_payout(&mut tx, tenant, &payout, None).await?;
                journal::publish(&mut tx, tenant, EventName::PayoutFailed, &snapshot(&payout)).await?;
                publish_hold(&mut tx, tenant, &payout, EntryKind::Credit).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The test rail's provider receiving a payout under `rail_key`: the first call records the
    /// transfer, with its reference and when it was accepted (the tenant's clock); every later
    /// call with the key answers the same record. Test environment only.
    pub async fn test_rail_accept_payout(
        &self,
        tenant: &Tenant,
        rail_key: &str,
        payout: &Payout,
    ) -> StoreResult<(String, OffsetDateTime)> {
        let mut tx = self.begin_write().await?;
        let now = tenant_now(&mut tx.tx, tenant).await?;
        sqlx::query(
            "INSERT INTO test_rail_payouts (rail_key, space_id, destination_type, provider_id, destination_account, \
             currency, amount, reference, accepted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (rail_key) DO NOTHING",
        )
        .bind(rail_key)
        .bind(tenant.space_id.as_str())
        .bind(payout.destination.kind.as_str())
        .bind(payout.destination.provider_id.as_str())
        .bind(payout.destination.account.as_str())
        .bind(payout.amount.currency.code())
        .bind(payout.amount.value)
        .bind(format!("TR{}", random_base62(14).to_uppercase()))
        .bind(micros(now))
        .execute(&mut *tx.tx)
        .await?;
        // The key is the payout's own id, unique across the deployment; the Space is checked too
        // so that no key, however chosen, reads another Space's transfer.
        let row =
            sqlx::query("SELECT reference, accepted_at FROM test_rail_payouts WHERE rail_key = $1 AND space_id = $2")
                .bind(rail_key)
                .bind(tenant.space_id.as_str())
                .fetch_one(&mut *tx.tx)
                .await?;
        tx.commit().await?;
        Ok((text(&row, "reference")?, time(&row, "accepted_at")?))
    }

    /// How many transfers the test rail's providers recorded under `rail_key` (0 or 1): what a
    /// test reads to prove a payout was paid once.
    pub async fn test_rail_payouts_for(&self, rail_key: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM test_rail_payouts WHERE rail_key = $1")
            .bind(rail_key)
            .fetch_one(&self.pool)
            .await?;
        int(&row, "n")
    }
}
