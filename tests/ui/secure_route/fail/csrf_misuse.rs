// `csrf` takes one setting, `"none: <reason>"`, with a reason, on `auth` and
// public routes alike (a public webhook may opt out; a blank reason may not).
use guard_axum::secure_route;

#[secure_route(auth, csrf = "off")]
async fn wrong_value() {}

#[secure_route(auth, csrf = "none:  ")]
async fn no_reason() {}

#[secure_route(public = "webhook", csrf = "none:")]
async fn public_without_reason() {}

#[secure_route(auth, csrf = true)]
async fn not_a_string() {}

fn main() {}
