//! Response hardening through a real `GuardedRouter`: security headers on
//! every status, CORS on the built router (preflight included), the generic
//! 408, and what reaches the log (scrubbed detail, the server's error id
//! beside the client's request id).

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/http.rs"]
mod http_support;
#[path = "support/log.rs"]
mod log_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use guard_axum::GuardedApp;
use guard_axum::auth::{ApiKeys, BearerAuth};
use guard_axum::cors::CorsPolicy;
use guard_axum::extract::ValidPath;
use guard_axum::headers::{DEFAULT_PERMISSIONS_POLICY, SecurityHeaders};
use guard_axum::routing::get;
use guard_axum::{GuardError, GuardedRouter, Principal, secure_route};
use http::{Request, StatusCode, header};
use http_support::{Reply, request, send};
use log_support::global_log;

const TOKEN: &str = "user-key-0123456789-0123456789-0123456789";
const ALLOWED_ORIGIN: &str = "https://example.com";

/// A few of the defaults written out, so a silent change of the core's
/// policy fails here too; the rest are checked against the policy itself.
const SPOT_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("x-frame-options", "DENY"),
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    ("permissions-policy", DEFAULT_PERMISSIONS_POLICY),
];

/// Set when the stalled handler's future is dropped by the timeout.
static STALL_DROPPED: AtomicBool = AtomicBool::new(false);

struct SetOnDrop;

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        STALL_DROPPED.store(true, Ordering::SeqCst);
    }
}

/// An upstream failure whose text quotes a bearer token, a password and an
/// email address, as client libraries do.
#[derive(Debug, thiserror::Error)]
#[error("charging the customer failed")]
struct ChargeError(#[source] UpstreamError);

#[derive(Debug, thiserror::Error)]
#[error(
    "POST https://billing.internal/v1/charge answered 401; sent Bearer tok_live_9f8e7d6c5b4a for alice@example.com with password=hunter2-Secret"
)]
struct UpstreamError;

/// The `{id}` path parameter.
#[derive(serde::Deserialize, validator::Validate)]
struct IdParam {
    id: u32,
}

#[secure_route(public = "catalogue")]
async fn show_item(ValidPath(IdParam { id }): ValidPath<IdParam>) -> String {
    format!("item {id}")
}

#[secure_route(auth)]
async fn me(user: Principal) -> String {
    format!("hello {}", user.id())
}

/// The `{kind}` path parameter.
#[derive(serde::Deserialize, validator::Validate)]
struct KindParam {
    kind: String,
}

#[secure_route(public = "error paths under test")]
async fn fail(
    ValidPath(KindParam { kind }): ValidPath<KindParam>,
) -> Result<&'static str, GuardError> {
    match kind.as_str() {
        "big" => Err(GuardError::payload_too_large()),
        "type" => Err(GuardError::unsupported_media_type()),
        "slow" => Err(GuardError::too_many_requests(Duration::from_secs(7))),
        "charge" => Err(ChargeError(UpstreamError))?,
        "panic" => panic!("invariant broken for alice@example.com"),
        _ => Ok("fine"),
    }
}

#[secure_route(public = "timeout under test")]
async fn stall() -> &'static str {
    let _dropped = SetOnDrop;
    std::future::pending::<()>().await;
    "never"
}

fn cors_policy() -> CorsPolicy {
    CorsPolicy::builder()
        .allow_origin(ALLOWED_ORIGIN)
        .unwrap()
        .allow_methods(["GET", "POST"])
        .unwrap()
        .allow_headers(["authorization", "content-type"])
        .unwrap()
        .allow_credentials(true)
        .build()
        .unwrap()
}

/// The router as `GuardedRouter::build` will wire it, with the hardening
/// layers applied on the built router (last `.layer` is outermost).
fn app() -> GuardedApp {
    let keys = ApiKeys::new().with_key(TOKEN, Principal::new("7")).unwrap();
    // Every hardening layer is the router's own, installed when it is built.
    GuardedRouter::new()
        .route("/items/{id}", get(show_item))
        .route("/me", get(me))
        .route("/fail/{kind}", get(fail))
        .route("/stall", get(stall))
        .authenticator(BearerAuth::new(keys))
        .cors(cors_policy())
        .request_timeout(Some(Duration::from_millis(50)))
        .build()
        .unwrap()
}

/// The OWASP API profile every response must carry: the core's default
/// policy, every header exactly once.
fn assert_default_headers(reply: &Reply, what: &str) {
    let policy = SecurityHeaders::default();
    assert_eq!(
        policy.iter().len(),
        9,
        "the OWASP API profile has nine headers"
    );
    for (name, value) in &policy {
        let all: Vec<_> = reply.headers.get_all(name).iter().collect();
        assert_eq!(all, [value], "{what}: {name}");
    }
    for (name, value) in SPOT_HEADERS {
        assert_eq!(reply.headers[name], value, "{what}: {name}");
    }
}

/// The generic 500 body, returning its error id.
fn internal_error_id(reply: &Reply, what: &str) -> String {
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{what}");
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let id = json["error_id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.body,
        format!(r#"{{"error":"internal","error_id":"{id}"}}"#),
        "{what}"
    );
    assert!(uuid_like(&id), "{what}: {id} is not a server-generated id");
    id
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[tokio::test]
async fn every_status_carries_all_default_headers_and_a_generic_body() {
    let app = app();
    let anonymous = |method: &str, uri: &str| request(method, uri).body(Body::empty()).unwrap();
    let table: [(&str, Request<Body>, u16, &str); 11] = [
        ("200 public", anonymous("GET", "/items/7"), 200, "item 7"),
        (
            "200 authenticated",
            request("GET", "/me")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
            200,
            "hello 7",
        ),
        (
            "400 bad path parameter",
            anonymous("GET", "/items/seven%3Cscript%3E"),
            400,
            r#"{"error":"invalid_input"}"#,
        ),
        (
            "401",
            anonymous("GET", "/me"),
            401,
            r#"{"error":"unauthenticated"}"#,
        ),
        (
            "404 unknown path",
            anonymous("GET", "/no/such/route"),
            404,
            r#"{"error":"not_found"}"#,
        ),
        (
            "405",
            anonymous("DELETE", "/items/7"),
            405,
            r#"{"error":"method_not_allowed"}"#,
        ),
        (
            "408",
            anonymous("GET", "/stall"),
            408,
            r#"{"error":"request_timeout"}"#,
        ),
        (
            "413",
            anonymous("GET", "/fail/big"),
            413,
            r#"{"error":"payload_too_large"}"#,
        ),
        (
            "415",
            anonymous("GET", "/fail/type"),
            415,
            r#"{"error":"unsupported_media_type"}"#,
        ),
        (
            "429",
            anonymous("GET", "/fail/slow"),
            429,
            r#"{"error":"too_many_requests"}"#,
        ),
        ("500 panic", anonymous("GET", "/fail/panic"), 500, ""),
    ];
    for (what, req, status, body) in table {
        let reply = send(&app, req).await;
        assert_eq!(reply.status.as_u16(), status, "{what}: {}", reply.body);
        assert_default_headers(&reply, what);
        if status == 500 {
            internal_error_id(&reply, what);
            assert!(!reply.body.contains("alice"), "{what}");
        } else {
            assert_eq!(reply.body, body, "{what}");
        }
        if status >= 400 {
            assert_eq!(
                reply.headers[header::CONTENT_TYPE],
                "application/json",
                "{what}"
            );
        }
        let cache = reply.headers.get(header::CACHE_CONTROL);
        if what == "200 authenticated" {
            assert_eq!(cache.unwrap(), "no-store", "{what}: no-store was lost");
        } else {
            assert_eq!(cache, None, "{what}");
        }
        if status == 429 {
            assert_eq!(reply.headers[header::RETRY_AFTER], "7");
        }
    }
    assert!(
        STALL_DROPPED.load(Ordering::SeqCst),
        "the timed-out handler kept running"
    );
}

fn from_origin(method: &str, uri: &str, origin: &str) -> Request<Body> {
    request(method, uri)
        .header(header::ORIGIN, origin)
        .body(Body::empty())
        .unwrap()
}

fn preflight(uri: &str, origin: &str) -> Request<Body> {
    request("OPTIONS", uri)
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .body(Body::empty())
        .unwrap()
}

const REFUSED_ORIGINS: [&str; 6] = [
    "https://example.com.evil.com",
    "https://evil-example.com",
    "null",
    "http://example.com",
    "https://example.com:8443",
    "https://sub.example.com",
];

#[tokio::test]
async fn cors_reflects_the_allowed_origin_exactly_on_every_status() {
    let app = app();
    // The page must be able to read errors too, the error id of a panic
    // included.
    for (uri, status) in [
        ("/items/7", 200),
        ("/me", 401),
        ("/nowhere", 404),
        ("/fail/panic", 500),
    ] {
        let reply = send(&app, from_origin("GET", uri, ALLOWED_ORIGIN)).await;
        assert_eq!(reply.status.as_u16(), status, "{uri}");
        assert_eq!(
            reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            ALLOWED_ORIGIN,
            "{uri}"
        );
        assert_eq!(
            reply.headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
            "true",
            "{uri}"
        );
        assert_default_headers(&reply, uri);
    }
    for origin in REFUSED_ORIGINS {
        let reply = send(&app, from_origin("GET", "/items/7", origin)).await;
        assert_eq!(reply.status, StatusCode::OK, "{origin}");
        for name in [
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        ] {
            assert_eq!(reply.headers.get(&name), None, "{origin}: {name}");
        }
        assert_default_headers(&reply, origin);
    }
}

#[tokio::test]
async fn preflight_is_answered_before_the_routers_405() {
    let app = app();
    // `/items/{id}` routes GET only: without the CORS layer in front, an
    // OPTIONS would be the router's 405.
    for uri in ["/items/7", "/me"] {
        let reply = send(&app, preflight(uri, ALLOWED_ORIGIN)).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
        assert_eq!(reply.body, "", "{uri}");
        assert_eq!(
            reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            ALLOWED_ORIGIN
        );
        assert_eq!(
            reply.headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
            "true"
        );
        assert_eq!(
            reply.headers[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET,POST"
        );
        assert_eq!(
            reply.headers[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "authorization,content-type"
        );
        assert_default_headers(&reply, uri);
    }
    for origin in REFUSED_ORIGINS {
        let reply = send(&app, preflight("/items/7", origin)).await;
        assert_eq!(
            reply.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            None,
            "{origin}"
        );
        assert_eq!(
            reply.headers.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
            None,
            "{origin}"
        );
        assert_ne!(reply.body, r#"{"error":"method_not_allowed"}"#);
        assert_default_headers(&reply, origin);
    }
}

/// Runs `requests` and returns the replies and the log so far.
async fn capture_log(requests: Vec<Request<Body>>) -> (Vec<Reply>, String) {
    let captured = global_log(tracing::Level::INFO);
    let app = app();
    let mut replies = Vec::new();
    for request in requests {
        replies.push(send(&app, request).await);
    }
    (replies, captured.text())
}

fn line_with<'a>(log: &'a str, needle: &str) -> &'a str {
    log.lines()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no log line contains {needle}:\n{log}"))
}

#[tokio::test]
async fn internal_error_detail_is_logged_scrubbed_under_the_bodys_error_id() {
    let (replies, log) = capture_log(vec![
        request("GET", "/fail/charge")
            .header("x-request-id", "attacker-chosen")
            .body(Body::empty())
            .unwrap(),
    ])
    .await;
    let reply = &replies[0];
    let id = internal_error_id(reply, "charge");
    assert_default_headers(reply, "charge");
    for secret in [
        "tok_live_9f8e7d6c5b4a",
        "hunter2",
        "alice@example.com",
        "billing",
        "charging",
    ] {
        assert!(!reply.body.contains(secret), "body leaked {secret}");
    }

    let line = line_with(&log, &format!("error_id={id}"));
    assert!(line.contains("charging the customer failed"), "{line}");
    assert!(line.contains("Bearer [redacted]"), "{line}");
    assert!(line.contains("password=[redacted]"), "{line}");
    assert!(line.contains("for [redacted] with"), "{line}");
    for secret in ["tok_live_9f8e7d6c5b4a", "hunter2", "alice@example.com"] {
        assert!(!log.contains(secret), "the log kept {secret}:\n{log}");
    }
    // The client's id sits beside the server's, on the same line.
    assert!(line.contains("client_request_id=attacker-chosen"), "{line}");
    assert!(line.contains("path=/fail/charge"), "{line}");
}

#[tokio::test]
async fn a_client_request_id_never_becomes_the_error_id() {
    let forged = "00000000-0000-4000-8000-000000000000";
    let (replies, log) = capture_log(vec![
        request("GET", "/fail/panic")
            .header("x-request-id", "attacker-chosen")
            .body(Body::empty())
            .unwrap(),
        request("GET", "/fail/charge")
            .header("x-request-id", forged)
            .body(Body::empty())
            .unwrap(),
        request("GET", "/fail/charge")
            .header("x-request-id", format!("x error_id={forged}"))
            .body(Body::empty())
            .unwrap(),
    ])
    .await;
    let panic_id = internal_error_id(&replies[0], "panic");
    assert_ne!(panic_id, "attacker-chosen");
    assert!(!replies[0].body.contains("attacker-chosen"));
    let panic_line = line_with(&log, &format!("error_id={panic_id}"));
    assert!(
        panic_line.contains("client_request_id=attacker-chosen"),
        "{panic_line}"
    );
    assert!(!panic_line.contains("alice@example.com"), "{panic_line}");

    // Even an id shaped like a server id is only logged beside it.
    let charge_id = internal_error_id(&replies[1], "uuid-shaped request id");
    assert_ne!(charge_id, forged);
    let line = line_with(&log, &format!("error_id={charge_id}"));
    assert!(
        line.contains(&format!("client_request_id={forged}")),
        "{line}"
    );

    // An id that would forge a log field is not logged as sent.
    let spoof_id = internal_error_id(&replies[2], "field-forging request id");
    let line = line_with(&log, &format!("error_id={spoof_id}"));
    assert!(line.contains("client_request_id=[invalid]"), "{line}");
    assert!(!line.contains("x error_id="), "{line}");
}
