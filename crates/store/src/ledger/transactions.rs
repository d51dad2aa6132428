//! Ledger entries: immutable, each owned by the transfer or adjustment that wrote it.

use crate::backend::Store;
use crate::codec::*;
use crate::error::{StoreError, StoreResult};
use crate::tenant::scoped;
use crate::{page_of, Page, PageRequest};
use openmonime_domain::entities::*;
use openmonime_domain::ids::*;
use openmonime_domain::money::Money;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TransactionFilter {
    pub account_id: Option<String>,
    pub reference: Option<String>,
    pub kind: Option<EntryKind>,
}

pub(super) const ENTRY_COLUMNS: &str =
    "seq, id, account_id, kind, currency, amount, balance_after, reference, owner_id, \
     owner_type, owner_metadata, metadata, fee_code, created_at";

pub(super) fn entry_from_row(row: &AnyRow) -> StoreResult<FinancialTransaction> {
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
        fee_code: opt_text(row, "fee_code")?,
    })
}

/// Writes ledger entries of one amount (a transfer's two, an adjustment's one) in one statement.
pub(crate) async fn insert_entries(
    tx: &mut sqlx::AnyConnection,
    tenant: &Tenant,
    entries: &[(&FinancialAccountId, EntryKind, i64)],
    amount: Money,
    reference: &str,
    owner: &Ownership,
    now: i64,
) -> StoreResult<()> {
    insert_entries_of(tx, tenant, entries, amount, None, reference, owner, now).await
}

/// [`insert_entries`], naming the fee each entry charges (a payment's fee debits).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_entries_of(
    tx: &mut sqlx::AnyConnection,
    tenant: &Tenant,
    entries: &[(&FinancialAccountId, EntryKind, i64)],
    amount: Money,
    fee_code: Option<&str>,
    reference: &str,
    owner: &Ownership,
    now: i64,
) -> StoreResult<()> {
    const COLUMNS: usize = 14;
    let values: Vec<String> = (0..entries.len())
        .map(|row| {
            let params: Vec<String> = (1..=COLUMNS).map(|col| format!("${}", row * COLUMNS + col)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO financial_transactions (id, space_id, environment, account_id, kind, currency, amount, balance_after, \
         reference, owner_id, owner_type, owner_metadata, fee_code, created_at) VALUES {}",
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
            .bind(fee_code)
            .bind(now);
    }
    query.execute(tx).await?;
    Ok(())
}

impl Store {
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
}
