//! Thin handlers: parse and validate the request, call the store, render Monime's shapes.

pub mod access_tokens;
pub mod audit_events;
pub mod catalogue;
pub mod checkout_sessions;
pub mod financial_accounts;
pub mod financial_transactions;
pub mod health;
pub mod internal_transfers;
pub mod me;
pub mod params;
pub mod payment_codes;
pub mod payments;
pub mod payouts;
pub mod receipts;
pub mod root;
pub mod space_members;
pub mod space_policies;
pub mod space_roles;
pub mod test_helpers;
pub mod token_reports;
pub mod ussd_otps;
pub mod webhooks;

use crate::auth::routes::ApiRouter;
use crate::auth::Access::{Account, Authenticated, Space};
use crate::state::AppState;
use axum::http::Method;
use openmonime_domain::permission::Permission::*;

/// Every `/v1` route with its operation and required permission.
pub fn api_routes(state: AppState) -> ApiRouter {
    declare(ApiRouter::new(state))
}

fn declare(router: ApiRouter) -> ApiRouter {
    router
        .route(Method::GET, "/v1/banks", "ListBanks", Account(CatalogRead), catalogue::list_banks)
        .route(Method::GET, "/v1/banks/{providerId}", "GetBank", Account(CatalogRead), catalogue::get_bank)
        .route(Method::GET, "/v1/countries", "ListCountries", Account(CatalogRead), catalogue::list_countries)
        .route(Method::GET, "/v1/countries/{countryCode}", "GetCountry", Account(CatalogRead), catalogue::get_country)
        .route(Method::GET, "/v1/momos", "ListMomos", Account(CatalogRead), catalogue::list_momos)
        .route(Method::GET, "/v1/momos/{providerId}", "GetMomo", Account(CatalogRead), catalogue::get_momo)
        .route(
            Method::GET,
            "/v1/provider-kyc/{providerId}",
            "GetProviderKYC",
            Account(CatalogRead),
            catalogue::get_provider_kyc,
        )
        .route(
            Method::GET,
            "/v1/financial-accounts",
            "ListFinancialAccounts",
            Space(FinancialAccountsRead),
            financial_accounts::list,
        )
        .route(
            Method::POST,
            "/v1/financial-accounts",
            "CreateFinancialAccount",
            Space(FinancialAccountsWrite),
            financial_accounts::create,
        )
        .route(
            Method::GET,
            "/v1/financial-accounts/{id}",
            "GetFinancialAccount",
            Space(FinancialAccountsRead),
            financial_accounts::get,
        )
        .route(
            Method::PATCH,
            "/v1/financial-accounts/{id}",
            "UpdateFinancialAccount",
            Space(FinancialAccountsWrite),
            financial_accounts::update,
        )
        .route(
            Method::GET,
            "/v1/financial-transactions",
            "ListFinancialTransactions",
            Space(FinancialTransactionsRead),
            financial_transactions::list,
        )
        .route(
            Method::GET,
            "/v1/financial-transactions/{id}",
            "GetTransaction",
            Space(FinancialTransactionsRead),
            financial_transactions::get,
        )
        .route(
            Method::GET,
            "/v1/internal-transfers",
            "ListInternalTransfers",
            Space(InternalTransfersRead),
            internal_transfers::list,
        )
        .route(
            Method::POST,
            "/v1/internal-transfers",
            "CreateInternalTransfer",
            Space(InternalTransfersWrite),
            internal_transfers::create,
        )
        .route(
            Method::GET,
            "/v1/internal-transfers/{id}",
            "GetInternalTransfer",
            Space(InternalTransfersRead),
            internal_transfers::get,
        )
        .route(
            Method::PATCH,
            "/v1/internal-transfers/{id}",
            "PatchInternalTransfer",
            Space(InternalTransfersWrite),
            internal_transfers::update,
        )
        .route(
            Method::DELETE,
            "/v1/internal-transfers/{id}",
            "DeleteInternalTransfer",
            Space(InternalTransfersWrite),
            internal_transfers::delete,
        )
        .route(Method::GET, "/v1/payment-codes", "ListPaymentCodes", Space(PaymentCodesRead), payment_codes::list)
        .route(Method::POST, "/v1/payment-codes", "CreatePaymentCode", Space(PaymentCodesWrite), payment_codes::create)
        .route(Method::GET, "/v1/payment-codes/{id}", "GetPaymentCode", Space(PaymentCodesRead), payment_codes::get)
        .route(
            Method::PATCH,
            "/v1/payment-codes/{id}",
            "UpdatePaymentCode",
            Space(PaymentCodesWrite),
            payment_codes::update,
        )
        .route(
            Method::DELETE,
            "/v1/payment-codes/{id}",
            "DeletePaymentCode",
            Space(PaymentCodesWrite),
            payment_codes::delete,
        )
        .route(Method::GET, "/v1/payments", "ListPayments", Space(PaymentsRead), payments::list)
        .route(Method::GET, "/v1/payments/{id}", "GetPayment", Space(PaymentsRead), payments::get)
        .route(Method::PATCH, "/v1/payments/{id}", "UpdatePayment", Space(PaymentsWrite), payments::update)
        .route(Method::GET, "/v1/payouts", "ListPayouts", Space(PayoutsRead), payouts::list)
        .route(Method::POST, "/v1/payouts", "CreatePayout", Space(PayoutsWrite), payouts::create)
        .route(Method::GET, "/v1/payouts/{id}", "GetPayout", Space(PayoutsRead), payouts::get)
        .route(Method::PATCH, "/v1/payouts/{id}", "UpdatePayout", Space(PayoutsWrite), payouts::update)
        .route(Method::DELETE, "/v1/payouts/{id}", "DeletePayout", Space(PayoutsWrite), payouts::delete)
        .route(Method::GET, "/v1/ussd-otps", "ListUSSDOTPs", Space(UssdOtpsRead), ussd_otps::list)
        .route(Method::POST, "/v1/ussd-otps", "CreateUSSDOTP", Space(UssdOtpsWrite), ussd_otps::create)
        .route(Method::GET, "/v1/ussd-otps/{id}", "GetUSSDOTP", Space(UssdOtpsRead), ussd_otps::get)
        .route(Method::DELETE, "/v1/ussd-otps/{id}", "DeleteUSSDOTP", Space(UssdOtpsWrite), ussd_otps::delete)
        .route(
            Method::GET,
            "/v1/checkout-sessions",
            "ListCheckoutSessions",
            Space(CheckoutSessionsRead),
            checkout_sessions::list,
        )
        .route(
            Method::POST,
            "/v1/checkout-sessions",
            "CreateCheckoutSession",
            Space(CheckoutSessionsWrite),
            checkout_sessions::create,
        )
        .route(
            Method::GET,
            "/v1/checkout-sessions/{id}",
            "GetCheckoutSession",
            Space(CheckoutSessionsRead),
            checkout_sessions::get,
        )
        .route(
            Method::DELETE,
            "/v1/checkout-sessions/{id}",
            "DeleteCheckoutSession",
            Space(CheckoutSessionsWrite),
            checkout_sessions::delete,
        )
        .route(Method::GET, "/v1/receipts/{orderNumber}", "RetrieveReceipt", Space(ReceiptsRead), receipts::get)
        .route(
            Method::POST,
            "/v1/receipts/{orderNumber}/redeem",
            "RedeemReceipt",
            Space(ReceiptsWrite),
            receipts::redeem,
        )
        // The test environment's helpers: openmonime's own operations (a live token gets 404).
        .route(Method::POST, "/v1/test-helpers/ussd/dial", "DialUssd", Space(TestHelpersWrite), test_helpers::dial)
        .route(
            Method::POST,
            "/v1/test-helpers/clock/advance",
            "AdvanceTestClock",
            Space(TestHelpersWrite),
            test_helpers::advance_clock,
        )
        .route(Method::GET, "/v1/webhooks", "ListWebhooks", Space(WebhooksRead), webhooks::list)
        .route(Method::POST, "/v1/webhooks", "CreateWebhook", Space(WebhooksWrite), webhooks::create)
        .route(Method::GET, "/v1/webhooks/{id}", "GetWebhook", Space(WebhooksRead), webhooks::get)
        .route(Method::PATCH, "/v1/webhooks/{id}", "UpdateWebhook", Space(WebhooksWrite), webhooks::update)
        .route(Method::DELETE, "/v1/webhooks/{id}", "DeleteWebhook", Space(WebhooksWrite), webhooks::delete)
        .route(
            Method::GET,
            "/v1/webhooks/{id}/deliveries",
            "ListWebhookDeliveries",
            Space(WebhooksRead),
            webhooks::list_deliveries,
        )
        .route(
            Method::POST,
            "/v1/webhooks/{id}/redeliveries",
            "RedeliverWebhookEvents",
            Space(WebhooksWrite),
            webhooks::redeliver,
        )
        // Management: openmonime's own operations (Monime manages these in its dashboard).
        .route(Method::GET, "/v1/me", "GetMe", Authenticated, me::me)
        .route(
            Method::GET,
            "/v1/me/audit-events",
            "ListMyTokenAuditEvents",
            Account(AccessTokensRead),
            audit_events::list_token_changes,
        )
        .route(Method::GET, "/v1/access-tokens", "ListAccessTokens", Account(AccessTokensRead), access_tokens::list)
        .route(
            Method::POST,
            "/v1/access-tokens",
            "CreateAccessToken",
            Account(AccessTokensWrite),
            access_tokens::create,
        )
        .route(Method::GET, "/v1/access-tokens/{id}", "GetAccessToken", Account(AccessTokensRead), access_tokens::get)
        .route(
            Method::POST,
            "/v1/access-tokens/{id}/revoke",
            "RevokeAccessToken",
            Account(AccessTokensWrite),
            access_tokens::revoke,
        )
        .route(
            Method::POST,
            "/v1/access-tokens/{id}/rotate",
            "RotateAccessToken",
            Account(AccessTokensWrite),
            access_tokens::rotate,
        )
        .route(Method::GET, "/v1/space-members", "ListSpaceMembers", Space(SpaceMembersRead), space_members::list)
        .route(Method::POST, "/v1/space-members", "AddSpaceMember", Space(SpaceMembersWrite), space_members::add)
        .route(
            Method::PATCH,
            "/v1/space-members/{id}",
            "UpdateSpaceMember",
            Space(SpaceMembersWrite),
            space_members::set_role,
        )
        .route(
            Method::DELETE,
            "/v1/space-members/{id}",
            "RemoveSpaceMember",
            Space(SpaceMembersWrite),
            space_members::remove,
        )
        .route(Method::GET, "/v1/space-roles", "ListSpaceRoles", Space(SpaceRolesRead), space_roles::list)
        .route(Method::POST, "/v1/space-roles", "CreateSpaceRole", Space(SpaceRolesWrite), space_roles::create)
        .route(Method::PATCH, "/v1/space-roles/{name}", "UpdateSpaceRole", Space(SpaceRolesWrite), space_roles::update)
        .route(Method::DELETE, "/v1/space-roles/{name}", "DeleteSpaceRole", Space(SpaceRolesWrite), space_roles::delete)
        .route(Method::GET, "/v1/space-policies", "GetSpacePolicies", Space(SpacePoliciesRead), space_policies::get)
        .route(
            Method::PATCH,
            "/v1/space-policies",
            "UpdateSpacePolicies",
            Space(SpacePoliciesWrite),
            space_policies::update,
        )
        .route(Method::GET, "/v1/audit-events", "ListAuditEvents", Space(AuditEventsRead), audit_events::list)
}

/// The published route table (method, path, operation, access), for docs and tests.
pub fn route_table() -> Vec<crate::auth::routes::RouteSpec> {
    declare(ApiRouter::table_only()).finish().1
}
