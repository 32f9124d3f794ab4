//! Cross-site request forgery against cookie sessions, attacked through a
//! built router: a page on another site makes the victim's browser send a
//! state-changing request with the victim's session cookie attached.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/http.rs"]
mod http_support;

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use guard_axum::auth::{ApiKeys, BearerAuth, SessionAuth};
use guard_axum::cors::CorsPolicy;
use guard_axum::routing::{delete, get, post};
use guard_axum::{GuardError, GuardedApp, GuardedRouter, Principal, secure_route};
use http::{Request, StatusCode, header};
use http_support::send;
use tower::ServiceExt as _;
use tower_sessions::{MemoryStore, SessionManagerLayer};

static TRANSFERS: AtomicUsize = AtomicUsize::new(0);
static WEBHOOKS: AtomicUsize = AtomicUsize::new(0);
/// Held by the tests that count `TRANSFERS`, which run in parallel.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[secure_route(public = "login")]
async fn login(session: tower_sessions::Session) -> Result<StatusCode, GuardError> {
    guard_axum::auth::login(&session, &Principal::new("alice")).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[secure_route(auth)]
async fn me(user: Principal) -> String {
    user.id().to_owned()
}

/// A body-less POST: the CORS-simple request any page can send.
#[secure_route(auth)]
async fn transfer(_user: Principal) -> &'static str {
    TRANSFERS.fetch_add(1, Ordering::SeqCst);
    "sent"
}

#[secure_route(auth)]
async fn close_account(_user: Principal) -> &'static str {
    TRANSFERS.fetch_add(1, Ordering::SeqCst);
    "closed"
}

#[secure_route(
    auth,
    csrf = "none: called by the provider's servers with a signed cookie"
)]
async fn webhook(_user: Principal) -> &'static str {
    WEBHOOKS.fetch_add(1, Ordering::SeqCst);
    "ok"
}

fn cors() -> CorsPolicy {
    CorsPolicy::builder()
        .allow_origin("https://front.example.com")
        .unwrap()
        .allow_credentials(true)
        .build()
        .unwrap()
}

fn app() -> GuardedApp {
    GuardedRouter::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/transfer", post(transfer))
        .route("/account", delete(close_account))
        .route("/webhook", post(webhook))
        .authenticator(SessionAuth::new())
        .layer(SessionManagerLayer::new(MemoryStore::default()))
        .cors(cors())
        .csrf_trusted_origins(["https://shop.example.com"])
        .build()
        .unwrap()
}

async fn session_cookie(app: &GuardedApp) -> String {
    let response = app
        .clone()
        .oneshot(
            Request::post("/login")
                .header(header::HOST, "bank.example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

/// A request from the victim's browser: the session cookie, the Host the
/// browser addressed, and whatever the attacking page makes it send.
fn from_browser(method: &str, uri: &str, cookie: &str, extra: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "bank.example.com")
        .header(header::COOKIE, cookie);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(Body::empty()).unwrap()
}

const FORBIDDEN: &str = r#"{"error":"forbidden"}"#;

#[tokio::test]
async fn cross_site_unsafe_requests_with_the_session_cookie_are_refused() {
    let _serial = SERIAL.lock().await;
    let app = app();
    let cookie = session_cookie(&app).await;
    let before = TRANSFERS.load(Ordering::SeqCst);
    for (method, uri, extra) in [
        (
            "POST",
            "/transfer",
            vec![("origin", "https://evil.example")],
        ),
        (
            "POST",
            "/transfer",
            vec![
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
        ),
        // A sandboxed frame or a cross-origin redirect.
        ("POST", "/transfer", vec![("origin", "null")]),
        // A look-alike, another port, a sibling subdomain.
        (
            "POST",
            "/transfer",
            vec![("origin", "https://bank.example.com.evil.example")],
        ),
        (
            "POST",
            "/transfer",
            vec![("origin", "https://bank.example.com:8443")],
        ),
        (
            "POST",
            "/transfer",
            vec![
                ("origin", "https://blog.example.com"),
                ("sec-fetch-site", "same-site"),
            ],
        ),
        // No Origin at all: every browser sends one on a POST.
        ("POST", "/transfer", vec![]),
        (
            "DELETE",
            "/account",
            vec![("origin", "https://evil.example")],
        ),
    ] {
        let reply = send(&app, from_browser(method, uri, &cookie, &extra)).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::FORBIDDEN, FORBIDDEN),
            "{method} {uri} {extra:?}"
        );
    }
    assert_eq!(
        TRANSFERS.load(Ordering::SeqCst),
        before,
        "a forged request ran the handler"
    );

    // The same cookie still works from the service's own pages.
    let reply = send(&app, from_browser("GET", "/me", &cookie, &[])).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "alice")
    );
}

#[tokio::test]
async fn same_origin_and_trusted_origins_pass() {
    let _serial = SERIAL.lock().await;
    let app = app();
    let cookie = session_cookie(&app).await;
    for extra in [
        vec![("origin", "https://bank.example.com")],
        vec![("sec-fetch-site", "same-origin")],
        // The CORS allowlist's origin and the configured one.
        vec![("origin", "https://front.example.com")],
        vec![
            ("origin", "https://shop.example.com"),
            ("sec-fetch-site", "same-site"),
        ],
    ] {
        let before = TRANSFERS.load(Ordering::SeqCst);
        let reply = send(&app, from_browser("POST", "/transfer", &cookie, &extra)).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::OK, "sent"),
            "{extra:?}"
        );
        assert_eq!(TRANSFERS.load(Ordering::SeqCst), before + 1);
    }
}

#[tokio::test]
async fn an_opted_out_route_and_cookieless_requests_are_not_checked() {
    let app = app();
    let cookie = session_cookie(&app).await;
    let before = WEBHOOKS.load(Ordering::SeqCst);
    let reply = send(
        &app,
        from_browser(
            "POST",
            "/webhook",
            &cookie,
            &[("origin", "https://evil.example")],
        ),
    )
    .await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "ok"));
    assert_eq!(WEBHOOKS.load(Ordering::SeqCst), before + 1);

    // Without a cookie there is nothing to forge: authentication answers.
    let reply = send(
        &app,
        Request::post("/transfer")
            .header("origin", "https://evil.example")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"error":"unauthenticated"}"#)
    );
}

#[test]
fn the_report_shows_which_routes_are_checked() {
    let app = app();
    let report = app.report();
    assert_eq!(
        report.route("POST", "/transfer").unwrap().csrf.as_deref(),
        Some("origin")
    );
    assert_eq!(
        report.route("DELETE", "/account").unwrap().csrf.as_deref(),
        Some("origin")
    );
    // Safe methods are not checked; a public unsafe route is (login CSRF).
    assert_eq!(report.route("GET", "/me").unwrap().csrf, None);
    assert_eq!(
        report.route("POST", "/login").unwrap().csrf.as_deref(),
        Some("origin")
    );
    assert_eq!(
        report.route("POST", "/webhook").unwrap().csrf.as_deref(),
        Some("none: called by the provider's servers with a signed cookie")
    );
    let text = report.to_text();
    assert!(text.contains("csrf: origin checked"), "{text}");
    assert!(
        text.contains("csrf: none (called by the provider's servers with a signed cookie)"),
        "{text}"
    );
}

#[secure_route(auth)]
async fn bearer_transfer(_user: Principal) -> &'static str {
    "sent"
}

#[tokio::test]
async fn a_bearer_authenticator_is_not_checked() {
    // A token is sent only by code that holds it: no ambient credential.
    let key = "a-bearer-key-0123456789-0123456789-0123";
    let keys = ApiKeys::new().with_key(key, Principal::new("bot")).unwrap();
    let app = GuardedRouter::new()
        .route("/transfer", post(bearer_transfer))
        .authenticator(BearerAuth::new(keys))
        .build()
        .unwrap();
    assert_eq!(app.report().route("POST", "/transfer").unwrap().csrf, None);
    let mut request = Request::post("/transfer")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::COOKIE, "tracking=1")
        .header("origin", "https://evil.example")
        .body(Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [10, 0, 0, 1],
            1,
        ))));
    let reply = send(&app, request).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "sent")
    );
}

#[test]
fn a_malformed_trusted_origin_is_a_build_problem() {
    let err = GuardedRouter::<()>::new()
        .route("/transfer", post(transfer))
        .authenticator(SessionAuth::new())
        .csrf_trusted_origins(["https://*.example.com", "null"])
        .build()
        .unwrap_err();
    let problems = err.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("csrf trusted origin `https://*.example.com`:")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("csrf trusted origin `null`:")),
        "{problems:?}"
    );
}
