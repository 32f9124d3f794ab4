use guard_axum::secure_route;

#[secure_route]
async fn nobody_said_who() {}

#[secure_route()]
async fn empty_parens() {}

fn main() {}
