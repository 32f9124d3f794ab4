//! The guard spine through a real axum `GuardedApp`: every status of the error
//! model, authentication by session and by bearer token, authorization, the
//! router's build-time checks and its report.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/http.rs"]
mod http_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use guard_axum::GuardedApp;
use guard_axum::auth::{ApiKeys, BearerAuth, SessionAuth};
use guard_axum::extract::ValidPath;
use guard_axum::routing::{delete, get, post};
use guard_axum::{GuardError, GuardedRouter, Principal, ReportFormat, secure_route};
use http::{Request, StatusCode, header};
use http_support::{Reply, send};
use tower_sessions::session::{Id, Record};
use tower_sessions::{MemoryStore, SessionManagerLayer, SessionStore as _};

thread_local! {
    /// Handler runs on this thread. Each `#[tokio::test]` drives its
    /// requests on its own thread, so parallel tests do not see each
    /// other's calls (a shared counter made the "not run" checks racy).
    static CALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn calls() -> usize {
    CALLS.with(std::cell::Cell::get)
}

fn count_call() {
    CALLS.with(|calls| calls.set(calls.get() + 1));
}

#[derive(Debug, thiserror::Error)]
#[error(
    "error returned from database: UNIQUE constraint failed: users.email ('alice@example.com', password 'hunter2')"
)]
struct SqlError;

#[secure_route(public = "health check")]
async fn health() -> &'static str {
    "ok"
}

#[secure_route(auth)]
async fn me(user: Principal) -> String {
    count_call();
    format!("hello {}", user.id())
}

#[secure_route(auth, roles = ["admin"])]
async fn purge(_user: Principal) -> &'static str {
    count_call();
    "purged"
}

/// The `{id}` path parameter.
#[derive(serde::Deserialize, validator::Validate)]
struct IdParam {
    id: u32,
}

#[secure_route(auth, permission = "projects:delete")]
async fn remove(ValidPath(IdParam { id }): ValidPath<IdParam>) -> String {
    format!("removed {id}")
}

/// The `{kind}` path parameter.
#[derive(serde::Deserialize, validator::Validate)]
struct KindParam {
    kind: String,
}

#[secure_route(public = "error model demo")]
async fn fail(
    ValidPath(KindParam { kind }): ValidPath<KindParam>,
) -> Result<&'static str, GuardError> {
    match kind.as_str() {
        "sql" => Err(SqlError)?,
        "io" => Err(std::io::Error::other(
            "open /etc/app/secret.key: permission denied",
        ))?,
        "invalid" => Err(GuardError::invalid_input()),
        "forbidden" => Err(GuardError::forbidden()),
        "missing" => Err(GuardError::not_found()),
        "big" => Err(GuardError::payload_too_large()),
        "type" => Err(GuardError::unsupported_media_type()),
        "slow" => Err(GuardError::too_many_requests(
            std::time::Duration::from_millis(2500),
        )),
        "panic" => panic!("invariant broken for row 'alice@example.com'"),
        _ => Ok("fine"),
    }
}

#[secure_route(public = "raw 500 demo")]
async fn raw_500() -> (StatusCode, &'static str) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "stack trace: at db.rs:42 SELECT * FROM users",
    )
}

const ADMIN_KEY: &str = "admin-key-0123456789-0123456789-0123456789";
const USER_KEY: &str = "user-key-0123456789-0123456789-0123456789";

fn bearer_app() -> GuardedApp {
    let keys = ApiKeys::new()
        .with_key(ADMIN_KEY, Principal::new("1").with_roles(["admin"]))
        .unwrap()
        .with_key(
            USER_KEY,
            Principal::new("2").with_permissions(["projects:delete"]),
        )
        .unwrap();
    routes()
        .authenticator(BearerAuth::new(keys))
        .build()
        .unwrap()
}

fn routes() -> GuardedRouter {
    GuardedRouter::new()
        .route("/healthz", get(health))
        .route("/me", get(me))
        .route("/admin/purge", post(purge))
        .route("/projects/{id}", delete(remove))
        .route("/fail/{kind}", get(fail))
        .route("/raw500", get(raw_500))
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn with_bearer(method: &str, uri: &str, token: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn assert_internal(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let id = json["error_id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(
        reply.body,
        format!(r#"{{"error":"internal","error_id":"{id}"}}"#)
    );
}

#[tokio::test]
async fn every_status_of_the_error_model_has_its_generic_body() {
    let app = bearer_app();
    let table = [
        ("/fail/invalid", 400, r#"{"error":"invalid_input"}"#),
        ("/fail/forbidden", 403, r#"{"error":"forbidden"}"#),
        ("/fail/missing", 404, r#"{"error":"not_found"}"#),
        ("/fail/big", 413, r#"{"error":"payload_too_large"}"#),
        ("/fail/type", 415, r#"{"error":"unsupported_media_type"}"#),
        ("/fail/slow", 429, r#"{"error":"too_many_requests"}"#),
        ("/me", 401, r#"{"error":"unauthenticated"}"#),
        ("/no/such/route", 404, r#"{"error":"not_found"}"#),
    ];
    for (uri, status, body) in table {
        let reply = send(&app, get_req(uri)).await;
        assert_eq!(reply.status.as_u16(), status, "{uri}");
        assert_eq!(reply.body, body, "{uri}");
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "application/json",
            "{uri}"
        );
    }
    let slow = send(&app, get_req("/fail/slow")).await;
    assert_eq!(slow.headers[header::RETRY_AFTER], "3");

    let wrong_method = send(&app, Request::put("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.body, r#"{"error":"method_not_allowed"}"#);
}

#[tokio::test]
async fn internal_errors_never_leak_their_text() {
    let app = bearer_app();
    for uri in ["/fail/sql", "/fail/io", "/fail/panic", "/raw500"] {
        let reply = send(&app, get_req(uri)).await;
        assert_internal(&reply);
        for secret in [
            "UNIQUE",
            "alice@example.com",
            "hunter2",
            "secret.key",
            "SELECT",
            "invariant",
        ] {
            assert!(!reply.body.contains(secret), "{uri} leaked {secret}");
        }
    }
}

#[tokio::test]
async fn extractor_rejections_are_generic_and_do_not_echo_input() {
    let app = bearer_app();
    let reply = send(
        &app,
        with_bearer("DELETE", "/projects/not-a-number%3Cscript%3E", USER_KEY),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body, r#"{"error":"invalid_input"}"#);
}

#[tokio::test]
async fn bearer_authentication() {
    let app = bearer_app();
    let before = calls();
    let refused = [
        get_req("/me"),
        with_bearer("GET", "/me", "wrong-key-0123456789-0123456789-0123456789"),
        with_bearer("GET", "/me", "bad token with spaces"),
        Request::get("/me")
            .header(header::AUTHORIZATION, format!("Basic {ADMIN_KEY}"))
            .body(Body::empty())
            .unwrap(),
    ];
    for request in refused {
        let reply = send(&app, request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body, r#"{"error":"unauthenticated"}"#);
    }
    assert_eq!(calls(), before, "a refused request ran the handler");

    let ok = send(&app, with_bearer("GET", "/me", USER_KEY)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body, "hello 2");
    assert_eq!(ok.headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn roles_and_permissions_answer_403_only_when_logged_in() {
    let app = bearer_app();
    let before = calls();
    let anonymous = send(
        &app,
        Request::post("/admin/purge").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let user = send(&app, with_bearer("POST", "/admin/purge", USER_KEY)).await;
    assert_eq!(user.status, StatusCode::FORBIDDEN);
    assert_eq!(user.body, r#"{"error":"forbidden"}"#);
    assert_eq!(calls(), before);
    let admin = send(&app, with_bearer("POST", "/admin/purge", ADMIN_KEY)).await;
    assert_eq!(admin.status, StatusCode::OK);

    let no_permission = send(&app, with_bearer("DELETE", "/projects/7", ADMIN_KEY)).await;
    assert_eq!(no_permission.status, StatusCode::FORBIDDEN);
    let permitted = send(&app, with_bearer("DELETE", "/projects/7", USER_KEY)).await;
    assert_eq!(permitted.status, StatusCode::OK);
    assert_eq!(permitted.body, "removed 7");
}

#[secure_route(public = "login")]
async fn login(session: tower_sessions::Session) -> Result<StatusCode, GuardError> {
    guard_axum::auth::login(&session, &Principal::new("alice")).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[secure_route(auth)]
async fn logout(session: tower_sessions::Session) -> Result<StatusCode, GuardError> {
    guard_axum::auth::logout(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn session_app(store: MemoryStore) -> GuardedApp {
    routes()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .authenticator(SessionAuth::new())
        .layer(SessionManagerLayer::new(store))
        .build()
        .unwrap()
}

fn with_cookie(method: &str, uri: &str, cookie: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn session_authentication() {
    let store = MemoryStore::default();
    let app = session_app(store.clone());
    let before = calls();

    // No cookie, a garbage cookie, an unknown session id.
    for request in [
        get_req("/me"),
        with_cookie("GET", "/me", "id=garbage"),
        with_cookie("GET", "/me", &format!("id={}", Id::default())),
    ] {
        let reply = send(&app, request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body, r#"{"error":"unauthenticated"}"#);
    }

    // An expired session that holds a principal.
    let mut expired = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
    };
    expired
        .data
        .insert("guard.principal".into(), serde_json::json!({"id": "alice"}));
    store.create(&mut expired).await.unwrap();
    let reply = send(
        &app,
        with_cookie("GET", "/me", &format!("id={}", expired.id)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(calls(), before, "a refused request ran the handler");

    // Log in: a fresh cookie with tower-sessions' secure defaults.
    let reply = send(&app, Request::post("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let set_cookie = reply.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let reply = send(&app, with_cookie("GET", "/me", &cookie)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "hello alice");

    // Log out (from the service's own page: a cookie-authenticated POST
    // must show its origin): the same cookie no longer works.
    let mut logout = with_cookie("POST", "/logout", &cookie);
    logout.headers_mut().insert(
        "sec-fetch-site",
        http::HeaderValue::from_static("same-origin"),
    );
    let reply = send(&app, logout).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = send(&app, with_cookie("GET", "/me", &cookie)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_cycles_the_session_id() {
    let store = MemoryStore::default();
    let app = session_app(store.clone());
    // A session fixed by an attacker before login...
    let mut fixed = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    fixed.data.insert("seen".into(), serde_json::json!(true));
    store.create(&mut fixed).await.unwrap();
    let fixed_cookie = format!("id={}", fixed.id);
    let reply = send(&app, with_cookie("POST", "/login", &fixed_cookie)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let set_cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(!set_cookie.contains(&fixed.id.to_string()));
    // ...does not become the logged-in session.
    let reply = send(&app, with_cookie("GET", "/me", &fixed_cookie)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_auth_without_the_session_layer_fails_closed() {
    let app = routes().authenticator(SessionAuth::new()).build().unwrap();
    let before = calls();
    let reply = send(&app, get_req("/me")).await;
    assert_internal(&reply);
    assert_eq!(calls(), before);
}

#[test]
fn build_lists_every_problem_at_once() {
    let err = GuardedRouter::<()>::new()
        .route("/me", get(me))
        .route("/admin/purge", post(purge))
        .route("/me", get(health))
        .route("items/{id}", get(health))
        .route("/files/:id", get(health))
        .route("/a/{x}", get(health))
        .route("/a/{y}", post(health))
        .route("/b/{id}/{*id}", get(health))
        .build()
        .unwrap_err();
    assert_eq!(
        err.problems(),
        [
            "GET /me (me) requires auth but no authenticator is configured; call `.authenticator(...)`",
            "GET /me is routed twice (me and health); keep one",
            "POST /admin/purge (purge) requires auth but no authenticator is configured; call `.authenticator(...)`",
            "route path `items/{id}` must start with `/`",
            "route path `/files/:id` uses the old `:id` syntax; axum 0.8 writes parameters as `{name}` and wildcards as `{*name}`",
            "route paths `/a/{x}` and `/a/{y}` match the same requests; use one parameter name",
            "route path `/b/{id}/{*id}` names the parameter `id` twice; give each its own name",
        ]
    );
    assert!(
        err.to_string()
            .starts_with("the router has 7 problems:\n  - GET /me (me) requires auth")
    );
}

#[tokio::test]
async fn layers_wrap_routes_added_after_them() {
    // `layer` before `route`: with axum's GuardedApp the route would escape it.
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = GuardedRouter::<()>::new()
        .layer(axum::middleware::from_fn(
            move |req, next: axum::middleware::Next| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    next.run(req).await
                }
            },
        ))
        .route("/healthz", get(health))
        .build()
        .unwrap();
    let reply = send(&app, get_req("/healthz")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn report_snapshot_in_three_formats() {
    let report = routes()
        .route("/login", post(login))
        .authenticator(SessionAuth::new())
        .report();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots");
    report.assert_snapshot(ReportFormat::Text, format!("{dir}/report.txt"));
    report.assert_snapshot(ReportFormat::Markdown, format!("{dir}/report.md"));
    report.assert_snapshot(ReportFormat::Json, format!("{dir}/report.json"));
    assert_eq!(report.routes.len(), 7);
}

/// An extractor of the user's own that reads the body raw: the macro
/// refuses `String` by name and by type, but not this (the gap the crate
/// docs admit), and the default cap is what still bounds such a body.
struct Unchecked(String);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Unchecked {
    type Rejection = <String as axum::extract::FromRequest<S>>::Rejection;

    async fn from_request(req: Request<Body>, state: &S) -> Result<Self, Self::Rejection> {
        <String as axum::extract::FromRequest<S>>::from_request(req, state)
            .await
            .map(Unchecked)
    }
}

#[secure_route(public = "echo without a declared body")]
async fn echo(Unchecked(body): Unchecked) -> String {
    body
}

#[tokio::test]
async fn an_undeclared_body_is_capped_at_64_kib_not_axums_2_mb() {
    let app = GuardedRouter::<()>::new()
        .route("/echo", get(echo))
        .build()
        .unwrap();
    let at_cap = Request::get("/echo")
        .body(Body::from("a".repeat(64 * 1024)))
        .unwrap();
    assert_eq!(send(&app, at_cap).await.status, StatusCode::OK);
    let over = Request::get("/echo")
        .body(Body::from("a".repeat(64 * 1024 + 1)))
        .unwrap();
    let reply = send(&app, over).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.body, r#"{"error":"payload_too_large"}"#);
    // A streamed body of unknown length is capped the same way.
    let chunks = (0..17).map(|_| Ok::<_, std::io::Error>("a".repeat(4 * 1024)));
    let streamed = Request::get("/echo")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let reply = send(&app, streamed).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.body, r#"{"error":"payload_too_large"}"#);
    // No body at all: nothing to cap.
    let empty = Request::get("/echo").body(Body::empty()).unwrap();
    let reply = send(&app, empty).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, ""));
}
