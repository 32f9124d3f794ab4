//! Raw extractors the name check cannot see: a type alias, a renamed
//! import, a type macro, a projection, a tuple. The type check refuses
//! each at its argument.

use axum::extract::Path as P;
use guard_axum::secure_route;

type RawJson = axum::Json<serde_json::Value>;
type Text = String;

#[secure_route(auth)]
async fn alias(_body: RawJson) {}

#[secure_route(auth)]
async fn renamed(_id: P<u32>) {}

#[secure_route(auth)]
async fn aliased_string(_body: Text) {}

#[secure_route(auth)]
async fn optional_alias(_body: Option<RawJson>) {}

macro_rules! query {
    () => { axum::extract::Query<std::collections::HashMap<String, String>> };
}

#[secure_route(auth)]
async fn type_macro(_q: query!()) {}

trait Same {
    type It;
}
impl<T> Same for T {
    type It = T;
}

#[secure_route(auth)]
async fn projection(_form: <axum::Form<serde_json::Value> as Same>::It) {}

#[secure_route(auth)]
async fn tuple(_both: (guard_axum::Principal, P<u32>)) {}

fn main() {}
