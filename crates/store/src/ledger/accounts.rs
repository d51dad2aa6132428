//! Financial accounts: create (idempotently), read, list and update, and the `main` account every
//! Space gets in each environment.

use crate::backend::{Store, WriteTx};
use crate::codec::*;
use crate::error::{Conflict, StoreError, StoreResult};
use crate::idempotency::{self, IdempotencyClaim, Outcome};
use crate::journal;
use crate::tenant::scoped;
use crate::{page_of, Page, PageRequest};
use openmonime_domain::entities::*;
use openmonime_domain::event::{EventName, Snapshot};
use openmonime_domain::ids::*;
use openmonime_domain::money::Currency;
use openmonime_domain::{time_fmt, uvan};
use serde_json::{Map, Value};

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

const ACCOUNT_COLUMNS: &str =
    "seq, id, uvan, name, currency, reference, description, metadata, balance, created_at, updated_at";

fn account_from_row<R: Columns + ?Sized>(row: &R) -> StoreResult<FinancialAccount> {
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
        Err(e) if StoreError::is_unique_violation(&e) => return Err(StoreError::Conflict(Conflict::ReferenceInUse)),
        other => other?,
    };
    let snapshot = Snapshot::FinancialAccount(account.clone());
    journal::publish(tx, tenant, EventName::FinancialAccountCreated, &snapshot).await?;
    Ok(account)
}

/// An account as it stands inside the caller's transaction (the snapshot an event reports).
pub(crate) async fn account_in(
    conn: &mut sqlx::AnyConnection,
    tenant: &Tenant,
    id: &FinancialAccountId,
) -> StoreResult<FinancialAccount> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM financial_accounts WHERE id = $1 AND $TENANT");
    let row = scoped(&sql, tenant).bind(id.as_str()).fetch_optional(conn).await?.ok_or(StoreError::NotFound)?;
    account_from_row(&row)
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
        if let Some(fast) = &self.fast_reads {
            // SQLite: on this thread (see `fast_read`); the same columns, the same decoding.
            // Built once: it is the prepared-statement cache's key on every read.
            static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
                format!("SELECT {ACCOUNT_COLUMNS} FROM financial_accounts WHERE id = ?1 AND space_id = ?2 AND environment = ?3")
            });
            let params = rusqlite::params![id, tenant.space_id.as_str(), tenant.environment.as_str()];
            return fast.row(&SQL, params, |row| account_from_row(row))?.ok_or(StoreError::NotFound);
        }
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
}
