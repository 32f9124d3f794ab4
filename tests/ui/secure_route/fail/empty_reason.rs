use guard_axum::secure_route;

#[secure_route(public = "")]
async fn empty() {}

#[secure_route(public = "   ")]
async fn blank() {}

fn main() {}
