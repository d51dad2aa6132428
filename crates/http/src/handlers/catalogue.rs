//! The catalogue: countries, banks and mobile-money providers, served read-only from the data the
//! server started with (`--catalogue PATH`, or the shipped file). No Space is needed (a
//! `Monime-Space-Id` sent anyway is ignored); `catalog:read` is.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::handlers::params::{page, ApiPath};
use crate::state::AppState;
use crate::views::catalogue::{BankId, Country, CountryCode, ListCountriesQuery, ListProvidersQuery, MomoId, Provider};
use crate::views::query::{ApiQuery, Cursor, Limit, NoQuery};
use crate::views::{List, One};
use axum::extract::State;
use axum::Json;
use openmonime_domain::cursor::CursorScope;

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
    list_providers(&state, &caller, "banks", &state.config.catalogue.banks, &query).await
}

pub async fn get_bank(
    State(state): State<AppState>,
    _: Caller,
    _: ApiQuery<NoQuery>,
    ApiPath(BankId(id)): ApiPath<BankId>,
) -> ApiResult<Json<One<Provider>>> {
    let found = state.config.catalogue.banks.iter().find(|b| b.provider_id == id.0);
    found.cloned().map(|b| Json(One::new(b))).ok_or_else(|| ApiError::not_found("bank"))
}

pub async fn list_momos(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListProvidersQuery>,
) -> ApiResult<Json<List<Provider>>> {
    list_providers(&state, &caller, "momos", &state.config.catalogue.momos, &query).await
}

pub async fn get_momo(
    State(state): State<AppState>,
    _: Caller,
    _: ApiQuery<NoQuery>,
    ApiPath(MomoId(id)): ApiPath<MomoId>,
) -> ApiResult<Json<One<Provider>>> {
    let found = state.config.catalogue.momos.iter().find(|m| m.provider_id == id.0);
    found.cloned().map(|m| Json(One::new(m))).ok_or_else(|| ApiError::not_found("momo"))
}

/// The providers of one country (its code in either case; an unlisted country has none).
async fn list_providers(
    state: &AppState,
    caller: &Caller,
    list: &str,
    providers: &[Provider],
    query: &ListProvidersQuery,
) -> ApiResult<Json<List<Provider>>> {
    let country = query.country.to_ascii_uppercase();
    let of_country = providers.iter().filter(|p| p.country == country);
    page_through(state, caller, list, &country, query.limit, query.after.as_ref(), of_country).await
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
