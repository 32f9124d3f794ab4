//! The Redis backend against a real `redis-server`, started by each test on
//! a free loopback port and killed when the test ends.
//!
//! Where `redis-server` is not installed the tests print a skip notice
//! naming the Debian package; with `GUARD_REQUIRE_REDIS=1` (CI) a missing
//! binary fails them instead.

#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/redis_server.rs"]
mod redis_server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use guard_axum::rate_limit::{
    FailMode, KeyBy, LimitsConfig, RateBackend, RateGuard, RateLimitLayer, RedisBackend,
    RouteLimits,
};
use guard_core::client_ip::{Ipv6KeyPrefix, rate_key_for_ip};
use guard_core::rate::RateKey;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use redis_server::RedisServer;
use tower::ServiceExt as _;

const SECRET: &[u8] = b"a shared secret of at least 32 bytes, same on every instance";

/// The tests' policy on top of the shared launcher.
impl RedisServer {
    /// Starts one, or returns `None` after printing why the test is skipped.
    fn start() -> Option<Self> {
        let required = std::env::var("GUARD_REQUIRE_REDIS").is_ok_and(|v| v == "1");
        match Self::spawn() {
            Ok(server) => Some(server),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !required => {
                eprintln!(
                    "SKIPPED: `redis-server` is not installed (Debian package `redis-server`: \
                     apt-get install -y redis-server); set GUARD_REQUIRE_REDIS=1 to fail instead"
                );
                None
            }
            Err(err) => panic!(
                "could not start `redis-server` (Debian package `redis-server`), required by \
                 GUARD_REQUIRE_REDIS=1: {err}"
            ),
        }
    }

    async fn backend(&self) -> RedisBackend {
        RedisBackend::connect(&self.url(), SECRET).await.unwrap()
    }
}

fn from(peer: [u8; 4]) -> Request<Body> {
    let mut request = Request::get("/").body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 1))));
    request
}

async fn status(app: &Router, request: Request<Body>) -> StatusCode {
    app.clone().oneshot(request).await.unwrap().status()
}

fn app(layer: RateLimitLayer) -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(layer)
}

fn ip(n: u8) -> RateKey {
    rate_key_for_ip([198, 51, 100, n].into(), Ipv6KeyPrefix::DEFAULT)
}

#[tokio::test]
async fn two_routers_sharing_one_redis_see_one_combined_budget() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // Two instances of the service: separate connections, separate layers.
    let layer = |backend| {
        RateLimitLayer::new("3/day".parse().unwrap())
            .name("search")
            .unwrap()
            .key(KeyBy::ClientIp)
            .backend(backend)
    };
    let a = app(layer(server.backend().await));
    let b = app(layer(server.backend().await));

    let first = a.clone().oneshot(from([192, 0, 2, 1])).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        first.headers()["ratelimit-policy"],
        "\"search\";q=3;w=86400"
    );
    assert_eq!(first.headers()["ratelimit"], "\"search\";r=2;t=28800");
    assert_eq!(status(&b, from([192, 0, 2, 1])).await, StatusCode::OK);
    assert_eq!(status(&a, from([192, 0, 2, 1])).await, StatusCode::OK);
    for app in [&a, &b] {
        let refused = app.clone().oneshot(from([192, 0, 2, 1])).await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()["retry-after"], "28800");
        assert_eq!(refused.headers()["ratelimit"], "\"search\";r=0;t=28800");
        let body = refused.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, r#"{"error":"too_many_requests"}"#);
    }
    // Another client is untouched.
    assert_eq!(status(&b, from([192, 0, 2, 2])).await, StatusCode::OK);
}

#[tokio::test]
async fn guards_on_two_instances_share_identifier_budgets_and_never_spend_each_other() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let limits = LimitsConfig::new().resolve(
        "POST",
        "/api/login",
        RouteLimits::new()
            .rate_ip("3/day".parse().unwrap())
            .rate_account("4/day".parse().unwrap()),
        false,
    );
    let one = RateGuard::new("POST /api/login", limits, Arc::new(server.backend().await));
    let two = RateGuard::new("POST /api/login", limits, Arc::new(server.backend().await));
    // The shared secret gives both instances the same identifier key.
    assert_eq!(
        one.identifier_key("alice@example.com"),
        two.identifier_key(" ALICE@example.com")
    );

    // Brute force against one login from rotating addresses, across both instances.
    let mut allowed = 0;
    for n in 0..20 {
        let guard = if n % 2 == 0 { &one } else { &two };
        let alice = guard.identifier_key("alice@example.com");
        if guard.check(ip(n), None, Some(alice)).await.is_ok() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 4);

    // A refusal by the per-IP limit spends nothing in the identifier's budget.
    let bob = one.identifier_key("bob@example.com");
    for _ in 0..3 {
        assert!(one.check(ip(100), None, None).await.is_ok());
    }
    let refused = two.check(ip(100), None, Some(bob)).await.unwrap_err();
    assert_eq!(refused.error().status(), 429);
    assert!(
        refused
            .headers()
            .unwrap()
            .limit()
            .to_str()
            .unwrap()
            .starts_with("\"ip\";r=0;")
    );
    for n in 101..105 {
        assert!(
            one.check(ip(n), None, Some(bob)).await.is_ok(),
            "bob from {n}"
        );
    }
    // Peeking counts nothing.
    for _ in 0..5 {
        assert!(one.precheck(ip(200)).await.is_ok());
    }
    let headers = one.check(ip(200), None, None).await.unwrap().unwrap();
    assert_eq!(headers.limit(), "\"ip\";r=2;t=28800");
}

#[tokio::test]
async fn every_key_expires_when_its_state_is_spent() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let backend: Arc<dyn RateBackend> =
        Arc::new(server.backend().await.prefix("ttl-test").unwrap());
    let limits = LimitsConfig::new().resolve(
        "GET",
        "/api/export",
        RouteLimits::new()
            .rate("10/min".parse().unwrap())
            .quota("100/day".parse().unwrap()),
        true,
    );
    let guard = RateGuard::new("GET /api/export", limits, backend.clone());
    let alice = guard.account_key("alice");
    for n in 0..5 {
        assert!(guard.check(ip(n), Some(alice), None).await.is_ok());
    }

    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("ttl-test:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    // 5 IPs, 1 account, 1 quota key; no raw address or account id in the names.
    assert_eq!(keys.len(), 7, "{keys:?}");
    for key in &keys {
        assert!(!key.contains("198.51") && !key.contains("alice"), "{key}");
        let pttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let max = if key.contains(":quota:") {
            86_400_000
        } else {
            30_000
        };
        assert!(pttl > 0 && pttl <= max, "{key}: PTTL {pttl}");
    }
    let account_key = keys.iter().find(|k| k.contains(":account:")).unwrap();
    let pttl: i64 = redis::cmd("PTTL")
        .arg(account_key)
        .query_async(&mut conn)
        .await
        .unwrap();
    // Five requests of a 6 s interval: the account's TAT is 30 s ahead.
    assert!(pttl > 29_000, "{pttl}");
}

#[tokio::test]
async fn redis_down_fails_closed_with_503_by_default_and_open_when_configured() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let backend: Arc<dyn RateBackend> = Arc::new(server.backend().await);
    let layer = |mode| {
        RateLimitLayer::new("100/min".parse().unwrap())
            .shared_backend(backend.clone())
            .fail_mode(mode)
    };
    let closed = app(layer(FailMode::Closed));
    let open = app(layer(FailMode::Open));
    assert_eq!(status(&closed, from([192, 0, 2, 1])).await, StatusCode::OK);

    server.stop();

    for _ in 0..3 {
        let started = Instant::now();
        let reply = closed.clone().oneshot(from([192, 0, 2, 1])).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(reply.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(reply.headers().get("ratelimit").is_none());
        let body = reply.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let id = json["error_id"].as_str().unwrap();
        assert_eq!(
            body,
            format!(r#"{{"error":"unavailable","error_id":"{id}"}}"#)
        );

        let reply = open.clone().oneshot(from([192, 0, 2, 1])).await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        assert!(reply.headers().get("ratelimit").is_none());
    }
}

#[tokio::test]
async fn a_short_secret_and_a_bad_prefix_are_refused() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    assert!(
        RedisBackend::connect(&server.url(), b"too short")
            .await
            .is_err()
    );
    let backend = server.backend().await;
    assert!(backend.clone().prefix("has space").is_err());
    assert!(backend.prefix("svc:rl").is_ok());
}
