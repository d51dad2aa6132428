//! Operator adjustments: the only way money enters the ledger.

use super::accounts::account_in;
use super::transactions::{entry_from_row, insert_entries, ENTRY_COLUMNS};
use crate::backend::Store;
use crate::codec::*;
use crate::error::{Conflict, StoreError, StoreResult};
use crate::journal::{self, Actor, Change};
use crate::tenant::scoped;
use openmonime_domain::entities::*;
use openmonime_domain::event::{EventName, Snapshot};
use openmonime_domain::ids::*;
use openmonime_domain::money::Money;
use openmonime_domain::time_fmt;

/// Adds `delta` (positive: credit, negative: debit) to an account, refusing to go below zero or
/// overflow. Returns the balance after, or `None` when the guard refused.
pub(crate) async fn apply_delta(
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

impl Store {
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
        let credited = Snapshot::FinancialAccount(account_in(&mut tx.tx, tenant, account).await?);
        journal::publish(&mut tx, tenant, EventName::FinancialAccountCredited, &credited).await?;
        tx.commit().await?;
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM financial_transactions WHERE owner_id = $1 AND $TENANT");
        let row = scoped(&sql, tenant).bind(adjustment.as_str()).fetch_one(&self.pool).await?;
        entry_from_row(&row)
    }
}
