use guard_axum::extract::{Valid, ValidQuery};
use guard_axum::secure_route;

#[derive(serde::Deserialize, validator::Validate)]
struct NewProject {
    #[validate(length(min = 1))]
    title: String,
}

struct NotValidated;

// `body` declared, but the handler does not take `Valid<T>`.
#[secure_route(auth, body = NewProject)]
async fn forgot_valid() {}

// `Valid<T>` taken without `body = T`.
#[secure_route(auth)]
async fn undeclared_body(Valid(_b): Valid<NewProject>) {}

// A body type that is neither `Deserialize` nor `Validate`.
#[secure_route(auth, body = NotValidated)]
async fn not_validated(Valid(_b): Valid<NotValidated>) {}

// A query type that is neither `Deserialize` nor `Validate`.
#[secure_route(auth, query = NotValidated)]
async fn query_not_validated(ValidQuery(_q): ValidQuery<NotValidated>) {}

// An identity field allowed without a reason, and without a body.
#[secure_route(auth, allow_identity(owner_id = ""))]
async fn identity_without_reason() {}

fn main() {}
