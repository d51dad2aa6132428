//! `/v1/payouts`: money out of a financial account to a bank, momo or wallet account — create,
//! list, get, update and delete. Creating holds the amount and its fees at once (see
//! `domain::payout`); the payout worker (`crate::payout_worker`) sends it to the rail of its
//! environment and records how it ended.

use super::catalogue::payer;
use super::params::{list_scope, page, page_of, ApiPath};
use super::payment_codes::{money, phone};
use crate::auth::SpaceCaller;
use crate::error::{ApiError, ApiResult};
use crate::idempotency::{Idempotent, Replayable};
use crate::json::ApiJson;
use crate::state::AppState;
use crate::views::payouts::{CreatePayout, DestinationRequest, ListPayoutsQuery, Payout, UpdatePayout};
use crate::views::query::{ApiQuery, Filter, NoQuery};
use crate::views::{Deleted, List, One};
use axum::extract::State;
use axum::Json;
use openmonime_domain::fees::fees_for;
use openmonime_domain::ids::{FinancialAccountId, PayoutId};
use openmonime_domain::payout::Destination;
use openmonime_domain::test_rail::ProviderKind;
use openmonime_domain::{metadata, Validation};
use openmonime_store::payouts::{NewPayout, PayoutFilter, PayoutRejection};
use openmonime_store::StoreError;

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("payout"),
        other => other.into(),
    }
}

/// The destination, checked field by field: its kind, a provider of that kind in the catalogue,
/// the one account field the kind takes (well formed), and nothing else.
fn destination(state: &AppState, raw: &DestinationRequest, v: &mut Validation) -> Option<Destination> {
    let Some(kind) = ProviderKind::parse(&raw.kind) else {
        v.push("destination.type", "invalid_value", "`destination.type` must be `bank`, `momo` or `wallet`");
        return None;
    };
    let provider = state.config.catalogue.of_kind(kind).iter().find(|p| p.provider_id == raw.provider_id);
    if provider.is_none() {
        v.push(
            "destination.providerId",
            "unknown_provider",
            format!("`destination.providerId` must be a {} provider of the catalogue", kind.as_str()),
        );
    }
    if raw.transaction_reference.is_some() {
        v.push(
            "destination.transactionReference",
            "read_only",
            "`destination.transactionReference` is set by the provider when the payout completes",
        );
    }
    for name in raw.other.keys() {
        v.push(format!("destination.{name}"), "unknown_field", format!("a destination has no field `{name}`"));
    }
    let fields = [
        (ProviderKind::Bank, "accountNumber", &raw.account_number),
        (ProviderKind::Momo, "phoneNumber", &raw.phone_number),
        (ProviderKind::Wallet, "walletId", &raw.wallet_id),
    ];
    let mut account = None;
    for (of, name, value) in fields {
        let field = format!("destination.{name}");
        match (of == kind, value) {
            (true, None) => {
                v.push(field.as_str(), "required", format!("a {} destination needs `{field}`", kind.as_str()))
            }
            (true, Some(value)) => {
                account = match kind {
                    ProviderKind::Momo => phone(&field, value, v),
                    _ if kind.is_account(value) => Some(value.clone()),
                    ProviderKind::Bank => {
                        v.push(field.as_str(), "invalid_account_number", format!("`{field}` must be 6 to 20 digits"));
                        None
                    }
                    ProviderKind::Wallet => {
                        v.push(
                            field.as_str(),
                            "invalid_wallet_id",
                            format!("`{field}` must be 1 to 64 letters, digits, `-` or `_`"),
                        );
                        None
                    }
                }
            }
            (false, Some(_)) => {
                v.push(field.as_str(), "not_allowed", format!("a {} destination has no `{field}`", kind.as_str()))
            }
            (false, None) => {}
        }
    }
    Some(Destination {
        kind,
        provider_id: provider?.provider_id.clone(),
        account: account?,
        transaction_reference: None,
    })
}

pub async fn create(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    idempotent: Idempotent,
    ApiJson(body): ApiJson<CreatePayout>,
) -> ApiResult<Replayable<One<Payout>>> {
    let claim = idempotent.claim(&caller)?;
    let mut v = Validation::new();
    let amount = money("amount", &body.amount, &mut v);
    let source = body.source.as_ref().and_then(|source| {
        if source.transaction_reference.is_some() {
            v.push(
                "source.transactionReference",
                "read_only",
                "`source.transactionReference` is set when the payout's amount is held",
            );
        }
        let parsed = FinancialAccountId::parse(&source.financial_account_id);
        if parsed.is_none() {
            v.push(
                "source.financialAccountId",
                "invalid_id",
                "`source.financialAccountId` must be a financial account id (`fac-…`)",
            );
        }
        parsed
    });
    let destination = destination(&state, &body.destination, &mut v);
    metadata::validate("metadata", body.metadata.as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    let (amount, destination) = (amount.expect("validated"), destination.expect("validated"));
    let catalogue = state.config.catalogue.of_kind(destination.kind);
    let provider = catalogue.iter().find(|p| p.provider_id == destination.provider_id).expect("validated");
    if payer(&state, caller.tenant.environment, provider, destination.kind).is_none() {
        return Err(ApiError::field(
            "destination.providerId",
            "rail_not_connected",
            format!(
                "no rail that pays out to `{}` ({}) is connected in {}; this deployment cannot pay it",
                provider.provider_id,
                provider.name,
                caller.tenant.environment.as_str()
            ),
        ));
    }
    let new = NewPayout {
        amount,
        source,
        destination,
        fees: fees_for(state.config.fees.schedule(caller.tenant.space_id.as_str()), amount),
        metadata: body.metadata,
    };
    let render = |p: &openmonime_domain::payout::Payout| Replayable::render(&One::new(Payout::new(p.clone())));
    match state.store.create_payout(&caller.tenant, &new, Some(&caller.token.token.id), Some(&claim), render).await? {
        Ok(outcome) => Ok(Replayable::from_outcome(outcome)),
        Err(PayoutRejection::AccountNotFound) => Err(ApiError::field(
            "source.financialAccountId",
            "account_not_found",
            match new.source {
                Some(_) => "`source.financialAccountId` names no financial account in this Space and environment",
                None => "this Space has no `main` account in this environment; name `source.financialAccountId`",
            },
        )),
        Err(PayoutRejection::CurrencyMismatch) => Err(ApiError::field(
            "amount.currency",
            "currency_mismatch",
            "the source account holds a different currency than `amount.currency`",
        )),
        Err(PayoutRejection::HoldOverflow) => Err(ApiError::field(
            "amount.value",
            "out_of_range",
            "`amount.value` and its fees add up to more than an amount can be",
        )),
    }
}

pub async fn get(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<PayoutId>,
) -> ApiResult<Json<One<Payout>>> {
    let payout = state.store.get_payout(&caller.tenant, id.as_str()).await.map_err(not_found)?;
    Ok(Json(One::new(Payout::new(payout))))
}

pub async fn list(
    State(state): State<AppState>,
    caller: SpaceCaller,
    ApiQuery(query): ApiQuery<ListPayoutsQuery>,
) -> ApiResult<Json<List<Payout>>> {
    let filter = PayoutFilter {
        status: query.status.map(|s| s.0 .0),
        source_id: query.source_financial_account_id.non_empty(),
        source_reference: query.source_transaction_reference.non_empty(),
        destination_reference: query.destination_transaction_reference.non_empty(),
    };
    let scope = list_scope(&state, &caller.tenant, &filter).await?;
    let request = page(query.limit, query.after.as_ref(), &scope)?;
    let found = state.store.list_payouts(&caller.tenant, &filter, request).await?;
    Ok(Json(page_of(found, &scope, Payout::new)))
}

/// Metadata only, and only while the payout is pending (409 `payout_not_pending` after).
pub async fn update(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<PayoutId>,
    ApiJson(body): ApiJson<UpdatePayout>,
) -> ApiResult<Json<One<Payout>>> {
    let mut v = Validation::new();
    metadata::validate("metadata", body.metadata.clone().flatten().as_ref(), &mut v);
    v.finish().map_err(ApiError::validation)?;
    let tenant = &caller.tenant;
    let payout = match body.metadata {
        Some(metadata) => state.store.update_payout_metadata(tenant, id.as_str(), metadata).await,
        // Nothing to change: answered as it is, under the same rule.
        None => match state.store.get_payout(tenant, id.as_str()).await {
            Ok(p) if p.status != openmonime_domain::payout::PayoutStatus::Pending => {
                Err(StoreError::Conflict(openmonime_store::Conflict::PayoutNotPending))
            }
            other => other,
        },
    }
    .map_err(not_found)?;
    Ok(Json(One::new(Payout::new(payout))))
}

/// Only while pending: the hold returns to the source account (409 `payout_not_pending` after).
pub async fn delete(
    State(state): State<AppState>,
    caller: SpaceCaller,
    _: ApiQuery<NoQuery>,
    ApiPath(id): ApiPath<PayoutId>,
) -> ApiResult<Json<Deleted>> {
    state.store.delete_payout(&caller.tenant, id.as_str()).await.map_err(not_found)?;
    Ok(Json(Deleted::default()))
}
