use guard_axum::secure_route;

#[secure_route(ath)]
async fn typo() {}

#[secure_route(auth, role = ["admin"])]
async fn singular() {}

#[secure_route(auth, frobnicate)]
async fn nonsense() {}

fn main() {}
