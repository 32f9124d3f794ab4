use guard_axum::extract::{Valid, ValidQuery};
use guard_axum::secure_route;

#[derive(serde::Deserialize, validator::Validate)]
struct NewProject {
    #[validate(length(min = 1))]
    title: String,
}

#[derive(serde::Deserialize, validator::Validate)]
struct Rename {
    #[validate(length(min = 1))]
    name: String,
}

// The route declares one body type and the handler decodes another: the
// report and the build-time identity-field check would describe the wrong
// type.
#[secure_route(auth, body = NewProject)]
async fn other_body(Valid(_b): Valid<Rename>) {}

#[secure_route(auth, query = NewProject)]
async fn other_query(ValidQuery(_q): ValidQuery<Rename>) {}

fn main() {}
