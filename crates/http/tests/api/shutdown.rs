//! Shutdown keeps what was gathered: a usage batch being written when the stop comes is finished,
//! not cut off (background tasks are stopped and awaited, never aborted).

use crate::support::*;
use openmonime_http::state::ServerConfig;
use sqlx::{Connection, Executor};
use std::time::Duration;

/// Holds the write the usage flush needs — SQLite's write lock, or on PostgreSQL the token's row —
/// from a connection of its own, so the flush is under way and waiting when shutdown begins.
async fn hold_token_row(url: &str, token_id: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("a second connection");
    if url.starts_with("sqlite:") {
        conn.execute("BEGIN IMMEDIATE").await.expect("take the write lock");
    } else {
        conn.execute("BEGIN").await.unwrap();
        sqlx::query("SELECT id FROM access_tokens WHERE id = $1 FOR UPDATE")
            .bind(token_id)
            .fetch_one(&mut conn)
            .await
            .expect("lock the token's row");
    }
    conn
}

#[tokio::test]
async fn a_usage_batch_under_way_at_shutdown_is_kept() {
    let config = ServerConfig { usage_flush: Duration::from_millis(100), ..ServerConfig::default() };
    let mut app = TestApp::spawn_with(config, None).await;
    let owner = app.owner().await;
    let (token, id) = app.token_with(&owner.monimeer, TokenSpec::default()).await;
    let mut lock = hold_token_row(&app.database_url, id.as_str()).await;
    for _ in 0..3 {
        let res = app.client.get(app.url("/v1/me")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    // Several flush periods: the batch has been taken from memory and its write is waiting.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let release = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        lock.execute("ROLLBACK").await.expect("release");
    };
    tokio::join!(app.stop(), release);
    let stored = app.store().get_token(&id).await.unwrap();
    assert_eq!(stored.usage.request_count, 3, "the batch written when shutdown began was lost");
    assert!(stored.usage.last_used_at.is_some());
}
