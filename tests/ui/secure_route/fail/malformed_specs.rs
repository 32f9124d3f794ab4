use guard_axum::secure_route;

#[secure_route(auth, rate = "10/minn")]
async fn bad_unit() {}

#[secure_route(auth, rate = "0/min")]
async fn zero() {}

#[secure_route(auth, rate = "ten/min")]
async fn words() {}

#[secure_route(auth, quota = "1000/day, burst = 5")]
async fn quota_with_burst() {}

#[secure_route(public = "signup", rate_account = "5/min")]
async fn account_rate_on_public_route() {}

#[secure_route(auth, body_limit = "1 megabyte")]
async fn bad_size() {}

#[secure_route(auth, upload(max = "5MiB", types = ["png", "exe"]))]
async fn unknown_type() {}

#[secure_route(auth, upload(max = "0B", types = ["png"]))]
async fn zero_cap() {}

#[secure_route(auth, upload(types = ["png"]))]
async fn no_cap() {}

fn main() {}
