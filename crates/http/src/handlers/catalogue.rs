//! The catalogue: countries, banks and mobile-money providers, served read-only from the data the
//! server started with (`--catalogue PATH`, or the shipped file). No Space is needed (a
//! `Monime-Space-Id` sent anyway is ignored); `catalog:read` is. Provider KYC asks the caller's
//! environment's rail (`rail`).

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::handlers::params::{page, ApiPath};
use crate::rail::{LookupRefusal, Rail};
use crate::state::AppState;
use crate::views::catalogue::{
    AnyProviderId, BankId, Country, CountryCode, KycAccount, KycProvider, ListCountriesQuery, ListProvidersQuery,
    MomoId, Provider, ProviderKyc, ProviderKycQuery, ProviderType,
};
use crate::views::query::{ApiQuery, Cursor, Limit, NoQuery};
use crate::views::{List, One, Word};
use axum::extract::State;
use axum::Json;
use openmonime_domain::cursor::CursorScope;
use openmonime_domain::test_rail::ProviderKind;

pub async fn list_countries(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListCountriesQuery>,
) -> ApiResult<Json<List<Country>>> {
    let countries = &state.config.catalogue.countries;
    page_through(&state, &caller, "countries", "", query.limit, query.after.as_ref(), countries.iter()).await
}

pub async fn get_country(
    State(state): State<AppState>,
    _: Caller,
    _: ApiQuery<NoQuery>,
    ApiPath(CountryCode(code)): ApiPath<CountryCode>,
) -> ApiResult<Json<One<Country>>> {
    let found = state.config.catalogue.countries.iter().find(|c| c.code == code);
    found.cloned().map(|c| Json(One::new(c))).ok_or_else(|| ApiError::not_found("country"))
}

pub async fn list_banks(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListProvidersQuery>,
) -> ApiResult<Json<List<Provider>>> {
    list_providers(&state, &caller, ("banks", ProviderKind::Bank), &state.config.catalogue.banks, &query).await
}

pub async fn get_bank(
    State(state): State<AppState>,
    caller: Caller,
    _: ApiQuery<NoQuery>,
    ApiPath(BankId(id)): ApiPath<BankId>,
) -> ApiResult<Json<One<Provider>>> {
    one_provider(&state, &caller, &state.config.catalogue.banks, &id.0, ProviderKind::Bank)
}

pub async fn list_momos(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListProvidersQuery>,
) -> ApiResult<Json<List<Provider>>> {
    list_providers(&state, &caller, ("momos", ProviderKind::Momo), &state.config.catalogue.momos, &query).await
}

pub async fn get_momo(
    State(state): State<AppState>,
    caller: Caller,
    _: ApiQuery<NoQuery>,
    ApiPath(MomoId(id)): ApiPath<MomoId>,
) -> ApiResult<Json<One<Provider>>> {
    one_provider(&state, &caller, &state.config.catalogue.momos, &id.0, ProviderKind::Momo)
}

/// The provider `id` of `providers`, as served; 404 naming the kind when there is none.
fn one_provider(
    state: &AppState,
    caller: &Caller,
    providers: &[Provider],
    id: &str,
    kind: ProviderKind,
) -> ApiResult<Json<One<Provider>>> {
    let found = providers.iter().find(|p| p.provider_id == id).map(|p| as_served(state, caller, p, kind));
    let what = kind.as_str();
    found.map(|p| Json(One::new(p))).ok_or_else(|| ApiError::not_found(what))
}

/// The providers of one country (its code in either case; an unlisted country has none).
async fn list_providers(
    state: &AppState,
    caller: &Caller,
    (list, kind): (&str, ProviderKind),
    providers: &[Provider],
    query: &ListProvidersQuery,
) -> ApiResult<Json<List<Provider>>> {
    let country = query.country.to_ascii_uppercase();
    let of_country: Vec<Provider> =
        providers.iter().filter(|p| p.country == country).map(|p| as_served(state, caller, p, kind)).collect();
    page_through(state, caller, list, &country, query.limit, query.after.as_ref(), of_country.iter()).await
}

/// A provider as the caller's environment sees it: it can verify accounts only where the file
/// allows it and that environment's rail can.
fn as_served(state: &AppState, caller: &Caller, provider: &Provider, kind: ProviderKind) -> Provider {
    let mut served = provider.clone();
    served.feature_set.kyc_verification.can_verify_account = account_verifier(state, caller, provider, kind).is_some();
    served.feature_set.payment.can_pay_from =
        collector(state, caller.token.token.environment, provider, kind).is_some();
    served.feature_set.payout.can_pay_to = payer(state, caller.token.token.environment, provider, kind).is_some();
    served
}

/// The rail that pays out to `provider` in `environment`, if it does and the catalogue allows
/// it: the one rule behind both `canPayTo` and whether a payout can be created.
pub(crate) fn payer<'a>(
    state: &'a AppState,
    environment: openmonime_domain::Environment,
    provider: &Provider,
    kind: ProviderKind,
) -> Option<&'a dyn Rail> {
    allowed_rail(state, environment, provider.feature_set.payout.can_pay_to, |rail| rail.pays_to(provider, kind))
}

/// The rail that collects payments from `provider`'s customers in `environment`, if it does and
/// the catalogue allows it: the one rule behind both `canPayFrom` and a dial's payment.
pub(crate) fn collector<'a>(
    state: &'a AppState,
    environment: openmonime_domain::Environment,
    provider: &Provider,
    kind: ProviderKind,
) -> Option<&'a dyn Rail> {
    allowed_rail(state, environment, provider.feature_set.payment.can_pay_from, |rail| {
        rail.collects_from(provider, kind)
    })
}

/// `environment`'s rail when the catalogue allows the feature and the rail serves it.
fn allowed_rail(
    state: &AppState,
    environment: openmonime_domain::Environment,
    catalogue_allows: bool,
    serves: impl FnOnce(&dyn Rail) -> bool,
) -> Option<&dyn Rail> {
    let rail = state.config.rails.of(environment)?;
    (catalogue_allows && serves(rail)).then_some(rail)
}

/// The rail that verifies accounts at `provider` for the caller: the caller's environment's, if
/// it does and the catalogue allows it. The one rule behind both `canVerifyAccount` and
/// provider KYC, so the two cannot disagree.
fn account_verifier<'a>(
    state: &'a AppState,
    caller: &Caller,
    provider: &Provider,
    kind: ProviderKind,
) -> Option<&'a dyn Rail> {
    let rail = state.config.rails.of(caller.token.token.environment)?;
    (provider.feature_set.kyc_verification.can_verify_account && rail.verifies_accounts(provider, kind)).then_some(rail)
}

/// One page of a catalogue list. A cursor holds the position of the page's first item, sealed to
/// the list, its filter and the caller's environment, like every list cursor of the deployment.
async fn page_through<'a, T: Clone + 'a>(
    state: &AppState,
    caller: &Caller,
    list: &str,
    filter: &str,
    limit: Limit,
    after: Option<&Cursor>,
    items: impl Iterator<Item = &'a T>,
) -> ApiResult<Json<List<T>>> {
    let key = state.store.cursor_key().await?;
    let scope = CursorScope::new(&key, "catalogue", caller.token.token.environment, list, filter.as_bytes());
    let request = page(limit, after, &scope)?;
    let start = request.after.and_then(|at| usize::try_from(at).ok()).unwrap_or(0);
    let limit = request.limit as usize;
    let mut rest = items.skip(start);
    let found: Vec<T> = rest.by_ref().take(limit).cloned().collect();
    let next = rest.next().is_some().then(|| scope.encode((start + limit) as i64));
    Ok(Json(List::new(found, next)))
}

/// The holder of an account at a bank or momo, from the caller's environment's rail: the test
/// rail's published accounts in test; in live, a connected provider's, or a refusal naming the
/// provider (none is connected yet).
pub async fn get_provider_kyc(
    State(state): State<AppState>,
    caller: Caller,
    // The path first: an unreadable one is refused before a missing parameter (as on every route).
    ApiPath(AnyProviderId(id)): ApiPath<AnyProviderId>,
    ApiQuery(query): ApiQuery<ProviderKycQuery>,
) -> ApiResult<Json<One<ProviderKyc>>> {
    let catalogue = &state.config.catalogue;
    let momo = catalogue.momos.iter().find(|p| p.provider_id == id.0).map(|p| (p, ProviderKind::Momo));
    let bank = catalogue.banks.iter().find(|p| p.provider_id == id.0).map(|p| (p, ProviderKind::Bank));
    let (provider, kind) = momo.or(bank).ok_or_else(|| ApiError::not_found("provider"))?;
    let environment = caller.token.token.environment;
    let Some(rail) = account_verifier(&state, &caller, provider, kind) else {
        return Err(ApiError::bad_request(
            "rail_not_connected",
            format!(
                "no rail to `{}` ({}) that verifies accounts is connected in {}; this deployment cannot ask it",
                provider.provider_id,
                provider.name,
                environment.as_str()
            ),
        ));
    };
    let holder = rail.account_holder(provider, kind, &query.account_id).await.map_err(|refusal| match refusal {
        LookupRefusal::MalformedAccount => ApiError::field(
            "accountId",
            "invalid_value",
            match kind {
                ProviderKind::Momo => "`accountId` of a momo is a phone number: `+232` and eight digits",
                ProviderKind::Bank => "`accountId` of a bank is an account number of 6 to 20 digits",
                ProviderKind::Wallet => "`accountId` of a wallet is 1 to 64 letters, digits, `-` or `_`",
            },
        ),
        LookupRefusal::NoSuchAccount => ApiError::not_found("account"),
    })?;
    Ok(Json(One::new(ProviderKyc {
        account: KycAccount {
            id: holder.account_id,
            name: holder.holder_name.clone(),
            holder_name: holder.holder_name,
            metadata: None,
        },
        provider: KycProvider {
            id: provider.provider_id.clone(),
            kind: Word(match kind {
                ProviderKind::Momo => ProviderType::Momo,
                ProviderKind::Bank => ProviderType::Bank,
                ProviderKind::Wallet => ProviderType::Wallet,
            }),
            name: provider.name.clone(),
        },
    })))
}
