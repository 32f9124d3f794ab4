use axum::Json;
use axum::extract::Query;
use guard_axum::secure_route;
use std::collections::HashMap;

#[secure_route(auth)]
async fn raw_json(Json(_body): Json<serde_json::Value>) {}

#[secure_route(auth)]
async fn raw_query(Query(_q): Query<HashMap<String, String>>) {}

fn main() {}
