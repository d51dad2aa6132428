//! The `/v1` route table: every route is registered with its operation name and its [`Access`],
//! and the pipeline is attached at that moment, so an undeclared route cannot exist.

use super::{pipeline, Access, RouteGuard};
use crate::state::AppState;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{on, MethodFilter};
use axum::Router;

/// One row of the published route table.
#[derive(Debug, Clone)]
pub struct RouteSpec {
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

    pub fn route<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        operation: &'static str,
        access: Access,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        if let Some(state) = &self.state {
            let filter = MethodFilter::try_from(method.clone()).expect("standard method");
            let guard = RouteGuard { state: state.clone(), access, endpoint: format!("{method} {path}").into() };
            let guarded = on(filter, handler).layer(from_fn_with_state(guard, pipeline));
            self.router = std::mem::take(&mut self.router).route(path, guarded);
        }
        self.specs.push(RouteSpec { method, path, operation, access });
        self
    }

    pub fn finish(self) -> (Router<AppState>, Vec<RouteSpec>) {
        (self.router, self.specs)
    }
}
