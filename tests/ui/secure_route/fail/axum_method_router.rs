use guard_axum::{GuardedRouter, secure_route};

#[secure_route(public = "health check")]
async fn health() -> &'static str {
    "ok"
}

async fn plain() -> &'static str {
    "anyone"
}

fn main() {
    let _ = GuardedRouter::<()>::new().route("/", axum::routing::get(plain));
    let _ = GuardedRouter::<()>::new().route("/h", axum::routing::get(health));
}
