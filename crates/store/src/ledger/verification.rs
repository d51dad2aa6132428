//! Ledger verification: the balances and the entries, summed two ways, must agree.

use crate::backend::Store;
use crate::codec::*;
use crate::error::StoreResult;

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
    /// Completed payments without exactly one credit of their amount under their reference.
    pub completed_payments_without_their_credit: i64,
    /// Payments whose fee debits add up to more than their credit.
    pub payments_with_fees_over_their_amount: i64,
    /// Payments not completed that have entries.
    pub unfinished_payments_with_entries: i64,
    /// Payouts under way or completed whose debits are not exactly their amount and fees (one
    /// reference), or that have credits.
    pub payouts_not_holding_their_amount_and_fees: i64,
    /// Failed or deleted payouts whose hold did not return in full to the account it left, under
    /// its reference (or, created failed, that have any entry at all).
    pub payouts_not_returning_their_hold: i64,
}

impl LedgerReport {
    pub fn is_consistent(&self) -> bool {
        self.totals.iter().all(|t| t.balances == t.credits_minus_debits)
            && self.negative_balances == 0
            && self.accounts_not_matching_entries == 0
            && self.completed_transfers_without_one_debit_and_one_credit == 0
            && self.failed_transfers_with_entries == 0
            && self.completed_payments_without_their_credit == 0
            && self.payments_with_fees_over_their_amount == 0
            && self.unfinished_payments_with_entries == 0
            && self.payouts_not_holding_their_amount_and_fees == 0
            && self.payouts_not_returning_their_hold == 0
    }
}

impl Store {
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
              EXISTS (SELECT 1 FROM financial_transactions t WHERE t.owner_id = x.id)) AS failed_transfers_with_entries, \
             (SELECT COUNT(*) FROM payments p WHERE p.status = 'completed' AND \
              (SELECT COUNT(*) FROM financial_transactions t WHERE t.owner_id = p.id AND t.kind = 'credit' \
               AND t.amount = p.amount AND t.reference = p.transaction_reference) <> 1) \
              AS completed_payments_without_their_credit, \
             (SELECT COUNT(*) FROM payments p WHERE \
              (SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM financial_transactions t WHERE t.owner_id = p.id AND t.kind = 'debit') > p.amount) \
              AS payments_with_fees_over_their_amount, \
             (SELECT COUNT(*) FROM payments p WHERE p.status <> 'completed' AND \
              EXISTS (SELECT 1 FROM financial_transactions t WHERE t.owner_id = p.id)) AS unfinished_payments_with_entries, \
             (SELECT COUNT(*) FROM payouts o WHERE o.status <> 'failed' AND o.deleted_at IS NULL AND ( \
              o.source_reference IS NULL OR \
              (SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM financial_transactions t WHERE t.owner_id = o.id \
               AND t.kind = 'debit') <> o.held OR \
              EXISTS (SELECT 1 FROM financial_transactions t WHERE t.owner_id = o.id AND (t.kind = 'credit' \
               OR t.reference <> o.source_reference OR t.account_id <> o.source_id)))) \
              AS payouts_not_holding_their_amount_and_fees, \
             (SELECT COUNT(*) FROM payouts o WHERE (o.status = 'failed' OR o.deleted_at IS NOT NULL) AND ( \
              EXISTS (SELECT 1 FROM financial_transactions t WHERE t.owner_id = o.id AND (o.source_reference IS NULL \
               OR t.reference <> o.source_reference OR t.account_id <> o.source_id)) OR \
              (o.source_reference IS NOT NULL AND ( \
               (SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM financial_transactions t WHERE t.owner_id = o.id \
                AND t.kind = 'debit') <> o.held OR \
               (SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM financial_transactions t WHERE t.owner_id = o.id \
                AND t.kind = 'credit') <> o.held)))) AS payouts_not_returning_their_hold",
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
            completed_payments_without_their_credit: int(&row, "completed_payments_without_their_credit")?,
            payments_with_fees_over_their_amount: int(&row, "payments_with_fees_over_their_amount")?,
            unfinished_payments_with_entries: int(&row, "unfinished_payments_with_entries")?,
            payouts_not_holding_their_amount_and_fees: int(&row, "payouts_not_holding_their_amount_and_fees")?,
            payouts_not_returning_their_hold: int(&row, "payouts_not_returning_their_hold")?,
        })
    }
}
