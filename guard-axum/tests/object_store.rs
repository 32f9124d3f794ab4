//! Uploads in an `object_store` backend (`InMemory` here) through a real
//! axum `Router`: what lands in the store under the prefix, what a refused
//! upload leaves (nothing), signed downloads and deletion. The extensions
//! the guards would insert are added by `Extension` layers and a tiny
//! principal layer, as in `tests/upload.rs`.

#![cfg(feature = "object-store")]
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::TryStreamExt as _;
use guard_axum::upload::{
    ObjectStore as _, ObjectStoreBackend, Upload, UploadLimits, UploadStore, download_response,
    signed_download_url,
};
use guard_core::upload::{ByteSize, FileKind, ObjectId, TypeAllowlist, UrlSigner};
use guard_core::{GuardError, Principal};
use http::{StatusCode, header};
use http_body_util::BodyExt as _;
use object_store::memory::InMemory;
use object_store::{ObjectStore as _, ObjectStoreExt as _};
use tower::ServiceExt as _;

const BOUNDARY: &str = "guard-test-0b7e51";
const NOW: u64 = 1_700_000_000;
const SECRET: &[u8] = b"test secret, 32 bytes or longer!";
const PREFIX: &str = "tenant-a/uploads";

/// A complete 1x1 RGBA PNG.
const PNG: &[u8] = b"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0d\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99\x3d\x1d\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";

const TOO_LARGE: &str = r#"{"error":"payload_too_large"}"#;
const UNSUPPORTED: &str = r#"{"error":"unsupported_media_type"}"#;

// ---------------------------------------------------------------- the app

struct TestApp {
    router: Router,
    memory: Arc<InMemory>,
    store: UploadStore,
    signer: UrlSigner,
}

fn app(max: &str, types: &[FileKind]) -> TestApp {
    let limits =
        UploadLimits::new(ByteSize::parse(max).unwrap(), TypeAllowlist::new(types)).unwrap();
    let memory = Arc::new(InMemory::new());
    let store = UploadStore::new(ObjectStoreBackend::new(memory.clone(), PREFIX));
    let signer = UrlSigner::new(SECRET).unwrap();
    let router = Router::new()
        .route("/upload", post(accept))
        .route("/files/{token}", get(download))
        .layer(Extension(limits))
        .layer(Extension(store.clone()))
        .layer(Extension(signer.clone()))
        .layer(middleware::from_fn(test_principal));
    TestApp {
        router,
        memory,
        store,
        signer,
    }
}

/// Stands in for the authenticator: `x-user: alice` is principal `alice`.
async fn test_principal(mut request: Request, next: Next) -> Response {
    if let Some(user) = request
        .headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok())
    {
        let principal = Principal::new(user);
        request.extensions_mut().insert(principal);
    }
    next.run(request).await
}

async fn accept(upload: Upload) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::CREATED,
        Json(serde_json::json!({
            "id": upload.id.to_string(),
            "kind": upload.kind,
            "size": upload.size,
            "display_name": upload.display_name,
            "owner": upload.owner,
        })),
    )
}

async fn download(
    Extension(store): Extension<UploadStore>,
    Extension(signer): Extension<UrlSigner>,
    principal: Option<Extension<Principal>>,
    Path(token): Path<String>,
) -> Result<Response, GuardError> {
    let principal = principal.as_ref().map(|Extension(p)| p.id());
    download_response(&store, &signer, &token, NOW, principal).await
}

// ------------------------------------------------------------ the requests

fn upload_file(user: &str, file_name: &str, body: &[u8]) -> Request {
    let mut multipart = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    multipart.extend_from_slice(body);
    multipart.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Request::post("/upload")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("x-user", user)
        .body(Body::from(multipart))
        .unwrap()
}

/// PNG-signed content of exactly `len` bytes, not all zeros.
fn png_of_len(len: usize) -> Vec<u8> {
    let mut bytes = PNG.to_vec();
    bytes.extend((bytes.len()..len).map(|i| (i % 251) as u8));
    bytes.truncate(len);
    bytes
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

async fn send(app: &TestApp, request: Request) -> Reply {
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// Every key in the whole store, sorted.
async fn keys(app: &TestApp) -> Vec<String> {
    let mut keys: Vec<String> = app
        .memory
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    keys
}

async fn read(app: &TestApp, key: &str) -> Vec<u8> {
    let got = app.memory.get(&key.into()).await.unwrap();
    got.bytes().await.unwrap().to_vec()
}

/// Uploads `body` as `alice` and returns the server's id.
async fn uploaded(app: &TestApp, body: &[u8]) -> ObjectId {
    let reply = send(app, upload_file("alice", "../../etc/passwd.png", body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    ObjectId::parse(reply.json()["id"].as_str().unwrap()).unwrap()
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn an_upload_stores_its_blob_and_metadata_under_the_server_id() {
    let app = app("1MiB", &[FileKind::Png]);
    let id = uploaded(&app, PNG).await;

    assert_eq!(
        keys(&app).await,
        [format!("{PREFIX}/{id}"), format!("{PREFIX}/{id}.json")]
    );
    assert_eq!(read(&app, &format!("{PREFIX}/{id}")).await, PNG);
    let meta: serde_json::Value =
        serde_json::from_slice(&read(&app, &format!("{PREFIX}/{id}.json")).await).unwrap();
    assert_eq!(
        meta,
        serde_json::json!({
            "id": id.to_string(),
            "display_name": "passwd.png",
            "kind": "png",
            "size": PNG.len(),
            "owner": "alice",
        })
    );
}

#[tokio::test]
async fn an_upload_larger_than_one_part_streams_through_in_parts() {
    // Over two 5 MiB parts, and over axum's 2 MB default body limit.
    let app = app("12MiB", &[FileKind::Png]);
    let content = png_of_len(11 * 1024 * 1024 + 7);
    let id = uploaded(&app, &content).await;

    assert_eq!(read(&app, &format!("{PREFIX}/{id}")).await, content);
    let opened = app.store.open(id).await.unwrap();
    assert_eq!(opened.meta.size, content.len() as u64);
}

#[tokio::test]
async fn an_upload_over_the_cap_leaves_nothing_in_the_store() {
    for (cap, len) in [("2KiB", 2049), ("6MiB", 6 * 1024 * 1024 + 1)] {
        let app = app(cap, &[FileKind::Png]);
        let reply = send(&app, upload_file("alice", "a.png", &png_of_len(len))).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "cap {cap}");
        assert_eq!(reply.text(), TOO_LARGE);
        assert_eq!(keys(&app).await, Vec::<String>::new(), "cap {cap}");
    }
}

#[tokio::test]
async fn a_refused_type_leaves_nothing_in_the_store() {
    let app = app("1MiB", &[FileKind::Png]);
    let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
    let reply = send(&app, upload_file("alice", "photo.png", html)).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(reply.text(), UNSUPPORTED);
    assert_eq!(keys(&app).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_signed_link_streams_the_bytes_with_the_sniffed_type() {
    let app = app("1MiB", &[FileKind::Png]);
    let id = uploaded(&app, PNG).await;
    let (url, _) = signed_download_url(
        &app.signer,
        "/files",
        id,
        Duration::from_secs(600),
        NOW,
        None,
    );

    let reply = send(&app, Request::get(url).body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, PNG);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(reply.headers[header::CONTENT_LENGTH], PNG.len().to_string());
    assert_eq!(
        reply.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"passwd.png\"; filename*=UTF-8''passwd.png"
    );
    assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[tokio::test]
async fn delete_removes_blob_and_metadata_and_the_link_then_is_404() {
    let app = app("1MiB", &[FileKind::Png]);
    let kept = uploaded(&app, PNG).await;
    let id = uploaded(&app, PNG).await;
    let (url, _) = signed_download_url(
        &app.signer,
        "/files",
        id,
        Duration::from_secs(600),
        NOW,
        None,
    );

    app.store.delete(id).await.unwrap();
    let mut expected = [format!("{PREFIX}/{kept}"), format!("{PREFIX}/{kept}.json")];
    expected.sort();
    assert_eq!(keys(&app).await, expected);

    let reply = send(&app, Request::get(url).body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(matches!(
        app.store.delete(id).await,
        Err(guard_core::upload::StoreError::NotFound)
    ));
}
