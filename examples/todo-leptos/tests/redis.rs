//! Two instances of the app share their server functions' limits through
//! Redis: the 11th login attempt of a client is refused whichever instance
//! it reaches. Starts its own `redis-server`; without one the test is
//! skipped, or fails under `GUARD_REQUIRE_REDIS=1` (as CI runs it).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;
// The same throwaway redis-server as guard-axum's tests, one file for both.
#[path = "../../../guard-axum/tests/support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;

use common::{paths, start};
use guard_axum::rate_limit::{RateBackend, RedisBackend};
use redis_server::RedisServer;

const SECRET: &[u8] = b"a shared secret of at least 32 bytes, same on every instance";
const WRONG: [(&str, &str); 2] = [
    ("email", "nobody@example.com"),
    ("password", "wrong password!"),
];

fn redis() -> Option<RedisServer> {
    let required = std::env::var("GUARD_REQUIRE_REDIS").is_ok_and(|v| v == "1");
    match RedisServer::spawn() {
        Ok(server) => Some(server),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !required => {
            eprintln!(
                "SKIPPED: `redis-server` is not installed (apt-get install -y redis-server); \
                 set GUARD_REQUIRE_REDIS=1 to fail instead"
            );
            None
        }
        Err(err) => {
            panic!("could not start `redis-server`, required by GUARD_REQUIRE_REDIS=1: {err}")
        }
    }
}

#[tokio::test]
async fn two_instances_share_the_login_limit_through_redis() {
    let Some(server) = redis() else { return };
    let backend = |prefix: &'static str| {
        let url = server.url();
        async move {
            let backend: Arc<dyn RateBackend> = Arc::new(
                RedisBackend::connect_with_prefix(&url, SECRET, prefix)
                    .await
                    .unwrap(),
            );
            backend
        }
    };
    let a = start(Some(backend("todo").await)).await;
    let b = start(Some(backend("todo").await)).await;
    assert!(a.built.app.report().to_text().contains("redis"));
    for attempt in 1..=10 {
        let app = if attempt % 2 == 0 { &a } else { &b };
        let answer = app.form(paths::LOGIN, None, &WRONG).await;
        assert_eq!(answer.status, 401, "attempt {attempt}: {answer:?}");
    }
    for app in [&a, &b] {
        let limited = app.form(paths::LOGIN, None, &WRONG).await;
        assert_eq!(limited.status, 429, "{limited:?}");
        assert!(limited.headers.contains_key("retry-after"));
    }
}

#[tokio::test]
async fn instances_on_memory_backends_count_apart() {
    // The counterpart: without a shared store each instance has its own
    // budget, so ten attempts on one leave the other's untouched.
    let a = start(None).await;
    let b = start(None).await;
    for attempt in 1..=10 {
        let answer = a.form(paths::LOGIN, None, &WRONG).await;
        assert_eq!(answer.status, 401, "attempt {attempt}");
    }
    assert_eq!(a.form(paths::LOGIN, None, &WRONG).await.status, 429);
    assert_eq!(b.form(paths::LOGIN, None, &WRONG).await.status, 401);
}
