//! A request with two `Host` headers, or an HTTP/1.1 one with none, sent
//! over real TCP: refused with the generic 400 before any guard or handler
//! sees it (a proxy and the service could each read another one; RFC 9112,
//! 3.2), with the security headers; one `Host` is answered, and so is an
//! HTTP/1.0 request without it.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/tcp.rs"]
mod tcp_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use guard_axum::routing::post;
use guard_axum::{GuardedRouter, secure_route};
use tcp_support::send_raw;
use tokio::net::TcpListener;

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[secure_route(public = "test: a route that counts its calls")]
async fn counted() -> &'static str {
    RUNS.fetch_add(1, Ordering::SeqCst);
    "counted"
}

#[tokio::test]
async fn two_host_headers_or_none_are_refused_before_the_handler() {
    let app = GuardedRouter::<()>::new()
        .route("/counted", post(counted))
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let run = async {
        for head in [
            "POST /counted HTTP/1.1\r\nHost: app.example\r\nHost: evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "POST /counted HTTP/1.1\r\nHost: app.example\r\nhost: app.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "POST /counted HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "GET /counted HTTP/1.1\r\nConnection: close\r\n\r\n",
            "POST http://app.example/counted HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ] {
            let refused = send_raw(addr, head).await;
            assert!(refused.starts_with("HTTP/1.1 400 "), "{refused}");
            assert!(
                refused.ends_with("\r\n\r\n{\"error\":\"invalid_input\"}"),
                "{refused}"
            );
            assert!(
                refused
                    .to_ascii_lowercase()
                    .contains("\r\nx-content-type-options: nosniff\r\n"),
                "{refused}"
            );
        }
        assert_eq!(RUNS.load(Ordering::SeqCst), 0, "the handler never ran");
        let ok = send_raw(
            addr,
            "POST /counted HTTP/1.1\r\nHost: app.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
        assert!(ok.ends_with("\r\n\r\ncounted"), "{ok}");
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
        // HTTP/1.0 has no Host requirement.
        let ok = send_raw(addr, "POST /counted HTTP/1.0\r\nContent-Length: 0\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.0 200 "), "{ok}");
        assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .unwrap();
    server.abort();
}
