use guard_axum::secure_route;

// An option written as a string.
#[secure_route("auth")]
async fn quoted() {}

// `=` with nothing after it, last and in the middle.
#[secure_route(auth, body = )]
async fn empty_last() {}

#[secure_route(auth, body = , rate = "1/s")]
async fn empty_middle() {}

fn main() {}
