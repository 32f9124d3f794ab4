//! Rate limits declared in `#[secure_route]`, through a built router:
//! per IP before authentication, per account after it, per identifier on a
//! public login route, and operator overrides.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/http.rs"]
mod http_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use guard_axum::GuardedApp;
use guard_axum::auth::{ApiKeys, BearerAuth};
use guard_axum::rate_limit::{LimitOverride, LimitsConfig, MemoryBackend};
use guard_axum::routing::{get, post};
use guard_axum::{GuardError, GuardedRouter, IdentifierLimit, Principal, Valid, secure_route};
use guard_core::client_ip::ClientIpConfig;
use guard_core::rate::{Clock as _, FakeClock};
use http::{Request, StatusCode, header};
use http_support::{Reply, from_peer, request_as};
use tower::ServiceExt as _;

/// Each identifier the login handler got past its limit, once per run:
/// tests run in parallel, so each counts only its own identifiers.
static LOGIN_RUNS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn login_runs(identifier: &str) -> usize {
    let runs = LOGIN_RUNS.lock().unwrap();
    runs.iter().filter(|run| run.as_str() == identifier).count()
}

#[secure_route(auth, rate_account = "2/min")]
async fn me(user: Principal) -> String {
    user.id().to_owned()
}

#[secure_route(auth, rate_ip = "3/min")]
async fn per_ip() -> &'static str {
    "ok"
}

/// `{"email": …}`.
#[derive(serde::Deserialize, validator::Validate)]
struct Email {
    email: String,
}

#[secure_route(public = "login", rate_ip = "100/min", rate_identifier = "3/min", body = Email)]
async fn login(
    limit: IdentifierLimit,
    Valid(Email { email }): Valid<Email>,
) -> Result<&'static str, GuardError> {
    limit.check(&email).await?;
    LOGIN_RUNS.lock().unwrap().push(email.trim().to_lowercase());
    Ok("checked")
}

#[secure_route(public = "catalogue", rate_ip = "1/min")]
async fn catalogue() -> &'static str {
    "items"
}

const ALICE: &str = "alice-key-0123456789-0123456789-0123456789";
const BOB: &str = "bob-key-0123456789-0123456789-0123456789";

fn router(clock: &FakeClock) -> GuardedRouter {
    let keys = ApiKeys::new()
        .with_key(ALICE, Principal::new("alice"))
        .unwrap()
        .with_key(BOB, Principal::new("bob"))
        .unwrap();
    GuardedRouter::new()
        .route("/me", get(me))
        .route("/ip", get(per_ip))
        .route("/login", post(login))
        .route("/catalogue", get(catalogue))
        .authenticator(BearerAuth::new(keys))
        .rate_backend(Arc::new(MemoryBackend::new().clock(clock.clone())))
}

async fn send(
    app: &GuardedApp,
    method: &str,
    uri: &str,
    peer: [u8; 4],
    key: Option<&str>,
    body: &str,
) -> Reply {
    // A POST's body is the e-mail, sent as `{"email": …}`.
    let request = if method == "POST" {
        request_as(method, uri, key)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::json!({ "email": body }).to_string()))
    } else {
        request_as(method, uri, key).body(Body::from(body.to_owned()))
    }
    .unwrap();
    http_support::send(app, from_peer(request, peer)).await
}

#[tokio::test]
async fn per_account_limit_refuses_with_429_and_refills() {
    let clock = FakeClock::new(0);
    let app = router(&clock).build().unwrap();
    for _ in 0..2 {
        let ok = send(&app, "GET", "/me", [10, 0, 0, 1], Some(ALICE), "").await;
        assert_eq!(ok.status, StatusCode::OK);
        assert!(ok.headers.contains_key("ratelimit"), "{:?}", ok.headers);
        assert!(ok.headers.contains_key("ratelimit-policy"));
    }
    let refused = send(&app, "GET", "/me", [10, 0, 0, 1], Some(ALICE), "").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.body, r#"{"error":"too_many_requests"}"#);
    assert_eq!(refused.headers[header::RETRY_AFTER], "30");
    // Another account on the same address has its own budget.
    let bob = send(&app, "GET", "/me", [10, 0, 0, 1], Some(BOB), "").await;
    assert_eq!(bob.status, StatusCode::OK);
    // One emission interval later, one more.
    clock.advance(Duration::from_secs(30));
    let again = send(&app, "GET", "/me", [10, 0, 0, 1], Some(ALICE), "").await;
    assert_eq!(again.status, StatusCode::OK);
}

#[tokio::test]
async fn failed_authentication_spends_the_per_ip_budget_before_auth() {
    let clock = FakeClock::new(0);
    let app = router(&clock).build().unwrap();
    for _ in 0..3 {
        let reply = send(&app, "GET", "/ip", [10, 0, 0, 2], None, "").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    // Over the per-IP limit: refused before the (valid) key is even checked.
    let reply = send(&app, "GET", "/ip", [10, 0, 0, 2], Some(ALICE), "").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let elsewhere = send(&app, "GET", "/ip", [10, 0, 0, 3], Some(ALICE), "").await;
    assert_eq!(elsewhere.status, StatusCode::OK);
}

#[tokio::test]
async fn login_brute_force_from_rotating_ips_is_stopped_per_identifier() {
    let clock = FakeClock::new(0);
    let app = router(&clock).build().unwrap();
    let mut statuses = Vec::new();
    for n in 0..6_u8 {
        let reply = send(
            &app,
            "POST",
            "/login",
            [203, 0, 113, n],
            None,
            "Alice@Example.com ",
        )
        .await;
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    assert_eq!(login_runs("alice@example.com"), 3);
    // Another identifier is untouched.
    let other = send(
        &app,
        "POST",
        "/login",
        [203, 0, 113, 99],
        None,
        "bob@example.com",
    )
    .await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test]
async fn login_answers_say_nothing_of_what_others_spent_on_an_identifier() {
    // A RateLimit header on a login would tell any client how many attempts
    // an e-mail has seen lately (whether the account is in use).
    let clock = FakeClock::new(0);
    let app = router(&clock).build().unwrap();
    let login =
        |ip: u8, email: &'static str| send(&app, "POST", "/login", [198, 51, 100, ip], None, email);
    // Others have spent two of carol's three attempts; nobody has tried dave.
    for ip in [1, 2] {
        assert_eq!(login(ip, "carol@example.com").await.status, StatusCode::OK);
    }
    let carol = login(3, "carol@example.com").await;
    let dave = login(4, "dave@example.com").await;
    assert_eq!(
        (carol.status, dave.status),
        (StatusCode::OK, StatusCode::OK)
    );
    let names = |reply: &Reply| {
        let mut names: Vec<String> = reply.headers.keys().map(|n| n.to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(names(&carol), names(&dave));
    for reply in [&carol, &dave] {
        assert!(
            !reply.headers.contains_key("ratelimit"),
            "{:?}",
            reply.headers
        );
        assert!(!reply.headers.contains_key("ratelimit-policy"));
    }
    // The refusal says when to come back, and nothing more.
    let refused = login(5, "carol@example.com").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers.contains_key("retry-after"));
    assert!(!refused.headers.contains_key("ratelimit"));
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_does_not_change_the_key() {
    let clock = FakeClock::new(0);
    let app = router(&clock)
        .client_ip(
            ClientIpConfig::new()
                .trust_proxy("10.9.0.0/16")
                .unwrap()
                .from_x_forwarded_for(),
        )
        .build()
        .unwrap();
    let forged = |xff: &'static str| {
        let mut request = Request::get("/catalogue")
            .header("x-forwarded-for", xff)
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([198, 51, 100, 7], 1))));
        request
    };
    let first = app.clone().oneshot(forged("1.1.1.1")).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let second = app.clone().oneshot(forged("2.2.2.2")).await.unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);

    // Behind the trusted proxy, the forwarded client is the key.
    let via_proxy = |client: &'static str| {
        let mut request = Request::get("/catalogue")
            .header("x-forwarded-for", client)
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 9, 0, 1], 1))));
        request
    };
    assert_eq!(
        app.clone()
            .oneshot(via_proxy("192.0.2.1"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.clone()
            .oneshot(via_proxy("192.0.2.2"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.clone()
            .oneshot(via_proxy("192.0.2.1"))
            .await
            .unwrap()
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn operator_overrides_replace_the_attribute_and_show_in_the_report() {
    let clock = FakeClock::new(clock_start());
    let limits: LimitsConfig = LimitsConfig::new()
        .set(
            "GET /catalogue",
            LimitOverride {
                rate_ip: Some("3/min".parse().unwrap()),
                ..LimitOverride::default()
            },
        )
        .unwrap();
    let guarded = router(&clock).rate_limits(limits);
    let report = guarded.report();
    let rates = &report.route("GET", "/catalogue").unwrap().rates;
    assert_eq!(rates.len(), 1);
    assert_eq!(
        (rates[0].spec.as_str(), rates[0].source.as_str()),
        ("3/min", "override")
    );
    let me_rates = &report.route("GET", "/me").unwrap().rates;
    assert_eq!(me_rates[0].source, "attribute");

    let app = guarded.build().unwrap();
    for _ in 0..3 {
        assert_eq!(
            send(&app, "GET", "/catalogue", [10, 0, 0, 4], None, "")
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_eq!(
        send(&app, "GET", "/catalogue", [10, 0, 0, 4], None, "")
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[test]
fn an_override_for_an_unknown_route_stops_the_build() {
    let clock = FakeClock::new(0);
    let limits = LimitsConfig::new()
        .set("POST /api/logn", LimitOverride::default())
        .unwrap();
    let err = router(&clock).rate_limits(limits).build().unwrap_err();
    assert_eq!(
        err.problems(),
        [
            "rate-limit override for `POST /api/logn` matches no route; check the method and the path as routed"
        ]
    );
}

fn clock_start() -> u64 {
    FakeClock::new(0).now_ns()
}
