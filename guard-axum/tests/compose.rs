//! Composing a guarded app: everything a user would add with axum's
//! `merge`, `nest`, `nest_service` or `fallback` goes through the
//! `GuardedRouter`, so it runs behind the guards and the router-wide stack
//! and appears in the report. Attacked through the built app.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/http.rs"]
mod http_support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use guard_axum::auth::{ApiKeys, BearerAuth};
use guard_axum::routing::{get, post};
use guard_axum::{GuardedApp, GuardedRouter, Principal, secure_route};
use http::{Request, StatusCode};
use http_support::{Reply, from_peer, request_as};

static EXPORTS: AtomicUsize = AtomicUsize::new(0);
/// Fallback runs for the path the fallback test sends; other tests reach the
/// fallback concurrently (`POST /export`), so a plain counter would race.
static FALLBACK_RUNS: AtomicUsize = AtomicUsize::new(0);
const FALLBACK_PROBE: &str = "/no/such/page";

#[secure_route(public = "health check")]
async fn health() -> &'static str {
    "ok"
}

#[secure_route(auth)]
async fn export(user: Principal) -> String {
    EXPORTS.fetch_add(1, Ordering::SeqCst);
    format!("export for {}", user.id())
}

#[secure_route(auth)]
async fn me(user: Principal) -> String {
    user.id().to_owned()
}

#[secure_route(auth, rate = "2/min")]
async fn not_found_page(user: Principal, uri: http::Uri) -> (StatusCode, String) {
    if uri.path() == FALLBACK_PROBE {
        FALLBACK_RUNS.fetch_add(1, Ordering::SeqCst);
    }
    (
        StatusCode::NOT_FOUND,
        format!("nothing here, {}", user.id()),
    )
}

const ALICE: &str = "alice-key-0123456789-0123456789-0123456789";

fn keys() -> ApiKeys {
    ApiKeys::new()
        .with_key(ALICE, Principal::new("alice"))
        .unwrap()
}

/// An admin sub-router, a users sub-router merged at the root, a static
/// "files" service, and a guarded fallback.
fn app() -> GuardedApp {
    let admin = GuardedRouter::new().route("/export", post(export));
    let users = GuardedRouter::new().route("/me", get(me));
    let files = tower::service_fn(|request: Request<Body>| async move {
        Ok::<_, Infallible>(format!("file {}", request.uri().path()))
    });
    GuardedRouter::new()
        .route("/healthz", get(health))
        .nest("/admin", admin)
        .merge(users)
        .nest_service("/static", "public assets", files)
        .fallback(not_found_page)
        .authenticator(BearerAuth::new(keys()))
        .build()
        .unwrap()
}

async fn send(app: &GuardedApp, method: &str, uri: &str, key: Option<&str>) -> Reply {
    let request = request_as(method, uri, key).body(Body::empty()).unwrap();
    http_support::send(app, from_peer(request, [10, 0, 0, 9])).await
}

fn assert_security_headers(reply: &Reply, what: &str) {
    for name in [
        "x-content-type-options",
        "content-security-policy",
        "x-frame-options",
    ] {
        assert!(reply.headers.contains_key(name), "{what}: no {name}");
    }
}

#[tokio::test]
async fn a_nested_route_keeps_its_guards_and_the_stack() {
    let app = app();
    let before = EXPORTS.load(Ordering::SeqCst);
    let anonymous = send(&app, "POST", "/admin/export", None).await;
    assert_eq!(
        (anonymous.status, anonymous.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"error":"unauthenticated"}"#)
    );
    assert_security_headers(&anonymous, "401");
    assert_eq!(EXPORTS.load(Ordering::SeqCst), before, "the handler ran");

    let alice = send(&app, "POST", "/admin/export", Some(ALICE)).await;
    assert_eq!(
        (alice.status, alice.body.as_str()),
        (StatusCode::OK, "export for alice")
    );
    assert_security_headers(&alice, "200");

    // The sub-router's path without the prefix is not served.
    let bare = send(&app, "POST", "/export", Some(ALICE)).await;
    assert_eq!(bare.status, StatusCode::NOT_FOUND);

    let merged = send(&app, "GET", "/me", None).await;
    assert_eq!(
        (merged.status, merged.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"error":"unauthenticated"}"#)
    );
}

#[tokio::test]
async fn a_mounted_service_is_served_inside_the_stack_and_reported_public() {
    let app = app();
    let file = send(&app, "GET", "/static/logo.svg", None).await;
    assert_eq!(
        (file.status, file.body.as_str()),
        (StatusCode::OK, "file /logo.svg")
    );
    assert_security_headers(&file, "service");

    let report = app.report();
    let row = report.route("ANY", "/static/{*rest}").unwrap();
    assert_eq!(row.access, "public");
    assert_eq!(row.public_reason.as_deref(), Some("public assets"));
    assert!(report.route("POST", "/admin/export").is_some());
    assert!(report.route("GET", "/me").is_some());
    let fallback = report.route("ANY", "/{*fallback}").unwrap();
    assert_eq!(fallback.access, "auth");
    assert_eq!(fallback.handler, "not_found_page");
}

#[tokio::test]
async fn the_fallback_runs_its_guards() {
    let app = app();
    let before = FALLBACK_RUNS.load(Ordering::SeqCst);
    let anonymous = send(&app, "GET", FALLBACK_PROBE, None).await;
    assert_eq!(
        (anonymous.status, anonymous.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"error":"unauthenticated"}"#)
    );
    assert_security_headers(&anonymous, "fallback 401");
    assert_eq!(FALLBACK_RUNS.load(Ordering::SeqCst), before);

    let alice = send(&app, "GET", FALLBACK_PROBE, Some(ALICE)).await;
    assert_eq!(
        (alice.status, alice.body.as_str()),
        (StatusCode::NOT_FOUND, "nothing here, alice")
    );
    assert_eq!(FALLBACK_RUNS.load(Ordering::SeqCst), before + 1);
}

#[test]
fn a_sub_router_with_its_own_settings_is_a_build_problem() {
    let admin = GuardedRouter::<()>::new()
        .route("/export", post(export))
        .authenticator(BearerAuth::new(keys()))
        .request_timeout(None);
    let with_fallback = GuardedRouter::<()>::new().fallback(not_found_page);
    let err = GuardedRouter::new()
        .nest("/admin", admin)
        .nest("/inner", with_fallback)
        .nest("/bad/", GuardedRouter::new())
        .nest_service(
            "/files",
            "  ",
            tower::service_fn(|_: Request<Body>| async { Ok::<_, Infallible>("x") }),
        )
        .fallback(health)
        .fallback(health)
        .authenticator(BearerAuth::new(keys()))
        .build()
        .unwrap_err();
    let problems = err.problems().join("\n");
    for expected in [
        "a nested router sets `.authenticator(...)`, `.request_timeout(...)`; router-wide settings go on the outermost router only",
        "the fallback not_found_page of a nested router would be lost; set one fallback on the outermost router",
        "nest path `/bad/` must not end with `/`",
        "the service at `/files` needs a reason it is public",
        "the router has two fallbacks (health and health); keep one",
    ] {
        assert!(
            problems.contains(expected),
            "missing {expected:?} in:\n{problems}"
        );
    }
}

#[test]
fn a_service_over_routes_is_a_build_problem() {
    let err = GuardedRouter::<()>::new()
        .route("/static/me", get(me))
        .nest_service(
            "/static",
            "assets",
            tower::service_fn(|_: Request<Body>| async { Ok::<_, Infallible>("x") }),
        )
        .authenticator(BearerAuth::new(keys()))
        .build()
        .unwrap_err();
    assert!(
        err.problems()
            .iter()
            .any(|p| p.contains("the service at `/static` overlaps routes")),
        "{:?}",
        err.problems()
    );
}
