use guard_axum::secure_route;

#[secure_route(auth, auth)]
async fn twice() {}

#[secure_route(auth, roles = ["admin"], roles = ["ops"])]
async fn roles_twice() {}

#[secure_route(auth, upload(max = "5MiB", types = ["png"], max = "1MiB"))]
async fn upload_max_twice(_file: guard_axum::Upload) {}

fn main() {}
