// Routes added after `build()` would have no guards, no security headers,
// no timeout and no body cap, and would miss the report: the built app is
// not an `axum::Router`, so the old misuse does not compile.
use guard_axum::routing::get;
use guard_axum::{GuardedRouter, secure_route};

#[secure_route(public = "health check")]
async fn health() -> &'static str {
    "ok"
}

async fn export() -> &'static str {
    "every user's data"
}

fn main() {
    let app = GuardedRouter::new()
        .route("/healthz", get(health))
        .build()
        .unwrap();
    let _ = app.route("/admin/export", axum::routing::get(export));
    let _ = app.merge(axum::Router::new());
    let _ = app.nest_service("/files", axum::routing::get(export));
    let _: axum::Router = app;
}
