//! Strict input through real axum routers: `Valid<T>`, `ValidQuery<T>` and
//! `ValidPath<T>` on plain axum routes, with the per-route settings put in
//! the request extensions the way the guards will.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::{get, post};
use guard_axum::extract::{
    AllowIdentityFields, BodyLimit, BodyLimitLayer, Valid, ValidPath, ValidQuery,
};
use guard_core::validate::{FieldDetail, declared_fields, identity_fields_declared};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde::Deserialize;
use tower::ServiceExt as _;
use tower::util::MapRequestLayer;
use validator::Validate;

#[derive(Debug, Deserialize, Validate)]
struct NewProject {
    #[validate(length(min = 1, max = 100))]
    title: String,
    #[serde(default)]
    note: String,
    #[validate(nested)]
    address: Option<Address>,
}

#[derive(Debug, Deserialize, Validate)]
struct Address {
    #[validate(length(min = 2))]
    city: String,
}

#[derive(Debug, Deserialize, Validate)]
struct AssignRole {
    user_name: String,
    role: String,
}

#[derive(Debug, Deserialize, Validate)]
struct Flattened {
    title: String,
    #[serde(flatten)]
    extra: Extra,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
struct Extra {
    color: Option<String>,
}

#[derive(Debug, Deserialize, Validate)]
struct Search {
    #[validate(length(min = 1))]
    q: String,
    page: Option<u32>,
}

#[derive(Debug, Deserialize, Validate)]
struct ItemPath {
    #[validate(range(min = 1))]
    id: u32,
}

async fn create(Valid(body): Valid<NewProject>) -> String {
    format!("{}|{}", body.title, body.note.len())
}

async fn assign(Valid(body): Valid<AssignRole>) -> String {
    format!("{} is {}", body.user_name, body.role)
}

async fn flattened(Valid(body): Valid<Flattened>) -> String {
    format!("{} {:?}", body.title, body.extra.color)
}

async fn search(ValidQuery(query): ValidQuery<Search>) -> String {
    format!("{} p{}", query.q, query.page.unwrap_or(1))
}

/// How many of the batch the handler received (it must not run on a
/// refused batch).
static BATCHES: AtomicUsize = AtomicUsize::new(0);

async fn batch(Valid(body): Valid<Vec<Address>>) -> String {
    BATCHES.fetch_add(1, Ordering::SeqCst);
    body.len().to_string()
}

async fn item(ValidPath(path): ValidPath<ItemPath>) -> String {
    format!("item {}", path.id)
}

fn with_extension<T: Clone + Send + Sync + 'static>(
    value: T,
) -> MapRequestLayer<impl Fn(Request<Body>) -> Request<Body> + Clone> {
    MapRequestLayer::new(move |mut req: Request<Body>| {
        req.extensions_mut().insert(value.clone());
        req
    })
}

fn app() -> Router {
    Router::new()
        .route("/projects", post(create))
        .route(
            "/roles",
            post(assign).layer(with_extension(AllowIdentityFields(&["role"]))),
        )
        .route("/roles-closed", post(assign))
        .route(
            "/small",
            post(create).layer(BodyLimitLayer::new(BodyLimit(32))),
        )
        .route(
            "/generic",
            post(create).layer(with_extension(FieldDetail::Generic)),
        )
        .route(
            "/small-raw",
            post(|text: String| async move { text }).layer(BodyLimitLayer::new(BodyLimit(32))),
        )
        .route("/flat", post(flattened))
        .route("/batch", post(batch))
        .route("/search", get(search))
        .route("/items/{id}", get(item))
}

struct Reply {
    status: StatusCode,
    body: String,
}

async fn send(request: Request<Body>) -> Reply {
    let response = app().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn post_json(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

const INVALID: &str = r#"{"error":"invalid_input"}"#;

fn fields(json: &str) -> String {
    format!(r#"{{"error":"invalid_input","fields":{json}}}"#)
}

#[tokio::test]
async fn a_valid_body_reaches_the_handler() {
    let reply = send(post_json(
        "/projects",
        r#"{"title":"Roadmap","address":{"city":"Oslo"}}"#,
    ))
    .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "Roadmap|0")
    );
}

#[tokio::test]
async fn unknown_fields_are_refused_at_the_top_level_and_nested() {
    let table = [
        (
            r#"{"title":"a","priority":1}"#,
            fields(r#"{"priority":["unknown_field"]}"#),
        ),
        (
            r#"{"title":"a","address":{"city":"Oslo","zip":"0150"}}"#,
            fields(r#"{"address.zip":["unknown_field"]}"#),
        ),
        (
            r#"{"title":"a","x":1,"address":{"city":"Oslo","y":{"z":2}}}"#,
            fields(r#"{"address.y":["unknown_field"],"x":["unknown_field"]}"#),
        ),
    ];
    for (json, want) in table {
        let reply = send(post_json("/projects", json)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{json}");
        assert_eq!(reply.body, want, "{json}");
    }
}

#[tokio::test]
async fn a_flattened_field_cannot_smuggle_unknown_fields() {
    // Plain serde accepts `"is_evil":true` here without a word; strict
    // decoding refuses to decode what it cannot check.
    let reply = send(post_json(
        "/flat",
        r#"{"title":"a","color":"red","is_evil":true}"#,
    ))
    .await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        reply
            .body
            .starts_with(r#"{"error":"internal","error_id":""#),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("evil"));
    // Input that the outer struct fully consumes hides nothing and decodes.
    let reply = send(post_json("/flat", r#"{"title":"a"}"#)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "a None")
    );
}

#[tokio::test]
async fn every_spelling_of_every_identity_field_is_refused() {
    let names = [
        "user_id",
        "userId",
        "UserId",
        "USER_ID",
        "user-id",
        "owner_id",
        "ownerId",
        "owner-id",
        "tenant_id",
        "tenantId",
        "TENANT-ID",
        "workspace_id",
        "workspaceId",
        "org_id",
        "orgId",
        "account_id",
        "accountId",
        "role",
        "Role",
        "roles",
        "is_admin",
        "isAdmin",
        "is-admin",
        "admin",
        "permissions",
        "created_by",
        "createdBy",
    ];
    for name in names {
        let json = format!(r#"{{"title":"a","{name}":1}}"#);
        let reply = send(post_json("/projects", json)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(
            reply.body,
            fields(&format!(r#"{{"{name}":["identity_field"]}}"#)),
            "{name}"
        );
    }
    let reply = send(post_json(
        "/projects",
        r#"{"title":"a","address":{"city":"Oslo","tenantId":3}}"#,
    ))
    .await;
    assert_eq!(
        reply.body,
        fields(r#"{"address.tenantId":["identity_field"]}"#)
    );
}

#[tokio::test]
async fn a_route_may_accept_an_identity_field_it_names() {
    let body = r#"{"user_name":"bob","role":"editor"}"#;
    let reply = send(post_json("/roles", body)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "bob is editor")
    );
    // The same type on a route without the opt-in.
    let reply = send(post_json("/roles-closed", body)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body, fields(r#"{"role":["identity_field"]}"#));
    // The opt-in names `role`, nothing else.
    let reply = send(post_json(
        "/roles",
        r#"{"user_name":"bob","role":"x","is_admin":true}"#,
    ))
    .await;
    assert_eq!(reply.body, fields(r#"{"is_admin":["identity_field"]}"#));
}

#[tokio::test]
async fn validation_failures_list_field_paths_and_codes_only() {
    let json = r#"{"title":"","address":{"city":"X"}}"#;
    let reply = send(post_json("/projects", json)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        fields(r#"{"address.city":["length"],"title":["length"]}"#)
    );
    // The app-wide switch: no list at all.
    let reply = send(post_json("/generic", json)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::BAD_REQUEST, INVALID)
    );
}

#[tokio::test]
async fn a_list_bodys_failures_name_the_item_and_nothing_of_validators_own() {
    let reply = send(post_json("/batch", r#"[{"city":"Oslo"},{"city":"X"}]"#)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // validator keys a `Vec`'s items under `_tmp_validator`: not a field
    // the client sent, and not a name to show it.
    assert_eq!(reply.body, fields(r#"{"[1].city":["length"]}"#));
    assert_eq!(BATCHES.load(Ordering::SeqCst), 0);
    let reply = send(post_json("/batch", r#"[{"city":"Oslo"}]"#)).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "1"));
}

/// A `NewProject` body of exactly `len` bytes.
fn body_of_len(len: usize) -> String {
    let frame = r#"{"title":"a","note":""}"#.len();
    format!(r#"{{"title":"a","note":"{}"}}"#, "n".repeat(len - frame))
}

#[tokio::test]
async fn the_default_limit_passes_64_kib_exactly_and_refuses_one_byte_more() {
    let limit = BodyLimit::DEFAULT.0;
    let at = body_of_len(limit);
    assert_eq!(at.len(), limit);
    let reply = send(post_json("/projects", at)).await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::OK, format!("a|{}", limit - 23))
    );

    let over = body_of_len(limit + 1);
    let reply = send(post_json("/projects", over.clone())).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.body, r#"{"error":"payload_too_large"}"#);

    // Declared up front: refused before reading.
    let request = Request::post("/projects")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, over.len())
        .body(Body::from(over))
        .unwrap();
    assert_eq!(send(request).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_route_limit_applies_to_the_extractor() {
    let reply = send(post_json("/small", body_of_len(32))).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = send(post_json("/small", body_of_len(33))).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.body, r#"{"error":"payload_too_large"}"#);
}

#[tokio::test]
async fn the_same_limit_drives_axums_own_extractors() {
    let reply = send(post_json("/small-raw", "x".repeat(32))).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = send(post_json("/small-raw", "x".repeat(33))).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_slow_10_mb_body_is_cut_off_at_the_limit() {
    const CHUNK: usize = 8 * 1024;
    const TOTAL: usize = 10 * 1024 * 1024;
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&produced);
    let stream = futures_util::stream::unfold(0usize, move |sent| {
        let counter = Arc::clone(&counter);
        async move {
            if sent >= TOTAL {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await; // a slow client
            counter.fetch_add(CHUNK, Ordering::SeqCst);
            let chunk = Bytes::from(vec![b' '; CHUNK]);
            Some((Ok::<_, std::io::Error>(chunk), sent + CHUNK))
        }
    });
    let reply = send(post_json("/projects", Body::from_stream(stream))).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.body, r#"{"error":"payload_too_large"}"#);
    let read = produced.load(Ordering::SeqCst);
    let limit = BodyLimit::DEFAULT.0;
    assert!(
        read <= limit + CHUNK,
        "read {read} bytes for a limit of {limit}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_unsupported() {
    let table = [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("text/json"),
        // JSON is UTF-8; a body declared in another charset would be read
        // as other text than its sender meant.
        Some("application/json; charset=utf-16"),
        Some("application/json; charset=\"ISO-8859-1\""),
        None,
    ];
    for content_type in table {
        let mut request = Request::post("/projects");
        if let Some(value) = content_type {
            request = request.header(header::CONTENT_TYPE, value);
        }
        let reply = send(request.body(Body::from(r#"{"title":"a"}"#)).unwrap()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert_eq!(reply.body, r#"{"error":"unsupported_media_type"}"#);
    }
    let request = Request::post("/projects")
        .header(
            header::CONTENT_TYPE,
            "application/vnd.api+json; charset=utf-8",
        )
        .body(Body::from(r#"{"title":"a"}"#))
        .unwrap();
    assert_eq!(send(request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_json_is_a_generic_400_that_echoes_nothing() {
    let table = [
        r#"{"title":"hunter2-secret"#,
        r#"{"title": 'hunter2-secret'}"#,
        r#"{"title":"hunter2-secret"} {"again":1}"#,
        r#"{"title":["hunter2-secret"]}"#,
        r#"{"note":"hunter2-secret"}"#,
        "hunter2-secret",
        "",
    ];
    for json in table {
        let reply = send(post_json("/projects", json)).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::BAD_REQUEST, INVALID),
            "{json}"
        );
    }
}

#[tokio::test]
async fn query_strings_are_strict_too() {
    let table = [
        (
            "/search?q=rust&page=2",
            StatusCode::OK,
            "rust p2".to_owned(),
        ),
        ("/search?q=rust", StatusCode::OK, "rust p1".to_owned()),
        (
            "/search?q=rust&debug=1",
            StatusCode::BAD_REQUEST,
            fields(r#"{"debug":["unknown_field"]}"#),
        ),
        (
            "/search?q=rust&user%5Fid=2",
            StatusCode::BAD_REQUEST,
            fields(r#"{"user_id":["identity_field"]}"#),
        ),
        (
            "/search?q=",
            StatusCode::BAD_REQUEST,
            fields(r#"{"q":["length"]}"#),
        ),
        (
            "/search?q=rust&page=two",
            StatusCode::BAD_REQUEST,
            INVALID.to_owned(),
        ),
        (
            "/search?q=a&q=b",
            StatusCode::BAD_REQUEST,
            INVALID.to_owned(),
        ),
        ("/search", StatusCode::BAD_REQUEST, INVALID.to_owned()),
    ];
    for (uri, status, body) in table {
        let reply = send(Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!((reply.status, reply.body), (status, body), "{uri}");
    }
}

#[tokio::test]
async fn path_parameters_are_parsed_and_validated() {
    let table = [
        ("/items/7", StatusCode::OK, "item 7".to_owned()),
        ("/items/abc", StatusCode::BAD_REQUEST, INVALID.to_owned()),
        ("/items/-1", StatusCode::BAD_REQUEST, INVALID.to_owned()),
        (
            "/items/0",
            StatusCode::BAD_REQUEST,
            fields(r#"{"id":["range"]}"#),
        ),
    ];
    for (uri, status, body) in table {
        let reply = send(Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!((reply.status, reply.body), (status, body), "{uri}");
    }
}

#[test]
fn declared_fields_find_identity_fields_for_the_router() {
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct UpdateProject {
        title: String,
        user_id: u64,
    }
    assert_eq!(declared_fields::<UpdateProject>(), ["title", "user_id"]);
    assert_eq!(identity_fields_declared::<UpdateProject>(), ["user_id"]);
    assert!(identity_fields_declared::<NewProject>().is_empty());
    assert_eq!(identity_fields_declared::<AssignRole>(), ["role"]);
}
