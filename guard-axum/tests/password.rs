//! Password work is bounded, through a built router as a hostile client
//! meets it: the hasher's permits (503 with `Retry-After` when they are
//! taken, no hash started), the IPv6 /48 aggregate under every per-IP limit
//! (memory and Redis), the route-wide ceiling of login and sign-up, and one
//! folding of identifiers that the limit and the app share.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[cfg(feature = "redis")]
#[path = "support/redis_server.rs"]
#[allow(dead_code)] // `stop` is for tests/redis.rs
mod redis_server;

#[path = "support/http.rs"]
mod http_support;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use guard_axum::password::{HashParams, PasswordHasher};
use guard_axum::rate_limit::{LimitOverride, LimitsConfig, MemoryBackend, RateBackend};
use guard_axum::routing::{get, post};
use guard_axum::{GuardError, GuardedApp, GuardedRouter, IdentifierLimit, Valid, secure_route};
use guard_core::rate::FakeClock;
use http::{StatusCode, header};
use http_support::{Reply, from_peer, request};
use tokio::sync::Semaphore;

const UNAVAILABLE: &str = r#"{"error":"unavailable"}"#;
const TOO_MANY: &str = r#"{"error":"too_many_requests"}"#;
const UNAUTHENTICATED: &str = r#"{"error":"unauthenticated"}"#;

/// What the handlers did: accounts stored, and each identifier that got
/// past its limit (as the app used it) and each password check that ran.
#[derive(Clone)]
struct App {
    hasher: PasswordHasher,
    users: Arc<Mutex<HashMap<String, String>>>,
    looked_up: Arc<Mutex<Vec<String>>>,
    hashed: Arc<Mutex<usize>>,
}

impl App {
    fn new(hasher: PasswordHasher) -> Self {
        Self {
            hasher,
            users: Arc::default(),
            looked_up: Arc::default(),
            hashed: Arc::default(),
        }
    }

    fn looked_up(&self) -> Vec<String> {
        self.looked_up.lock().unwrap().clone()
    }

    fn hashed(&self) -> usize {
        *self.hashed.lock().unwrap()
    }
}

/// `{"email": …}`; the password is fixed (these tests are about the work,
/// not the credential).
#[derive(serde::Deserialize, validator::Validate)]
struct Email {
    email: String,
}

#[secure_route(public = "login", rate_ip = "100/hour", rate_identifier = "2/hour", body = Email)]
async fn login(
    State(app): State<App>,
    limit: IdentifierLimit,
    Valid(Email { email }): Valid<Email>,
) -> Result<&'static str, GuardError> {
    let email = limit.check(&email).await?;
    app.looked_up.lock().unwrap().push(email.clone());
    let stored = app.users.lock().unwrap().get(&email).cloned();
    let matches = match stored {
        Some(phc) => app.hasher.verify(PASSWORD.to_owned(), &phc).await?,
        None => app.hasher.verify_dummy(PASSWORD.to_owned()).await?,
    };
    *app.hashed.lock().unwrap() += 1;
    if matches {
        Ok("welcome")
    } else {
        Err(GuardError::unauthenticated())
    }
}

#[secure_route(public = "sign-up", rate_ip = "100/hour", body = Email)]
async fn signup(
    State(app): State<App>,
    Valid(Email { email }): Valid<Email>,
) -> Result<StatusCode, GuardError> {
    let phc = app.hasher.hash(PASSWORD.to_owned()).await?;
    *app.hashed.lock().unwrap() += 1;
    app.users
        .lock()
        .unwrap()
        .insert(guard_core::rate::RateKey::fold_identifier(&email), phc);
    Ok(StatusCode::CREATED)
}

#[secure_route(public = "catalogue", rate_ip = "2/hour")]
async fn catalogue() -> &'static str {
    "items"
}

const PASSWORD: &str = "correct horse battery staple";

/// Argon2's minimum cost: the bound is under test, not the hash.
fn cheap() -> guard_axum::password::PasswordHasherBuilder {
    PasswordHasher::builder().params(HashParams::new(8, 1, 1).unwrap())
}

fn build(app: &App, limits: LimitsConfig, backend: Arc<dyn RateBackend>) -> GuardedApp {
    GuardedRouter::new()
        .route("/login", post(login))
        .route("/signup", post(signup))
        .route("/catalogue", get(catalogue))
        .rate_limits(limits)
        .rate_backend(backend)
        .build()
        .unwrap()
        .with_state(app.clone())
}

fn memory() -> Arc<dyn RateBackend> {
    Arc::new(MemoryBackend::new().clock(FakeClock::new(0)))
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// A request from `peer`; a POST's `body` is the e-mail, sent as `{"email": …}`.
async fn send(app: &GuardedApp, method: &str, uri: &str, peer: &str, body: &str) -> Reply {
    let request = if method == "POST" {
        request(method, uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::json!({ "email": body }).to_string()))
    } else {
        request(method, uri).body(Body::from(body.to_owned()))
    }
    .unwrap();
    let ip: IpAddr = peer.parse().unwrap();
    http_support::send(app, from_peer(request, ip)).await
}

#[tokio::test]
async fn a_login_while_every_permit_is_taken_answers_503_at_once_and_hashes_nothing() {
    // One permit, held here as a hash in flight would hold it.
    let permits = Arc::new(Semaphore::new(1));
    let state = App::new(cheap().semaphore(permits.clone()).build());
    let app = build(&state, LimitsConfig::new(), memory());
    let in_flight = permits.clone().try_acquire_owned().unwrap();

    let refused = send(&app, "POST", "/login", "203.0.113.1", "alice@example.com").await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.body, UNAVAILABLE);
    assert_eq!(refused.header("retry-after"), Some("1"));
    let refused = send(&app, "POST", "/signup", "203.0.113.2", "bob@example.com").await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.body, UNAVAILABLE);
    assert!(refused.header("retry-after").is_some());
    // Nothing hashed, nothing stored, and nobody waits for the permit.
    assert_eq!(state.hashed(), 0);
    assert!(state.users.lock().unwrap().is_empty());
    drop(in_flight);
    assert_eq!(permits.available_permits(), 1);

    // Free again: the same requests do their work.
    let created = send(&app, "POST", "/signup", "203.0.113.2", "bob@example.com").await;
    assert_eq!(created.status, StatusCode::CREATED);
    let wrong = send(&app, "POST", "/login", "203.0.113.1", "alice@example.com").await;
    assert_eq!(
        (wrong.status, wrong.body.as_str()),
        (StatusCode::UNAUTHORIZED, UNAUTHENTICATED)
    );
    assert_eq!(state.hashed(), 2);
}

/// 16 /64s of one /48 spend its budget (16 × 2/hour); a 17th /64 is
/// refused although its own /64 budget is whole, another /48 is not, and
/// IPv4 addresses are never aggregated.
async fn ipv6_48_shares_one_budget(backend: Arc<dyn RateBackend>) {
    let state = App::new(cheap().build());
    let app = build(&state, LimitsConfig::new(), backend);
    for subnet in 0..16 {
        for _ in 0..2 {
            let peer = format!("2001:db8:1:{subnet:x}::1");
            let ok = send(&app, "GET", "/catalogue", &peer, "").await;
            assert_eq!(ok.status, StatusCode::OK, "{peer}");
            assert_eq!(
                ok.header("ratelimit-policy"),
                Some(r#""ip";q=2;w=3600, "ip48";q=32;w=3600"#)
            );
        }
    }
    let refused = send(&app, "GET", "/catalogue", "2001:db8:1:ff::1", "").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.body, TOO_MANY);
    assert!(refused.header("retry-after").is_some());
    assert!(
        refused
            .header("ratelimit")
            .unwrap()
            .starts_with(r#""ip48";r=0;"#)
    );
    // The same /48 by any other /64, too.
    let refused = send(&app, "GET", "/catalogue", "2001:db8:1:ffff:1::9", "").await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, TOO_MANY)
    );
    // Another /48 has its own budget.
    let other = send(&app, "GET", "/catalogue", "2001:db8:2::1", "").await;
    assert_eq!(other.status, StatusCode::OK);
    // 40 IPv4 addresses of one /24: 80 requests, more than a /48 gets, all
    // allowed, and no aggregate policy is listed for them.
    for host in 1..=40 {
        for _ in 0..2 {
            let peer = format!("198.51.100.{host}");
            let ok = send(&app, "GET", "/catalogue", &peer, "").await;
            assert_eq!(ok.status, StatusCode::OK, "{peer}");
            assert_eq!(ok.header("ratelimit-policy"), Some(r#""ip";q=2;w=3600"#));
        }
    }
    let third = send(&app, "GET", "/catalogue", "198.51.100.1", "").await;
    assert_eq!(
        (third.status, third.body.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, TOO_MANY)
    );
}

#[tokio::test]
async fn the_64s_of_one_ipv6_48_share_a_budget_in_memory() {
    ipv6_48_shares_one_budget(memory()).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn the_64s_of_one_ipv6_48_share_a_budget_in_redis() {
    let required = std::env::var("GUARD_REQUIRE_REDIS").is_ok_and(|v| v == "1");
    let server = match redis_server::RedisServer::spawn() {
        Ok(server) => server,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !required => {
            eprintln!("SKIPPED: `redis-server` is not installed (Debian package `redis-server`)");
            return;
        }
        Err(err) => panic!("could not start `redis-server`: {err}"),
    };
    let backend = guard_axum::rate_limit::RedisBackend::connect(
        &server.url(),
        b"a shared secret of at least 32 bytes, same on every instance",
    )
    .await
    .unwrap();
    ipv6_48_shares_one_budget(Arc::new(backend)).await;
}

fn ceilings(login: &str, signup: &str) -> LimitsConfig {
    let ceiling = |spec: &str| LimitOverride {
        rate_route: Some(spec.parse().unwrap()),
        ..LimitOverride::default()
    };
    LimitsConfig::new()
        .set("POST /login", ceiling(login))
        .unwrap()
        .set("POST /signup", ceiling(signup))
        .unwrap()
}

#[tokio::test]
async fn the_route_ceiling_refuses_every_caller_once_spent_and_leaves_other_routes_alone() {
    let state = App::new(cheap().build());
    let app = build(&state, ceilings("3/hour", "2/hour"), memory());

    // Distinct addresses and identifiers: only the route's budget is shared.
    for n in 1..=3 {
        let peer = format!("203.0.113.{n}");
        let reply = send(
            &app,
            "POST",
            "/login",
            &peer,
            &format!("user{n}@example.com"),
        )
        .await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::UNAUTHORIZED, UNAUTHENTICATED)
        );
    }
    for (peer, email) in [
        ("198.51.100.9", "user4@example.com"),
        ("2001:db8:9::1", "user5@example.com"),
    ] {
        let refused = send(&app, "POST", "/login", peer, email).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{peer}");
        assert_eq!(refused.body, TOO_MANY);
        assert!(refused.header("retry-after").is_some());
        // Nothing about the route's use reaches the client.
        assert!(refused.header("ratelimit").is_none());
        assert!(refused.header("ratelimit-policy").is_none());
    }
    // The refused logins never reached their lookup or a hash.
    assert_eq!(state.looked_up().len(), 3);
    assert_eq!(state.hashed(), 3);

    // Sign-up has its own ceiling: two accounts, then nothing is stored.
    for n in 1..=2 {
        let peer = format!("192.0.2.{n}");
        let created = send(
            &app,
            "POST",
            "/signup",
            &peer,
            &format!("new{n}@example.com"),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED);
        // The route's state is never shown (here it is closer to refusing
        // than the client's own budget, so no `RateLimit` header at all).
        assert!(created.header("ratelimit").is_none());
        assert!(
            !created
                .header("ratelimit-policy")
                .unwrap_or("")
                .contains("route")
        );
    }
    let refused = send(&app, "POST", "/signup", "192.0.2.3", "new3@example.com").await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, TOO_MANY)
    );
    assert!(refused.header("retry-after").is_some());
    assert!(refused.header("ratelimit").is_none());
    assert_eq!(state.users.lock().unwrap().len(), 2);
    assert_eq!(state.hashed(), 5);

    // A route without a ceiling is untouched.
    let items = send(&app, "GET", "/catalogue", "198.51.100.9", "").await;
    assert_eq!(
        (items.status, items.body.as_str()),
        (StatusCode::OK, "items")
    );

    // And the report says so.
    let report = GuardedRouter::<App>::new()
        .route("/login", post(login))
        .rate_limits(
            LimitsConfig::new()
                .set(
                    "POST /login",
                    LimitOverride {
                        rate_route: Some("3/hour".parse().unwrap()),
                        ..LimitOverride::default()
                    },
                )
                .unwrap(),
        )
        .report();
    let rates = &report.route("POST", "/login").unwrap().rates;
    let route = rates.iter().find(|r| r.kind == "rate_route").unwrap();
    assert_eq!(
        (route.spec.as_str(), route.source.as_str()),
        ("3/h", "override")
    );
}

#[tokio::test]
async fn the_limit_hands_back_the_identifier_the_app_looks_up_so_spellings_share_a_budget() {
    let state = App::new(cheap().build());
    let app = build(&state, LimitsConfig::new(), memory());
    // A word-final capital sigma lowercases to `ς` as a string but to `σ`
    // character by character: limit and lookup must agree on one of them.
    let created = send(&app, "POST", "/signup", "192.0.2.1", "οδος@x").await;
    assert_eq!(created.status, StatusCode::CREATED);
    let upper = send(&app, "POST", "/login", "203.0.113.1", " ΟΔΟΣ@x").await;
    assert_eq!(
        (upper.status, upper.body.as_str()),
        (StatusCode::OK, "welcome")
    );
    let lower = send(&app, "POST", "/login", "203.0.113.2", "οδος@x").await;
    assert_eq!(
        (lower.status, lower.body.as_str()),
        (StatusCode::OK, "welcome")
    );
    // The identifier's budget (2/hour) is spent by both spellings together.
    let refused = send(&app, "POST", "/login", "203.0.113.3", "ΟΔΟΣ@X").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.body, TOO_MANY);
    assert!(refused.header(header::RETRY_AFTER.as_str()).is_some());
    assert_eq!(state.looked_up(), ["οδος@x", "οδος@x"]);
}
