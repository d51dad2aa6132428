//! Rails: how the server reaches a provider (a mobile-money operator, a bank) for what only the
//! provider knows. One interface, one implementation per environment: the test environment's
//! is the test rail (`domain::test_rail`), always there; live has none until a provider's
//! connector is plugged in, and an operation that needs one answers so, naming the provider.

use crate::views::catalogue::Provider;
use openmonime_domain::entities::Tenant;
use openmonime_domain::ids::random_base62;
use openmonime_domain::payment::{fingerprint, mask_phone, MomoChannel};
use openmonime_domain::payout::{Payout, PayoutFailure};
use openmonime_domain::test_rail::{self, PayerOutcome, ProviderKind, Unknown};
use openmonime_domain::Environment;
use openmonime_store::payouts::Settlement;
use openmonime_store::{Store, StoreError};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// An account as its provider knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountHolder {
    pub account_id: String,
    pub holder_name: String,
}

/// Why a rail gives no holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupRefusal {
    /// The id cannot be an account at this provider.
    MalformedAccount,
    /// The provider has no such account.
    NoSuchAccount,
}

/// What a rail answers; boxed so a rail can be chosen at run time.
pub type Lookup<'a> = Pin<Box<dyn Future<Output = Result<AccountHolder, LookupRefusal>> + Send + 'a>>;

/// What a rail answers of a payout it was sent.
pub type PayoutAnswer<'a> = Pin<Box<dyn Future<Output = Result<Settlement, StoreError>> + Send + 'a>>;

/// How long a rail that cannot yet say how a payout ended is left before it is asked again.
pub const ASK_AGAIN_AFTER: time::Duration = time::Duration::minutes(1);

/// A connection to the providers of one environment.
pub trait Rail: Send + Sync {
    /// Whether this rail can look up account holders at `provider`.
    fn verifies_accounts(&self, provider: &Provider, kind: ProviderKind) -> bool;

    /// The holder of `account` at `provider`.
    fn account_holder<'a>(&'a self, provider: &'a Provider, kind: ProviderKind, account: &'a str) -> Lookup<'a>;

    /// Whether this rail can collect payments from customers of `provider`.
    fn collects_from(&self, provider: &Provider, kind: ProviderKind) -> bool;

    /// What `provider` does with a payment from `phone` (E.164).
    fn payer_outcome(&self, provider: &Provider, phone: &str) -> PayerOutcome;

    /// Whether this rail can pay out to accounts at `provider`.
    fn pays_to(&self, provider: &Provider, kind: ProviderKind) -> bool;

    /// Sends `payout` to its destination's provider — or, if it was sent before, asks how it
    /// went: the payout's id is its idempotency key at the provider, so asking again after a
    /// crash, or from a second node, never pays twice.
    fn send_payout<'a>(&'a self, store: &'a Store, tenant: &'a Tenant, payout: &'a Payout) -> PayoutAnswer<'a>;
}

/// The test environment's rail: the published test accounts, at every provider of the catalogue.
pub struct TestRail;

impl Rail for TestRail {
    fn verifies_accounts(&self, _: &Provider, _: ProviderKind) -> bool {
        true
    }

    fn account_holder<'a>(&'a self, _: &'a Provider, kind: ProviderKind, account: &'a str) -> Lookup<'a> {
        let found = test_rail::account(kind, account)
            .map(|a| AccountHolder { account_id: a.id.to_owned(), holder_name: a.holder_name.to_owned() })
            .map_err(|unknown| match unknown {
                Unknown::Malformed => LookupRefusal::MalformedAccount,
                Unknown::NoSuchAccount => LookupRefusal::NoSuchAccount,
            });
        Box::pin(std::future::ready(found))
    }

    /// Every momo: the test rail's customers pay by mobile money.
    fn collects_from(&self, _: &Provider, kind: ProviderKind) -> bool {
        kind == ProviderKind::Momo
    }

    fn payer_outcome(&self, _: &Provider, phone: &str) -> PayerOutcome {
        test_rail::payer_outcome(phone)
    }

    /// Every provider of the catalogue.
    fn pays_to(&self, _: &Provider, _: ProviderKind) -> bool {
        true
    }

    /// The test rail's providers record the payout once (by its key) and settle it as the magic
    /// destinations say (`test_rail::payout_outcome`), on the Space's test clock.
    fn send_payout<'a>(&'a self, store: &'a Store, tenant: &'a Tenant, payout: &'a Payout) -> PayoutAnswer<'a> {
        Box::pin(async move {
            let (reference, accepted_at) = store.test_rail_accept_payout(tenant, payout.id.as_str(), payout).await?;
            let now = store.tenant_now(tenant).await?;
            Ok(match test_rail::payout_outcome(payout.destination.kind, &payout.destination.account) {
                PayerOutcome::Succeeds => Settlement::Completed { reference },
                PayerOutcome::SucceedsAfter(seconds) => {
                    let due = accepted_at + time::Duration::seconds(seconds);
                    if now >= due {
                        Settlement::Completed { reference }
                    } else {
                        Settlement::AskAgainAt(due)
                    }
                }
                PayerOutcome::StaysProcessing => Settlement::AskAgainAt(now + ASK_AGAIN_AFTER),
                PayerOutcome::Refused(code) => Settlement::Failed {
                    code: PayoutFailure::parse(code).unwrap_or(PayoutFailure::Unknown),
                    message: None,
                },
            })
        })
    }
}

/// How a payer from `phone` at `provider` shows to the merchant of `space`: a new provider
/// reference, the number masked, and its fingerprint. One rule for the dial and the hosted page,
/// so a returning payer has the same fingerprint however they paid.
pub async fn payer_channel(
    store: &openmonime_store::Store,
    space: &str,
    provider: &str,
    phone: &str,
) -> Result<MomoChannel, openmonime_store::StoreError> {
    let key = store.cursor_key().await?.derive("payer-fingerprint");
    Ok(MomoChannel {
        provider: provider.to_owned(),
        reference: format!("MP{}", random_base62(12).to_uppercase()),
        phone_masked: mask_phone(phone),
        fingerprint: fingerprint(&key, space, phone),
    })
}

/// The rail of each environment.
#[derive(Clone)]
pub struct Rails {
    pub test: Arc<dyn Rail>,
    /// `None`: no provider is connected in live.
    pub live: Option<Arc<dyn Rail>>,
}

impl Default for Rails {
    fn default() -> Self {
        Rails { test: Arc::new(TestRail), live: None }
    }
}

impl std::fmt::Debug for Rails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rails").field("live", &self.live.is_some()).finish()
    }
}

impl Rails {
    /// The rail of `environment`, if one is connected.
    pub fn of(&self, environment: Environment) -> Option<&dyn Rail> {
        match environment {
            Environment::Test => Some(self.test.as_ref()),
            Environment::Live => self.live.as_deref(),
        }
    }
}
