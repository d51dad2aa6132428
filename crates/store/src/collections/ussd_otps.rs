//! USSD OTPs: created with a dial code no pending OTP holds, read, listed, deleted.

use super::clock::tenant_now;
use super::DIAL_STRING_DRAWS;
use crate::backend::{Store, WriteTx};
use crate::codec::*;
use crate::error::{StoreError, StoreResult};
use crate::idempotency::{IdempotencyClaim, Outcome};
use crate::journal;
use crate::tenant::scoped;
use crate::{page_of, Page, PageRequest};
use openmonime_domain::entities::Tenant;
use openmonime_domain::event::{EventName, Snapshot};
use openmonime_domain::ids::UssdOtpId;
use openmonime_domain::ussd_otp::*;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use time::Duration;

#[derive(Debug, Clone)]
pub struct NewUssdOtp {
    pub authorized_phone: String,
    pub verification_message: Option<String>,
    pub duration: Duration,
    pub metadata: Option<Map<String, Value>>,
}

/// The list has no filter; its cursors are bound to the list alone.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UssdOtpFilter {}

pub(super) const OTP_COLUMNS: &str =
    "seq, id, status, dial_code, authorized_phone, verification_message, metadata, expire_at, created_at";

pub(super) fn otp_from_row(row: &AnyRow) -> StoreResult<UssdOtp> {
    Ok(UssdOtp {
        id: id(row, "id", UssdOtpId::parse)?,
        status: UssdOtpStatus::parse(&text(row, "status")?).ok_or_else(|| corrupt("status"))?,
        dial_code: text(row, "dial_code")?,
        authorized_phone: text(row, "authorized_phone")?,
        verification_message: opt_text(row, "verification_message")?,
        metadata: json_map(row, "metadata")?,
        created_at: time(row, "created_at")?,
        expire_at: time(row, "expire_at")?,
    })
}

/// Sets an OTP's status and publishes the event that says so, in the caller's transaction.
pub(super) async fn settle_otp(
    tx: &mut WriteTx,
    tenant: &Tenant,
    otp: &mut UssdOtp,
    status: UssdOtpStatus,
    name: EventName,
) -> StoreResult<()> {
    let now = tenant_now(&mut tx.tx, tenant).await?;
    otp.status = status;
    scoped(
        "UPDATE ussd_otps SET status = $1, updated_at = $2 WHERE id = $3 AND $TENANT AND status = 'pending'",
        tenant,
    )
    .bind(status.as_str())
    .bind(micros(now))
    .bind(otp.id.as_str())
    .execute(&mut *tx.tx)
    .await?;
    journal::publish(tx, tenant, name, &Snapshot::UssdOtp(otp.clone())).await?;
    Ok(())
}

impl Store {
    pub async fn create_ussd_otp(
        &self,
        tenant: &Tenant,
        new: &NewUssdOtp,
        claim: Option<&IdempotencyClaim>,
        render: impl FnOnce(&UssdOtp) -> String,
    ) -> StoreResult<Outcome<UssdOtp>> {
        let mut tx = self.begin_write().await?;
        let mut dial_code = None;
        for _ in 0..DIAL_STRING_DRAWS {
            let drawn = new_dial_code();
            let taken = sqlx::query("SELECT 1 AS taken FROM ussd_otps WHERE dial_code = $1 AND status = 'pending'")
                .bind(&drawn)
                .fetch_optional(&mut *tx.tx)
                .await?
                .is_some();
            if !taken {
                dial_code = Some(drawn);
                break;
            }
        }
        let dial_code = dial_code.ok_or(StoreError::Invariant("no free dial code in eight draws"))?;
        let now = tenant_now(&mut tx.tx, tenant).await?;
        let otp = UssdOtp {
            id: UssdOtpId::generate(),
            status: UssdOtpStatus::Pending,
            dial_code,
            authorized_phone: new.authorized_phone.clone(),
            verification_message: new.verification_message.clone(),
            metadata: new.metadata.clone(),
            created_at: now,
            expire_at: now + new.duration,
        };
        sqlx::query(
            "INSERT INTO ussd_otps (id, space_id, environment, status, dial_code, authorized_phone, verification_message, \
             metadata, expire_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(otp.id.as_str())
        .bind(tenant.space_id.as_str())
        .bind(tenant.environment.as_str())
        .bind(otp.status.as_str())
        .bind(&otp.dial_code)
        .bind(&otp.authorized_phone)
        .bind(otp.verification_message.as_deref())
        .bind(encode_json_map(&otp.metadata))
        .bind(micros(otp.expire_at))
        .bind(micros(now))
        .execute(&mut *tx.tx)
        .await?;
        let body = render(&otp);
        self.commit_recording(tx, tenant, claim, otp, body).await
    }

    pub async fn get_ussd_otp(&self, tenant: &Tenant, id: &str) -> StoreResult<UssdOtp> {
        let sql = format!("SELECT {OTP_COLUMNS} FROM ussd_otps WHERE id = $1 AND $TENANT");
        let row = scoped(&sql, tenant).bind(id).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        otp_from_row(&row)
    }

    pub async fn list_ussd_otps(&self, tenant: &Tenant, page: PageRequest) -> StoreResult<Page<UssdOtp>> {
        let sql = format!(
            "SELECT {OTP_COLUMNS} FROM ussd_otps WHERE $TENANT AND ($1 IS NULL OR seq < $1) ORDER BY seq DESC LIMIT $2"
        );
        let rows = scoped(&sql, tenant).bind(page.after).bind(page.limit as i64 + 1).fetch_all(&self.pool).await?;
        page_of(rows, page.limit, otp_from_row)
    }

    /// Deletes an OTP in any state: a pending one can no longer be verified.
    pub async fn delete_ussd_otp(&self, tenant: &Tenant, id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let deleted =
            scoped("DELETE FROM ussd_otps WHERE id = $1 AND $TENANT", tenant).bind(id).execute(&mut *tx.tx).await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await
    }
}
