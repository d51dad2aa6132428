//! Internal transfers: settled in one transaction (both balances and both entries, or a recorded
//! failure with none), read, listed, patched and — while pending — deleted.

use super::accounts::account_in;
use super::transactions::insert_entries;
use crate::backend::{Backend, Store, WriteTx};
use crate::codec::*;
use crate::error::{Conflict, StoreError, StoreResult};
use crate::idempotency::{IdempotencyClaim, Outcome};
use crate::journal;
use crate::tenant::scoped;
use crate::{page_of, Page, PageRequest};
use openmonime_domain::entities::*;
use openmonime_domain::event::{EventName, Snapshot};
use openmonime_domain::ids::*;
use openmonime_domain::money::Money;
use openmonime_domain::time_fmt;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;

/// A transfer request (validated by the caller: value > 0, source ≠ destination).
#[derive(Debug, Clone)]
pub struct NewTransfer {
    pub amount: Money,
    pub source: FinancialAccountId,
    pub destination: FinancialAccountId,
    pub description: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default)]
pub struct TransferPatch {
    pub description: Option<Option<String>>,
    pub metadata: Option<Option<Map<String, Value>>>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TransferFilter {
    pub status: Option<TransferStatus>,
    pub source_id: Option<String>,
    pub destination_id: Option<String>,
    pub transaction_reference: Option<String>,
}

/// Why a transfer was refused before anything was written (a 400 naming the field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferRejection {
    /// `sourceFinancialAccount.id` or `destinationFinancialAccount.id` is not in this tenant.
    AccountNotFound(&'static str),
    /// The named account's currency differs from the amount's.
    CurrencyMismatch(&'static str),
}

const TRANSFER_COLUMNS: &str = "seq, id, status, currency, amount, source_id, destination_id, transaction_reference, \
     description, failure_code, failure_message, metadata, created_at, updated_at";

fn transfer_from_row(row: &AnyRow) -> StoreResult<InternalTransfer> {
    let failure = match opt_text(row, "failure_code")? {
        None => None,
        Some(code) => Some((
            TransferFailure::parse(&code).ok_or_else(|| corrupt("failure_code"))?,
            opt_text(row, "failure_message")?,
        )),
    };
    Ok(InternalTransfer {
        id: id(row, "id", InternalTransferId::parse)?,
        status: TransferStatus::parse(&text(row, "status")?).ok_or_else(|| corrupt("status"))?,
        amount: Money { currency: currency(row, "currency")?, value: int(row, "amount")? },
        source: id(row, "source_id", FinancialAccountId::parse)?,
        destination: id(row, "destination_id", FinancialAccountId::parse)?,
        transaction_reference: opt_text(row, "transaction_reference")?,
        description: opt_text(row, "description")?,
        failure,
        metadata: json_map(row, "metadata")?,
        created_at: time(row, "created_at")?,
        updated_at: opt_time(row, "updated_at")?,
    })
}

/// Moves a settled transfer's amount in one statement. The guards repeat what the caller decided
/// from the locked balances: if they ever disagree, the transaction fails instead of the ledger.
async fn move_balances(tx: &mut sqlx::AnyConnection, tenant: &Tenant, new: &NewTransfer, now: i64) -> StoreResult<()> {
    let moved = scoped(
        "UPDATE financial_accounts \
         SET balance = balance + CASE WHEN id = $1 THEN -$3 ELSE $3 END, updated_at = $4 \
         WHERE id IN ($1, $2) AND $TENANT \
           AND ((id = $1 AND balance >= $3) OR (id = $2 AND balance <= $5 - $3))",
        tenant,
    )
    .bind(new.source.as_str())
    .bind(new.destination.as_str())
    .bind(new.amount.value)
    .bind(now)
    .bind(i64::MAX)
    .execute(tx)
    .await?;
    if moved.rows_affected() != 2 {
        return Err(StoreError::Invariant("a transfer's balance guards disagreed with the locked balances"));
    }
    Ok(())
}

impl Store {
    /// Creates and settles a transfer in one transaction: either both balances move and exactly
    /// one debit and one credit are written, or the transfer is recorded as `failed` with no
    /// entries. `Err(Conflict)`/`Ok(Err(rejection))` change nothing. A settling transfer is
    /// charged to `spender`'s money limits in the same transaction (`Err(AmountLimit)` changes
    /// nothing).
    pub async fn create_transfer(
        &self,
        tenant: &Tenant,
        new: &NewTransfer,
        spender: Option<&TokenId>,
        claim: Option<&IdempotencyClaim>,
        render: impl FnOnce(&InternalTransfer) -> String,
    ) -> StoreResult<Result<Outcome<InternalTransfer>, TransferRejection>> {
        let mut tx = self.begin_write().await?;
        // Both accounts are read and, on PostgreSQL, locked in ascending id order (no deadlocks);
        // SQLite's write transaction is already exclusive. With the balances locked, the outcome
        // is decided here, so a failed transfer never touches a balance and needs no savepoint.
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let rows = scoped(
            &format!(
                "SELECT id, currency, balance FROM financial_accounts \
             WHERE id IN ($1, $2) AND $TENANT ORDER BY id{lock}"
            ),
            tenant,
        )
        .bind(new.source.as_str())
        .bind(new.destination.as_str())
        .fetch_all(&mut *tx.tx)
        .await?;
        let mut balances = [0i64; 2];
        for (i, (field, account)) in
            [("sourceFinancialAccount.id", &new.source), ("destinationFinancialAccount.id", &new.destination)]
                .into_iter()
                .enumerate()
        {
            let Some(row) = rows.iter().find(|r| text(*r, "id").is_ok_and(|id| id == account.as_str())) else {
                tx.rollback().await?;
                return self.refuse_recording(tenant, claim, TransferRejection::AccountNotFound(field)).await;
            };
            if currency(row, "currency")? != new.amount.currency {
                tx.rollback().await?;
                return self.refuse_recording(tenant, claim, TransferRejection::CurrencyMismatch(field)).await;
            }
            balances[i] = int(row, "balance")?;
        }
        let value = new.amount.value;
        let source_after = balances[0].checked_sub(value).filter(|b| *b >= 0);
        let destination_after = balances[1].checked_add(value);
        let now = time_fmt::now();
        let now_us = micros(now);
        let id = InternalTransferId::generate();
        let reference = new_transaction_reference();
        let owner = Ownership { id: id.to_string(), kind: OwnerKind::InternalTransfer, metadata: new.metadata.clone() };

        let failure = match (source_after, destination_after) {
            (Some(source_after), Some(destination_after)) => {
                if let Some(spender) = spender {
                    crate::amount_limits::charge(&mut tx, self.backend(), spender, new.amount, now_us).await?;
                }
                move_balances(&mut tx.tx, tenant, new, now_us).await?;
                let entries = [
                    (&new.source, EntryKind::Debit, source_after),
                    (&new.destination, EntryKind::Credit, destination_after),
                ];
                insert_entries(&mut tx.tx, tenant, &entries, new.amount, &reference, &owner, now_us).await?;
                None
            }
            (None, _) => Some((
                TransferFailure::FundInsufficient,
                Some("the source account's available balance is lower than the amount".to_owned()),
            )),
            (Some(_), None) => {
                Some((TransferFailure::Unknown, Some("the destination account's balance would overflow".to_owned())))
            }
        };
        let settled = failure.is_none();
        let transfer = InternalTransfer {
            id,
            status: if settled { TransferStatus::Completed } else { TransferStatus::Failed },
            amount: new.amount,
            source: new.source.clone(),
            destination: new.destination.clone(),
            transaction_reference: settled.then_some(reference),
            description: new.description.clone(),
            failure,
            metadata: new.metadata.clone(),
            created_at: now,
            updated_at: Some(now),
        };
        sqlx::query(
            "INSERT INTO internal_transfers (id, space_id, environment, status, currency, amount, source_id, destination_id, \
             transaction_reference, description, failure_code, failure_message, metadata, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(transfer.id.as_str())
        .bind(tenant.space_id.as_str())
        .bind(tenant.environment.as_str())
        .bind(transfer.status.as_str())
        .bind(transfer.amount.currency.code())
        .bind(transfer.amount.value)
        .bind(transfer.source.as_str())
        .bind(transfer.destination.as_str())
        .bind(transfer.transaction_reference.as_deref())
        .bind(transfer.description.as_deref())
        .bind(transfer.failure.as_ref().map(|f| f.0.as_str()))
        .bind(transfer.failure.as_ref().and_then(|f| f.1.clone()))
        .bind(encode_json_map(&transfer.metadata))
        .bind(now_us)
        .bind(now_us)
        .execute(&mut *tx.tx)
        .await?;
        publish_settlement(&mut tx, tenant, &transfer).await?;
        let body = render(&transfer);
        // The key is recorded last (see `idempotency`): a duplicate undoes its work and replays.
        Ok(Ok(self.commit_recording(tx, tenant, claim, transfer, body).await?))
    }

    pub async fn get_transfer(&self, tenant: &Tenant, id: &str) -> StoreResult<InternalTransfer> {
        let sql = format!("SELECT {TRANSFER_COLUMNS} FROM internal_transfers WHERE id = $1 AND $TENANT");
        let row = scoped(&sql, tenant).bind(id).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        transfer_from_row(&row)
    }

    pub async fn list_transfers(
        &self,
        tenant: &Tenant,
        filter: &TransferFilter,
        page: PageRequest,
    ) -> StoreResult<Page<InternalTransfer>> {
        let sql = format!(
            "SELECT {TRANSFER_COLUMNS} FROM internal_transfers WHERE $TENANT \
             AND ($1 IS NULL OR status = $1) AND ($2 IS NULL OR source_id = $2) AND ($3 IS NULL OR destination_id = $3) \
             AND ($4 IS NULL OR transaction_reference = $4) AND ($5 IS NULL OR seq < $5) ORDER BY seq DESC LIMIT $6"
        );
        let rows = scoped(&sql, tenant)
            .bind(filter.status.map(TransferStatus::as_str))
            .bind(filter.source_id.as_deref())
            .bind(filter.destination_id.as_deref())
            .bind(filter.transaction_reference.as_deref())
            .bind(page.after)
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await?;
        page_of(rows, page.limit, transfer_from_row)
    }

    pub async fn update_transfer(
        &self,
        tenant: &Tenant,
        id: &str,
        patch: &TransferPatch,
    ) -> StoreResult<InternalTransfer> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {TRANSFER_COLUMNS} FROM internal_transfers WHERE id = $1 AND $TENANT");
        let row = scoped(&sql, tenant).bind(id).fetch_optional(&mut *tx.tx).await?.ok_or(StoreError::NotFound)?;
        let mut transfer = transfer_from_row(&row)?;
        if let Some(d) = &patch.description {
            transfer.description = d.clone();
        }
        if let Some(m) = &patch.metadata {
            transfer.metadata = m.clone();
        }
        transfer.updated_at = Some(time_fmt::now());
        scoped(
            "UPDATE internal_transfers SET description = $1, metadata = $2, updated_at = $3 WHERE id = $4 AND $TENANT",
            tenant,
        )
        .bind(transfer.description.as_deref())
        .bind(encode_json_map(&transfer.metadata))
        .bind(transfer.updated_at.map(micros))
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(transfer)
    }

    /// Deletes a transfer that is still `pending`; any other state is `Conflict::TransferNotPending`.
    pub async fn delete_transfer(&self, tenant: &Tenant, id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let row = scoped("SELECT status FROM internal_transfers WHERE id = $1 AND $TENANT", tenant)
            .bind(id)
            .fetch_optional(&mut *tx.tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        if text(&row, "status")? != TransferStatus::Pending.as_str() {
            return Err(StoreError::Conflict(Conflict::TransferNotPending));
        }
        scoped("DELETE FROM internal_transfers WHERE id = $1 AND $TENANT AND status = 'pending'", tenant)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }
}

/// A settled transfer's events: `internal_transfer.completed` with both accounts' debit and
/// credit, or `internal_transfer.failed` alone.
async fn publish_settlement(tx: &mut WriteTx, tenant: &Tenant, transfer: &InternalTransfer) -> StoreResult<()> {
    let snapshot = Snapshot::InternalTransfer(transfer.clone());
    if transfer.status != TransferStatus::Completed {
        journal::publish(tx, tenant, EventName::InternalTransferFailed, &snapshot).await?;
        return Ok(());
    }
    journal::publish(tx, tenant, EventName::InternalTransferCompleted, &snapshot).await?;
    for (name, account) in [
        (EventName::FinancialAccountDebited, &transfer.source),
        (EventName::FinancialAccountCredited, &transfer.destination),
    ] {
        let account = Snapshot::FinancialAccount(account_in(&mut tx.tx, tenant, account).await?);
        journal::publish(tx, tenant, name, &account).await?;
    }
    Ok(())
}
