use guard_axum::{IdentifierLimit, Principal, secure_route};

#[secure_route(auth, rate = "10/min", rate_ip = "5/min", rate_account = "1/s")]
async fn account(_user: Principal) {}

#[secure_route(public = "login", rate = "10/min", rate_ip = "5/min", rate_identifier = "3/min")]
async fn login(_limit: IdentifierLimit) {}

fn main() {}
