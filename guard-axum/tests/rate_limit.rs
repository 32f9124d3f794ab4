//! Rate limits through a real axum `Router`: the layer without the macro,
//! the client IP behind proxies, the per-route guard with its per-IP,
//! per-account and per-identifier limits and quota, and the failure modes
//! of a backend. Time is a `FakeClock`; nothing sleeps.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/http.rs"]
mod http_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use guard_axum::Principal;
use guard_axum::rate_limit::{
    BackendError, ClientIp, ClientIpLayer, Decide, FailMode, KeyBy, LimitsConfig, MemoryBackend,
    Policy, PolicySet, RateBackend, RateGuard, RateLimitLayer, RateLimits, client_rate_key,
};
use guard_core::client_ip::ClientIpConfig;
use guard_core::rate::{FakeClock, RateKey};
use http::{Request, StatusCode};
use http_support::{Reply, send};

const DAY_NS: u64 = 86_400 * 1_000_000_000;

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("<missing>", |v| v.to_str().unwrap())
    }
}

/// A request from socket peer `peer`, with extra headers.
fn from(peer: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::get("/");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Body::empty()).unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

fn echo_ip_app(layer: RateLimitLayer, client_ip: ClientIpConfig) -> Router {
    Router::new()
        .route(
            "/",
            get(|ClientIp(ip): ClientIp| async move { ip.to_string() }),
        )
        .layer(layer)
        .layer(ClientIpLayer::new(client_ip))
}

fn layer(spec: &str, clock: &FakeClock) -> RateLimitLayer {
    RateLimitLayer::new(spec.parse().unwrap()).backend(MemoryBackend::new().clock(clock.clone()))
}

#[tokio::test]
async fn a_burst_is_allowed_then_refused_with_exact_headers_until_it_refills() {
    let clock = FakeClock::new(1_000 * 1_000_000_000);
    let app = echo_ip_app(layer("10/min", &clock), ClientIpConfig::new());

    for remaining in (0..10).rev() {
        let reply = send(&app, from("203.0.113.7:5000", &[])).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, "203.0.113.7");
        assert_eq!(reply.header("ratelimit-policy"), "\"default\";q=10;w=60");
        // After n requests the budget is whole again in 6n seconds.
        let t = 6 * (10 - remaining);
        assert_eq!(
            reply.header("ratelimit"),
            format!("\"default\";r={remaining};t={t}")
        );
    }

    let refused = send(&app, from("203.0.113.7:5000", &[])).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.body, r#"{"error":"too_many_requests"}"#);
    assert_eq!(refused.header("content-type"), "application/json");
    assert_eq!(refused.header("retry-after"), "6");
    assert_eq!(refused.header("ratelimit-policy"), "\"default\";q=10;w=60");
    assert_eq!(refused.header("ratelimit"), "\"default\";r=0;t=6");

    // Half a second short is still refused, with Retry-After rounded up.
    clock.advance(Duration::from_millis(5_500));
    let early = send(&app, from("203.0.113.7:5000", &[])).await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(early.header("retry-after"), "1");

    clock.advance(Duration::from_millis(500));
    assert_eq!(
        send(&app, from("203.0.113.7:5000", &[])).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, from("203.0.113.7:5000", &[])).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A full minute refills the whole burst.
    clock.advance(Duration::from_secs(60));
    for _ in 0..10 {
        assert_eq!(
            send(&app, from("203.0.113.7:5000", &[])).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_does_not_change_the_key() {
    let clock = FakeClock::new(0);
    let trusting = ClientIpConfig::new()
        .trust_proxy("10.0.0.0/8")
        .unwrap()
        .from_x_forwarded_for();
    let app = echo_ip_app(layer("2/min", &clock), trusting);

    // An attacker on the internet rotates X-Forwarded-For: one budget.
    let statuses: Vec<u16> = {
        let mut out = Vec::new();
        for n in 0..5 {
            let xff = format!("198.51.100.{n}");
            let reply = send(&app, from("203.0.113.66:1", &[("x-forwarded-for", &xff)])).await;
            if reply.status == StatusCode::OK {
                assert_eq!(reply.body, "203.0.113.66");
            }
            out.push(reply.status.as_u16());
        }
        out
    };
    assert_eq!(statuses, [200, 200, 429, 429, 429]);

    // Through the trusted proxy, each client has its own budget.
    for n in 0..5 {
        let xff = format!("6.6.6.6, 198.51.100.{n}");
        let reply = send(&app, from("10.0.0.2:1", &[("x-forwarded-for", &xff)])).await;
        assert_eq!(reply.status, StatusCode::OK, "client {n}");
        assert_eq!(reply.body, format!("198.51.100.{n}"));
    }
    // ...and the same client behind it is limited, whatever it forges on the left.
    let again = send(
        &app,
        from(
            "10.0.0.2:1",
            &[("x-forwarded-for", "1.1.1.1, 198.51.100.0")],
        ),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    let over = send(
        &app,
        from(
            "10.0.0.2:1",
            &[("x-forwarded-for", "2.2.2.2, 198.51.100.0")],
        ),
    )
    .await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn ipv6_clients_share_a_budget_per_64_and_mapped_ipv4_is_ipv4() {
    let clock = FakeClock::new(0);
    let app = echo_ip_app(layer("2/min", &clock), ClientIpConfig::new());
    let table = [
        ("[2001:db8:1:2::1]:1", 200),
        ("[2001:db8:1:2:ffff:ffff:ffff:ffff]:1", 200),
        ("[2001:db8:1:2::99]:1", 429), // same /64, budget spent
        ("[2001:db8:1:3::1]:1", 200),  // the next /64 is another client
        ("192.0.2.1:1", 200),
        ("[::ffff:192.0.2.1]:1", 200),
        ("192.0.2.1:2", 429), // mapped and plain IPv4 are one client
    ];
    for (peer, status) in table {
        assert_eq!(
            send(&app, from(peer, &[])).await.status.as_u16(),
            status,
            "{peer}"
        );
    }

    // A configured /128 keys each address on its own.
    let full = echo_ip_app(
        layer("1/min", &clock),
        ClientIpConfig::new().ipv6_key_prefix(128).unwrap(),
    );
    for peer in ["[2001:db8::1]:1", "[2001:db8::2]:1"] {
        assert_eq!(
            send(&full, from(peer, &[])).await.status,
            StatusCode::OK,
            "{peer}"
        );
    }
}

#[tokio::test]
async fn without_a_socket_peer_the_request_fails_closed() {
    let clock = FakeClock::new(0);
    for app in [
        echo_ip_app(layer("10/min", &clock), ClientIpConfig::new()),
        Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(layer("10/min", &clock)),
    ] {
        let request = Request::get("/")
            .header("x-forwarded-for", "1.2.3.4")
            .body(Body::empty())
            .unwrap();
        let reply = send(&app, request).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        let id = json["error_id"].as_str().unwrap();
        assert_eq!(
            reply.body,
            format!(r#"{{"error":"internal","error_id":"{id}"}}"#)
        );
    }
}

#[tokio::test]
async fn the_layer_works_on_a_plain_router_with_mock_connect_info() {
    use axum::extract::connect_info::MockConnectInfo;
    let clock = FakeClock::new(0);
    let app = Router::new()
        .route("/a", get(|| async { "a" }))
        .route("/b", get(|| async { "b" }))
        .layer(layer("3/min", &clock).name("api").unwrap())
        .layer(MockConnectInfo(SocketAddr::from(([192, 0, 2, 9], 1))));
    // One budget across the routes the layer wraps.
    let mut statuses = Vec::new();
    for uri in ["/a", "/b", "/a", "/b"] {
        let reply = send(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
}

#[tokio::test]
async fn keys_by_principal_header_and_function_fall_back_to_the_ip() {
    let clock = FakeClock::new(0);
    let principal_app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(layer("1/min", &clock).key(KeyBy::Principal))
        .layer(axum::middleware::from_fn(
            |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
                if let Some(user) = request.headers().get("x-test-user").cloned() {
                    let id = user.to_str().unwrap().to_owned();
                    request.extensions_mut().insert(Principal::new(id));
                }
                next.run(request).await
            },
        ));
    let table = [
        (&[("x-test-user", "alice")][..], 200),
        (&[("x-test-user", "alice")][..], 429),
        (&[("x-test-user", "bob")][..], 200), // another account, same address
        (&[][..], 200),                       // anonymous: keyed by the address
        (&[][..], 429),
    ];
    for (headers, status) in table {
        let reply = send(&principal_app, from("192.0.2.1:1", headers)).await;
        assert_eq!(reply.status.as_u16(), status, "{headers:?}");
    }

    let header_app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(layer("1/min", &clock).key(KeyBy::Header("x-tenant".parse().unwrap())));
    let fn_app =
        Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(layer("1/min", &clock).key(KeyBy::function(|request| {
                request.uri().query().map(str::to_owned)
            })));
    for app in [&header_app, &fn_app] {
        let first = send(app, from("192.0.2.1:1", &[("x-tenant", "t1")])).await;
        let second = send(app, from("192.0.2.1:1", &[("x-tenant", "t1")])).await;
        assert_eq!(
            (first.status, second.status),
            (StatusCode::OK, StatusCode::TOO_MANY_REQUESTS)
        );
    }
    // The header keys t2 separately from t1 on the same address.
    let other = send(&header_app, from("192.0.2.1:1", &[("x-tenant", "t2")])).await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test]
async fn a_quota_refuses_until_the_window_ends_whatever_the_rate() {
    let clock = FakeClock::new(10 * DAY_NS + DAY_NS / 2); // noon
    let app = echo_ip_app(
        layer("1000/s", &clock).quota("3/day".parse().unwrap()),
        ClientIpConfig::new(),
    );
    for remaining in [2, 1, 0] {
        let reply = send(&app, from("192.0.2.1:1", &[])).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.header("ratelimit-policy"),
            "\"default\";q=1000;w=1, \"default-quota\";q=3;w=86400"
        );
        assert_eq!(
            reply.header("ratelimit"),
            format!("\"default-quota\";r={remaining};t=43200")
        );
    }
    let refused = send(&app, from("192.0.2.1:1", &[])).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.header("retry-after"), "43200");
    assert_eq!(refused.header("ratelimit"), "\"default-quota\";r=0;t=43200");
    clock.advance(Duration::from_secs(43_199));
    assert_eq!(
        send(&app, from("192.0.2.1:1", &[])).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        send(&app, from("192.0.2.1:1", &[])).await.status,
        StatusCode::OK
    );
}

/// A backend whose decisions are pending futures (like Redis) and that can
/// be switched off.
#[derive(Debug)]
struct Flaky {
    memory: MemoryBackend,
    down: Arc<AtomicBool>,
}

#[derive(Debug)]
struct FlakySet {
    inner: Arc<dyn PolicySet>,
    down: Arc<AtomicBool>,
}

impl RateBackend for Flaky {
    fn policy_set(&self, scope: &str, policies: Vec<Policy>) -> Arc<dyn PolicySet> {
        Arc::new(FlakySet {
            inner: self.memory.policy_set(scope, policies),
            down: self.down.clone(),
        })
    }
    fn identifier_key(&self, namespace: &str, identifier: &str) -> RateKey {
        self.memory.identifier_key(namespace, identifier)
    }
    fn describe(&self) -> String {
        "flaky".to_owned()
    }
}

impl FlakySet {
    fn decide(&self, decide: Decide) -> Decide {
        let down = self.down.load(Ordering::SeqCst);
        Decide::pending(async move {
            if down {
                Err(BackendError::new("connection refused (os error 111)"))
            } else {
                decide.await
            }
        })
    }
}

impl PolicySet for FlakySet {
    fn policies(&self) -> &[Policy] {
        self.inner.policies()
    }
    fn check(&self, keys: &[Option<RateKey>]) -> Decide {
        self.decide(self.inner.check(keys))
    }
    fn peek(&self, keys: &[Option<RateKey>]) -> Decide {
        self.decide(self.inner.peek(keys))
    }
}

#[tokio::test]
async fn a_failing_backend_fails_closed_by_default_and_open_when_configured() {
    let clock = FakeClock::new(0);
    let down = Arc::new(AtomicBool::new(false));
    let flaky = Arc::new(Flaky {
        memory: MemoryBackend::new().clock(clock.clone()),
        down: down.clone(),
    });
    let closed = echo_ip_app(
        RateLimitLayer::new("1/min".parse().unwrap()).shared_backend(flaky.clone()),
        ClientIpConfig::new(),
    );
    let open = echo_ip_app(
        RateLimitLayer::new("1/min".parse().unwrap())
            .name("open")
            .unwrap()
            .shared_backend(flaky)
            .fail_mode(FailMode::Open),
        ClientIpConfig::new(),
    );

    // Up: the pending path decides and adds headers like the ready one.
    let ok = send(&closed, from("192.0.2.1:1", &[])).await;
    assert_eq!(
        (ok.status, ok.header("ratelimit")),
        (StatusCode::OK, "\"default\";r=0;t=60")
    );
    let refused = send(&closed, from("192.0.2.1:1", &[])).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.header("retry-after"), "60");

    down.store(true, Ordering::SeqCst);
    let reply = send(&closed, from("192.0.2.1:1", &[])).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let id = json["error_id"].as_str().unwrap();
    assert_eq!(
        reply.body,
        format!(r#"{{"error":"unavailable","error_id":"{id}"}}"#)
    );
    assert!(!reply.body.contains("refused"));

    for _ in 0..3 {
        let reply = send(&open, from("192.0.2.1:1", &[])).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("ratelimit"), "<missing>");
    }
}

// --- The per-route guard ---

fn guard(route: &str, attribute: RateLimits, auth: bool, clock: &FakeClock) -> RateGuard {
    let (method, path) = route.split_once(' ').unwrap();
    let limits = LimitsConfig::new().resolve(method, path, attribute, auth);
    RateGuard::new(
        route,
        limits,
        Arc::new(MemoryBackend::new().clock(clock.clone())),
    )
}

fn ip(n: u8) -> RateKey {
    let mut extensions = http::Extensions::new();
    extensions.insert(ConnectInfo(SocketAddr::from(([198, 51, 100, n], 1))));
    client_rate_key(&extensions).unwrap().1
}

#[tokio::test]
async fn per_ip_and_per_account_limits_are_independent_and_never_spend_each_other() {
    let clock = FakeClock::new(0);
    let attribute = RateLimits::new()
        .rate_ip("4/min".parse().unwrap())
        .rate_account("2/min".parse().unwrap());
    let guard = guard("GET /api/projects", attribute, true, &clock);
    let alice = guard.account_key("alice");
    let bob = guard.account_key("bob");

    // Alice spends her account budget from one address...
    assert!(guard.check(ip(1), Some(alice), None).await.is_ok());
    assert!(guard.check(ip(1), Some(alice), None).await.is_ok());
    let refused = guard.check(ip(1), Some(alice), None).await.unwrap_err();
    assert_eq!(refused.error().status(), 429);
    assert_eq!(refused.headers().unwrap().limit(), "\"account\";r=0;t=30");
    assert_eq!(
        refused.headers().unwrap().policy(),
        "\"ip\";q=4;w=60, \"account\";q=2;w=60"
    );
    // ...and her refusal did not spend the address's budget: 2 of 4 are
    // left, so Bob gets two (the headers name the limit closest to refusing).
    let headers = guard.check(ip(1), Some(bob), None).await.unwrap().unwrap();
    assert_eq!(headers.limit(), "\"ip\";r=1;t=45");
    assert!(guard.check(ip(1), Some(bob), None).await.is_ok());
    // Now the address is spent (4 allowed), so Carol is refused by the IP limit
    // and her account budget stays whole.
    let carol = guard.account_key("carol");
    let refused = guard.check(ip(1), Some(carol), None).await.unwrap_err();
    assert!(
        refused
            .headers()
            .unwrap()
            .limit()
            .to_str()
            .unwrap()
            .starts_with("\"ip\";r=0;")
    );
    for _ in 0..2 {
        assert!(guard.check(ip(2), Some(carol), None).await.is_ok());
    }
}

#[tokio::test]
async fn login_brute_force_from_rotating_addresses_is_stopped_by_the_identifier_key() {
    let clock = FakeClock::new(0);
    let guard = guard(
        "POST /api/login",
        RateLimits::new().rate("5/min".parse().unwrap()),
        false,
        &clock,
    );
    let mut allowed = 0;
    for n in 0..50 {
        // The attacker varies the spelling too; the identifier is folded.
        let login = if n % 2 == 0 {
            "alice@example.com"
        } else {
            " Alice@Example.COM"
        };
        let identifier = guard.identifier_key(login);
        if guard.check(ip(n), None, Some(identifier)).await.is_ok() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5);
    // Another account is unaffected.
    let bob = guard.identifier_key("bob@example.com");
    assert!(guard.check(ip(99), None, Some(bob)).await.is_ok());
}

#[tokio::test]
async fn precheck_counts_nothing_and_charge_counts_refused_requests() {
    let clock = FakeClock::new(0);
    let guard = guard(
        "POST /api/login",
        RateLimits::new().rate("3/min".parse().unwrap()),
        false,
        &clock,
    );
    for _ in 0..10 {
        assert!(guard.precheck(ip(1)).await.is_ok());
    }
    // Three failed logins (401s) spend the address's budget...
    for remaining in [2, 1, 0] {
        let headers = guard.charge(ip(1)).await.unwrap();
        let want = format!("\"ip\";r={remaining};t={}", 20 * (3 - remaining));
        assert_eq!(headers.limit(), want.as_str());
        assert_eq!(headers.policy(), "\"ip\";q=3;w=60");
    }
    // ...so the next request is refused before any work.
    let refused = guard.precheck(ip(1)).await.unwrap_err();
    assert_eq!(refused.error().retry_after_secs(), Some(20));
    let response = axum::response::IntoResponse::into_response(refused);
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["ratelimit"], "\"ip\";r=0;t=20");
    assert_eq!(response.headers()["retry-after"], "20");
}

#[tokio::test]
async fn the_guard_quota_counts_per_account_and_an_override_replaces_the_attribute() {
    let clock = FakeClock::new(0);
    let config: LimitsConfig =
        serde_json::from_str(r#"{"POST /api/export": {"rate": "100/s", "quota": "2/day"}}"#)
            .unwrap();
    let attribute = RateLimits::new()
        .rate("1/min".parse().unwrap())
        .quota("1000/day".parse().unwrap());
    let limits = config.resolve("POST", "/api/export", attribute, true);
    assert_eq!(
        limits.to_string(),
        "ip 100/s (override), account 100/s (override), quota 2/day (override)"
    );
    let guard = RateGuard::new(
        "POST /api/export",
        limits,
        Arc::new(MemoryBackend::new().clock(clock.clone())),
    );
    let alice = guard.account_key("alice");
    // The quota follows the account across addresses.
    assert!(guard.check(ip(1), Some(alice), None).await.is_ok());
    assert!(guard.check(ip(2), Some(alice), None).await.is_ok());
    let refused = guard.check(ip(3), Some(alice), None).await.unwrap_err();
    assert_eq!(refused.headers().unwrap().limit(), "\"quota\";r=0;t=86400");
    assert!(
        guard
            .check(ip(3), Some(guard.account_key("bob")), None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_guard_without_limits_allows_everything_and_adds_no_headers() {
    let clock = FakeClock::new(0);
    let guard = guard("GET /healthz", RateLimits::new(), false, &clock);
    assert!(guard.is_empty());
    assert_eq!(guard.limits().to_string(), "none");
    for _ in 0..100 {
        assert!(guard.precheck(ip(1)).await.is_ok());
        assert_eq!(guard.check(ip(1), None, None).await.unwrap(), None);
        assert_eq!(guard.charge(ip(1)).await, None);
    }
}

#[tokio::test]
async fn a_failing_backend_makes_the_guard_answer_503_or_allow() {
    let clock = FakeClock::new(0);
    let down = Arc::new(AtomicBool::new(true));
    let backend = Arc::new(Flaky {
        memory: MemoryBackend::new().clock(clock.clone()),
        down,
    });
    let limits = LimitsConfig::new().resolve(
        "POST",
        "/api/login",
        RateLimits::new().rate("1/min".parse().unwrap()),
        false,
    );
    let closed = RateGuard::new("POST /api/login", limits, backend.clone());
    let refused = closed.check(ip(1), None, None).await.unwrap_err();
    assert_eq!(refused.error().status(), 503);
    assert_eq!(refused.headers(), None);
    assert_eq!(
        closed.precheck(ip(1)).await.unwrap_err().error().status(),
        503
    );
    assert_eq!(closed.charge(ip(1)).await, None);

    let open = RateGuard::new("POST /api/login", limits, backend).fail_mode(FailMode::Open);
    assert_eq!(open.check(ip(1), None, None).await.unwrap(), None);
    assert!(open.precheck(ip(1)).await.is_ok());
}
