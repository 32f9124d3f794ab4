use guard_axum::extract::Valid;
use guard_axum::secure_route;

#[derive(serde::Deserialize, validator::Validate)]
struct Credentials {
    #[validate(email)]
    email: String,
}

// `rate_identifier` is counted only when the handler checks the identifier
// through `IdentifierLimit`: without it the route's report promises a
// per-account limit that never applies.
#[secure_route(public = "login", rate_ip = "20/min", rate_identifier = "5/min", body = Credentials)]
async fn login(Valid(_body): Valid<Credentials>) {}

fn main() {}
