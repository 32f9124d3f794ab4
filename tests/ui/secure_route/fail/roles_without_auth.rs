use guard_axum::secure_route;

#[secure_route(public = "docs", roles = ["admin"])]
async fn public_with_roles() {}

#[secure_route(public = "docs", permission = "read")]
async fn public_with_permission() {}

fn main() {}
