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
    FailMode, KeyBy, LimitsConfig, RateBackend, RateGuard, RateLimitLayer, RateLimits,
    RedisBackend, RedisConfigError,
};
use guard_core::client_ip::{Ipv6KeyPrefix, rate_key_for_ip};
use guard_core::rate::RateKey;
use guard_core::secret::derive_key;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use redis_server::RedisServer;
use tower::ServiceExt as _;

const SECRET: &[u8] = b"a shared secret of at least 32 bytes, same on every instance";
const OTHER_SECRET: &[u8] = b"another service's secret, also at least 32 bytes long";

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
        RateLimits::new()
            .rate_ip("3/day".parse().unwrap())
            .rate_identifier("4/day".parse().unwrap()),
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
    let backend: Arc<dyn RateBackend> = Arc::new(
        RedisBackend::connect_with_prefix(&server.url(), SECRET, "ttl-test")
            .await
            .unwrap(),
    );
    let limits = LimitsConfig::new().resolve(
        "GET",
        "/api/export",
        RateLimits::new()
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
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("ttl-test:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    // The secret's fingerprint is the one key that never expires.
    let fingerprint = keys.iter().position(|k| k == "ttl-test:secret-fingerprint");
    keys.remove(fingerprint.unwrap());
    let pttl: i64 = redis::cmd("PTTL")
        .arg("ttl-test:secret-fingerprint")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(pttl, -1);
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
    let err = RedisBackend::connect(&server.url(), b"too short")
        .await
        .unwrap_err();
    assert!(matches!(err, RedisConfigError::ShortSecret(9)), "{err}");
    for bad in ["has space", "", "a*b"] {
        let err = RedisBackend::connect_with_prefix(&server.url(), SECRET, bad)
            .await
            .unwrap_err();
        assert!(matches!(err, RedisConfigError::Prefix(_)), "{bad}: {err}");
    }
    assert!(
        RedisBackend::connect_with_prefix(&server.url(), SECRET, "svc:rl")
            .await
            .is_ok()
    );
    // Nothing was written for the refused ones: only the good prefix's fingerprint.
    let mut conn = raw(&server).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys, ["svc:rl:secret-fingerprint"]);
}

/// A plain connection of the test's own, beside the backends'.
async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn get_value(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query_async(conn).await.unwrap()
}

async fn limit_keys(conn: &mut redis::aio::MultiplexedConnection, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(conn)
        .await
        .unwrap();
    keys.retain(|k| !k.ends_with(":secret-fingerprint"));
    keys.sort();
    keys
}

#[tokio::test]
async fn an_instance_with_another_secret_is_refused_at_connect_and_one_secret_shares_budgets() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let first = server.backend().await;
    let second = server.backend().await;
    let mut conn = raw(&server).await;
    let fingerprint = get_value(&mut conn, "guard:rl:secret-fingerprint")
        .await
        .unwrap();
    assert_eq!(fingerprint.len(), 64, "{fingerprint}");

    // Same secret: one budget across both.
    let layer = |backend| {
        RateLimitLayer::new("2/day".parse().unwrap())
            .name("search")
            .unwrap()
            .backend(backend)
    };
    let (a, b) = (app(layer(first)), app(layer(second)));
    assert_eq!(status(&a, from([192, 0, 2, 1])).await, StatusCode::OK);
    assert_eq!(status(&b, from([192, 0, 2, 1])).await, StatusCode::OK);
    assert_eq!(
        status(&a, from([192, 0, 2, 1])).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let spent = limit_keys(&mut conn, "guard:rl").await;

    // Another secret on the same prefix: its key names would differ, its
    // limits would silently split the budget. Refused, and nothing changed.
    let err = RedisBackend::connect(&server.url(), OTHER_SECRET)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RedisConfigError::SecretMismatch { key } if key == "guard:rl:secret-fingerprint"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "this Redis is used by instances with a different secret: their limits would not be \
         shared (`guard:rl:secret-fingerprint` holds another secret's fingerprint; use the same \
         secret, another prefix, or delete `guard:rl:secret-fingerprint` once every instance \
         with the old secret has stopped)"
    );
    assert_eq!(
        get_value(&mut conn, "guard:rl:secret-fingerprint").await,
        Some(fingerprint.clone())
    );
    assert_eq!(limit_keys(&mut conn, "guard:rl").await, spent);
    // The refused instance never got a backend; the others go on refusing.
    assert_eq!(
        status(&b, from([192, 0, 2, 1])).await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // A forged or foreign value in the fingerprint key is a mismatch too.
    let _: () = redis::cmd("SET")
        .arg("forged:secret-fingerprint")
        .arg("0".repeat(64))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        RedisBackend::connect_with_prefix(&server.url(), SECRET, "forged").await,
        Err(RedisConfigError::SecretMismatch { .. })
    ));

    // Another service, with its own prefix, may have its own secret; after
    // the operator deletes the key (rotation), the new secret is accepted.
    assert!(
        RedisBackend::connect_with_prefix(&server.url(), OTHER_SECRET, "other")
            .await
            .is_ok()
    );
    let _: () = redis::cmd("DEL")
        .arg("guard:rl:secret-fingerprint")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        RedisBackend::connect(&server.url(), OTHER_SECRET)
            .await
            .is_ok()
    );
    assert!(matches!(
        RedisBackend::connect(&server.url(), SECRET).await,
        Err(RedisConfigError::SecretMismatch { .. })
    ));
}

#[tokio::test]
async fn instances_starting_together_agree_on_one_fingerprint() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // Eight instances race to claim an empty prefix, half with each secret:
    // one secret wins, every instance with the other is refused.
    let url = server.url();
    let attempts = (0..8).map(|n| {
        let url = url.clone();
        tokio::spawn(async move {
            let secret = if n % 2 == 0 { SECRET } else { OTHER_SECRET };
            (n % 2, RedisBackend::connect(&url, secret).await.is_ok())
        })
    });
    let mut outcomes = Vec::new();
    for attempt in attempts.collect::<Vec<_>>() {
        outcomes.push(attempt.await.unwrap());
    }
    let winners: Vec<_> = outcomes.iter().filter(|(_, ok)| *ok).collect();
    assert_eq!(winners.len(), 4, "{outcomes:?}");
    assert!(
        winners.iter().all(|(side, _)| *side == winners[0].0),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn key_names_are_stable_per_secret_differ_across_secrets_and_are_no_mac_under_the_raw_secret()
{
    use hmac::{Hmac, Mac as _};
    use sha2::Sha256;

    let Some(server) = RedisServer::start() else {
        return;
    };
    let limits = LimitsConfig::new().resolve(
        "GET",
        "/",
        RateLimits::new().rate_ip("10/min".parse().unwrap()),
        false,
    );
    let mut conn = raw(&server).await;
    let mut names = Vec::new();
    for (prefix, secret) in [("one", SECRET), ("two", SECRET), ("three", OTHER_SECRET)] {
        let backend = RedisBackend::connect_with_prefix(&server.url(), secret, prefix)
            .await
            .unwrap();
        let guard = RateGuard::new("GET /", limits, Arc::new(backend));
        assert!(guard.check(ip(1), None, None).await.is_ok());
        let keys = limit_keys(&mut conn, prefix).await;
        assert_eq!(keys.len(), 1, "{keys:?}");
        let digits = keys[0].rsplit(':').next().unwrap().to_owned();
        assert_eq!(digits.len(), 32);
        names.push(digits);
    }
    assert_eq!(names[0], names[1], "one secret, one name on every instance");
    assert_ne!(names[0], names[2], "another secret, another name");

    // The raw secret keys the URL signer; no name is a MAC under it of
    // the limiter key, with or without the domain tag the names use.
    let under = |key: &[u8], parts: &[&[u8]]| {
        let mut mac = <Hmac<Sha256>>::new_from_slice(key).unwrap();
        for part in parts {
            mac.update(part);
        }
        let bytes = mac.finalize().into_bytes();
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let under_raw = |parts: &[&[u8]]| under(SECRET, parts);
    let key = ip(1).to_bytes();
    // The control: the name is the MAC under the derived key, so the
    // candidates below are computed over the right bytes.
    let derived = derive_key(SECRET, "guard-axum/rate-limit/redis-key-names/v1");
    assert!(under(derived.expose(), &[b"key", &key]).starts_with(&names[0]));
    for candidate in [under_raw(&[b"key", &key]), under_raw(&[&key])] {
        assert!(!candidate.starts_with(&names[0]), "{candidate}");
    }
    let fingerprint = get_value(&mut conn, "one:secret-fingerprint")
        .await
        .unwrap();
    for candidate in [under_raw(&[b"fingerprint"]), under_raw(&[])] {
        assert_ne!(candidate, fingerprint);
    }
    assert_eq!(
        get_value(&mut conn, "two:secret-fingerprint").await,
        Some(fingerprint.clone())
    );
    assert_ne!(
        get_value(&mut conn, "three:secret-fingerprint").await,
        Some(fingerprint)
    );
}
