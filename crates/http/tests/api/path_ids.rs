//! Issue 12, finding 13 (the path part): a path parameter that does not percent-decode to UTF-8
//! answers in the envelope (400 `validation_failed`, the parameter named, `invalid_encoding`) on
//! every route that has one, never axum's `text/plain` "Invalid URL…".

use crate::support::*;
use openmonime_http::handlers::route_table;

#[tokio::test]
async fn an_undecodable_path_parameter_answers_the_envelope_on_every_route() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    // Live and all-permission: members, roles and policies take only live tokens, so every route
    // gets as far as reading its path.
    let t = app.live_token(&o.monimeer).await;
    let mut checked = 0;
    for spec in route_table().into_iter().filter(|s| s.path.contains('{')) {
        let param = spec.path.split('{').nth(1).and_then(|rest| rest.split('}').next()).unwrap().to_owned();
        for bad in ["%ff", "%c3%28", "acc-%80x"] {
            let path = spec.path.replace(&format!("{{{param}}}"), bad);
            let method = reqwest::Method::from_bytes(spec.method.as_str().as_bytes()).unwrap();
            let mut req = app.req(method, &path, &t, &o.space).header("Idempotency-Key", idem_key());
            if spec.method == axum::http::Method::POST || spec.method == axum::http::Method::PATCH {
                req = req.json(&serde_json::json!({}));
            }
            let res = req.send().await.expect("request");
            let status = res.status().as_u16();
            let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
            let text = res.text().await.unwrap();
            let what = format!("{} {path}", spec.method);
            assert!(content_type.starts_with("application/json"), "{what}: {content_type} {text}");
            let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: {text}"));
            let err = assert_error(status, &body, 400, "validation_failed");
            assert_eq!(err["details"][0]["field"], param.as_str(), "{what}: {body}");
            assert_eq!(err["details"][0]["reason"], "invalid_encoding", "{what}: {body}");
        }
        checked += 1;
    }
    assert!(checked >= 12, "the loop reached the routes with path parameters ({checked})");
}

/// Issue 14: a path id is parsed into its typed id before any query, and one of the wrong kind
/// (a transfer's id where an account's belongs, garbage) is 404 like an id that names nothing —
/// on every route with an `{id}`, whatever the kind. The answer says which kind was not found.
#[tokio::test]
async fn an_id_of_the_wrong_kind_is_404_on_every_route() {
    let app = TestApp::spawn().await;
    let o = app.owner().await;
    let t = app.live_token(&o.monimeer).await;
    let mut checked = 0;
    for spec in route_table().into_iter().filter(|s| s.path.contains("{id}")) {
        let right_prefix = spec.path.split('/').nth(2).unwrap();
        for wrong in ["spc-abc123", "fac-abc123", "tok-abc123", "xyz", "fac-", "mmr-abc 123"] {
            let wrong_kind = match right_prefix {
                "financial-accounts" => !wrong.starts_with("fac-") || wrong == "fac-",
                _ => true,
            };
            if !wrong_kind {
                continue;
            }
            let path = spec.path.replace("{id}", &wrong.replace(' ', "%20"));
            let method = reqwest::Method::from_bytes(spec.method.as_str().as_bytes()).unwrap();
            let mut req = app.req(method, &path, &t, &o.space).header("Idempotency-Key", idem_key());
            // A body the operation accepts, so that only the id can be wrong.
            if spec.method == axum::http::Method::PATCH {
                let body = if right_prefix == "space-members" {
                    serde_json::json!({"role": "viewer"})
                } else {
                    serde_json::json!({})
                };
                req = req.json(&body);
            }
            let res = req.send().await.expect("request");
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap();
            let err = assert_error(status, &body, 404, "not_found");
            assert!(err["message"].as_str().unwrap().ends_with("not found"), "{} {path}: {body}", spec.method);
        }
        checked += 1;
    }
    assert!(checked >= 11, "the loop reached the routes with an id ({checked})");
}
