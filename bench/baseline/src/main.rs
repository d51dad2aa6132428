//! The benchmark baseline: a bare axum JSON hello-world answering `GET /` with a body of a chosen
//! size, built with the same release profile as openmonime. It is the practical ceiling for an
//! HTTP endpoint on the machine: no middleware, no authorization, no database.
//!
//! ```text
//! openmonime-bench-baseline [--listen 127.0.0.1:8090] [--body-bytes 250]
//! ```
//!
//! `--body-bytes` pads the JSON object so its serialized size matches openmonime's `GET /` answer
//! (the harness measures that size first). Prints `listening on ADDR` once the socket is bound.

/// The same allocator as openmonime, so the ratio measures only what openmonime adds.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

/// The answer with an empty padding field; the padding grows it to the requested size.
fn body(padding: &str) -> Value {
    json!({"platform": "Monime - Ⓜ️", "hello": "world", "padding": padding})
}

/// Padding that makes `body` serialize to exactly `target` bytes (or as small as it can be).
fn padding_for(target: usize) -> String {
    let bare = body("").to_string().len();
    "x".repeat(target.saturating_sub(bare))
}

/// Builds and serializes the object per request, as a JSON handler does.
async fn root(State(padding): State<Arc<str>>) -> Json<Value> {
    Json(body(&padding))
}

fn usage() -> ! {
    eprintln!("usage: openmonime-bench-baseline [--listen ADDR] [--body-bytes N]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut listen = "127.0.0.1:8090".to_owned();
    let mut body_bytes = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--listen" => listen = value,
            "--body-bytes" => body_bytes = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let padding: Arc<str> = padding_for(body_bytes).into();
    let app = Router::new().route("/", get(root)).with_state(padding);
    let listener = tokio::net::TcpListener::bind(&listen).await.unwrap_or_else(|e| {
        eprintln!("cannot listen on {listen}: {e}");
        std::process::exit(1)
    });
    println!("listening on {}", listener.local_addr().map(|a| a.to_string()).unwrap_or(listen));
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("server error: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_the_requested_size() {
        for n in [100, 250, 400] {
            assert_eq!(body(&padding_for(n)).to_string().len(), n);
        }
    }
}
