//! A client that disconnects cannot cancel a request halfway: the handler runs to completion, so
//! a write reaches its commit (or rollback) and never leaves a connection inside a transaction.

use crate::support::*;
use axum::extract::{Path, State};
use axum::routing::post;
use openmonime_http::AppState;
use std::time::Duration;

/// Waits, then writes a Monimeer named by the path: stands for any handler still working when its
/// client gives up.
async fn slow_write(State(state): State<AppState>, Path(name): Path<String>) -> &'static str {
    tokio::time::sleep(Duration::from_millis(300)).await;
    state.store.create_monimeer(&name, None).await.unwrap();
    "done"
}

/// How many Monimeers carry `name` (a shared PostgreSQL database holds other tests' people too).
async fn named(app: &TestApp, name: &str) -> i64 {
    use sqlx::Row;
    let row = sqlx::query("SELECT COUNT(*) AS n FROM monimeers WHERE name = $1")
        .bind(name)
        .fetch_one(app.store().pool())
        .await
        .unwrap();
    row.try_get::<i64, _>("n").unwrap()
}

#[tokio::test]
async fn a_request_whose_client_disconnects_still_runs_to_completion() {
    let app = TestApp::spawn().await;
    let router =
        openmonime_http::app_with(app.state.clone(), axum::Router::new().route("/slow/{name}", post(slow_write)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    let name = format!("left-early-{}", openmonime_domain::ids::random_base62(12));
    let gave_up = app.client.post(format!("http://{addr}/slow/{name}")).timeout(Duration::from_millis(50)).send().await;
    assert!(gave_up.is_err(), "the client disconnects before the answer");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(named(&app, &name).await, 1, "the write completed anyway");
    // And the database takes writes as usual afterwards.
    let write = tokio::time::timeout(Duration::from_secs(5), app.store().create_monimeer("after", None)).await;
    assert!(matches!(write, Ok(Ok(_))), "{write:?}");
}
