//! A guarded server function call against the same function unguarded,
//! in process (tower `oneshot`, no sockets). See BENCHMARKS.md.
//!
//! ```text
//! cargo bench -p guard-leptos --bench server_fn
//! ```
//!
//! * `unguarded`: a plain `#[server]` function served by
//!   `leptos_axum::handle_server_fns` on a bare `axum::Router`.
//! * `guarded`: the same body under `#[secure_server_fn(public = …,
//!   rate_ip = …)]`, on a built `GuardedRouter` (security headers, timeout,
//!   panic catcher, client IP and per-IP limit, strict argument names, the
//!   body's `enter`, generic errors).
//!
//! The bench routes the guarded function by hand (`__private::attach`)
//! instead of `ServerFns::install`, which refuses to start with the
//! unguarded baseline linked into the same binary.

#![allow(clippy::unwrap_used, missing_docs)] // a bench that cannot set up should stop loudly

use std::hint::black_box;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use criterion::Criterion;
use guard_axum::GuardedRouter;
use guard_axum::auth::{ApiKeys, BearerAuth};
use guard_leptos::{GuardedError, ServerFns, secure_server_fn};
use http::{Method, Request, StatusCode};
use leptos::prelude::*;
use server_fn::ServerFn as _;
use tower::ServiceExt as _;

#[server]
pub async fn ping_plain(n: u32) -> Result<u32, ServerFnError> {
    Ok(n.wrapping_add(1))
}

#[secure_server_fn(public = "benchmark", rate_ip = "1000000/s")]
#[server]
pub async fn ping_guarded(n: u32) -> Result<u32, GuardedError> {
    Ok(n.wrapping_add(1))
}

fn request(path: &str) -> Request<Body> {
    let mut request = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("n=41"))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    request
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let plain = axum::Router::new().route(
        PingPlain::PATH,
        axum::routing::post(leptos_axum::handle_server_fns),
    );
    let fns = ServerFns::new(BearerAuth::new(ApiKeys::new()));
    let guarded = guard_leptos::__private::attach::<__secure_server_fn_ping_guarded>(
        GuardedRouter::new().authenticator(BearerAuth::new(ApiKeys::new())),
        PingGuarded::PATH,
        &Method::POST,
    )
    .layer(axum::Extension(fns))
    .build()
    .unwrap();
    // Both answer the same before anything is timed.
    for (status, body) in rt.block_on(async {
        let a = plain
            .clone()
            .oneshot(request(PingPlain::PATH))
            .await
            .unwrap();
        let b = guarded
            .clone()
            .oneshot(request(PingGuarded::PATH))
            .await
            .unwrap();
        let read = |r: axum::response::Response| async move {
            (
                r.status(),
                axum::body::to_bytes(r.into_body(), 1024).await.unwrap(),
            )
        };
        [read(a).await, read(b).await]
    }) {
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"42"[..]));
    }
    let mut group = c.benchmark_group("server_fn_call");
    group.bench_function("unguarded", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = plain
                    .clone()
                    .oneshot(request(PingPlain::PATH))
                    .await
                    .unwrap();
                black_box(
                    axum::body::to_bytes(response.into_body(), 1024)
                        .await
                        .unwrap(),
                )
            })
        });
    });
    group.bench_function("guarded", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = guarded
                    .clone()
                    .oneshot(request(PingGuarded::PATH))
                    .await
                    .unwrap();
                black_box(
                    axum::body::to_bytes(response.into_body(), 1024)
                        .await
                        .unwrap(),
                )
            })
        });
    });
    group.finish();
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
