//! A client that disconnects cannot cancel a request halfway: the handler runs to completion, so
//! a write reaches its commit (or rollback) and never leaves a connection inside a transaction.

use crate::support::*;
use axum::extract::{Path, State};
use axum::routing::post;
use openmonime_http::AppState;
use std::time::Duration;

/// Says it has the request, waits, then writes a Monimeer named by the path: stands for any
/// handler still working when its client gives up.
async fn slow_write(
    State(state): State<AppState>,
    axum::Extension(arrived): axum::Extension<std::sync::Arc<tokio::sync::Notify>>,
    Path(name): Path<String>,
) -> &'static str {
    arrived.notify_one();
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
    let arrived = std::sync::Arc::new(tokio::sync::Notify::new());
    let router = openmonime_http::app_with(
        app.state.clone(),
        axum::Router::new().route("/slow/{name}", post(slow_write)).layer(axum::Extension(arrived.clone())),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
    });
    let name = format!("left-early-{}", openmonime_domain::ids::random_base62(12));
    // The client gives up once the handler has the request (not on a timer, which a loaded
    // machine can beat before the request even arrives).
    let client = app.client.clone();
    let url = format!("http://{addr}/slow/{name}");
    let request = tokio::spawn(async move { client.post(url).send().await });
    tokio::time::timeout(Duration::from_secs(10), arrived.notified()).await.expect("the handler got the request");
    request.abort();
    assert!(request.await.is_err(), "the client disconnected before the answer");
    // However long the handler takes on a loaded machine, its write lands: no timing is asserted.
    let landed = eventually(Duration::from_secs(10), || async { named(&app, &name).await == 1 }).await;
    assert!(landed, "the write completed anyway");
    // And the database takes writes as usual afterwards.
    let write = tokio::time::timeout(Duration::from_secs(5), app.store().create_monimeer("after", None)).await;
    assert!(matches!(write, Ok(Ok(_))), "{write:?}");
}
