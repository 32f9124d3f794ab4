use guard_axum::secure_route;

#[secure_route(auth)]
async fn generic<T>(_value: T) {}

struct Service;

impl Service {
    #[secure_route(auth)]
    async fn method(&self) {}
}

fn main() {}
