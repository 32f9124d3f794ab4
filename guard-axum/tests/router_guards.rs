//! Guards a built router runs on every route, attacked through it: a role
//! refusal is charged against the limit like an authentication failure,
//! and the app-wide generic field detail holds on bodiless routes too.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/http.rs"]
mod http_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use guard_axum::GuardedApp;
use guard_axum::auth::{ApiKeys, BearerAuth};
use guard_axum::extract::ValidQuery;
use guard_axum::rate_limit::MemoryBackend;
use guard_axum::routing::get;
use guard_axum::{GuardedRouter, Principal, secure_route};
use guard_core::rate::FakeClock;
use guard_core::validate::FieldDetail;
use http::{StatusCode, header};
use http_support::{Reply, from_peer, request_as, send};
use serde::Deserialize;
use validator::Validate;

static ADMIN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[secure_route(auth, roles = ["admin"], rate = "3/min")]
async fn admin_only() -> &'static str {
    ADMIN_RUNS.fetch_add(1, Ordering::SeqCst);
    "secret"
}

#[derive(Debug, Deserialize, Validate)]
struct Search {
    #[validate(length(min = 1))]
    q: String,
}

#[secure_route(public = "search", query = Search)]
async fn search(ValidQuery(query): ValidQuery<Search>) -> String {
    query.q
}

const MALLORY: &str = "mallory-key-0123456789-0123456789-0123456789";
const ADMIN: &str = "admin-key-0123456789-0123456789-0123456789";

fn app(field_detail: FieldDetail) -> GuardedApp {
    let keys = ApiKeys::new()
        .with_key(MALLORY, Principal::new("mallory"))
        .unwrap()
        .with_key(ADMIN, Principal::new("root").with_roles(["admin"]))
        .unwrap();
    GuardedRouter::new()
        .route("/admin", get(admin_only))
        .route("/search", get(search))
        .authenticator(BearerAuth::new(keys))
        .rate_backend(Arc::new(MemoryBackend::new().clock(FakeClock::new(0))))
        .field_detail(field_detail)
        .build()
        .unwrap()
}

async fn get_as(app: &GuardedApp, uri: &str, key: Option<&str>, peer: [u8; 4]) -> Reply {
    let request = request_as("GET", uri, key).body(Body::empty()).unwrap();
    send(app, from_peer(request, peer)).await
}

#[tokio::test]
async fn a_role_refusal_spends_the_budget_and_then_answers_429() {
    let app = app(FieldDetail::default());
    for _ in 0..3 {
        let forbidden = get_as(&app, "/admin", Some(MALLORY), [10, 0, 0, 7]).await;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
        assert_eq!(forbidden.body, r#"{"error":"forbidden"}"#);
        assert!(
            forbidden.headers.contains_key("ratelimit"),
            "{:?}",
            forbidden.headers
        );
    }
    // The fourth probe is refused by the limit, not answered 403 again.
    let refused = get_as(&app, "/admin", Some(MALLORY), [10, 0, 0, 7]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.body, r#"{"error":"too_many_requests"}"#);
    assert!(refused.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(
        ADMIN_RUNS.load(Ordering::SeqCst),
        0,
        "the handler never ran"
    );
    // An admin from another address has a budget of its own and gets in.
    let admin = get_as(&app, "/admin", Some(ADMIN), [10, 0, 0, 8]).await;
    assert_eq!(
        (admin.status, admin.body.as_str()),
        (StatusCode::OK, "secret")
    );
}

#[tokio::test]
async fn generic_field_detail_hides_query_field_names_on_get_routes() {
    let generic = app(FieldDetail::Generic);
    for uri in ["/search?q=", "/search?q=x&user_id=2", "/search?q=x&debug=1"] {
        let reply = get_as(&generic, uri, None, [10, 0, 0, 9]).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::BAD_REQUEST, r#"{"error":"invalid_input"}"#),
            "{uri}"
        );
    }
    // The default still lists them, so the test above can fail.
    let listed = get_as(
        &app(FieldDetail::default()),
        "/search?q=x&debug=1",
        None,
        [10, 0, 0, 9],
    )
    .await;
    assert_eq!(listed.status, StatusCode::BAD_REQUEST);
    assert!(listed.body.contains("debug"), "{}", listed.body);
}
