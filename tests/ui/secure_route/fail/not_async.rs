use guard_axum::secure_route;

#[secure_route(auth)]
fn blocking() -> &'static str {
    "sync"
}

fn main() {}
