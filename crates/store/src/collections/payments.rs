//! Payments: written by a dial, completed with their ledger entries (the credit and each fee's
//! debit, one reference), read, listed, and patched (name and metadata only).

use super::clock::tenant_now;
use super::payment_codes::{locked_code, save_and_publish};
use crate::backend::{Store, WriteTx};
use crate::codec::*;
use crate::error::{Conflict, StoreError, StoreResult};
use crate::journal;
use crate::ledger::{account_in, apply_delta, insert_entries_of};
use crate::tenant::scoped;
use crate::{page_of, Page, PageRequest};
use openmonime_domain::entities::{EntryKind, OwnerKind, Ownership, Tenant};
use openmonime_domain::event::{EventName, Snapshot};
use openmonime_domain::ids::*;
use openmonime_domain::money::Money;
use openmonime_domain::payment::{Fee, MomoChannel, Payment, PaymentStatus};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PaymentFilter {
    pub order_number: Option<String>,
    pub account_id: Option<String>,
    pub transaction_reference: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PaymentPatch {
    pub name: Option<Option<String>>,
    pub metadata: Option<Option<Map<String, Value>>>,
}

const PAYMENT_COLUMNS: &str =
    "seq, id, status, currency, amount, name, reference, account_id, transaction_reference, order_number, \
     fees, provider, provider_reference, phone_masked, fingerprint, owner_type, owner_id, owner_metadata, metadata, \
     created_at, updated_at";

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredFee {
    code: String,
    value: i64,
}

fn payment_from_row(row: &AnyRow) -> StoreResult<Payment> {
    let currency = currency(row, "currency")?;
    let fees: Vec<StoredFee> = json_column(row, "fees")?;
    Ok(Payment {
        id: id(row, "id", PaymentId::parse)?,
        status: PaymentStatus::parse(&text(row, "status")?).ok_or_else(|| corrupt("status"))?,
        amount: Money { currency, value: int(row, "amount")? },
        channel: MomoChannel {
            provider: text(row, "provider")?,
            reference: text(row, "provider_reference")?,
            phone_masked: text(row, "phone_masked")?,
            fingerprint: text(row, "fingerprint")?,
        },
        name: opt_text(row, "name")?,
        reference: opt_text(row, "reference")?,
        financial_account: id(row, "account_id", FinancialAccountId::parse)?,
        transaction_reference: opt_text(row, "transaction_reference")?,
        order_number: opt_text(row, "order_number")?,
        fees: fees.into_iter().map(|f| Fee { code: f.code, amount: Money { currency, value: f.value } }).collect(),
        owner: Ownership {
            id: text(row, "owner_id")?,
            kind: OwnerKind::parse(&text(row, "owner_type")?).ok_or_else(|| corrupt("owner_type"))?,
            metadata: json_map(row, "owner_metadata")?,
        },
        metadata: json_map(row, "metadata")?,
        created_at: time(row, "created_at")?,
        updated_at: opt_time(row, "updated_at")?,
    })
}

/// Writes a new payment (processing), to complete now or at `completes_at` (never, if `None`).
pub(super) async fn insert_payment(
    tx: &mut sqlx::AnyConnection,
    tenant: &Tenant,
    payment: &Payment,
    completes_at: Option<i64>,
) -> StoreResult<()> {
    let fees: Vec<StoredFee> =
        payment.fees.iter().map(|f| StoredFee { code: f.code.clone(), value: f.amount.value }).collect();
    sqlx::query(
        "INSERT INTO payments (id, space_id, environment, status, currency, amount, name, reference, account_id, fees, \
         provider, provider_reference, phone_masked, fingerprint, owner_type, owner_id, owner_metadata, metadata, \
         completes_at, created_at, order_number) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
    )
    .bind(payment.id.as_str())
    .bind(tenant.space_id.as_str())
    .bind(tenant.environment.as_str())
    .bind(payment.status.as_str())
    .bind(payment.amount.currency.code())
    .bind(payment.amount.value)
    .bind(payment.name.as_deref())
    .bind(payment.reference.as_deref())
    .bind(payment.financial_account.as_str())
    .bind(serde_json::to_string(&fees).map_err(|_| StoreError::Invariant("fees serialize"))?)
    .bind(payment.channel.provider.as_str())
    .bind(payment.channel.reference.as_str())
    .bind(payment.channel.phone_masked.as_str())
    .bind(payment.channel.fingerprint.as_str())
    .bind(payment.owner.kind.as_str())
    .bind(payment.owner.id.as_str())
    .bind(encode_json_map(&payment.owner.metadata))
    .bind(encode_json_map(&payment.metadata))
    .bind(completes_at)
    .bind(micros(payment.created_at))
    .bind(payment.order_number.as_deref())
    .execute(tx)
    .await?;
    Ok(())
}

/// Completes a processing payment in the caller's transaction: credits its amount to the
/// code's account, debits each fee from it (one reference for all), marks it completed, counts
/// it on its code (which may complete), and publishes `payment.completed`,
/// `financial_account.credited` and, if the code completed, `payment_code.completed`.
/// A balance that would overflow fails the transaction (`Conflict::BalanceOverflow`).
pub(super) async fn complete_payment(
    tx: &mut WriteTx,
    tenant: &Tenant,
    payment: &mut Payment,
    reference: String,
) -> StoreResult<()> {
    let now = tenant_now(&mut tx.tx, tenant).await?;
    let now_us = micros(now);
    let owner = Ownership { id: payment.id.to_string(), kind: OwnerKind::Payment, metadata: payment.metadata.clone() };
    let account = payment.financial_account.clone();
    let net = payment.net().ok_or(StoreError::Invariant("a payment's fees exceed its amount"))?;
    if net < 0 {
        return Err(StoreError::Invariant("a payment's fees exceed its amount"));
    }
    let mut balance = apply_delta(&mut tx.tx, tenant, &account, payment.amount.value, now_us)
        .await?
        .ok_or(StoreError::Conflict(Conflict::BalanceOverflow))?;
    insert_entries_of(
        &mut tx.tx,
        tenant,
        &[(&account, EntryKind::Credit, balance)],
        payment.amount,
        None,
        &reference,
        &owner,
        now_us,
    )
    .await?;
    for fee in &payment.fees {
        balance = apply_delta(&mut tx.tx, tenant, &account, -fee.amount.value, now_us)
            .await?
            .ok_or(StoreError::Invariant("a fee's debit went below zero"))?;
        insert_entries_of(
            &mut tx.tx,
            tenant,
            &[(&account, EntryKind::Debit, balance)],
            fee.amount,
            Some(&fee.code),
            &reference,
            &owner,
            now_us,
        )
        .await?;
    }
    payment.status = PaymentStatus::Completed;
    payment.transaction_reference = Some(reference);
    payment.updated_at = Some(now);
    scoped(
        "UPDATE payments SET status = 'completed', transaction_reference = $1, completes_at = NULL, updated_at = $2 \
         WHERE id = $3 AND $TENANT AND status = 'processing'",
        tenant,
    )
    .bind(payment.transaction_reference.as_deref())
    .bind(now_us)
    .bind(payment.id.as_str())
    .execute(&mut *tx.tx)
    .await?;
    journal::publish(tx, tenant, EventName::PaymentCompleted, &Snapshot::Payment(Box::new(payment.clone()))).await?;
    let credited = Snapshot::FinancialAccount(account_in(&mut tx.tx, tenant, &account).await?);
    journal::publish(tx, tenant, EventName::FinancialAccountCredited, &credited).await?;
    match payment.owner.kind {
        OwnerKind::CheckoutSession => super::checkout::complete_checkout(tx, tenant, &payment.owner.id, now).await,
        _ => count_on_code(tx, tenant, payment, now).await,
    }
}

/// Counts a completed payment on its payment code, which may complete.
async fn count_on_code(
    tx: &mut WriteTx,
    tenant: &Tenant,
    payment: &Payment,
    now: time::OffsetDateTime,
) -> StoreResult<()> {
    let mut code = locked_code(tx, tenant, &payment.owner.id).await?;
    let was_live = code.status.is_live();
    let status_before = code.status;
    code.record_payment(payment.amount.value).ok_or(StoreError::Conflict(Conflict::BalanceOverflow))?;
    if !was_live {
        // An expired recurrent code still counts a payment that was under way; it stays ended.
        code.status = status_before;
    }
    code.updated_at = Some(now);
    let completed = was_live && code.status == openmonime_domain::payment_code::PaymentCodeStatus::Completed;
    if completed {
        save_and_publish(tx, tenant, &code, EventName::PaymentCodeCompleted).await?;
    } else {
        save_and_publish_quietly(tx, tenant, &code).await?;
    }
    Ok(())
}

/// Saves a code's counts without an event (a recurrent code's payment that did not finish it).
async fn save_and_publish_quietly(
    tx: &mut WriteTx,
    tenant: &Tenant,
    code: &openmonime_domain::payment_code::PaymentCode,
) -> StoreResult<()> {
    scoped(
        "UPDATE payment_codes SET status = $1, payments_completed = $2, collected = $3, updated_at = $4 \
         WHERE id = $5 AND $TENANT",
        tenant,
    )
    .bind(code.status.as_str())
    .bind(code.payments_completed)
    .bind(code.collected)
    .bind(code.updated_at.map(micros))
    .bind(code.id.as_str())
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

/// Reads a processing payment due to complete, locking it on PostgreSQL.
pub(super) async fn locked_payment(tx: &mut WriteTx, tenant: &Tenant, id: &str) -> StoreResult<Payment> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1 AND $TENANT{}",
        super::payment_codes::for_update(tx.backend)
    );
    let row = scoped(&sql, tenant).bind(id).fetch_optional(&mut *tx.tx).await?.ok_or(StoreError::NotFound)?;
    payment_from_row(&row)
}

impl Store {
    pub async fn get_payment(&self, tenant: &Tenant, id: &str) -> StoreResult<Payment> {
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1 AND $TENANT");
        let row = scoped(&sql, tenant).bind(id).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        payment_from_row(&row)
    }

    pub async fn list_payments(
        &self,
        tenant: &Tenant,
        filter: &PaymentFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Payment>> {
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE $TENANT \
             AND ($1 IS NULL OR order_number = $1) AND ($2 IS NULL OR account_id = $2) \
             AND ($3 IS NULL OR transaction_reference = $3) AND ($4 IS NULL OR seq < $4) ORDER BY seq DESC LIMIT $5"
        );
        let rows = scoped(&sql, tenant)
            .bind(filter.order_number.as_deref())
            .bind(filter.account_id.as_deref())
            .bind(filter.transaction_reference.as_deref())
            .bind(page.after)
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await?;
        page_of(rows, page.limit, payment_from_row)
    }

    pub async fn update_payment(&self, tenant: &Tenant, id: &str, patch: &PaymentPatch) -> StoreResult<Payment> {
        let mut tx = self.begin_write().await?;
        let mut payment = locked_payment(&mut tx, tenant, id).await?;
        if let Some(name) = &patch.name {
            payment.name = name.clone();
        }
        if let Some(metadata) = &patch.metadata {
            payment.metadata = metadata.clone();
        }
        payment.updated_at = Some(tenant_now(&mut tx.tx, tenant).await?);
        scoped("UPDATE payments SET name = $1, metadata = $2, updated_at = $3 WHERE id = $4 AND $TENANT", tenant)
            .bind(payment.name.as_deref())
            .bind(encode_json_map(&payment.metadata))
            .bind(payment.updated_at.map(micros))
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(payment)
    }
}
