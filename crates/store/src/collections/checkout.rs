//! Checkout sessions (create, read, list, delete before the customer starts; found by their page
//! token; paid and cancelled from their page) and the receipts completed ones leave (read,
//! redeemed all-or-nothing under the row's lock).

use super::clock::tenant_now;
use super::payment_codes::{for_update, settlement_account, CodeRejection};
use super::payments::{complete_payment, insert_payment};
use crate::backend::{Store, WriteTx};
use crate::codec::*;
use crate::error::{Conflict, StoreError, StoreResult};
use crate::idempotency::{IdempotencyClaim, Outcome};
use crate::journal;
use crate::tenant::scoped;
use crate::{page_of, Page, PageRequest};
use openmonime_domain::checkout::*;
use openmonime_domain::entities::{OwnerKind, Ownership, Tenant};
use openmonime_domain::event::{EventName, Snapshot};
use openmonime_domain::fees::{fees_for, FeeRule};
use openmonime_domain::ids::{new_transaction_reference, CheckoutSessionId, FinancialAccountId, PaymentId, SpaceId};
use openmonime_domain::money::Money;
use openmonime_domain::payment::{MomoChannel, Payment, PaymentStatus};
use openmonime_domain::receipt::{Receipt, RedeemRefusal, Redemption};
use openmonime_domain::test_rail::PayerOutcome;
use openmonime_domain::Environment;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use time::OffsetDateTime;

/// A create, validated by the caller (line items in one currency, their total in range).
#[derive(Debug, Clone)]
pub struct NewCheckoutSession {
    pub name: String,
    pub description: Option<String>,
    pub reference: Option<String>,
    pub cancel_url: Option<String>,
    pub success_url: Option<String>,
    pub callback_state: Option<String>,
    pub line_items: Vec<LineItem>,
    /// `None`: the tenant's main account.
    pub account: Option<FinancialAccountId>,
    pub payment_options: PaymentOptions,
    pub primary_color: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

/// The list has no filter; its cursors are bound to the list alone.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckoutFilter {}

/// A payment a customer submits on a session's page (validated by the caller).
#[derive(Debug, Clone)]
pub struct CheckoutAttempt<'a> {
    pub outcome: PayerOutcome,
    pub fees: &'a [FeeRule],
    pub channel: MomoChannel,
}

/// What a payment attempt did.
#[derive(Debug, Clone)]
pub enum CheckoutPaid {
    /// The payment completed and so did the session.
    Completed { session: Box<CheckoutSession>, payment: Box<Payment> },
    /// The provider has not confirmed yet; the session completes when it does.
    Processing { session: Box<CheckoutSession>, payment: Box<Payment> },
}

/// Why the page took no payment or cancellation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutRefusal {
    /// Completed, cancelled or expired (its `expireTime` passed).
    Ended(CheckoutStatus),
    /// A payment is under way at its provider.
    PaymentUnderWay,
    /// The provider declined (the document's failure code); the customer may try again.
    Declined(&'static str),
}

const SESSION_COLUMNS: &str = "seq, id, status, name, description, order_number, reference, token, cancel_url, \
     success_url, callback_state, line_items, account_id, payment_options, primary_color, started_at, expire_at, \
     metadata, created_at";

fn session_from_row(row: &AnyRow) -> StoreResult<CheckoutSession> {
    Ok(CheckoutSession {
        id: id(row, "id", CheckoutSessionId::parse)?,
        name: text(row, "name")?,
        description: opt_text(row, "description")?,
        status: CheckoutStatus::parse(&text(row, "status")?).ok_or_else(|| corrupt("status"))?,
        order_number: text(row, "order_number")?,
        reference: opt_text(row, "reference")?,
        token: text(row, "token")?,
        cancel_url: opt_text(row, "cancel_url")?,
        success_url: opt_text(row, "success_url")?,
        callback_state: opt_text(row, "callback_state")?,
        line_items: json_column(row, "line_items")?,
        financial_account: id(row, "account_id", FinancialAccountId::parse)?,
        payment_options: json_column(row, "payment_options")?,
        primary_color: opt_text(row, "primary_color")?,
        started_at: opt_time(row, "started_at")?,
        expire_at: time(row, "expire_at")?,
        created_at: time(row, "created_at")?,
        metadata: json_map(row, "metadata")?,
    })
}

fn receipt_from_row(row: &AnyRow) -> StoreResult<Receipt> {
    Ok(Receipt {
        order_number: text(row, "order_number")?,
        order_name: opt_text(row, "order_name")?,
        order_amount: Money { currency: currency(row, "currency")?, value: int(row, "amount")? },
        entitlements: json_column(row, "entitlements")?,
        metadata: json_map(row, "metadata")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|_| StoreError::Invariant("a checkout column serializes"))
}

async fn locked_session(tx: &mut WriteTx, tenant: &Tenant, id: &str) -> StoreResult<CheckoutSession> {
    let sql =
        format!("SELECT {SESSION_COLUMNS} FROM checkout_sessions WHERE id = $1 AND $TENANT{}", for_update(tx.backend));
    let row = scoped(&sql, tenant).bind(id).fetch_optional(&mut *tx.tx).await?.ok_or(StoreError::NotFound)?;
    session_from_row(&row)
}

/// Ends a session (status and its event) in the caller's transaction.
async fn end_session(
    tx: &mut WriteTx,
    tenant: &Tenant,
    session: &mut CheckoutSession,
    status: CheckoutStatus,
    now: OffsetDateTime,
) -> StoreResult<()> {
    session.status = status;
    scoped("UPDATE checkout_sessions SET status = $1, updated_at = $2 WHERE id = $3 AND $TENANT", tenant)
        .bind(status.as_str())
        .bind(micros(now))
        .bind(session.id.as_str())
        .execute(&mut *tx.tx)
        .await?;
    let name = match status {
        CheckoutStatus::Completed => EventName::CheckoutSessionCompleted,
        CheckoutStatus::Cancelled => EventName::CheckoutSessionCancelled,
        CheckoutStatus::Expired => EventName::CheckoutSessionExpired,
        CheckoutStatus::Pending => return Err(StoreError::Invariant("a session does not end pending")),
    };
    journal::publish(tx, tenant, name, &Snapshot::CheckoutSession(Box::new(session.clone()))).await?;
    Ok(())
}

/// A payment of session `id` completed (in the caller's transaction): the session completes, and
/// its receipt is written. A session that expired while its payment was under way completes too:
/// the customer paid.
pub(super) async fn complete_checkout(
    tx: &mut WriteTx,
    tenant: &Tenant,
    id: &str,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let mut session = locked_session(tx, tenant, id).await?;
    if session.status == CheckoutStatus::Completed {
        return Err(StoreError::Invariant("a checkout session completed twice"));
    }
    let total = session.total().ok_or(StoreError::Invariant("a stored session has a total"))?;
    sqlx::query(
        "INSERT INTO receipts (order_number, space_id, environment, order_name, currency, amount, entitlements, \
         metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(&session.order_number)
    .bind(tenant.space_id.as_str())
    .bind(tenant.environment.as_str())
    .bind(&session.name)
    .bind(total.currency.code())
    .bind(total.value)
    .bind(encode(&Receipt::entitlements_of(&session.line_items))?)
    .bind(encode_json_map(&session.metadata))
    .bind(micros(now))
    .execute(&mut *tx.tx)
    .await?;
    end_session(tx, tenant, &mut session, CheckoutStatus::Completed, now).await
}

/// Expires `id` if it is still pending past its time with no payment under way; whether it did.
pub(super) async fn expire_checkout(tx: &mut WriteTx, tenant: &Tenant, id: &str) -> StoreResult<bool> {
    let mut session = match locked_session(tx, tenant, id).await {
        Err(StoreError::NotFound) => return Ok(false),
        other => other?,
    };
    let now = tenant_now(&mut tx.tx, tenant).await?;
    if session.status != CheckoutStatus::Pending || now < session.expire_at || payment_under_way(tx, tenant, id).await?
    {
        return Ok(false);
    }
    end_session(tx, tenant, &mut session, CheckoutStatus::Expired, now).await?;
    Ok(true)
}

/// Session `id` locked, if its page may still act on it now: pending, not past its time, no
/// payment under way.
async fn open_session(
    tx: &mut WriteTx,
    tenant: &Tenant,
    id: &str,
) -> StoreResult<Result<(CheckoutSession, OffsetDateTime), CheckoutRefusal>> {
    let session = locked_session(tx, tenant, id).await?;
    let now = tenant_now(&mut tx.tx, tenant).await?;
    if !session.payable(now) {
        let status = if session.status == CheckoutStatus::Pending { CheckoutStatus::Expired } else { session.status };
        return Ok(Err(CheckoutRefusal::Ended(status)));
    }
    if payment_under_way(tx, tenant, id).await? {
        return Ok(Err(CheckoutRefusal::PaymentUnderWay));
    }
    Ok(Ok((session, now)))
}

async fn payment_under_way(tx: &mut WriteTx, tenant: &Tenant, session: &str) -> StoreResult<bool> {
    Ok(scoped("SELECT 1 AS busy FROM payments WHERE owner_id = $1 AND status <> 'completed' AND $TENANT", tenant)
        .bind(session)
        .fetch_optional(&mut *tx.tx)
        .await?
        .is_some())
}

impl Store {
    pub async fn create_checkout_session(
        &self,
        tenant: &Tenant,
        new: &NewCheckoutSession,
        claim: Option<&IdempotencyClaim>,
        render: impl FnOnce(&CheckoutSession) -> String,
    ) -> StoreResult<Result<Outcome<CheckoutSession>, CodeRejection>> {
        let total = total(&new.line_items).ok_or(StoreError::Invariant("a validated session has a total"))?;
        let mut tx = self.begin_write().await?;
        let account = match settlement_account(&mut tx.tx, tenant, new.account.as_ref(), total).await? {
            Ok(account) => account,
            Err(rejection) => {
                tx.rollback().await?;
                return self.refuse_recording(tenant, claim, rejection).await;
            }
        };
        let now = tenant_now(&mut tx.tx, tenant).await?;
        let session = CheckoutSession {
            id: CheckoutSessionId::generate(),
            name: new.name.clone(),
            description: new.description.clone(),
            status: CheckoutStatus::Pending,
            order_number: new_order_number(),
            reference: new.reference.clone(),
            token: new_page_token(),
            cancel_url: new.cancel_url.clone(),
            success_url: new.success_url.clone(),
            callback_state: new.callback_state.clone(),
            line_items: new.line_items.clone(),
            financial_account: account,
            payment_options: new.payment_options.clone(),
            primary_color: new.primary_color.clone(),
            started_at: None,
            expire_at: now + DEFAULT_LIFETIME,
            created_at: now,
            metadata: new.metadata.clone(),
        };
        sqlx::query(
            "INSERT INTO checkout_sessions (id, space_id, environment, status, name, description, order_number, reference, \
             token, cancel_url, success_url, callback_state, line_items, account_id, payment_options, primary_color, \
             expire_at, metadata, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .bind(session.id.as_str())
        .bind(tenant.space_id.as_str())
        .bind(tenant.environment.as_str())
        .bind(session.status.as_str())
        .bind(&session.name)
        .bind(session.description.as_deref())
        .bind(&session.order_number)
        .bind(session.reference.as_deref())
        .bind(&session.token)
        .bind(session.cancel_url.as_deref())
        .bind(session.success_url.as_deref())
        .bind(session.callback_state.as_deref())
        .bind(encode(&session.line_items)?)
        .bind(session.financial_account.as_str())
        .bind(encode(&session.payment_options)?)
        .bind(session.primary_color.as_deref())
        .bind(micros(session.expire_at))
        .bind(encode_json_map(&session.metadata))
        .bind(micros(now))
        .execute(&mut *tx.tx)
        .await?;
        let body = render(&session);
        Ok(Ok(self.commit_recording(tx, tenant, claim, session, body).await?))
    }

    pub async fn get_checkout_session(&self, tenant: &Tenant, id: &str) -> StoreResult<CheckoutSession> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM checkout_sessions WHERE id = $1 AND $TENANT");
        let row = scoped(&sql, tenant).bind(id).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        session_from_row(&row)
    }

    pub async fn list_checkout_sessions(
        &self,
        tenant: &Tenant,
        page: PageRequest,
    ) -> StoreResult<Page<CheckoutSession>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM checkout_sessions WHERE $TENANT AND ($1 IS NULL OR seq < $1) \
             ORDER BY seq DESC LIMIT $2"
        );
        let rows = scoped(&sql, tenant).bind(page.after).bind(page.limit as i64 + 1).fetch_all(&self.pool).await?;
        page_of(rows, page.limit, session_from_row)
    }

    /// Deletes a pending session the customer has not started (`Conflict::CheckoutStarted`).
    pub async fn delete_checkout_session(&self, tenant: &Tenant, id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let session = locked_session(&mut tx, tenant, id).await?;
        if session.status != CheckoutStatus::Pending || session.started_at.is_some() {
            return Err(StoreError::Conflict(Conflict::CheckoutStarted));
        }
        scoped("DELETE FROM checkout_sessions WHERE id = $1 AND $TENANT", tenant).bind(id).execute(&mut *tx.tx).await?;
        tx.commit().await
    }

    /// The session whose page `token` opens, with its tenant; `NotFound` for any other token.
    pub async fn checkout_by_token(&self, token: &str) -> StoreResult<(Tenant, CheckoutSession)> {
        let sql = format!("SELECT space_id, environment, {SESSION_COLUMNS} FROM checkout_sessions WHERE token = $1");
        let row = sqlx::query(&sql).bind(token).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
        let tenant = Tenant {
            space_id: id(&row, "space_id", SpaceId::parse)?,
            environment: Environment::parse(&text(&row, "environment")?).ok_or_else(|| corrupt("environment"))?,
        };
        Ok((tenant, session_from_row(&row)?))
    }

    /// A payment the customer submits on the page: refused if the session ended or a payment is
    /// under way; else the session is marked started and the provider answers — a decline leaves
    /// it pending for another try, a payment completes it now or when confirmed.
    pub async fn pay_checkout(
        &self,
        tenant: &Tenant,
        id: &str,
        attempt: &CheckoutAttempt<'_>,
    ) -> StoreResult<Result<CheckoutPaid, CheckoutRefusal>> {
        let mut tx = self.begin_write().await?;
        let (mut session, now) = match open_session(&mut tx, tenant, id).await? {
            Ok(open) => open,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if session.started_at.is_none() {
            session.started_at = Some(now);
            scoped("UPDATE checkout_sessions SET started_at = $1 WHERE id = $2 AND $TENANT", tenant)
                .bind(micros(now))
                .bind(id)
                .execute(&mut *tx.tx)
                .await?;
        }
        let completes_at = match attempt.outcome {
            PayerOutcome::Refused(reason) => {
                tx.commit().await?;
                return Ok(Err(CheckoutRefusal::Declined(reason)));
            }
            PayerOutcome::Succeeds | PayerOutcome::StaysProcessing => None,
            PayerOutcome::SucceedsAfter(seconds) => Some(micros(now + time::Duration::seconds(seconds))),
        };
        let amount = session.total().ok_or(StoreError::Invariant("a stored session has a total"))?;
        let mut payment = Payment {
            id: PaymentId::generate(),
            status: PaymentStatus::Processing,
            amount,
            channel: attempt.channel.clone(),
            name: Some(session.name.clone()),
            reference: session.reference.clone(),
            financial_account: session.financial_account.clone(),
            transaction_reference: None,
            order_number: Some(session.order_number.clone()),
            fees: fees_for(attempt.fees, amount),
            owner: Ownership {
                id: session.id.to_string(),
                kind: OwnerKind::CheckoutSession,
                metadata: session.metadata.clone(),
            },
            metadata: None,
            created_at: now,
            updated_at: None,
        };
        insert_payment(&mut tx.tx, tenant, &payment, completes_at).await?;
        journal::publish(&mut tx, tenant, EventName::PaymentCreated, &Snapshot::Payment(Box::new(payment.clone())))
            .await?;
        let done = if attempt.outcome == PayerOutcome::Succeeds {
            complete_payment(&mut tx, tenant, &mut payment, new_transaction_reference()).await?;
            let session = locked_session(&mut tx, tenant, id).await?;
            CheckoutPaid::Completed { session: Box::new(session), payment: Box::new(payment) }
        } else {
            CheckoutPaid::Processing { session: Box::new(session), payment: Box::new(payment) }
        };
        tx.commit().await?;
        Ok(Ok(done))
    }

    /// The customer cancels on the page (refused once the session ended or while a payment is
    /// under way).
    pub async fn cancel_checkout(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> StoreResult<Result<CheckoutSession, CheckoutRefusal>> {
        let mut tx = self.begin_write().await?;
        let (mut session, now) = match open_session(&mut tx, tenant, id).await? {
            Ok(open) => open,
            Err(refusal) => return Ok(Err(refusal)),
        };
        end_session(&mut tx, tenant, &mut session, CheckoutStatus::Cancelled, now).await?;
        tx.commit().await?;
        Ok(Ok(session))
    }

    /// Whether a payment of session `id` is still waiting for its provider.
    pub async fn checkout_payment_under_way(&self, tenant: &Tenant, id: &str) -> StoreResult<bool> {
        Ok(scoped("SELECT 1 AS busy FROM payments WHERE owner_id = $1 AND status <> 'completed' AND $TENANT", tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    pub async fn get_receipt(&self, tenant: &Tenant, order_number: &str) -> StoreResult<Receipt> {
        let row = scoped("SELECT * FROM receipts WHERE order_number = $1 AND $TENANT", tenant)
            .bind(order_number)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        receipt_from_row(&row)
    }

    /// Redeems under the receipt's row lock, all or nothing: `Ok((true, receipt))` redeemed;
    /// `Ok((false, receipt))` nothing was (over a limit, or nothing left); an unknown key is
    /// `Err(Ok(key))`.
    pub async fn redeem_receipt(
        &self,
        tenant: &Tenant,
        order_number: &str,
        redemption: &Redemption,
        claim: Option<&IdempotencyClaim>,
        render: impl FnOnce(bool, &Receipt) -> String,
    ) -> StoreResult<Result<Outcome<(bool, Receipt)>, String>> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT * FROM receipts WHERE order_number = $1 AND $TENANT{}", for_update(tx.backend));
        let row =
            scoped(&sql, tenant).bind(order_number).fetch_optional(&mut *tx.tx).await?.ok_or(StoreError::NotFound)?;
        let mut receipt = receipt_from_row(&row)?;
        let redeemed = match receipt.redeem(redemption) {
            Ok(()) => true,
            Err(RedeemRefusal::UnknownKey(key)) => {
                tx.rollback().await?;
                return self.refuse_recording(tenant, claim, key).await;
            }
            Err(RedeemRefusal::OverLimit(_) | RedeemRefusal::NothingLeft) => false,
        };
        if redeemed {
            receipt.updated_at = tenant_now(&mut tx.tx, tenant).await?;
            scoped(
                "UPDATE receipts SET entitlements = $1, updated_at = $2 WHERE order_number = $3 AND $TENANT",
                tenant,
            )
            .bind(encode(&receipt.entitlements)?)
            .bind(micros(receipt.updated_at))
            .bind(order_number)
            .execute(&mut *tx.tx)
            .await?;
        }
        let body = render(redeemed, &receipt);
        Ok(Ok(self.commit_recording(tx, tenant, claim, (redeemed, receipt), body).await?))
    }
}
