//! Permissions: `resource:action` words named after URL paths, and a bitset for the hot path.
//!
//! Wildcards (`*`, `resource:*`) are expanded when a token or role is written, so a stored set is
//! always explicit and the per-request check is one AND of two 64-bit masks.

use serde::{Deserialize, Serialize};

macro_rules! permissions {
    ($($variant:ident => $word:literal, $read_only:literal, $api:literal;)*) => {
        /// One thing a request may do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Permission { $($variant),* }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),*];

            pub fn word(self) -> &'static str {
                match self { $(Permission::$variant => $word),* }
            }

            /// True for `…:read` permissions.
            pub fn is_read(self) -> bool {
                match self { $(Permission::$variant => $read_only),* }
            }

            /// True for permissions over Monime's payment API (as opposed to Space management).
            pub fn is_api_resource(self) -> bool {
                match self { $(Permission::$variant => $api),* }
            }

            pub fn from_word(word: &str) -> Option<Permission> {
                match word { $($word => Some(Permission::$variant),)* _ => None }
            }
        }
    };
}

permissions! {
    FinancialAccountsRead => "financial-accounts:read", true, true;
    FinancialAccountsWrite => "financial-accounts:write", false, true;
    FinancialTransactionsRead => "financial-transactions:read", true, true;
    InternalTransfersRead => "internal-transfers:read", true, true;
    InternalTransfersWrite => "internal-transfers:write", false, true;
    PayoutsRead => "payouts:read", true, true;
    PayoutsWrite => "payouts:write", false, true;
    PaymentCodesRead => "payment-codes:read", true, true;
    PaymentCodesWrite => "payment-codes:write", false, true;
    PaymentsRead => "payments:read", true, true;
    PaymentsWrite => "payments:write", false, true;
    CheckoutSessionsRead => "checkout-sessions:read", true, true;
    CheckoutSessionsWrite => "checkout-sessions:write", false, true;
    ReceiptsRead => "receipts:read", true, true;
    ReceiptsWrite => "receipts:write", false, true;
    UssdOtpsRead => "ussd-otps:read", true, true;
    UssdOtpsWrite => "ussd-otps:write", false, true;
    WebhooksRead => "webhooks:read", true, true;
    WebhooksWrite => "webhooks:write", false, true;
    CatalogRead => "catalog:read", true, true;
    TestHelpersWrite => "test-helpers:write", false, true;
    AccessTokensRead => "access-tokens:read", true, false;
    AccessTokensWrite => "access-tokens:write", false, false;
    SpaceMembersRead => "space-members:read", true, false;
    SpaceMembersWrite => "space-members:write", false, false;
    SpaceRolesRead => "space-roles:read", true, false;
    SpaceRolesWrite => "space-roles:write", false, false;
    SpacePoliciesRead => "space-policies:read", true, false;
    SpacePoliciesWrite => "space-policies:write", false, false;
    SpaceOwnershipWrite => "space-ownership:write", false, false;
    AuditEventsRead => "audit-events:read", true, false;
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// A set of permissions as a bitmask: membership and intersection cost one instruction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PermissionSet(u64);

impl PermissionSet {
    pub const EMPTY: PermissionSet = PermissionSet(0);

    pub fn all() -> Self {
        Self::from_iter(Permission::ALL.iter().copied())
    }

    pub fn bits(self) -> u64 {
        self.0
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & (1u64 << p as u8) != 0
    }

    pub fn insert(&mut self, p: Permission) {
        self.0 |= 1u64 << p as u8;
    }

    pub fn intersect(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & other.0)
    }

    pub fn union(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 | other.0)
    }

    /// True when every permission in `self` is also in `other`.
    pub fn is_subset_of(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.iter().copied().filter(move |p| self.contains(*p))
    }

    /// The explicit words, in canonical order: the stored and wire form.
    pub fn words(self) -> Vec<String> {
        self.iter().map(|p| p.word().to_owned()).collect()
    }

    /// Expands words and wildcards (`*`, `resource:*`) into an explicit set. Unknown words are
    /// returned as the error so the caller can name them.
    pub fn expand<S: AsRef<str>>(words: &[S]) -> Result<PermissionSet, String> {
        let mut set = PermissionSet::EMPTY;
        for word in words {
            let word = word.as_ref().trim();
            if word == "*" {
                return Ok(PermissionSet::all());
            }
            if let Some(resource) = word.strip_suffix(":*") {
                let matching: Vec<_> =
                    Permission::ALL.iter().filter(|p| p.word().split(':').next() == Some(resource)).collect();
                if matching.is_empty() {
                    return Err(word.to_owned());
                }
                matching.into_iter().for_each(|p| set.insert(*p));
                continue;
            }
            set.insert(Permission::from_word(word).ok_or_else(|| word.to_owned())?);
        }
        Ok(set)
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut set = PermissionSet::EMPTY;
        iter.into_iter().for_each(|p| set.insert(p));
        set
    }
}

impl std::fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter().map(Permission::word)).finish()
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Permission::word))
    }
}

impl<'de> Deserialize<'de> for PermissionSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let words = Vec::<String>::deserialize(d)?;
        PermissionSet::expand(&words).map_err(|w| serde::de::Error::custom(format!("unknown permission `{w}`")))
    }
}

/// Which side of the intersection lacks a permission: the answer a refused caller needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingFrom {
    Token,
    Role,
    TokenAndRole,
}

/// Decides whether `needed` is in token ∩ role, and if not, which side lacks it.
pub fn decide(needed: Permission, token: PermissionSet, role: PermissionSet) -> Result<(), MissingFrom> {
    match (token.contains(needed), role.contains(needed)) {
        (true, true) => Ok(()),
        (false, true) => Err(MissingFrom::Token),
        (true, false) => Err(MissingFrom::Role),
        (false, false) => Err(MissingFrom::TokenAndRole),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_fit_in_the_mask_and_words_are_unique() {
        assert!(Permission::ALL.len() <= 64);
        let mut words: Vec<_> = Permission::ALL.iter().map(|p| p.word()).collect();
        words.sort();
        words.dedup();
        assert_eq!(words.len(), Permission::ALL.len());
        for p in Permission::ALL {
            assert_eq!(Permission::from_word(p.word()), Some(*p));
            assert_eq!(p.is_read(), p.word().ends_with(":read"));
        }
    }

    #[test]
    fn wildcards_expand_to_explicit_words() {
        let set = PermissionSet::expand(&["financial-accounts:*", "catalog:read"]).unwrap();
        assert_eq!(set.words(), vec!["financial-accounts:read", "financial-accounts:write", "catalog:read"]);
        assert_eq!(PermissionSet::expand(&["*"]).unwrap(), PermissionSet::all());
        assert_eq!(PermissionSet::expand(&["nope:*"]), Err("nope:*".into()));
        assert_eq!(PermissionSet::expand(&["payouts:delete"]), Err("payouts:delete".into()));
    }

    #[test]
    fn decision_names_the_missing_side() {
        let p = Permission::PayoutsWrite;
        let with: PermissionSet = [p].into_iter().collect();
        assert_eq!(decide(p, with, with), Ok(()));
        assert_eq!(decide(p, PermissionSet::EMPTY, with), Err(MissingFrom::Token));
        assert_eq!(decide(p, with, PermissionSet::EMPTY), Err(MissingFrom::Role));
        assert_eq!(decide(p, PermissionSet::EMPTY, PermissionSet::EMPTY), Err(MissingFrom::TokenAndRole));
    }
}
