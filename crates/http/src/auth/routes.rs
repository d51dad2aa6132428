//! The `/v1` route table: every route is registered with its operation name and its [`Access`],
//! and the pipeline is attached at that moment, so an undeclared route cannot exist.

use super::{pipeline, Access, RouteGuard};
use crate::openapi::DescribedHandler;
use crate::state::AppState;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{on, MethodFilter};
use axum::Router;

/// One row of the published route table.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// What the handler's types say of the operation (its parameters, body and answer).
    pub describe: fn(&mut crate::openapi::Operation, &mut schemars::SchemaGenerator),
    pub method: Method,
    /// axum path syntax (`/v1/financial-accounts/{id}`).
    pub path: &'static str,
    /// The official document's `operationId` where Monime defines one.
    pub operation: &'static str,
    pub access: Access,
}

/// Builds the `/v1` router; the only way routes get into it is [`ApiRouter::route`].
pub struct ApiRouter {
    /// `None` when only the table is wanted (documentation), with no server behind it.
    state: Option<AppState>,
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl ApiRouter {
    pub fn new(state: AppState) -> Self {
        ApiRouter { state: Some(state), router: Router::new(), specs: Vec::new() }
    }

    /// Records the routes without building a router.
    pub fn table_only() -> Self {
        ApiRouter { state: None, router: Router::new(), specs: Vec::new() }
    }

    /// Registers `handler` for `method path` as `operation`, guarded by `access`. The handler's
    /// types describe the operation in the OpenAPI document; one that takes a
    /// [`SpaceCaller`](crate::auth::SpaceCaller) can only be registered on a Space-scoped route, so
    /// its tenant is always there (a mis-declared route stops the server from starting, and fails
    /// every test, rather than answering 500).
    pub fn route<H, T, D>(
        mut self,
        method: Method,
        path: &'static str,
        operation: &'static str,
        access: Access,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState> + DescribedHandler<D>,
        T: 'static,
    {
        assert!(
            !<H as DescribedHandler<D>>::NEEDS_SPACE || matches!(access, Access::Space(_)),
            "{operation}: the handler takes a SpaceCaller but the route is not Space-scoped"
        );
        if let Some(state) = &self.state {
            let filter = MethodFilter::try_from(method.clone()).expect("standard method");
            let guard = RouteGuard { state: state.clone(), access, endpoint: format!("{method} {path}").into() };
            let guarded = on(filter, handler).layer(from_fn_with_state(guard, pipeline));
            self.router = std::mem::take(&mut self.router).route(path, guarded);
        }
        self.specs.push(RouteSpec { describe: <H as DescribedHandler<D>>::describe, method, path, operation, access });
        self
    }

    pub fn finish(self) -> (Router<AppState>, Vec<RouteSpec>) {
        (self.router, self.specs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::SpaceCaller;
    use openmonime_domain::permission::Permission;

    async fn needs_a_space(_: SpaceCaller) -> axum::Json<crate::views::Deleted> {
        axum::Json(crate::views::Deleted::default())
    }

    #[test]
    fn a_space_handler_registers_on_a_space_route() {
        let (_, specs) = ApiRouter::table_only()
            .route(Method::GET, "/v1/x", "X", Access::Space(Permission::FinancialAccountsRead), needs_a_space)
            .finish();
        assert_eq!(specs.len(), 1);
    }

    #[test]
    #[should_panic(expected = "takes a SpaceCaller but the route is not Space-scoped")]
    fn a_space_handler_cannot_be_registered_outside_a_space() {
        let _ = ApiRouter::table_only().route(
            Method::GET,
            "/v1/x",
            "X",
            Access::Account(Permission::AccessTokensRead),
            needs_a_space,
        );
    }
}
