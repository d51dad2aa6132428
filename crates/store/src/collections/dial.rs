//! The dial: what a customer's handset does with a dial string, in one transaction. It finds the
//! tenant's payment code or USSD OTP holding the string, applies every rule of it (and then the
//! provider's answer, for a payment), and pays or verifies it — or refuses and writes nothing.
//!
//! Concurrent dials of one code take its row lock in turn (PostgreSQL `FOR UPDATE`; SQLite's
//! writer is exclusive), and the second sees what the first did: a one-time code is paid once.

use super::clock::tenant_now;
use super::payment_codes::{code_from_row, for_update, save_and_publish, CODE_COLUMNS};
use super::payments::{complete_payment, insert_payment};
use super::ussd_otps::{otp_from_row, settle_otp, OTP_COLUMNS};
use crate::backend::{Store, WriteTx};
use crate::codec::micros;
use crate::error::StoreResult;
use crate::idempotency::{IdempotencyClaim, Outcome};
use crate::journal;
use crate::tenant::scoped;
use openmonime_domain::entities::Tenant;
use openmonime_domain::event::{EventName, Snapshot};
use openmonime_domain::fees::{fees_for, FeeRule};
use openmonime_domain::ids::{new_transaction_reference, PaymentId};
use openmonime_domain::money::Money;
use openmonime_domain::payment::{MomoChannel, Payment, PaymentStatus};
use openmonime_domain::payment_code::{DialRefusal, Payer, PaymentCode, ProcessedPayment};
use openmonime_domain::test_rail::PayerOutcome;
use openmonime_domain::ussd_otp::{UssdOtp, UssdOtpStatus, VerifyRefusal};

/// One dial, as the handset and the provider present it (validated by the caller).
#[derive(Debug, Clone)]
pub struct Dial<'a> {
    pub dial_string: &'a str,
    /// E.164.
    pub phone: &'a str,
    pub provider: &'a str,
    pub amount: Option<Money>,
    /// What the provider does with a payment from this phone.
    pub outcome: PayerOutcome,
    /// The Space's fee schedule.
    pub fees: &'a [FeeRule],
    /// The payer's channel as the merchant sees it (masked number, fingerprint, reference).
    pub channel: MomoChannel,
}

/// What a dial did.
#[derive(Debug, Clone)]
pub enum Dialed {
    /// A payment was made through the code (completed, or still processing at its provider).
    Paid {
        code: Box<PaymentCode>,
        payment: Box<Payment>,
    },
    Verified(UssdOtp),
}

/// Why a dial did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialRejection {
    /// No code or OTP of the tenant has ever held the string.
    NoSuchDialString,
    Code(DialRefusal),
    Otp(VerifyRefusal),
    /// The provider refused the payment, with the document's failure code.
    Provider(&'static str),
}

impl Store {
    /// Performs `dial` for `tenant` (see the module's description).
    pub async fn dial(
        &self,
        tenant: &Tenant,
        dial: &Dial<'_>,
        claim: Option<&IdempotencyClaim>,
        render: impl FnOnce(&Dialed) -> String,
    ) -> StoreResult<Result<Outcome<Dialed>, DialRejection>> {
        let mut tx = self.begin_write().await?;
        let done = match self.dial_in(&mut tx, tenant, dial).await? {
            Ok(done) => done,
            Err(rejection) => {
                tx.rollback().await?;
                return self.refuse_recording(tenant, claim, rejection).await;
            }
        };
        let body = render(&done);
        Ok(Ok(self.commit_recording(tx, tenant, claim, done, body).await?))
    }

    async fn dial_in(
        &self,
        tx: &mut WriteTx,
        tenant: &Tenant,
        dial: &Dial<'_>,
    ) -> StoreResult<Result<Dialed, DialRejection>> {
        let lock = for_update(tx.backend);
        // The live code holding the string, else the tenant's latest code that held it (to say
        // why it takes no payment).
        let live = format!(
            "SELECT {CODE_COLUMNS} FROM payment_codes WHERE ussd_code = $1 AND status IN ('pending', 'processing') \
             AND $TENANT{lock}"
        );
        let mut row = scoped(&live, tenant).bind(dial.dial_string).fetch_optional(&mut *tx.tx).await?;
        if row.is_none() {
            let latest = format!(
                "SELECT {CODE_COLUMNS} FROM payment_codes WHERE ussd_code = $1 AND $TENANT ORDER BY seq DESC LIMIT 1"
            );
            row = scoped(&latest, tenant).bind(dial.dial_string).fetch_optional(&mut *tx.tx).await?;
        }
        if let Some(row) = row {
            let code = code_from_row(&row)?;
            return self.pay(tx, tenant, dial, code).await;
        }
        let otp = format!(
            "SELECT {OTP_COLUMNS} FROM ussd_otps WHERE dial_code = $1 AND $TENANT \
             ORDER BY CASE WHEN status = 'pending' THEN 0 ELSE 1 END, seq DESC LIMIT 1{lock}"
        );
        let Some(row) = scoped(&otp, tenant).bind(dial.dial_string).fetch_optional(&mut *tx.tx).await? else {
            return Ok(Err(DialRejection::NoSuchDialString));
        };
        let mut otp = otp_from_row(&row)?;
        let now = tenant_now(&mut tx.tx, tenant).await?;
        if let Err(refusal) = otp.admit(dial.phone, now) {
            return Ok(Err(DialRejection::Otp(refusal)));
        }
        settle_otp(tx, tenant, &mut otp, UssdOtpStatus::Verified, EventName::UssdOtpVerified).await?;
        Ok(Ok(Dialed::Verified(otp)))
    }

    /// Pays `code` as `dial` presents, if its rules and then the provider allow.
    async fn pay(
        &self,
        tx: &mut WriteTx,
        tenant: &Tenant,
        dial: &Dial<'_>,
        mut code: PaymentCode,
    ) -> StoreResult<Result<Dialed, DialRejection>> {
        let now = tenant_now(&mut tx.tx, tenant).await?;
        let payer = Payer { phone: dial.phone, provider: dial.provider, amount: dial.amount };
        let amount = match code.admit(&payer, now) {
            Ok(amount) => amount,
            Err(refusal) => return Ok(Err(DialRejection::Code(refusal))),
        };
        let completes_at = match dial.outcome {
            PayerOutcome::Refused(reason) => return Ok(Err(DialRejection::Provider(reason))),
            PayerOutcome::Succeeds | PayerOutcome::StaysProcessing => None,
            PayerOutcome::SucceedsAfter(seconds) => Some(micros(now + time::Duration::seconds(seconds))),
        };
        let mut payment = Payment {
            id: PaymentId::generate(),
            status: PaymentStatus::Processing,
            amount,
            channel: dial.channel.clone(),
            name: code.name.clone(),
            reference: code.reference.clone(),
            financial_account: code.financial_account.clone(),
            transaction_reference: None,
            order_number: None,
            fees: fees_for(dial.fees, amount),
            owner: code.as_owner(),
            metadata: None,
            created_at: now,
            updated_at: None,
        };
        insert_payment(&mut tx.tx, tenant, &payment, completes_at).await?;
        let completes_now = dial.outcome == PayerOutcome::Succeeds;
        let reference = completes_now.then(new_transaction_reference);
        code.start_payment();
        code.updated_at = Some(now);
        code.processed = Some(ProcessedPayment {
            amount,
            payment_id: payment.id.clone(),
            provider: payment.channel.provider.clone(),
            account: payment.channel.phone_masked.clone(),
            reference: payment.channel.reference.clone(),
            transaction_reference: reference.clone(),
            metadata: payment.metadata.clone(),
        });
        save_and_publish(tx, tenant, &code, EventName::PaymentCodeProcessed).await?;
        code.processed = None;
        journal::publish(tx, tenant, EventName::PaymentCreated, &Snapshot::Payment(Box::new(payment.clone()))).await?;
        if let Some(reference) = reference {
            complete_payment(tx, tenant, &mut payment, reference).await?;
            code = super::payment_codes::locked_code(tx, tenant, code.id.as_str()).await?;
        }
        Ok(Ok(Dialed::Paid { code: Box::new(code), payment: Box::new(payment) }))
    }
}
