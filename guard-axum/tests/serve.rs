//! A guarded app served the plain way, `axum::serve(listener, app)`, on
//! real TCP: the client-IP guard gets the socket peer without
//! `into_make_service_with_connect_info`, so a rate-limited route answers
//! and counts, instead of a 500.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/tcp.rs"]
mod tcp_support;

use std::time::Duration;

use guard_axum::extract::ClientIp;
use guard_axum::routing::get;
use guard_axum::{GuardedRouter, secure_route};
use tcp_support::get_raw;
use tokio::net::TcpListener;

#[secure_route(public = "test: a limited public route", rate = "2/min")]
async fn limited() -> &'static str {
    "limited"
}

#[secure_route(public = "test: the caller's address")]
async fn whoami(ClientIp(ip): ClientIp) -> String {
    ip.to_string()
}

#[tokio::test]
async fn axum_serve_alone_hands_the_socket_peer_to_the_guards() {
    let app = GuardedRouter::<()>::new()
        .route("/limited", get(limited))
        .route("/whoami", get(whoami))
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let run = async {
        let me = get_raw(addr, "/whoami").await;
        assert!(me.starts_with("HTTP/1.1 200 "), "{me}");
        assert!(me.ends_with("\r\n\r\n127.0.0.1"), "{me}");
        for _ in 0..2 {
            let ok = get_raw(addr, "/limited").await;
            assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
            assert!(ok.to_ascii_lowercase().contains("\r\nratelimit: "), "{ok}");
            assert!(ok.ends_with("\r\n\r\nlimited"), "{ok}");
        }
        // The third from the same peer within the minute is refused: the
        // limit keys on the connection's address.
        let refused = get_raw(addr, "/limited").await;
        assert!(refused.starts_with("HTTP/1.1 429 "), "{refused}");
        assert!(
            refused.to_ascii_lowercase().contains("\r\nretry-after: "),
            "{refused}"
        );
        assert!(
            !refused.contains("limited\r\n") && !refused.ends_with("limited"),
            "{refused}"
        );
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .unwrap();
    server.abort();
}
