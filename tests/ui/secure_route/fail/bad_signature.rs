use guard_axum::secure_route;

#[secure_route(auth)]
async fn generic<T>(_value: T) {}

struct Service;

impl Service {
    #[secure_route(auth)]
    async fn method(&self) {}
}

#[secure_route(auth)]
async unsafe fn unsafe_handler() {}

#[secure_route(auth)]
async extern "C" fn foreign_abi() {}

#[secure_route(auth)]
#[secure_route(auth)]
async fn applied_twice() {}

#[secure_route(auth)]
async fn with_where_clause() -> String
where
    String: Send,
{
    String::new()
}

fn main() {}
