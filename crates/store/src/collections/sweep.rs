//! The sweep: what falls due with time — a payment code's or a USSD OTP's expiry, a payment its
//! provider confirms later — made to happen, each in its own transaction with its events. Every
//! node sweeps; each row is re-read under its lock and changed only if still due, so two nodes
//! never both expire a code or complete a payment.

use super::clock::tenant_now;
use super::payment_codes::{locked_code, save_and_publish};
use super::payments::{complete_payment, locked_payment};
use super::ussd_otps::{otp_from_row, settle_otp, OTP_COLUMNS};
use crate::backend::Store;
use crate::codec::*;
use crate::error::{StoreError, StoreResult};
use crate::tenant::scoped;
use openmonime_domain::entities::Tenant;
use openmonime_domain::event::EventName;
use openmonime_domain::ids::new_transaction_reference;
use openmonime_domain::payment::PaymentStatus;
use openmonime_domain::payment_code::PaymentCodeStatus;
use openmonime_domain::ussd_otp::UssdOtpStatus;
use openmonime_domain::{time_fmt, Environment};

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub expired_codes: usize,
    pub expired_otps: usize,
    pub completed_payments: usize,
    pub expired_checkouts: usize,
}

/// `table`'s rows of `time_column` due by now on their tenant's clock, optionally one tenant's.
pub(crate) fn due_sql(table: &str, time_column: &str, state: &str) -> String {
    format!(
        "SELECT id, space_id, environment FROM {table} r WHERE {state} \
         AND r.{time_column} <= $1 + CASE WHEN r.environment = 'test' THEN \
           COALESCE((SELECT c.offset_us FROM test_clocks c WHERE c.space_id = r.space_id), 0) ELSE 0 END \
         AND ($2 IS NULL OR (r.space_id = $2 AND r.environment = $3)) ORDER BY r.{time_column} LIMIT $4"
    )
}

pub(crate) async fn due(
    store: &Store,
    sql: &str,
    only: Option<&Tenant>,
    limit: u32,
) -> StoreResult<Vec<(String, Tenant)>> {
    let rows = sqlx::query(sql)
        .bind(micros(time_fmt::now()))
        .bind(only.map(|t| t.space_id.as_str()))
        .bind(only.map(|t| t.environment.as_str()))
        .bind(i64::from(limit))
        .fetch_all(&store.pool)
        .await?;
    rows.iter()
        .map(|row| {
            let tenant = Tenant {
                space_id: id(row, "space_id", openmonime_domain::ids::SpaceId::parse)?,
                environment: Environment::parse(&text(row, "environment")?).ok_or_else(|| corrupt("environment"))?,
            };
            Ok((text(row, "id")?, tenant))
        })
        .collect()
}

impl Store {
    /// Makes happen what is due, up to `limit` of each kind; only `only`'s, if given.
    pub async fn sweep_due(&self, only: Option<&Tenant>, limit: u32) -> StoreResult<Swept> {
        let mut swept = Swept::default();
        let codes = due_sql(
            "payment_codes",
            "expire_at",
            "(r.status = 'pending' OR (r.status = 'processing' AND r.mode = 'recurrent'))",
        );
        for (id, tenant) in due(self, &codes, only, limit).await? {
            let mut tx = self.begin_write().await?;
            let mut code = match locked_code(&mut tx, &tenant, &id).await {
                Err(StoreError::NotFound) => continue,
                other => other?,
            };
            let now = tenant_now(&mut tx.tx, &tenant).await?;
            if !code.expiry_due(now) {
                tx.rollback().await?;
                continue;
            }
            code.status = PaymentCodeStatus::Expired;
            code.updated_at = Some(now);
            save_and_publish(&mut tx, &tenant, &code, EventName::PaymentCodeExpired).await?;
            tx.commit().await?;
            swept.expired_codes += 1;
        }
        let otps = due_sql("ussd_otps", "expire_at", "r.status = 'pending'");
        for (id, tenant) in due(self, &otps, only, limit).await? {
            let mut tx = self.begin_write().await?;
            let sql = format!(
                "SELECT {OTP_COLUMNS} FROM ussd_otps WHERE id = $1 AND $TENANT{}",
                super::payment_codes::for_update(tx.backend)
            );
            let Some(row) = scoped(&sql, &tenant).bind(&id).fetch_optional(&mut *tx.tx).await? else { continue };
            let mut otp = otp_from_row(&row)?;
            let now = tenant_now(&mut tx.tx, &tenant).await?;
            if otp.status != UssdOtpStatus::Pending || now < otp.expire_at {
                tx.rollback().await?;
                continue;
            }
            settle_otp(&mut tx, &tenant, &mut otp, UssdOtpStatus::Expired, EventName::UssdOtpExpired).await?;
            tx.commit().await?;
            swept.expired_otps += 1;
        }
        let payments = due_sql("payments", "completes_at", "r.status = 'processing' AND r.completes_at IS NOT NULL");
        for (id, tenant) in due(self, &payments, only, limit).await? {
            let mut tx = self.begin_write().await?;
            let mut payment = match locked_payment(&mut tx, &tenant, &id).await {
                Err(StoreError::NotFound) => continue,
                other => other?,
            };
            let still_due = scoped("SELECT completes_at FROM payments WHERE id = $1 AND $TENANT", &tenant)
                .bind(&id)
                .fetch_one(&mut *tx.tx)
                .await?;
            let completes_at = sqlx::Row::try_get::<Option<i64>, _>(&still_due, "completes_at")?;
            let now = micros(tenant_now(&mut tx.tx, &tenant).await?);
            if payment.status != PaymentStatus::Processing || completes_at.is_none_or(|at| at > now) {
                tx.rollback().await?;
                continue;
            }
            match complete_payment(&mut tx, &tenant, &mut payment, new_transaction_reference()).await {
                Ok(()) => {
                    tx.commit().await?;
                    swept.completed_payments += 1;
                }
                // A credit that would overflow the account waits (and is retried each sweep)
                // rather than corrupt the ledger.
                Err(StoreError::Conflict(_)) => tx.rollback().await?,
                Err(other) => return Err(other),
            }
        }
        let sessions = due_sql("checkout_sessions", "expire_at", "r.status = 'pending'");
        for (id, tenant) in due(self, &sessions, only, limit).await? {
            let mut tx = self.begin_write().await?;
            if super::checkout::expire_checkout(&mut tx, &tenant, &id).await? {
                tx.commit().await?;
                swept.expired_checkouts += 1;
            } else {
                tx.rollback().await?;
            }
        }
        Ok(swept)
    }
}
