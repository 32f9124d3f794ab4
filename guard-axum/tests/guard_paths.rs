//! The guards decide a request in one synchronous pass when the limiter is
//! in memory and the authenticator answers at once, and as futures when
//! either has to wait (a networked limiter, a token looked up elsewhere).
//! The same attack, sent through every wiring, must be answered alike:
//! a bad token charged to the client, role probes spending the budget,
//! then 429, an admin admitted with its headers, a public route's limit.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/http.rs"]
mod http_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use guard_axum::auth::{ApiKeys, BearerAuth};
use guard_axum::rate_limit::{Decide, MemoryBackend, Policy, PolicySet, RateBackend};
use guard_axum::routing::get;
use guard_axum::{GuardedApp, GuardedRouter, Principal, secure_route};
use guard_core::rate::{FakeClock, RateKey};
use http::StatusCode;
use http_support::{from_peer, request_as, send};

static ADMIN_RUNS: AtomicUsize = AtomicUsize::new(0);
static OPEN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[secure_route(auth, roles = ["admin"], rate = "3/min")]
async fn admin_only() -> &'static str {
    ADMIN_RUNS.fetch_add(1, Ordering::SeqCst);
    "secret"
}

#[secure_route(public = "status page", rate = "2/min")]
async fn open() -> &'static str {
    OPEN_RUNS.fetch_add(1, Ordering::SeqCst);
    "open"
}

const MALLORY: &str = "mallory-key-0123456789-0123456789-0123456789";
const ADMIN: &str = "admin-key-0123456789-0123456789-0123456789";
const FORGED: &str = "forged-key-0123456789-0123456789-0123456789";

/// How a backend hands its decisions back.
#[derive(Debug, Clone, Copy)]
enum Decisions {
    /// Pending futures, as a networked store's, and saying so.
    Pending,
    /// Pending futures while claiming to decide at once: a broken promise.
    Lying,
}

/// The in-memory backend, with every decision wrapped as `Decisions` says.
#[derive(Debug)]
struct Wrapped {
    memory: MemoryBackend,
    decisions: Decisions,
}

#[derive(Debug)]
struct WrappedSet {
    inner: Arc<dyn PolicySet>,
    decisions: Decisions,
}

impl RateBackend for Wrapped {
    fn policy_set(&self, scope: &str, policies: Vec<Policy>) -> Arc<dyn PolicySet> {
        Arc::new(WrappedSet {
            inner: self.memory.policy_set(scope, policies),
            decisions: self.decisions,
        })
    }
    fn identifier_key(&self, namespace: &str, identifier: &str) -> RateKey {
        self.memory.identifier_key(namespace, identifier)
    }
    fn describe(&self) -> String {
        "wrapped".to_owned()
    }
}

impl PolicySet for WrappedSet {
    fn policies(&self) -> &[Policy] {
        self.inner.policies()
    }
    fn check(&self, keys: &[Option<RateKey>]) -> Decide {
        let decide = self.inner.check(keys);
        Decide::pending(decide)
    }
    fn peek(&self, keys: &[Option<RateKey>]) -> Decide {
        let decide = self.inner.peek(keys);
        Decide::pending(decide)
    }
    fn decides_at_once(&self) -> bool {
        matches!(self.decisions, Decisions::Lying)
    }
}

fn principal_of(token: &str) -> Option<Principal> {
    match token {
        MALLORY => Some(Principal::new("mallory")),
        ADMIN => Some(Principal::new("root").with_roles(["admin"])),
        _ => None,
    }
}

fn router(backend: Arc<dyn RateBackend>, authenticator_answers_at_once: bool) -> GuardedApp {
    let router = GuardedRouter::new()
        .route("/admin", get(admin_only))
        .route("/open", get(open))
        .rate_backend(backend);
    let router = if authenticator_answers_at_once {
        let keys = ApiKeys::new()
            .with_key(MALLORY, principal_of(MALLORY).unwrap())
            .unwrap()
            .with_key(ADMIN, principal_of(ADMIN).unwrap())
            .unwrap();
        router.authenticator(BearerAuth::new(keys))
    } else {
        // A verifier that is a future: the guards have to wait for it.
        router.authenticator(BearerAuth::new(|token: String| async move {
            Ok(principal_of(&token))
        }))
    };
    router.build().unwrap()
}

fn memory() -> MemoryBackend {
    MemoryBackend::new().clock(FakeClock::new(0))
}

/// Status, body, and the `RateLimit`, `Retry-After` and `Cache-Control`
/// headers of each reply to the attack.
async fn attack(app: &GuardedApp) -> Vec<(u16, String, String, String, String)> {
    let mut replies = Vec::new();
    let steps: [(&str, Option<&str>, [u8; 4]); 9] = [
        ("/admin", Some(FORGED), [10, 0, 0, 7]),
        ("/admin", Some(MALLORY), [10, 0, 0, 7]),
        ("/admin", Some(MALLORY), [10, 0, 0, 7]),
        ("/admin", Some(MALLORY), [10, 0, 0, 7]),
        ("/admin", None, [10, 0, 0, 7]),
        ("/admin", Some(ADMIN), [10, 0, 0, 8]),
        ("/open", None, [10, 0, 0, 9]),
        ("/open", None, [10, 0, 0, 9]),
        ("/open", None, [10, 0, 0, 9]),
    ];
    for (uri, key, peer) in steps {
        let request = request_as("GET", uri, key).body(Body::empty()).unwrap();
        let reply = send(app, from_peer(request, peer)).await;
        let header = |name: &str| {
            reply
                .headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        replies.push((
            reply.status.as_u16(),
            reply.body.clone(),
            header("ratelimit"),
            header("retry-after"),
            header("cache-control"),
        ));
    }
    replies
}

fn expected() -> Vec<(u16, String, String, String, String)> {
    let row = |status: u16, body: &str, rate: &str, retry: &str, cache: &str| {
        (
            status,
            body.to_owned(),
            rate.to_owned(),
            retry.to_owned(),
            cache.to_owned(),
        )
    };
    let forbidden = r#"{"error":"forbidden"}"#;
    let limited = r#"{"error":"too_many_requests"}"#;
    vec![
        // The forged token is charged against the client's budget (3/min:
        // one request back every 20 s).
        row(
            401,
            r#"{"error":"unauthenticated"}"#,
            "\"ip\";r=2;t=20",
            "",
            "",
        ),
        // Role probes spend it too, then the limit answers.
        row(403, forbidden, "\"ip\";r=1;t=40", "", ""),
        row(403, forbidden, "\"ip\";r=0;t=60", "", ""),
        row(429, limited, "\"ip\";r=0;t=20", "20", ""),
        row(429, limited, "\"ip\";r=0;t=20", "20", ""),
        // Another address, an admin: admitted, `no-store`.
        row(200, "secret", "\"ip\";r=2;t=20", "", "no-store"),
        // A public route's per-IP limit (2/min).
        row(200, "open", "\"ip\";r=1;t=30", "", ""),
        row(200, "open", "\"ip\";r=0;t=60", "", ""),
        row(429, limited, "\"ip\";r=0;t=30", "30", ""),
    ]
}

#[tokio::test]
async fn every_wiring_answers_the_attack_alike() {
    let wirings: [(&str, Arc<dyn RateBackend>, bool); 4] = [
        ("memory, key table (one pass)", Arc::new(memory()), true),
        (
            "pending limiter, key table",
            Arc::new(Wrapped {
                memory: memory(),
                decisions: Decisions::Pending,
            }),
            true,
        ),
        ("memory, verifier future", Arc::new(memory()), false),
        (
            "pending limiter, verifier future",
            Arc::new(Wrapped {
                memory: memory(),
                decisions: Decisions::Pending,
            }),
            false,
        ),
    ];
    let expected = expected();
    for (name, backend, at_once) in wirings {
        let admin_before = ADMIN_RUNS.load(Ordering::SeqCst);
        let open_before = OPEN_RUNS.load(Ordering::SeqCst);
        let replies = attack(&router(backend, at_once)).await;
        assert_eq!(replies, expected, "{name}");
        assert_eq!(
            (
                ADMIN_RUNS.load(Ordering::SeqCst) - admin_before,
                OPEN_RUNS.load(Ordering::SeqCst) - open_before
            ),
            (1, 2),
            "{name}: only the admitted requests reached their handlers"
        );
    }
    // In the same test: the handlers' run counters are shared.
    a_backend_that_promises_decisions_at_once_and_breaks_it_fails_closed().await;
}

async fn a_backend_that_promises_decisions_at_once_and_breaks_it_fails_closed() {
    let app = router(
        Arc::new(Wrapped {
            memory: memory(),
            decisions: Decisions::Lying,
        }),
        true,
    );
    for uri in ["/admin", "/open"] {
        let admin_before = ADMIN_RUNS.load(Ordering::SeqCst);
        let open_before = OPEN_RUNS.load(Ordering::SeqCst);
        let request = request_as("GET", uri, Some(ADMIN))
            .body(Body::empty())
            .unwrap();
        let reply = send(&app, from_peer(request, [10, 0, 0, 10])).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(json["error"], "unavailable", "{uri}: {}", reply.body);
        assert_eq!(
            (
                ADMIN_RUNS.load(Ordering::SeqCst),
                OPEN_RUNS.load(Ordering::SeqCst)
            ),
            (admin_before, open_before),
            "{uri}: no handler ran"
        );
    }
}
