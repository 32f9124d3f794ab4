//! A handler whose options or arguments have errors still routes and has
//! its `spec()`: each mistake is one error, not also one per use.

use guard_axum::routing::get;
use guard_axum::{GuardedRouter, Principal, secure_route};

#[secure_route(auth, rate = "10/minn")]
async fn misspelt_rate(_user: Principal) -> &'static str {
    "ok"
}

#[secure_route(auth, ownr = "project")]
async fn unknown_option(_user: Principal) -> &'static str {
    "ok"
}

#[secure_route(auth)]
async fn raw_path(axum::extract::Path(id): axum::extract::Path<u32>) -> String {
    id.to_string()
}

fn main() {
    let _ = misspelt_rate().spec();
    let _ = GuardedRouter::<()>::new()
        .route("/a", get(misspelt_rate))
        .route("/b", get(unknown_option))
        .route("/c/{id}", get(raw_path))
        .build();
}
