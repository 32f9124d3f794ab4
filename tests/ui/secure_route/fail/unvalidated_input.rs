use axum::Json;
use axum::extract::{Path, Query, RawQuery};
use axum::extract::rejection::JsonRejection;
use axum::body::Bytes;
use guard_axum::secure_route;
use std::collections::HashMap;

#[secure_route(auth)]
async fn raw_json(Json(_body): Json<serde_json::Value>) {}

#[secure_route(auth)]
async fn raw_query(Query(_q): Query<HashMap<String, String>>) {}

#[secure_route(auth)]
async fn raw_path(Path(_id): Path<String>) {}

#[secure_route(auth)]
async fn optional_json(_body: Option<Json<serde_json::Value>>) {}

#[secure_route(auth)]
async fn fallible_json(_body: Result<Json<serde_json::Value>, JsonRejection>) {}

#[secure_route(auth)]
async fn raw_query_string(RawQuery(_q): RawQuery) {}

#[secure_route(auth)]
async fn raw_string_body(_body: String) {}

#[secure_route(auth)]
async fn raw_bytes_body(_body: Bytes) {}

fn main() {}
