use guard_axum::secure_route;

#[secure_route(auth, public = "login")]
async fn contradiction() {}

fn main() {}
