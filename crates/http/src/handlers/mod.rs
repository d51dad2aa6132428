//! Thin handlers: parse and validate the request, call the store, render Monime's shapes.

pub mod financial_accounts;
pub mod financial_transactions;
pub mod health;
pub mod internal_transfers;
pub mod params;
pub mod render;
pub mod root;

use crate::auth::routes::ApiRouter;
use crate::auth::Access::Space;
use crate::state::AppState;
use axum::http::Method;
use openmonime_domain::permission::Permission::*;

/// Every `/v1` route with its operation and required permission.
pub fn api_routes(state: AppState) -> ApiRouter {
    ApiRouter::new(state)
        .route(Method::GET, "/v1/financial-accounts", "ListFinancialAccounts", Space(FinancialAccountsRead), financial_accounts::list)
        .route(Method::POST, "/v1/financial-accounts", "CreateFinancialAccount", Space(FinancialAccountsWrite), financial_accounts::create)
        .route(Method::GET, "/v1/financial-accounts/{id}", "GetFinancialAccount", Space(FinancialAccountsRead), financial_accounts::get)
        .route(Method::PATCH, "/v1/financial-accounts/{id}", "UpdateFinancialAccount", Space(FinancialAccountsWrite), financial_accounts::update)
        .route(Method::GET, "/v1/financial-transactions", "ListFinancialTransactions", Space(FinancialTransactionsRead), financial_transactions::list)
        .route(Method::GET, "/v1/financial-transactions/{id}", "GetTransaction", Space(FinancialTransactionsRead), financial_transactions::get)
        .route(Method::GET, "/v1/internal-transfers", "ListInternalTransfers", Space(InternalTransfersRead), internal_transfers::list)
        .route(Method::POST, "/v1/internal-transfers", "CreateInternalTransfer", Space(InternalTransfersWrite), internal_transfers::create)
        .route(Method::GET, "/v1/internal-transfers/{id}", "GetInternalTransfer", Space(InternalTransfersRead), internal_transfers::get)
        .route(Method::PATCH, "/v1/internal-transfers/{id}", "PatchInternalTransfer", Space(InternalTransfersWrite), internal_transfers::update)
        .route(Method::DELETE, "/v1/internal-transfers/{id}", "DeleteInternalTransfer", Space(InternalTransfersWrite), internal_transfers::delete)
}

/// The published route table (method, path, operation, access), for docs and tests.
pub fn route_table(state: AppState) -> Vec<crate::auth::routes::RouteSpec> {
    api_routes(state).finish().1
}
