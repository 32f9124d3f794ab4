// `csrf` takes one setting, `"none: <reason>"`, and only on `auth` routes.
use guard_axum::secure_route;

#[secure_route(auth, csrf = "off")]
async fn wrong_value() {}

#[secure_route(auth, csrf = "none:  ")]
async fn no_reason() {}

#[secure_route(public = "webhook", csrf = "none: signed by the sender")]
async fn on_public() {}

#[secure_route(auth, csrf = true)]
async fn not_a_string() {}

fn main() {}
