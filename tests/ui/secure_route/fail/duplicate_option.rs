use guard_axum::secure_route;

#[secure_route(auth, auth)]
async fn twice() {}

#[secure_route(auth, roles = ["admin"], roles = ["ops"])]
async fn roles_twice() {}

fn main() {}
