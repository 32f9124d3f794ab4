//! Fixtures shared by the upload test binaries (`tests/upload.rs`,
//! `tests/object_store.rs`): the router with the extensions the guards
//! would insert, a multipart body builder, PNG bytes and a reply reader.
//!
//! Each binary includes this file with
//! `#[path = "support/upload.rs"] mod upload_support;`, so everything here
//! must be used by every binary that includes it (clippy runs with
//! `-D warnings`, dead code included); what only one binary needs stays in
//! that binary.

use axum::body::Body;
use axum::extract::{Path, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use guard_axum::upload::{Upload, UploadLimits, UploadStore, download_response};
use guard_core::upload::{ByteSize, FileKind, TypeAllowlist, UrlSigner};
use guard_core::{GuardError, Principal};
use http::{StatusCode, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

pub(crate) const BOUNDARY: &str = "guard-test-7f3a9c";
/// The clock of a download that sends no `x-now` header.
pub(crate) const NOW: u64 = 1_700_000_000;
pub(crate) const SECRET: &[u8] = b"test secret, 32 bytes or longer!";

/// A complete 1x1 RGBA PNG.
pub(crate) const PNG: &[u8] = b"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0d\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99\x3d\x1d\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";

pub(crate) const TOO_LARGE: &str = r#"{"error":"payload_too_large"}"#;
pub(crate) const UNSUPPORTED: &str = r#"{"error":"unsupported_media_type"}"#;

// ---------------------------------------------------------------- the app

pub(crate) fn limits(max: &str, types: &[FileKind]) -> UploadLimits {
    UploadLimits::new(ByteSize::parse(max).unwrap(), TypeAllowlist::new(types)).unwrap()
}

/// `POST /upload` (commits), `POST /upload/refused` (fails after the
/// upload, never commits), `POST /upload/crash` (forgets the upload, as a
/// crash would) and `GET /files/{token}` with their extensions, and
/// `POST /unwired` without them; `x-user` names the principal.
pub(crate) fn router(limits: UploadLimits, store: UploadStore, signer: UrlSigner) -> Router {
    Router::new()
        .route("/upload", post(accept))
        .route("/upload/refused", post(refuse_after_upload))
        .route("/upload/crash", post(crash_before_commit))
        .route("/files/{token}", get(download))
        .layer(Extension(limits))
        .layer(Extension(store))
        .layer(Extension(signer))
        // Added after the layers, so it runs without the extensions: the
        // wiring bug the extractor must refuse to paper over.
        .route("/unwired", post(accept))
        .layer(middleware::from_fn(test_principal))
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

/// Keeps the upload: commits it, then answers what was stored.
async fn accept(mut upload: Upload) -> Result<(StatusCode, Json<serde_json::Value>), GuardError> {
    let id = upload.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "id": id.to_string(),
            "kind": upload.kind,
            "size": upload.size,
            "display_name": upload.display_name,
            "owner": upload.owner,
        })),
    ))
}

/// Receives the upload, then fails as a handler whose database insert
/// failed would: the upload is never committed.
async fn refuse_after_upload(upload: Upload) -> Result<StatusCode, GuardError> {
    tracing::debug!(object = %upload.id, "pretending the insert failed");
    Err(GuardError::forbidden())
}

/// A process that dies between storing the upload and committing it: the
/// drop guard never runs. Answers the staged id.
async fn crash_before_commit(upload: Upload) -> (StatusCode, String) {
    let id = upload.id.to_string();
    std::mem::forget(upload);
    (StatusCode::ACCEPTED, id)
}

/// The clock is the `x-now` header (`NOW` without it), so tests move time
/// by hand.
async fn download(
    Extension(store): Extension<UploadStore>,
    Extension(signer): Extension<UrlSigner>,
    principal: Option<Extension<Principal>>,
    headers: http::HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, GuardError> {
    let now = headers
        .get("x-now")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(NOW);
    let principal = principal.as_ref().map(|Extension(p)| p.id());
    download_response(&store, &signer, &token, now, principal).await
}

// ------------------------------------------------------------ the requests

pub(crate) struct Part<'a> {
    pub(crate) name: &'a str,
    pub(crate) file_name: Option<&'a str>,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) body: &'a [u8],
}

pub(crate) fn file_part<'a>(file_name: &'a str, content_type: &'a str, body: &'a [u8]) -> Part<'a> {
    Part {
        name: "file",
        file_name: Some(file_name),
        content_type: Some(content_type),
        body,
    }
}

pub(crate) fn part_head(part: &Part<'_>) -> Vec<u8> {
    let mut head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}\"",
        part.name
    )
    .into_bytes();
    if let Some(file_name) = part.file_name {
        head.extend_from_slice(b"; filename=\"");
        head.extend_from_slice(file_name.as_bytes());
        head.extend_from_slice(b"\"");
    }
    if let Some(content_type) = part.content_type {
        head.extend_from_slice(format!("\r\nContent-Type: {content_type}").as_bytes());
    }
    head.extend_from_slice(b"\r\n\r\n");
    head
}

pub(crate) fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(&part_head(part));
        body.extend_from_slice(part.body);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub(crate) fn post_to(uri: &str, content_type: &str, body: impl Into<Body>) -> Request {
    Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

pub(crate) fn upload_request(parts: &[Part<'_>]) -> Request {
    post_to(
        "/upload",
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        multipart(parts),
    )
}

/// `POST /upload` of one file part, anonymous.
pub(crate) fn upload_file(file_name: &str, content_type: &str, body: &[u8]) -> Request {
    upload_request(&[file_part(file_name, content_type, body)])
}

/// The same, as principal `user`.
pub(crate) fn upload_file_as(
    user: &str,
    file_name: &str,
    content_type: &str,
    body: &[u8],
) -> Request {
    let mut request = upload_file(file_name, content_type, body);
    request
        .headers_mut()
        .insert("x-user", user.parse().unwrap());
    request
}

/// PNG-signed content of exactly `len` bytes, not all zeros (so a store
/// that reorders or drops a part of a large blob shows in the bytes).
pub(crate) fn png_of_len(len: usize) -> Vec<u8> {
    let mut bytes = PNG.to_vec();
    bytes.extend((bytes.len()..len).map(|i| (i % 251) as u8));
    bytes.truncate(len);
    bytes
}

// ------------------------------------------------------------- the replies

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Sends `request` through the app's router and reads the whole reply.
pub(crate) async fn send(app: &impl AsRef<Router>, request: Request) -> Reply {
    let response = app.as_ref().clone().oneshot(request).await.unwrap();
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
