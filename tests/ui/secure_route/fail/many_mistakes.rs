use guard_axum::secure_route;

// Three mistakes, three messages in one compile.
#[secure_route(ath, public = "", roles = ["admin"])]
fn everything_wrong() {}

fn main() {}
