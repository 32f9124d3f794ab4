use guard_axum::GuardedRouter;
use guard_axum::routing::get;

async fn plain() -> &'static str {
    "anyone can call me"
}

fn main() {
    let _ = GuardedRouter::<()>::new().route("/", get(plain));
}
