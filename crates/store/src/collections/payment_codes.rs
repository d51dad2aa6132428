//! Payment codes: created with a dial string no live code holds, read, listed, patched while
//! live, and deleted (cancelled) while unused.

use super::clock::tenant_now;
use super::DIAL_STRING_DRAWS;
use crate::backend::{Backend, Store, WriteTx};
use crate::codec::*;
use crate::error::{Conflict, StoreError, StoreResult};
use crate::idempotency::{IdempotencyClaim, Outcome};
use crate::journal;
use crate::tenant::scoped;
use crate::{page_of, Page, PageRequest};
use openmonime_domain::entities::Tenant;
use openmonime_domain::event::{EventName, Snapshot};
use openmonime_domain::ids::*;
use openmonime_domain::money::Money;
use openmonime_domain::payment_code::*;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use time::Duration;

/// A create, validated by the caller.
#[derive(Debug, Clone)]
pub struct NewPaymentCode {
    pub mode: PaymentCodeMode,
    pub name: Option<String>,
    pub amount: Money,
    pub enabled: bool,
    pub duration: Duration,
    pub customer_name: Option<String>,
    pub reference: Option<String>,
    pub authorized_providers: Option<Vec<String>>,
    pub authorized_phone: Option<String>,
    pub target: Option<RecurrentTarget>,
    /// `None`: the tenant's main account.
    pub account: Option<FinancialAccountId>,
    pub metadata: Option<Map<String, Value>>,
}

/// A change: an absent field is kept; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct PaymentCodePatch {
    pub name: Option<Option<String>>,
    pub amount: Option<Money>,
    pub duration: Option<Duration>,
    pub enabled: Option<bool>,
    pub customer_name: Option<Option<String>>,
    pub reference: Option<Option<String>>,
    pub authorized_providers: Option<Option<Vec<String>>>,
    pub authorized_phone: Option<Option<String>>,
    pub target: Option<Option<RecurrentTarget>>,
    pub account: Option<FinancialAccountId>,
    pub metadata: Option<Option<Map<String, Value>>>,
}

impl PaymentCodePatch {
    /// Whether the patch touches what a payment is measured against.
    fn touches_terms(&self) -> bool {
        self.amount.is_some() || self.duration.is_some() || self.target.is_some() || self.account.is_some()
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PaymentCodeFilter {
    pub ussd_code: Option<String>,
    pub mode: Option<PaymentCodeMode>,
    pub status: Option<PaymentCodeStatus>,
}

/// Why a create or a patch was refused before anything was written (a 400 naming the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRejection {
    /// `financialAccountId` names no account of the tenant.
    AccountNotFound,
    /// The account holds another currency than `amount`.
    CurrencyMismatch,
    /// `recurrentPaymentTarget.expectedPaymentTotal` is in another currency than `amount`.
    TargetCurrencyMismatch,
}

/// A target's total must be counted in the code's own currency.
fn target_in_currency(code: &PaymentCode) -> Result<(), CodeRejection> {
    match code.target.and_then(|t| t.total) {
        Some(total) if total.currency != code.amount.currency => Err(CodeRejection::TargetCurrencyMismatch),
        _ => Ok(()),
    }
}

pub(super) const CODE_COLUMNS: &str =
    "seq, id, mode, status, name, currency, amount, enabled, expire_at, customer_name, \
     ussd_code, reference, authorized_providers, authorized_phone, target_count, target_total, account_id, \
     payments_completed, collected, metadata, created_at, updated_at";

pub(super) fn code_from_row(row: &AnyRow) -> StoreResult<PaymentCode> {
    let currency = currency(row, "currency")?;
    let count = row_opt_int(row, "target_count")?;
    let total = row_opt_int(row, "target_total")?.map(|value| Money { currency, value });
    let providers = opt_text(row, "authorized_providers")?
        .map(|s| serde_json::from_str::<Vec<String>>(&s).map_err(|_| corrupt("authorized_providers")))
        .transpose()?;
    Ok(PaymentCode {
        id: id(row, "id", PaymentCodeId::parse)?,
        mode: PaymentCodeMode::parse(&text(row, "mode")?).ok_or_else(|| corrupt("mode"))?,
        status: PaymentCodeStatus::parse(&text(row, "status")?).ok_or_else(|| corrupt("status"))?,
        name: opt_text(row, "name")?,
        amount: Money { currency, value: int(row, "amount")? },
        enabled: int(row, "enabled")? != 0,
        expire_at: time(row, "expire_at")?,
        customer_name: opt_text(row, "customer_name")?,
        ussd_code: text(row, "ussd_code")?,
        reference: opt_text(row, "reference")?,
        authorized_providers: providers,
        authorized_phone: opt_text(row, "authorized_phone")?,
        target: (count.is_some() || total.is_some()).then_some(RecurrentTarget { count, total }),
        financial_account: id(row, "account_id", FinancialAccountId::parse)?,
        payments_completed: int(row, "payments_completed")?,
        collected: int(row, "collected")?,
        processed: None,
        metadata: json_map(row, "metadata")?,
        created_at: time(row, "created_at")?,
        updated_at: opt_time(row, "updated_at")?,
    })
}

fn row_opt_int(row: &AnyRow, col: &str) -> StoreResult<Option<i64>> {
    Ok(sqlx::Row::try_get::<Option<i64>, _>(row, col)?)
}

/// The row lock a read-then-write takes on PostgreSQL (SQLite's write transaction is exclusive).
pub(super) fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    }
}

/// The account a code settles into, checked against the amount's currency.
pub(super) async fn settlement_account(
    tx: &mut sqlx::AnyConnection,
    tenant: &Tenant,
    account: Option<&FinancialAccountId>,
    amount: Money,
) -> StoreResult<Result<FinancialAccountId, CodeRejection>> {
    let row = match account {
        Some(id) => {
            scoped("SELECT id, currency FROM financial_accounts WHERE id = $1 AND $TENANT", tenant)
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?
        }
        None => {
            scoped("SELECT id, currency FROM financial_accounts WHERE reference = 'main' AND $TENANT", tenant)
                .fetch_optional(&mut *tx)
                .await?
        }
    };
    let Some(row) = row else { return Ok(Err(CodeRejection::AccountNotFound)) };
    if currency(&row, "currency")? != amount.currency {
        return Ok(Err(CodeRejection::CurrencyMismatch));
    }
    Ok(Ok(id(&row, "id", FinancialAccountId::parse)?))
}

/// Writes a code's changeable columns (every column but its identity and creation).
async fn write_code(tx: &mut sqlx::AnyConnection, tenant: &Tenant, code: &PaymentCode) -> StoreResult<()> {
    let providers = code.authorized_providers.as_ref().map(|p| serde_json::to_string(p).unwrap_or_default());
    scoped(
        "UPDATE payment_codes SET status = $1, name = $2, currency = $3, amount = $4, enabled = $5, expire_at = $6, \
         customer_name = $7, reference = $8, authorized_providers = $9, authorized_phone = $10, target_count = $11, \
         target_total = $12, account_id = $13, payments_completed = $14, collected = $15, metadata = $16, \
         updated_at = $17 WHERE id = $18 AND $TENANT",
        tenant,
    )
    .bind(code.status.as_str())
    .bind(code.name.as_deref())
    .bind(code.amount.currency.code())
    .bind(code.amount.value)
    .bind(i64::from(code.enabled))
    .bind(micros(code.expire_at))
    .bind(code.customer_name.as_deref())
    .bind(code.reference.as_deref())
    .bind(providers)
    .bind(code.authorized_phone.as_deref())
    .bind(code.target.and_then(|t| t.count))
    .bind(code.target.and_then(|t| t.total).map(|m| m.value))
    .bind(code.financial_account.as_str())
    .bind(code.payments_completed)
    .bind(code.collected)
    .bind(encode_json_map(&code.metadata))
    .bind(code.updated_at.map(micros))
    .bind(code.id.as_str())
    .execute(tx)
    .await?;
    Ok(())
}

/// Reads a tenant's code inside a write transaction, locking its row on PostgreSQL.
pub(super) async fn locked_code(tx: &mut WriteTx, tenant: &Tenant, id: &str) -> StoreResult<PaymentCode> {
    let sql = format!("SELECT {CODE_COLUMNS} FROM payment_codes WHERE id = $1 AND $TENANT{}", for_update(tx.backend));
    let row = scoped(&sql, tenant).bind(id).fetch_optional(&mut *tx.tx).await?.ok_or(StoreError::NotFound)?;
    code_from_row(&row)
}

/// Saves `code` and publishes `name` about it, in the caller's transaction.
pub(super) async fn save_and_publish(
    tx: &mut WriteTx,
    tenant: &Tenant,
    code: &PaymentCode,
    name: EventName,
) -> StoreResult<()> {
    write_code(&mut tx.tx, tenant, code).await?;
    journal::publish(tx, tenant, name, &Snapshot::PaymentCode(Box::new(code.clone()))).await?;
    Ok(())
}

/// Whether a live code of the deployment holds `dial`.
async fn dial_taken(tx: &mut sqlx::AnyConnection, dial: &str) -> StoreResult<bool> {
    Ok(sqlx::query("SELECT 1 AS taken FROM payment_codes WHERE ussd_code = $1 AND status IN ('pending', 'processing')")
        .bind(dial)
        .fetch_optional(tx)
        .await?
        .is_some())
}

impl Store {
    /// Creates a code with a dial string no live code holds, and publishes
    /// `payment_code.created`. `Ok(Err(rejection))` changes nothing.
    pub async fn create_payment_code(
        &self,
        tenant: &Tenant,
        new: &NewPaymentCode,
        claim: Option<&IdempotencyClaim>,
        render: impl FnOnce(&PaymentCode) -> String,
    ) -> StoreResult<Result<Outcome<PaymentCode>, CodeRejection>> {
        let mut tx = self.begin_write().await?;
        let account = match settlement_account(&mut tx.tx, tenant, new.account.as_ref(), new.amount).await? {
            Ok(account) => account,
            Err(rejection) => {
                tx.rollback().await?;
                return self.refuse_recording(tenant, claim, rejection).await;
            }
        };
        if new.target.and_then(|t| t.total).is_some_and(|total| total.currency != new.amount.currency) {
            tx.rollback().await?;
            return self.refuse_recording(tenant, claim, CodeRejection::TargetCurrencyMismatch).await;
        }
        let mut ussd_code = None;
        for _ in 0..DIAL_STRING_DRAWS {
            let drawn = new_ussd_code();
            if !dial_taken(&mut tx.tx, &drawn).await? {
                ussd_code = Some(drawn);
                break;
            }
        }
        let ussd_code = ussd_code.ok_or(StoreError::Invariant("no free dial string in eight draws"))?;
        let now = tenant_now(&mut tx.tx, tenant).await?;
        let code = PaymentCode {
            id: PaymentCodeId::generate(),
            mode: new.mode,
            status: PaymentCodeStatus::Pending,
            name: new.name.clone(),
            amount: new.amount,
            enabled: new.enabled,
            expire_at: now + new.duration,
            customer_name: new.customer_name.clone(),
            ussd_code,
            reference: new.reference.clone(),
            authorized_providers: new.authorized_providers.clone(),
            authorized_phone: new.authorized_phone.clone(),
            target: new.target,
            financial_account: account,
            payments_completed: 0,
            collected: 0,
            processed: None,
            metadata: new.metadata.clone(),
            created_at: now,
            updated_at: None,
        };
        sqlx::query(
            "INSERT INTO payment_codes (id, space_id, environment, mode, status, currency, amount, enabled, expire_at, \
             ussd_code, account_id, payments_completed, collected, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, 0, $12)",
        )
        .bind(code.id.as_str())
        .bind(tenant.space_id.as_str())
        .bind(tenant.environment.as_str())
        .bind(code.mode.as_str())
        .bind(code.status.as_str())
        .bind(code.amount.currency.code())
        .bind(code.amount.value)
        .bind(i64::from(code.enabled))
        .bind(micros(code.expire_at))
        .bind(&code.ussd_code)
        .bind(code.financial_account.as_str())
        .bind(micros(now))
        .execute(&mut *tx.tx)
        .await?;
        save_and_publish(&mut tx, tenant, &code, EventName::PaymentCodeCreated).await?;
        let body = render(&code);
        Ok(Ok(self.commit_recording(tx, tenant, claim, code, body).await?))
    }

    pub async fn get_payment_code(&self, tenant: &Tenant, id: &str) -> StoreResult<PaymentCode> {
        let sql = format!("SELECT {CODE_COLUMNS} FROM payment_codes WHERE id = $1 AND $TENANT");
        let row = scoped(&sql, tenant).bind(id).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        code_from_row(&row)
    }

    pub async fn list_payment_codes(
        &self,
        tenant: &Tenant,
        filter: &PaymentCodeFilter,
        page: PageRequest,
    ) -> StoreResult<Page<PaymentCode>> {
        let sql = format!(
            "SELECT {CODE_COLUMNS} FROM payment_codes WHERE $TENANT \
             AND ($1 IS NULL OR ussd_code = $1) AND ($2 IS NULL OR mode = $2) AND ($3 IS NULL OR status = $3) \
             AND ($4 IS NULL OR seq < $4) ORDER BY seq DESC LIMIT $5"
        );
        let rows = scoped(&sql, tenant)
            .bind(filter.ussd_code.as_deref())
            .bind(filter.mode.map(PaymentCodeMode::as_str))
            .bind(filter.status.map(PaymentCodeStatus::as_str))
            .bind(page.after)
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await?;
        page_of(rows, page.limit, code_from_row)
    }

    /// Patches a live code. Its terms (amount, duration, account, target) change only while it
    /// is unused (`Conflict::PaymentCodeInUse`); an ended code changes no more
    /// (`Conflict::PaymentCodeEnded`). A new duration counts from the code's creation.
    pub async fn update_payment_code(
        &self,
        tenant: &Tenant,
        id: &str,
        patch: &PaymentCodePatch,
    ) -> StoreResult<Result<PaymentCode, CodeRejection>> {
        let mut tx = self.begin_write().await?;
        let mut code = locked_code(&mut tx, tenant, id).await?;
        if !code.status.is_live() {
            return Err(StoreError::Conflict(Conflict::PaymentCodeEnded));
        }
        if patch.touches_terms() && code.status != PaymentCodeStatus::Pending {
            return Err(StoreError::Conflict(Conflict::PaymentCodeInUse));
        }
        if let Some(amount) = patch.amount {
            code.amount = amount;
        }
        if patch.amount.is_some() || patch.account.is_some() {
            let account = patch.account.as_ref().unwrap_or(&code.financial_account).clone();
            match settlement_account(&mut tx.tx, tenant, Some(&account), code.amount).await? {
                Ok(account) => code.financial_account = account,
                Err(rejection) => return Ok(Err(rejection)),
            }
        }
        if let Some(duration) = patch.duration {
            code.expire_at = code.created_at + duration;
        }
        if let Some(target) = patch.target {
            code.target = target;
        }
        if let Err(rejection) = target_in_currency(&code) {
            return Ok(Err(rejection));
        }
        if let Some(enabled) = patch.enabled {
            code.enabled = enabled;
        }
        macro_rules! replace {
            ($($field:ident => $target:ident),*) => {$(
                if let Some(value) = &patch.$field {
                    code.$target = value.clone();
                }
            )*};
        }
        replace!(name => name, customer_name => customer_name, reference => reference,
            authorized_providers => authorized_providers, authorized_phone => authorized_phone, metadata => metadata);
        code.updated_at = Some(tenant_now(&mut tx.tx, tenant).await?);
        write_code(&mut tx.tx, tenant, &code).await?;
        tx.commit().await?;
        Ok(Ok(code))
    }

    /// Deletes an unused code (`Conflict::PaymentCodeInUse` once it has taken a payment) and
    /// publishes `payment_code.cancelled` with the code as it was, cancelled. Its dial string is
    /// free again.
    pub async fn delete_payment_code(&self, tenant: &Tenant, id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let mut code = locked_code(&mut tx, tenant, id).await?;
        let used = scoped("SELECT 1 AS used FROM payments WHERE owner_id = $1 AND $TENANT", tenant)
            .bind(id)
            .fetch_optional(&mut *tx.tx)
            .await?
            .is_some();
        if used || code.status != PaymentCodeStatus::Pending {
            return Err(StoreError::Conflict(if code.status.is_live() {
                Conflict::PaymentCodeInUse
            } else {
                Conflict::PaymentCodeEnded
            }));
        }
        code.status = PaymentCodeStatus::Cancelled;
        code.updated_at = Some(tenant_now(&mut tx.tx, tenant).await?);
        let snapshot = Snapshot::PaymentCode(Box::new(code.clone()));
        journal::publish(&mut tx, tenant, EventName::PaymentCodeCancelled, &snapshot).await?;
        scoped("DELETE FROM payment_codes WHERE id = $1 AND $TENANT", tenant).bind(id).execute(&mut *tx.tx).await?;
        tx.commit().await
    }
}
