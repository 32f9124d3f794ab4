//! Trusting proxies through a built router: the proxy list that would
//! trust the whole internet cannot be written, and a client outside the
//! trusted ranges cannot choose its rate-limit key by forging the header.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::ConnectInfo;
use guard_axum::routing::get;
use guard_axum::{GuardedApp, GuardedRouter, secure_route};
use guard_core::client_ip::{ClientIpConfig, ClientIpConfigError};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

static CATALOGUE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[secure_route(public = "catalogue", rate_ip = "1/min")]
async fn catalogue() -> &'static str {
    CATALOGUE_RUNS.fetch_add(1, Ordering::SeqCst);
    "items"
}

fn app(client_ip: ClientIpConfig) -> GuardedApp {
    GuardedRouter::new()
        .route("/catalogue", get(catalogue))
        .client_ip(client_ip)
        .build()
        .unwrap()
}

fn request(peer: [u8; 4], header: &str, client: &str) -> Request<Body> {
    let mut request = Request::get("/catalogue")
        .header(header, client)
        .body(Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 1))));
    request
}

#[test]
fn the_two_halves_of_the_internet_cannot_be_trusted_by_either_method() {
    for (first, second) in [("0.0.0.0/1", "128.0.0.0/1"), ("::/1", "8000::/1")] {
        let plain = ClientIpConfig::new()
            .trust_proxy(first)
            .and_then(|c| c.trust_proxy(second));
        let public = ClientIpConfig::new()
            .trust_public_proxy(first)
            .and_then(|c| c.trust_public_proxy(second));
        for refused in [plain, public] {
            let err = refused.unwrap_err();
            assert_eq!(err, ClientIpConfigError::TooBroad(first.parse().unwrap()));
            assert!(err.to_string().contains(first), "{err}");
        }
    }
}

#[tokio::test]
async fn a_forged_header_from_outside_the_cdn_ranges_does_not_change_the_key() {
    // The CDN's published range, opted in; its edge writes CF-Connecting-IP.
    let app = app(ClientIpConfig::new()
        .trust_public_proxy("173.245.48.0/20")
        .unwrap()
        .from_header("CF-Connecting-IP")
        .unwrap());
    let before = CATALOGUE_RUNS.load(Ordering::SeqCst);
    // An attacker connecting directly rotates the header to get a fresh
    // budget each time: the key stays its own address.
    let first = app
        .clone()
        .oneshot(request([203, 0, 113, 9], "cf-connecting-ip", "192.0.2.1"))
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    for forged in ["192.0.2.2", "192.0.2.3", "173.245.48.1"] {
        let refused = app
            .clone()
            .oneshot(request([203, 0, 113, 9], "cf-connecting-ip", forged))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{forged}");
        let body = refused.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, r#"{"error":"too_many_requests"}"#);
    }
    assert_eq!(CATALOGUE_RUNS.load(Ordering::SeqCst), before + 1);

    // Through the CDN's edge, each client has its own budget.
    for client in ["198.51.100.1", "198.51.100.2"] {
        let reply = app
            .clone()
            .oneshot(request([173, 245, 48, 7], "cf-connecting-ip", client))
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{client}");
    }
    assert_eq!(CATALOGUE_RUNS.load(Ordering::SeqCst), before + 3);
}
