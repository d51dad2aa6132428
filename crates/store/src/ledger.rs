//! The money core: financial accounts, ledger entries, internal transfers, operator adjustments,
//! and the audit log. Every query here is scoped by a [`Tenant`].
//!
//! Balances change only through guarded single-statement updates
//! (`balance = balance - $a WHERE balance >= $a`), taken in ascending account-id order inside one
//! transaction, so concurrent transfers never lose an update, never overdraw, and never deadlock.

use crate::backend::{Backend, Store, WriteTx};
use crate::codec::*;
use crate::error::{Conflict, StoreError, StoreResult};
use crate::idempotency::{self, IdempotencyClaim, Outcome};
use crate::journal::{self, Actor, Change};
use crate::tenant::scoped;
use crate::{page_of, Page, PageRequest};
use openmonime_domain::entities::*;
use openmonime_domain::ids::*;
use openmonime_domain::money::{Currency, Money};
use openmonime_domain::{time_fmt, uvan};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;

/// A new financial account as a create asks for it (validated by the caller).
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub currency: Currency,
    pub reference: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

/// A partial update: `None` leaves a field alone, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub reference: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub metadata: Option<Option<Map<String, Value>>>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AccountFilter {
    pub uvan: Option<String>,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TransactionFilter {
    pub account_id: Option<String>,
    pub reference: Option<String>,
    pub kind: Option<EntryKind>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TransferFilter {
    pub status: Option<TransferStatus>,
    pub source_id: Option<String>,
    pub destination_id: Option<String>,
    pub transaction_reference: Option<String>,
}

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

/// Why a transfer was refused before anything was written (a 400 naming the field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferRejection {
    /// `sourceFinancialAccount.id` or `destinationFinancialAccount.id` is not in this tenant.
    AccountNotFound(&'static str),
    /// The named account's currency differs from the amount's.
    CurrencyMismatch(&'static str),
}

/// The money in one currency and environment, two ways: the balances, and the entries. Summed in
/// i128 in the process, not in SQL: the total of many valid i64 balances can pass i64::MAX, and a
/// healthy ledger must still verify.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrencyTotal {
    pub currency: String,
    pub environment: String,
    pub balances: i128,
    pub credits_minus_debits: i128,
}

/// What `verify_ledger` found: every count should be zero, and each total's two sums equal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerReport {
    pub totals: Vec<CurrencyTotal>,
    pub negative_balances: i64,
    pub accounts_not_matching_entries: i64,
    pub completed_transfers_without_one_debit_and_one_credit: i64,
    pub failed_transfers_with_entries: i64,
}

impl LedgerReport {
    pub fn is_consistent(&self) -> bool {
        self.totals.iter().all(|t| t.balances == t.credits_minus_debits)
            && self.negative_balances == 0
            && self.accounts_not_matching_entries == 0
            && self.completed_transfers_without_one_debit_and_one_credit == 0
            && self.failed_transfers_with_entries == 0
    }
}

const ACCOUNT_COLUMNS: &str =
    "seq, id, uvan, name, currency, reference, description, metadata, balance, created_at, updated_at";
const ENTRY_COLUMNS: &str = "seq, id, account_id, kind, currency, amount, balance_after, reference, owner_id, \
     owner_type, owner_metadata, metadata, created_at";
const TRANSFER_COLUMNS: &str = "seq, id, status, currency, amount, source_id, destination_id, transaction_reference, \
     description, failure_code, failure_message, metadata, created_at, updated_at";

fn account_from_row(row: &AnyRow) -> StoreResult<FinancialAccount> {
    Ok(FinancialAccount {
        id: id(row, "id", FinancialAccountId::parse)?,
        uvan: text(row, "uvan")?,
        name: text(row, "name")?,
        currency: currency(row, "currency")?,
        reference: opt_text(row, "reference")?,
        description: opt_text(row, "description")?,
        metadata: json_map(row, "metadata")?,
        balance: int(row, "balance")?,
        created_at: time(row, "created_at")?,
        updated_at: opt_time(row, "updated_at")?,
    })
}

fn entry_from_row(row: &AnyRow) -> StoreResult<FinancialTransaction> {
    let currency = currency(row, "currency")?;
    Ok(FinancialTransaction {
        id: id(row, "id", FinancialTransactionId::parse)?,
        kind: EntryKind::parse(&text(row, "kind")?).ok_or_else(|| corrupt("kind"))?,
        amount: Money { currency, value: int(row, "amount")? },
        timestamp: time(row, "created_at")?,
        reference: text(row, "reference")?,
        account_id: id(row, "account_id", FinancialAccountId::parse)?,
        balance_after: int(row, "balance_after")?,
        owner: Ownership {
            id: text(row, "owner_id")?,
            kind: OwnerKind::parse(&text(row, "owner_type")?).ok_or_else(|| corrupt("owner_type"))?,
            metadata: json_map(row, "owner_metadata")?,
        },
        metadata: json_map(row, "metadata")?,
    })
}

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

async fn insert_account(tx: &mut WriteTx, tenant: &Tenant, new: &NewAccount) -> StoreResult<FinancialAccount> {
    let uvan = loop {
        let candidate = uvan::generate();
        let taken = sqlx::query("SELECT 1 FROM financial_accounts WHERE uvan = $1")
            .bind(&candidate)
            .fetch_optional(&mut *tx.tx)
            .await?;
        if taken.is_none() {
            break candidate;
        }
    };
    let account = FinancialAccount {
        id: FinancialAccountId::generate(),
        uvan,
        name: new.name.clone(),
        currency: new.currency,
        reference: new.reference.clone(),
        description: new.description.clone(),
        metadata: new.metadata.clone(),
        balance: 0,
        created_at: time_fmt::now(),
        updated_at: None,
    };
    let result = sqlx::query(
        "INSERT INTO financial_accounts (id, space_id, environment, uvan, name, currency, reference, description, metadata, balance, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10)",
    )
    .bind(account.id.as_str())
    .bind(tenant.space_id.as_str())
    .bind(tenant.environment.as_str())
    .bind(&account.uvan)
    .bind(&account.name)
    .bind(account.currency.code())
    .bind(account.reference.as_deref())
    .bind(account.description.as_deref())
    .bind(encode_json_map(&account.metadata))
    .bind(micros(account.created_at))
    .execute(&mut *tx.tx)
    .await;
    match result {
        Err(e) if StoreError::is_unique_violation(&e) => Err(StoreError::Conflict(Conflict::ReferenceInUse)),
        other => other.map(|_| account).map_err(Into::into),
    }
}

/// The `main` SLE account every Space gets in each environment.
pub(crate) async fn insert_main_account(tx: &mut WriteTx, tenant: &Tenant) -> StoreResult<FinancialAccount> {
    let main = NewAccount {
        name: "Main".into(),
        currency: Currency::Sle,
        reference: Some("main".into()),
        description: Some("The Space's default account".into()),
        metadata: None,
    };
    insert_account(tx, tenant, &main).await
}

/// Adds `delta` (positive: credit, negative: debit) to an account, refusing to go below zero or
/// overflow. Returns the balance after, or `None` when the guard refused.
async fn apply_delta(
    tx: &mut sqlx::AnyConnection,
    tenant: &Tenant,
    account: &FinancialAccountId,
    delta: i64,
    now: i64,
) -> StoreResult<Option<i64>> {
    let row = scoped(
        "UPDATE financial_accounts SET balance = balance + $1, updated_at = $2 \
         WHERE id = $3 AND $TENANT \
           AND balance + $1 >= 0 AND ($1 <= 0 OR balance <= $4 - $1) \
         RETURNING balance",
        tenant,
    )
    .bind(delta)
    .bind(now)
    .bind(account.as_str())
    .bind(i64::MAX)
    .fetch_optional(tx)
    .await?;
    row.map(|r| int(&r, "balance")).transpose()
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

/// Writes ledger entries (a transfer's two, an adjustment's one) in one statement.
async fn insert_entries(
    tx: &mut sqlx::AnyConnection,
    tenant: &Tenant,
    entries: &[(&FinancialAccountId, EntryKind, i64)],
    amount: Money,
    reference: &str,
    owner: &Ownership,
    now: i64,
) -> StoreResult<()> {
    const COLUMNS: usize = 13;
    let values: Vec<String> = (0..entries.len())
        .map(|row| {
            let params: Vec<String> = (1..=COLUMNS).map(|col| format!("${}", row * COLUMNS + col)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO financial_transactions (id, space_id, environment, account_id, kind, currency, amount, balance_after, \
         reference, owner_id, owner_type, owner_metadata, created_at) VALUES {}",
        values.join(", ")
    );
    let metadata = encode_json_map(&owner.metadata);
    let mut query = sqlx::query(&sql);
    for (account, kind, balance_after) in entries {
        query = query
            .bind(FinancialTransactionId::generate().to_string())
            .bind(tenant.space_id.as_str())
            .bind(tenant.environment.as_str())
            .bind(account.as_str())
            .bind(kind.as_str())
            .bind(amount.currency.code())
            .bind(amount.value)
            .bind(*balance_after)
            .bind(reference)
            .bind(owner.id.as_str())
            .bind(owner.kind.as_str())
            .bind(metadata.clone())
            .bind(now);
    }
    query.execute(tx).await?;
    Ok(())
}

impl Store {
    /// Creates an account, idempotently when a claim is given. `render` produces the response
    /// body stored for replays.
    pub async fn create_account(
        &self,
        tenant: &Tenant,
        new: &NewAccount,
        claim: Option<&IdempotencyClaim>,
        render: impl FnOnce(&FinancialAccount) -> String,
    ) -> StoreResult<Outcome<FinancialAccount>> {
        let mut tx = self.begin_write().await?;
        if let Some(c) = claim {
            if let Some(body) = idempotency::claim(&mut tx, tenant, c).await? {
                return Ok(Outcome::Replayed { body });
            }
        }
        let account = insert_account(&mut tx, tenant, new).await?;
        let body = render(&account);
        if let Some(c) = claim {
            idempotency::complete(&mut tx, tenant, c, &body).await?;
        }
        tx.commit().await?;
        Ok(Outcome::Fresh { value: account, body })
    }

    pub async fn get_account(&self, tenant: &Tenant, id: &str) -> StoreResult<FinancialAccount> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM financial_accounts WHERE id = $1 AND $TENANT");
        let row = scoped(&sql, tenant).bind(id).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        account_from_row(&row)
    }

    pub async fn list_accounts(
        &self,
        tenant: &Tenant,
        filter: &AccountFilter,
        page: PageRequest,
    ) -> StoreResult<Page<FinancialAccount>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM financial_accounts WHERE $TENANT \
             AND ($1 IS NULL OR uvan = $1) AND ($2 IS NULL OR reference = $2) AND ($3 IS NULL OR seq < $3) \
             ORDER BY seq DESC LIMIT $4"
        );
        let rows = scoped(&sql, tenant)
            .bind(filter.uvan.as_deref())
            .bind(filter.reference.as_deref())
            .bind(page.after)
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await?;
        page_of(rows, page.limit, account_from_row)
    }

    pub async fn update_account(
        &self,
        tenant: &Tenant,
        id: &str,
        patch: &AccountPatch,
    ) -> StoreResult<FinancialAccount> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM financial_accounts WHERE id = $1 AND $TENANT");
        let row = scoped(&sql, tenant).bind(id).fetch_optional(&mut *tx.tx).await?.ok_or(StoreError::NotFound)?;
        let mut account = account_from_row(&row)?;
        if let Some(name) = &patch.name {
            account.name = name.clone();
        }
        if let Some(reference) = &patch.reference {
            account.reference = reference.clone();
        }
        if let Some(description) = &patch.description {
            account.description = description.clone();
        }
        if let Some(metadata) = &patch.metadata {
            account.metadata = metadata.clone();
        }
        account.updated_at = Some(time_fmt::now());
        let result = scoped(
            "UPDATE financial_accounts SET name = $1, reference = $2, description = $3, metadata = $4, updated_at = $5 \
             WHERE id = $6 AND $TENANT RETURNING balance",
        tenant,)
        .bind(&account.name)
        .bind(account.reference.as_deref())
        .bind(account.description.as_deref())
        .bind(encode_json_map(&account.metadata))
        .bind(account.updated_at.map(micros))
        .bind(id)
        .fetch_one(&mut *tx.tx)
        .await;
        match result {
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(Conflict::ReferenceInUse))
            }
            Err(e) => return Err(e.into()),
            // The balance may have moved since the read; report the current one.
            Ok(row) => account.balance = int(&row, "balance")?,
        }
        tx.commit().await?;
        Ok(account)
    }

    pub async fn get_transaction(&self, tenant: &Tenant, id: &str) -> StoreResult<FinancialTransaction> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM financial_transactions WHERE id = $1 AND $TENANT");
        let row = scoped(&sql, tenant).bind(id).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        entry_from_row(&row)
    }

    pub async fn list_transactions(
        &self,
        tenant: &Tenant,
        filter: &TransactionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<FinancialTransaction>> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM financial_transactions WHERE $TENANT \
             AND ($1 IS NULL OR account_id = $1) AND ($2 IS NULL OR reference = $2) AND ($3 IS NULL OR kind = $3) \
             AND ($4 IS NULL OR seq < $4) ORDER BY seq DESC LIMIT $5"
        );
        let rows = scoped(&sql, tenant)
            .bind(filter.account_id.as_deref())
            .bind(filter.reference.as_deref())
            .bind(filter.kind.map(EntryKind::as_str))
            .bind(page.after)
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await?;
        page_of(rows, page.limit, entry_from_row)
    }

    /// Creates and settles a transfer in one transaction: either both balances move and exactly
    /// one debit and one credit are written, or the transfer is recorded as `failed` with no
    /// entries. `Err(Conflict)`/`Ok(Err(rejection))` change nothing.
    pub async fn create_transfer(
        &self,
        tenant: &Tenant,
        new: &NewTransfer,
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
            let Some(row) = rows.iter().find(|r| text(r, "id").is_ok_and(|id| id == account.as_str())) else {
                tx.rollback().await?;
                return self.refuse_transfer(tenant, claim, TransferRejection::AccountNotFound(field)).await;
            };
            if currency(row, "currency")? != new.amount.currency {
                tx.rollback().await?;
                return self.refuse_transfer(tenant, claim, TransferRejection::CurrencyMismatch(field)).await;
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
        let body = render(&transfer);
        // The key is recorded last (see `idempotency`): a duplicate undoes its work and replays.
        if let Some(c) = claim {
            if !idempotency::record(&mut tx, tenant, c, &body).await? {
                tx.rollback().await?;
                let body = self.recorded(tenant, c).await?;
                let body = body.ok_or(StoreError::Invariant("an idempotency key conflicted but holds no record"))?;
                return Ok(Ok(Outcome::Replayed { body }));
            }
        }
        tx.commit().await?;
        Ok(Ok(Outcome::Fresh { value: transfer, body }))
    }

    /// A transfer refused before any effect. A key used before still answers as it did (the
    /// key is checked first, as when it is claimed up front).
    async fn refuse_transfer(
        &self,
        tenant: &Tenant,
        claim: Option<&IdempotencyClaim>,
        rejection: TransferRejection,
    ) -> StoreResult<Result<Outcome<InternalTransfer>, TransferRejection>> {
        if let Some(c) = claim {
            if let Some(body) = self.recorded(tenant, c).await? {
                return Ok(Ok(Outcome::Replayed { body }));
            }
        }
        Ok(Err(rejection))
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

    /// Deletes a transfer that is still `pending`; any other state is `Conflict("transfer_not_pending")`.
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

    /// An operator's credit: the only way money enters the ledger. Writes the adjustment, the
    /// credit entry owned by it, and an audit event, atomically.
    pub async fn credit_account(
        &self,
        tenant: &Tenant,
        account: &FinancialAccountId,
        amount: i64,
        reference: Option<&str>,
        actor: &Actor<'_>,
    ) -> StoreResult<FinancialTransaction> {
        if amount <= 0 {
            return Err(StoreError::Conflict(Conflict::AmountNotPositive));
        }
        let mut tx = self.begin_write().await?;
        let acct = scoped("SELECT currency FROM financial_accounts WHERE id = $1 AND $TENANT", tenant)
            .bind(account.as_str())
            .fetch_optional(&mut *tx.tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let money = Money { currency: currency(&acct, "currency")?, value: amount };
        let now_us = micros(time_fmt::now());
        let adjustment = AdjustmentId::generate();
        let reference = reference.map(str::to_owned).unwrap_or_else(new_transaction_reference);
        let after = apply_delta(&mut tx.tx, tenant, account, amount, now_us)
            .await?
            .ok_or(StoreError::Conflict(Conflict::BalanceOverflow))?;
        sqlx::query(
            "INSERT INTO ledger_adjustments (id, space_id, environment, account_id, amount, reference, actor, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(adjustment.as_str())
        .bind(tenant.space_id.as_str())
        .bind(tenant.environment.as_str())
        .bind(account.as_str())
        .bind(amount)
        .bind(&reference)
        .bind(actor.name())
        .bind(now_us)
        .execute(&mut *tx.tx)
        .await?;
        let owner = Ownership { id: adjustment.to_string(), kind: OwnerKind::LedgerAdjustment, metadata: None };
        insert_entries(&mut tx.tx, tenant, &[(account, EntryKind::Credit, after)], money, &reference, &owner, now_us)
            .await?;
        let detail = serde_json::json!({"account": account.as_str(), "amount": amount, "currency": money.currency.code(), "reference": reference});
        let change = Change {
            space: Some(&tenant.space_id),
            environment: Some(tenant.environment),
            action: "ledger.credit",
            subject: adjustment.as_str(),
            detail,
        };
        journal::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM financial_transactions WHERE owner_id = $1 AND $TENANT");
        let row = scoped(&sql, tenant).bind(adjustment.as_str()).fetch_one(&self.pool).await?;
        entry_from_row(&row)
    }

    /// Checks the ledger's invariants across the whole database.
    pub async fn verify_ledger(&self) -> StoreResult<LedgerReport> {
        // One statement, so every figure comes from the same snapshot: separate queries could
        // read the balances before a concurrent transfer and the entries after it, and report a
        // healthy ledger as broken. Both statements read one snapshot: a repeatable-read
        // transaction on PostgreSQL, one read transaction on SQLite (WAL).
        let mut tx = self.pool.begin().await?;
        if self.backend() == crate::Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
        }
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM financial_accounts WHERE balance < 0) AS negative_balances, \
             (SELECT COUNT(*) FROM financial_accounts a WHERE a.balance <> \
              (SELECT CAST(COALESCE(SUM(CASE WHEN t.kind = 'credit' THEN t.amount ELSE -t.amount END), 0) AS BIGINT) \
               FROM financial_transactions t WHERE t.account_id = a.id)) AS accounts_not_matching_entries, \
             (SELECT COUNT(*) FROM internal_transfers x WHERE x.status = 'completed' AND ( \
              (SELECT COUNT(*) FROM financial_transactions t WHERE t.owner_id = x.id AND t.kind = 'debit' AND t.reference = x.transaction_reference) <> 1 OR \
              (SELECT COUNT(*) FROM financial_transactions t WHERE t.owner_id = x.id AND t.kind = 'credit' AND t.reference = x.transaction_reference) <> 1)) \
              AS completed_transfers_without_one_debit_and_one_credit, \
             (SELECT COUNT(*) FROM internal_transfers x WHERE x.status = 'failed' AND \
              EXISTS (SELECT 1 FROM financial_transactions t WHERE t.owner_id = x.id)) AS failed_transfers_with_entries",
        )
        .fetch_one(&mut *tx)
        .await?;
        // Per account, in the same snapshot: one account's balance and its entries' sums each fit
        // an i64 (the balance is one; the sums are bounded by the money that ever moved through
        // it), while the totals across accounts need i128.
        let accounts = sqlx::query(
            "SELECT a.currency, a.environment, a.balance, \
             (SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM financial_transactions t WHERE t.account_id = a.id AND t.kind = 'credit') AS credits, \
             (SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM financial_transactions t WHERE t.account_id = a.id AND t.kind = 'debit') AS debits \
             FROM financial_accounts a",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut totals: std::collections::BTreeMap<(String, String), (i128, i128)> = Default::default();
        for a in &accounts {
            let entry = totals.entry((text(a, "currency")?, text(a, "environment")?)).or_default();
            entry.0 += i128::from(int(a, "balance")?);
            entry.1 += i128::from(int(a, "credits")?) - i128::from(int(a, "debits")?);
        }
        Ok(LedgerReport {
            totals: totals
                .into_iter()
                .map(|((currency, environment), (balances, credits_minus_debits))| CurrencyTotal {
                    currency,
                    environment,
                    balances,
                    credits_minus_debits,
                })
                .collect(),
            negative_balances: int(&row, "negative_balances")?,
            accounts_not_matching_entries: int(&row, "accounts_not_matching_entries")?,
            completed_transfers_without_one_debit_and_one_credit: int(
                &row,
                "completed_transfers_without_one_debit_and_one_credit",
            )?,
            failed_transfers_with_entries: int(&row, "failed_transfers_with_entries")?,
        })
    }
}
