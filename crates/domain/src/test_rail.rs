//! The test rail's customers: the mobile-money and bank accounts that exist in the test
//! environment, with their holders, so that a provider-KYC lookup (and, later, a payment) has a
//! known, published answer — like Stripe's test cards. Pure data and the rules that read it; the
//! HTTP crate's `rail` module serves it behind the same interface a real provider's rail has.

/// An account the test rail knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestAccount {
    /// The provider's kind of account: a phone number for a momo, an account number for a bank.
    pub id: &'static str,
    pub holder_name: &'static str,
}

/// Mobile-money accounts (every momo of the catalogue has them), by phone number in E.164.
pub const MOMO_ACCOUNTS: &[TestAccount] = &[
    TestAccount { id: "+23276000001", holder_name: "Aminata Kamara" },
    TestAccount { id: "+23276000002", holder_name: "Mohamed Sesay" },
    TestAccount { id: "+23277000003", holder_name: "Fatmata Conteh" },
    TestAccount { id: "+23288000004", holder_name: "Ibrahim Bangura" },
];

/// Bank accounts (every bank of the catalogue has them), by account number.
pub const BANK_ACCOUNTS: &[TestAccount] = &[
    TestAccount { id: "0010000001", holder_name: "Kadiatu Koroma" },
    TestAccount { id: "0010000002", holder_name: "Abu Turay" },
];

/// What the test rail's provider does with a payment from a phone number: the magic numbers
/// below choose an outcome, like Stripe's test cards and the mobile-money sandboxes' numbers;
/// every other well-formed number pays at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayerOutcome {
    /// The provider confirms at once.
    Succeeds,
    /// The provider confirms this many seconds later, on the Space's test clock.
    SucceedsAfter(i64),
    /// The provider never answers: the payment stays `processing`.
    StaysProcessing,
    /// The provider refuses the payment, with this reason (the document's failure codes).
    Refused(&'static str),
}

/// The magic payer numbers, with what each does; docs/test-rail.md publishes the same table.
pub const MAGIC_PAYERS: &[(&str, PayerOutcome)] = &[
    ("+23277000091", PayerOutcome::SucceedsAfter(30)),
    ("+23277000092", PayerOutcome::StaysProcessing),
    ("+23277000093", PayerOutcome::Refused("fund_insufficient")),
    ("+23277000094", PayerOutcome::Refused("authorization_failed")),
    ("+23277000095", PayerOutcome::Refused("provider_account_blocked")),
    ("+23277000096", PayerOutcome::Refused("provider_account_missing")),
    ("+23277000097", PayerOutcome::Refused("provider_account_quota_exhausted")),
    ("+23277000098", PayerOutcome::Refused("provider_unknown")),
    ("+23277000099", PayerOutcome::Refused("unknown")),
];

/// How long, on the Space's test clock, the test rail's providers take to settle an ordinary
/// payout.
pub const PAYOUT_SETTLES_AFTER: i64 = 5;

/// The magic payout destinations — a momo number, a bank account number and a wallet id per row,
/// with what a payout to any of them does; docs/test-rail.md publishes the same table. A refusal
/// comes with the provider's first answer; every other well-formed destination settles
/// [`PAYOUT_SETTLES_AFTER`] seconds after it was sent.
pub const MAGIC_DESTINATIONS: &[(&str, &str, &str, PayerOutcome)] = &[
    ("+23276000101", "0010000101", "wallet-101", PayerOutcome::SucceedsAfter(60)),
    ("+23276000102", "0010000102", "wallet-102", PayerOutcome::StaysProcessing),
    ("+23276000103", "0010000103", "wallet-103", PayerOutcome::Refused("provider_account_missing")),
    ("+23276000104", "0010000104", "wallet-104", PayerOutcome::Refused("provider_account_blocked")),
    ("+23276000105", "0010000105", "wallet-105", PayerOutcome::Refused("provider_account_quota_exhausted")),
    ("+23276000106", "0010000106", "wallet-106", PayerOutcome::Refused("authorization_failed")),
    ("+23276000107", "0010000107", "wallet-107", PayerOutcome::Refused("provider_unknown")),
    ("+23276000108", "0010000108", "wallet-108", PayerOutcome::Refused("unknown")),
    ("+23276000109", "0010000109", "wallet-109", PayerOutcome::Refused("fund_insufficient")),
];

/// What the test rail's provider does with a payout to `account` (a phone number, an account
/// number or a wallet id, as `kind` says).
pub fn payout_outcome(kind: ProviderKind, account: &str) -> PayerOutcome {
    MAGIC_DESTINATIONS
        .iter()
        .find(|(momo, bank, wallet, _)| {
            account
                == match kind {
                    ProviderKind::Momo => *momo,
                    ProviderKind::Bank => *bank,
                    ProviderKind::Wallet => *wallet,
                }
        })
        .map_or(PayerOutcome::SucceedsAfter(PAYOUT_SETTLES_AFTER), |row| row.3)
}

/// What paying from `phone` does at the test rail's providers.
pub fn payer_outcome(phone: &str) -> PayerOutcome {
    MAGIC_PAYERS.iter().find(|(p, _)| *p == phone).map_or(PayerOutcome::Succeeds, |(_, o)| *o)
}

/// Why the test rail has no holder for an account id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// The id cannot be an account of this kind (a momo's is `+232` and 8 digits; a bank's, 6
    /// to 20 digits).
    Malformed,
    /// Well formed, but no such account exists in the test environment.
    NoSuchAccount,
}

/// Whether a provider is a bank, a mobile-money operator or a digital wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Momo,
    Bank,
    Wallet,
}

impl ProviderKind {
    /// The word the document uses (`destination.type`, a provider's `type`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Momo => "momo",
            ProviderKind::Bank => "bank",
            ProviderKind::Wallet => "wallet",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ProviderKind::Momo, ProviderKind::Bank, ProviderKind::Wallet].into_iter().find(|k| k.as_str() == s)
    }

    /// Whether `id` can be an account at a provider of this kind: a momo's is `+232` and eight
    /// digits; a bank's, 6 to 20 digits; a wallet's, 1 to 64 letters, digits, `-` or `_` (Monime
    /// publishes no format for wallet ids, so this is the id alphabet of the document).
    pub fn is_account(self, id: &str) -> bool {
        match self {
            ProviderKind::Momo => is_sierra_leone_msisdn(id),
            ProviderKind::Bank => (6..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit()),
            ProviderKind::Wallet => {
                (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }
        }
    }
}

/// The test account `id` names at a provider of `kind`.
pub fn account(kind: ProviderKind, id: &str) -> Result<TestAccount, Unknown> {
    let table = match kind {
        ProviderKind::Momo => MOMO_ACCOUNTS,
        ProviderKind::Bank => BANK_ACCOUNTS,
        ProviderKind::Wallet => &[],
    };
    if !kind.is_account(id) {
        return Err(Unknown::Malformed);
    }
    table.iter().find(|a| a.id == id).copied().ok_or(Unknown::NoSuchAccount)
}

/// `+232` and eight digits: a Sierra Leone phone number in E.164.
pub fn is_sierra_leone_msisdn(id: &str) -> bool {
    id.strip_prefix("+232").is_some_and(|rest| rest.len() == 8 && rest.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_accounts_are_found_and_others_are_told_apart() {
        assert_eq!(account(ProviderKind::Momo, "+23276000001").unwrap().holder_name, "Aminata Kamara");
        assert_eq!(account(ProviderKind::Bank, "0010000002").unwrap().holder_name, "Abu Turay");
        assert_eq!(account(ProviderKind::Momo, "+23276999999"), Err(Unknown::NoSuchAccount));
        for bad in ["23276000001", "+2327600000", "+23276000001 ", "+2337600000a", ""] {
            assert_eq!(account(ProviderKind::Momo, bad), Err(Unknown::Malformed), "{bad:?}");
        }
        assert_eq!(account(ProviderKind::Bank, "12345"), Err(Unknown::Malformed));
        assert_eq!(account(ProviderKind::Bank, "+23276000001"), Err(Unknown::Malformed), "a phone is no bank account");
    }

    #[test]
    fn docs_test_rail_md_publishes_exactly_these_accounts() {
        let doc = include_str!("../../../docs/test-rail.md");
        for a in MOMO_ACCOUNTS.iter().chain(BANK_ACCOUNTS) {
            assert!(doc.contains(&format!("| `{}` | {} |", a.id, a.holder_name)), "{} is not published", a.id);
        }
        let rows = doc.lines().filter(|l| l.starts_with("| `")).count();
        assert_eq!(
            rows,
            MOMO_ACCOUNTS.len() + BANK_ACCOUNTS.len() + MAGIC_PAYERS.len() + MAGIC_DESTINATIONS.len(),
            "the doc lists an account or a payer the rail lacks"
        );
    }

    #[test]
    fn docs_test_rail_md_publishes_every_magic_payer() {
        let doc = include_str!("../../../docs/test-rail.md");
        for (phone, outcome) in MAGIC_PAYERS {
            let what = match outcome {
                PayerOutcome::Succeeds => "succeeds at once".to_owned(),
                PayerOutcome::SucceedsAfter(s) => format!("succeeds after {s} s"),
                PayerOutcome::StaysProcessing => "stays processing".to_owned(),
                PayerOutcome::Refused(reason) => format!("refused: `{reason}`"),
            };
            assert!(doc.contains(&format!("| `{phone}` | {what} |")), "{phone} ({what}) is not published");
            assert!(is_sierra_leone_msisdn(phone));
            assert!(MOMO_ACCOUNTS.iter().all(|a| a.id != *phone), "a magic payer is no KYC account");
        }
        assert_eq!(payer_outcome("+23276000001"), PayerOutcome::Succeeds);
    }

    #[test]
    fn docs_test_rail_md_publishes_every_magic_destination_and_each_failure_code_has_one() {
        let doc = include_str!("../../../docs/test-rail.md");
        for (momo, bank, wallet, outcome) in MAGIC_DESTINATIONS {
            let what = match outcome {
                PayerOutcome::Succeeds => "completes at once".to_owned(),
                PayerOutcome::SucceedsAfter(s) => format!("completes after {s} s"),
                PayerOutcome::StaysProcessing => "stays processing".to_owned(),
                PayerOutcome::Refused(reason) => format!("fails: `{reason}`"),
            };
            assert!(
                doc.contains(&format!("| `{momo}` | `{bank}` | `{wallet}` | {what} |")),
                "{momo} ({what}) is not published"
            );
            for (kind, account) in
                [(ProviderKind::Momo, momo), (ProviderKind::Bank, bank), (ProviderKind::Wallet, wallet)]
            {
                assert!(kind.is_account(account), "{account} is not a {kind:?} account");
                assert_eq!(payout_outcome(kind, account), *outcome);
            }
        }
        for code in crate::payout::PayoutFailure::ALL {
            assert!(
                MAGIC_DESTINATIONS.iter().any(|row| row.3 == PayerOutcome::Refused(code.as_str())),
                "no magic destination fails with `{}`",
                code.as_str()
            );
        }
        assert_eq!(
            payout_outcome(ProviderKind::Momo, "+23276000001"),
            PayerOutcome::SucceedsAfter(PAYOUT_SETTLES_AFTER)
        );
        assert_eq!(
            payout_outcome(ProviderKind::Bank, "+23276000103"),
            PayerOutcome::SucceedsAfter(PAYOUT_SETTLES_AFTER),
            "a momo's magic number means nothing at a bank"
        );
    }

    #[test]
    fn every_published_account_is_well_formed_and_listed_once() {
        for (kind, table) in [(ProviderKind::Momo, MOMO_ACCOUNTS), (ProviderKind::Bank, BANK_ACCOUNTS)] {
            for (i, a) in table.iter().enumerate() {
                assert_eq!(account(kind, a.id), Ok(*a));
                assert!(table[..i].iter().all(|b| b.id != a.id), "{} twice", a.id);
            }
        }
    }
}
