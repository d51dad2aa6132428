//! The catalogue's wire shapes (Monime's `Country`, `Bank` and `Momo`), which are also the shape
//! of the catalogue file an operator may replace (`--catalogue PATH`): the data is written as the
//! API answers it, so what the file says is exactly what a client reads.

use super::{open, Time};
use crate::handlers::params::PathParam;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// A response object as the document gives it: open (see [`open`]) and not closed either. The
/// types refuse unknown fields only so that a typo in a catalogue file is an error at start.
fn unclosed(schema: &mut schemars::Schema) {
    open(schema);
    if schema.get("additionalProperties") == Some(&serde_json::Value::Bool(false)) {
        schema.remove("additionalProperties");
    }
}

/// The shipped catalogue (see its `_about` lines).
pub const SHIPPED: &str = include_str!("../../catalogue.json");

/// Every country, bank and mobile-money provider this deployment lists.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Free text for whoever edits the file; never served.
    #[serde(default, rename = "_about")]
    _about: Vec<String>,
    pub countries: Vec<Country>,
    pub banks: Vec<Provider>,
    pub momos: Vec<Provider>,
    /// Digital wallets: listed by no endpoint, checked by payouts (absent in an older file).
    #[serde(default)]
    pub wallets: Vec<Provider>,
}

impl Catalogue {
    /// Parses and checks a catalogue file: unique country codes and provider ids, every
    /// provider in a listed country, each currency among its country's supported ones.
    pub fn parse(text: &str) -> Result<Catalogue, String> {
        let catalogue: Catalogue =
            serde_json::from_str(text).map_err(|e| format!("the catalogue is not valid: {e}"))?;
        let mut codes = HashSet::new();
        for country in &catalogue.countries {
            if country.code.len() != 2 || !country.code.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!("country `{}`: a code is two capital letters (ISO 3166-1 alpha-2)", country.code));
            }
            if !codes.insert(country.code.as_str()) {
                return Err(format!("country `{}` is listed twice", country.code));
            }
            if !country.supported_currencies.contains(&country.currency.code) {
                return Err(format!("country `{}`: its currency must be among its supportedCurrencies", country.code));
            }
        }
        let mut ids = HashSet::new();
        for provider in catalogue.banks.iter().chain(&catalogue.momos).chain(&catalogue.wallets) {
            if ProviderId::parse(&provider.provider_id).is_none() {
                return Err(format!(
                    "provider `{}`: an id is 1 to 64 letters, digits, `-` or `_`",
                    provider.provider_id
                ));
            }
            // Ids are unique across kinds: a payment names a provider by its id alone.
            if !ids.insert(provider.provider_id.as_str()) {
                return Err(format!("provider `{}` is listed twice", provider.provider_id));
            }
            if !codes.contains(provider.country.as_str()) {
                return Err(format!(
                    "provider `{}`: country `{}` is not listed",
                    provider.provider_id, provider.country
                ));
            }
        }
        Ok(catalogue)
    }

    /// The providers of one kind.
    pub fn of_kind(&self, kind: openmonime_domain::test_rail::ProviderKind) -> &[Provider] {
        use openmonime_domain::test_rail::ProviderKind;
        match kind {
            ProviderKind::Bank => &self.banks,
            ProviderKind::Momo => &self.momos,
            ProviderKind::Wallet => &self.wallets,
        }
    }

    /// The shipped catalogue.
    pub fn shipped() -> Catalogue {
        Catalogue::parse(SHIPPED).expect("the shipped catalogue is valid (a unit test checks it)")
    }
}

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue::shipped()
    }
}

/// A country the platform serves (`GET /v1/countries`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(transform = unclosed)]
pub struct Country {
    /// ISO 3166-1 alpha-2.
    pub code: String,
    pub name: String,
    /// The country's default currency.
    pub currency: CountryCurrency,
    /// ISO 4217 codes, the default's among them (the document allows `null`; this server
    /// always lists them).
    #[schemars(extend("nullable" = true))]
    pub supported_currencies: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(inline, transform = unclosed)]
pub struct CountryCurrency {
    pub code: String,
    /// The minor unit's name (`cent`).
    pub unit: String,
    /// How many decimal places the minor unit is.
    pub unit_length: i64,
}

/// A bank or a mobile-money provider (Monime's `Bank` and `Momo` have one shape).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(transform = unclosed)]
pub struct Provider {
    /// The provider's id as Monime assigns it (`slb001`, `m17`).
    pub provider_id: String,
    pub name: String,
    /// The ISO 3166-1 alpha-2 code of its country.
    pub country: String,
    pub status: ProviderStatus,
    /// What this deployment can do with the provider.
    pub feature_set: FeatureSet,
    pub create_time: Time,
    pub update_time: Option<Time>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(inline, transform = unclosed)]
pub struct ProviderStatus {
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(inline, transform = unclosed)]
pub struct FeatureSet {
    pub payout: PayoutFeature,
    pub payment: PaymentFeature,
    pub kyc_verification: KycFeature,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(inline, transform = unclosed)]
pub struct PayoutFeature {
    pub can_pay_to: bool,
    pub schemes: Option<Vec<String>>,
    pub metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(inline, transform = unclosed)]
pub struct PaymentFeature {
    pub can_pay_from: bool,
    pub schemes: Option<Vec<String>>,
    pub metadata: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(inline, transform = unclosed)]
pub struct KycFeature {
    pub can_verify_account: bool,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// The holder of an account at a provider (`GET /v1/provider-kyc/{providerId}`).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = unclosed)]
pub struct ProviderKyc {
    pub account: KycAccount,
    pub provider: KycProvider,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(inline, transform = unclosed)]
pub struct KycAccount {
    /// The account's id at the provider (a phone number for a momo).
    pub id: String,
    /// The account's display name (the holder's, where the provider gives no other).
    pub name: String,
    pub holder_name: String,
    #[schemars(schema_with = "super::metadata")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(inline, transform = unclosed)]
pub struct KycProvider {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: super::Word<ProviderType>,
    pub name: String,
}

/// The kinds of provider Monime's document names, in its order (openmonime lists no wallets yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderType {
    Momo,
    Bank,
    Wallet,
}

impl super::Words for ProviderType {
    fn all() -> &'static [Self] {
        &[ProviderType::Momo, ProviderType::Bank, ProviderType::Wallet]
    }

    fn word(self) -> &'static str {
        match self {
            ProviderType::Momo => "momo",
            ProviderType::Bank => "bank",
            ProviderType::Wallet => "wallet",
        }
    }
}

/// `GET /v1/provider-kyc/{providerId}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderKycQuery {
    /// The account's id at the provider (for a momo, the phone number in E.164: `+232…`).
    pub account_id: String,
}

/// `{providerId}` of `/v1/provider-kyc/…`: a bank or a momo.
pub struct AnyProviderId(pub ProviderId);

impl PathParam for AnyProviderId {
    const NAME: &'static str = "providerId";
    const PREFIX: Option<&'static str> = None;
    const KIND: &'static str = "provider";

    fn parse(raw: &str) -> Option<Self> {
        ProviderId::parse(raw).map(AnyProviderId)
    }
}

/// `GET /v1/banks` and `GET /v1/momos`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListProvidersQuery {
    /// ISO 3166-1 alpha-2 code of the country whose providers to list (`SL`).
    pub country: String,
    #[serde(default)]
    pub limit: super::query::Limit,
    pub after: Option<super::query::Cursor>,
}

/// `GET /v1/countries`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListCountriesQuery {
    #[serde(default)]
    pub limit: super::query::Limit,
    pub after: Option<super::query::Cursor>,
}

/// A provider id in a path (`/v1/banks/{providerId}`): anything but 1 to 64 letters, digits,
/// `-` or `_` names no provider and is 404.
pub struct ProviderId(pub String);

impl ProviderId {
    fn parse(raw: &str) -> Option<ProviderId> {
        let fits =
            (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        fits.then(|| ProviderId(raw.to_owned()))
    }
}

/// `{providerId}` of `/v1/banks/…`.
pub struct BankId(pub ProviderId);
/// `{providerId}` of `/v1/momos/…`.
pub struct MomoId(pub ProviderId);

impl PathParam for BankId {
    const NAME: &'static str = "providerId";
    const PREFIX: Option<&'static str> = None;
    const KIND: &'static str = "bank";

    fn parse(raw: &str) -> Option<Self> {
        ProviderId::parse(raw).map(BankId)
    }
}

impl PathParam for MomoId {
    const NAME: &'static str = "providerId";
    const PREFIX: Option<&'static str> = None;
    const KIND: &'static str = "momo";

    fn parse(raw: &str) -> Option<Self> {
        ProviderId::parse(raw).map(MomoId)
    }
}

/// `{countryCode}` of `/v1/countries/…`: two letters, in either case.
pub struct CountryCode(pub String);

impl PathParam for CountryCode {
    const NAME: &'static str = "countryCode";
    const PREFIX: Option<&'static str> = None;
    const KIND: &'static str = "country";

    fn parse(raw: &str) -> Option<Self> {
        (raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_alphabetic())).then(|| CountryCode(raw.to_ascii_uppercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_is_valid() {
        let shipped = Catalogue::parse(SHIPPED).unwrap();
        assert!(shipped.momos.iter().any(|m| m.provider_id == "m17"));
    }

    #[test]
    fn a_catalogue_that_contradicts_itself_is_refused_with_the_reason() {
        let mut doc: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
        doc["momos"][0]["country"] = "GH".into();
        assert!(Catalogue::parse(&doc.to_string()).unwrap_err().contains("country `GH` is not listed"));
        let mut doc: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
        doc["banks"][0]["providerId"] = "m17".into();
        assert!(Catalogue::parse(&doc.to_string()).unwrap_err().contains("listed twice"));
        let mut doc: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
        doc["countries"][0]["supportedCurrencies"] = serde_json::json!(["USD"]);
        assert!(Catalogue::parse(&doc.to_string()).unwrap_err().contains("supportedCurrencies"));
        let mut doc: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
        doc["banks"][0]["createTime"] = "yesterday".into();
        assert!(Catalogue::parse(&doc.to_string()).unwrap_err().contains("RFC 3339"));
        assert!(Catalogue::parse("{}").is_err());
    }
}
