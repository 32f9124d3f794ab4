//! Secure uploads through a real axum `Router`: the spoofed-file corpus, the
//! size and part caps while streaming, hostile file names, and signed
//! downloads. The routes are plain axum routes with the extensions the
//! guards would insert added by `Extension` layers (`support/upload.rs`).

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/upload.rs"]
mod upload_support;

use std::convert::Infallible;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::routing::post;
use axum::{Extension, Router};
use futures_util::stream::{self, StreamExt as _};
use guard_axum::upload::{
    ObjectStore as _, Upload, UploadLimits, UploadStore, signed_download_url,
};
use guard_core::upload::{FileKind, LocalStore, ObjectId, UrlSigner};
use http::{StatusCode, header};
use tokio::sync::Notify;
use tower::ServiceExt as _;
use upload_support::{
    BOUNDARY, NOW, PNG, Part, SECRET, TOO_LARGE, UNSUPPORTED, file_part, limits, multipart,
    part_head, png_of_len, post_to, router, send, upload_file, upload_file_as, upload_request,
};

// ---------------------------------------------------------------- the app

struct TestApp {
    router: Router,
    /// The parent of the store directory: nothing may appear in it.
    base: PathBuf,
    store_dir: PathBuf,
    store: UploadStore,
    signer: UrlSigner,
}

impl AsRef<Router> for TestApp {
    fn as_ref(&self) -> &Router {
        &self.router
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn app(limits: UploadLimits) -> TestApp {
    let base = std::env::temp_dir().join(format!("guard-axum-upload-{}", ObjectId::random()));
    let store_dir = base.join("store");
    let store = UploadStore::new(LocalStore::new(&store_dir).unwrap());
    let signer = UrlSigner::new(SECRET).unwrap();
    TestApp {
        router: router(limits, store.clone(), signer.clone()),
        base,
        store_dir,
        store,
        signer,
    }
}

// ------------------------------------------------------------ the requests

fn field_part<'a>(name: &'a str, body: &'a [u8]) -> Part<'a> {
    Part {
        name,
        file_name: None,
        content_type: None,
        body,
    }
}

fn entries(dir: &FsPath) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The store holds exactly the committed objects `ids` (blob and sidecar
/// each), no temp files, and nothing was written beside it.
fn assert_store_holds(app: &TestApp, ids: &[&str]) {
    let mut expected: Vec<String> = ids
        .iter()
        .flat_map(|id| [(*id).to_owned(), format!("{id}.json")])
        .collect();
    expected.sort();
    assert_eq!(entries(&app.store_dir), expected);
    assert_eq!(entries(&app.base), ["store"]);
}

const INVALID: &str = r#"{"error":"invalid_input"}"#;
const NOT_FOUND: &str = r#"{"error":"not_found"}"#;

// ------------------------------------------------------------- the corpus

#[tokio::test]
async fn spoofed_files_are_refused_by_their_bytes_whatever_they_claim() {
    let app = app(limits(
        "1MiB",
        &[FileKind::Png, FileKind::Jpeg, FileKind::Gif],
    ));
    let png_then_html = [
        PNG,
        b"<html><body><script>alert(document.cookie)</script></body></html>",
    ]
    .concat();
    let png_then_php = [PNG, b"<?php system($_GET['c']); ?>"].concat();
    let corpus: &[(&str, &str, &str, &[u8])] = &[
        (
            "png header + html body",
            "image.png",
            "image/png",
            &png_then_html,
        ),
        (
            "html named photo.png",
            "photo.png",
            "image/png",
            b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        ),
        (
            "php named shell.php.png",
            "shell.php.png",
            "image/png",
            b"<?php system($_GET['c']); ?>",
        ),
        (
            "png header + php",
            "shell.php.png",
            "image/png",
            &png_then_php,
        ),
        (
            "gif89a polyglot",
            "anim.gif",
            "image/gif",
            b"GIF89a/*\x01\x00\x01\x00\x00\xff\x00,*/=1;<script>alert(1)</script>",
        ),
        (
            "svg with script",
            "logo.png",
            "image/png",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
        ),
        ("zero bytes", "empty.png", "image/png", b""),
        (
            "executable",
            "setup.png",
            "image/png",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00",
        ),
    ];
    for (what, file_name, claimed, bytes) in corpus {
        let reply = send(&app, upload_file(file_name, claimed, bytes)).await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{what}");
        assert_eq!(reply.text(), UNSUPPORTED, "{what}");
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "application/json",
            "{what}"
        );
    }
    assert_store_holds(&app, &[]);

    // The same route accepts the real thing, whatever the client claims.
    let clean_gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    let accepted: &[(&str, &[u8], &str, &str)] = &[
        ("photo.png", PNG, "png", "photo.png"),
        ("not-a-gif.txt", clean_gif, "gif", "not-a-gif.gif"),
    ];
    let mut ids = Vec::new();
    for (file_name, bytes, kind, shown) in accepted {
        let reply = send(&app, upload_file(file_name, "text/html", bytes)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{file_name}");
        let json = reply.json();
        assert_eq!(json["kind"], *kind);
        assert_eq!(json["size"], bytes.len());
        assert_eq!(json["display_name"], *shown);
        ids.push(json["id"].as_str().unwrap().to_owned());
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_store_holds(&app, &ids);
}

#[tokio::test]
async fn the_uploader_is_recorded_as_owner() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let reply = send(&app, upload_file_as("alice", "a.png", "image/png", PNG)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.json()["owner"], "alice");

    let anonymous = send(&app, upload_file("a.png", "image/png", PNG)).await;
    assert_eq!(anonymous.json()["owner"], serde_json::Value::Null);
}

// --------------------------------------------------------------- the caps

#[tokio::test]
async fn a_file_exactly_at_the_cap_passes_and_one_byte_more_is_413_with_nothing_kept() {
    let app = app(limits("2KiB", &[FileKind::Png]));
    let at_cap = send(&app, upload_file("a.png", "image/png", &png_of_len(2048))).await;
    assert_eq!(at_cap.status, StatusCode::CREATED);
    assert_eq!(at_cap.json()["size"], 2048);
    let kept = at_cap.json()["id"].as_str().unwrap().to_owned();

    let over = send(&app, upload_file("b.png", "image/png", &png_of_len(2049))).await;
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(over.text(), TOO_LARGE);
    assert_store_holds(&app, &[&kept]);
}

#[tokio::test]
async fn a_file_larger_than_axums_default_body_limit_passes_under_its_own_cap() {
    // axum's `DefaultBodyLimit` is 2 MB; the route's cap is 5 MiB.
    let app = app(limits("5MiB", &[FileKind::Png]));
    let reply = send(
        &app,
        upload_file("big.png", "image/png", &png_of_len(5 << 20)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["size"], 5 << 20);
}

/// A body of `file_len` PNG-signed bytes in 64 KiB chunks, produced lazily;
/// `produced` counts what the server pulled.
fn streamed_upload(file_len: usize, produced: Arc<AtomicU64>) -> Request {
    const CHUNK: usize = 64 * 1024;
    let head = part_head(&file_part("huge.png", "image/png", b""));
    let first = png_of_len(CHUNK);
    let rest = (CHUNK..file_len)
        .step_by(CHUNK)
        .map(move |at| vec![0u8; CHUNK.min(file_len - at)]);
    let tail = format!("\r\n--{BOUNDARY}--\r\n").into_bytes();
    let chunks = stream::iter(
        [head, first]
            .into_iter()
            .chain(rest)
            .chain(std::iter::once(tail)),
    )
    .map(move |chunk| {
        produced.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        Ok::<_, Infallible>(Bytes::from(chunk))
    });
    post_to(
        "/upload",
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        Body::from_stream(chunks),
    )
}

#[tokio::test]
async fn a_10mb_stream_against_a_1mib_cap_is_cut_off_near_the_cap() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let produced = Arc::new(AtomicU64::new(0));
    let reply = send(&app, streamed_upload(10 << 20, produced.clone())).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.text(), TOO_LARGE);
    let pulled = produced.load(Ordering::SeqCst);
    assert!(pulled > 1 << 20, "the cap was reached: {pulled}");
    // The chunk that crosses the cap, plus one the multipart parser reads
    // ahead to look for the boundary, plus one of slack.
    assert!(
        pulled <= (1 << 20) + 3 * 64 * 1024,
        "read {pulled} bytes of a 10 MB body"
    );
    assert_store_holds(&app, &[]);
}

#[tokio::test]
async fn a_declared_oversize_body_is_refused_before_any_byte_is_read() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let produced = Arc::new(AtomicU64::new(0));
    let mut request = streamed_upload(10 << 20, produced.clone());
    request
        .headers_mut()
        .insert(header::CONTENT_LENGTH, (10u64 << 20).into());
    let reply = send(&app, request).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.text(), TOO_LARGE);
    assert_eq!(produced.load(Ordering::SeqCst), 0);
    assert_store_holds(&app, &[]);
}

#[tokio::test]
async fn parts_are_capped_in_number_and_fields_in_size() {
    let app = app(limits("1MiB", &[FileKind::Png]));

    // Seven fields and the file: eight parts, the default cap.
    let mut parts: Vec<Part<'_>> = (0..7).map(|_| field_part("note", b"hello")).collect();
    parts.push(file_part("a.png", "image/png", PNG));
    let at_cap = send(&app, upload_request(&parts)).await;
    assert_eq!(at_cap.status, StatusCode::CREATED);
    let kept = at_cap.json()["id"].as_str().unwrap().to_owned();

    let too_many_before: Vec<Part<'_>> = (0..8)
        .map(|_| field_part("note", b"hello"))
        .chain(std::iter::once(file_part("a.png", "image/png", PNG)))
        .collect();
    let too_many_after: Vec<Part<'_>> = std::iter::once(file_part("a.png", "image/png", PNG))
        .chain((0..8).map(|_| field_part("note", b"hello")))
        .collect();
    let big_field = vec![b'x'; 8 * 1024 + 1];
    let cases: [(&str, Vec<Part<'_>>); 3] = [
        ("nine parts, file last", too_many_before),
        ("nine parts, file first", too_many_after),
        (
            "a field over its cap",
            vec![
                field_part("note", &big_field),
                file_part("a.png", "image/png", PNG),
            ],
        ),
    ];
    for (what, parts) in cases {
        let reply = send(&app, upload_request(&parts)).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{what}");
        assert_eq!(reply.text(), TOO_LARGE, "{what}");
    }
    assert_store_holds(&app, &[&kept]);
}

// ------------------------------------------------- malformed and misrouted

#[tokio::test]
async fn bodies_that_are_not_one_multipart_file_are_refused() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let form = format!("multipart/form-data; boundary={BOUNDARY}");
    let one_file = multipart(&[file_part("a.png", "image/png", PNG)]);
    let truncated = one_file[..one_file.len() - 10].to_vec();
    let two_files = multipart(&[
        file_part("a.png", "image/png", PNG),
        file_part("b.png", "image/png", PNG),
    ]);
    let no_file = multipart(&[field_part("note", b"hello")]);
    let wrong_field = multipart(&[Part {
        name: "avatar",
        ..file_part("a.png", "image/png", PNG)
    }]);
    let cases: Vec<(&str, String, Vec<u8>, u16, &str)> = vec![
        (
            "json",
            "application/json".into(),
            b"{}".to_vec(),
            415,
            UNSUPPORTED,
        ),
        (
            "raw png",
            "image/png".into(),
            PNG.to_vec(),
            415,
            UNSUPPORTED,
        ),
        (
            "urlencoded",
            "application/x-www-form-urlencoded".into(),
            b"file=x".to_vec(),
            415,
            UNSUPPORTED,
        ),
        (
            "no boundary",
            "multipart/form-data".into(),
            one_file.clone(),
            400,
            INVALID,
        ),
        (
            "garbage",
            form.clone(),
            b"not multipart at all".to_vec(),
            400,
            INVALID,
        ),
        ("truncated", form.clone(), truncated, 400, INVALID),
        ("two files", form.clone(), two_files, 400, INVALID),
        ("no file part", form.clone(), no_file, 400, INVALID),
        (
            "file under another name",
            form.clone(),
            wrong_field,
            400,
            INVALID,
        ),
    ];
    for (what, content_type, body, status, expected) in cases {
        let reply = send(&app, post_to("/upload", &content_type, body)).await;
        assert_eq!(reply.status.as_u16(), status, "{what}");
        assert_eq!(reply.text(), expected, "{what}");
    }
    assert_store_holds(&app, &[]);
}

#[tokio::test]
async fn a_route_without_its_upload_wiring_fails_closed() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let mut request = upload_file("a.png", "image/png", PNG);
    *request.uri_mut() = "/unwired".parse().unwrap();
    let reply = send(&app, request).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let id = reply.json()["error_id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.text(),
        format!(r#"{{"error":"internal","error_id":"{id}"}}"#)
    );
    assert_store_holds(&app, &[]);
}

// ----------------------------------------------------------------- names

#[tokio::test]
async fn hostile_file_names_are_display_metadata_only() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let long = format!("{}.png", "a".repeat(5_000));
    // Every name ends in the sniffed kind's extension: these are PNGs.
    let cases: &[(&str, &str)] = &[
        ("../../etc/passwd", "passwd.png"),
        ("..\\..\\win.ini", "win.png"),
        ("/etc/cron.d/evil", "evil.png"),
        (
            "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "%2e%2e%2f%2e%2e%2fetc%2fpasswd.png",
        ),
        ("CON.txt", "_CON.png"),
        ("photo\u{202E}gnp.exe", "photognp.png"),
        ("..", "file.png"),
        ("", "file.png"),
    ];
    let mut ids = Vec::new();
    for (file_name, shown) in cases {
        let reply = send(&app, upload_file(file_name, "image/png", PNG)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{file_name:?}");
        let json = reply.json();
        assert_eq!(json["display_name"], *shown, "{file_name:?}");
        let id = json["id"].as_str().unwrap().to_owned();
        assert!(id.parse::<ObjectId>().is_ok(), "{id}");
        ids.push(id);
    }

    let reply = send(&app, upload_file(&long, "image/png", PNG)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let shown = reply.json()["display_name"].as_str().unwrap().to_owned();
    assert!(
        shown.len() <= 255 && shown.ends_with(".png"),
        "{}",
        shown.len()
    );
    ids.push(reply.json()["id"].as_str().unwrap().to_owned());

    // A NUL cannot even be carried in a part header: the parser refuses it.
    let nul = send(&app, upload_file("evil\0.png", "image/png", PNG)).await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST);
    assert_eq!(nul.text(), INVALID);

    // Only server ids on disk, nothing beside the store directory.
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_store_holds(&app, &ids);
}

// ------------------------------------------------------------- downloads

async fn uploaded_as(app: &TestApp, user: &str, file_name: &str) -> ObjectId {
    let reply = send(app, upload_file_as(user, file_name, "text/html", PNG)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    reply.json()["id"].as_str().unwrap().parse().unwrap()
}

fn get_as(url: &str, user: Option<&str>, now: u64) -> Request {
    let mut builder = Request::get(url).header("x-now", now.to_string());
    if let Some(user) = user {
        builder = builder.header("x-user", user);
    }
    builder.body(Body::empty()).unwrap()
}

/// The token with the base64url character at `at` changed.
fn flip(token: &str, at: usize) -> String {
    token
        .char_indices()
        .map(|(i, c)| match (i == at, c) {
            (true, 'A') => 'B',
            (true, _) => 'A',
            (false, c) => c,
        })
        .collect()
}

#[tokio::test]
async fn a_valid_link_streams_the_file_with_download_headers() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let id = uploaded_as(&app, "alice", "../holiday photo ü.png").await;
    let (url, expires_at) = signed_download_url(
        &app.signer,
        "/files",
        id,
        Duration::from_secs(600),
        NOW,
        Some("alice"),
    );
    assert_eq!(expires_at, NOW + 600);

    let reply = send(&app, get_as(&url, Some("alice"), NOW + 599)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, PNG);
    let headers = &reply.headers;
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"holiday photo _.png\"; filename*=UTF-8''holiday%20photo%20%C3%BC.png"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::CONTENT_LENGTH], PNG.len().to_string());
    assert_eq!(headers[header::CACHE_CONTROL], "private, no-store");
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'; sandbox"
    );

    // An unbound link works for anyone holding it.
    let (open_url, _) = signed_download_url(
        &app.signer,
        "/files/",
        id,
        Duration::from_secs(60),
        NOW,
        None,
    );
    let reply = send(&app, get_as(&open_url, None, NOW)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, PNG);
}

#[tokio::test]
async fn expired_tampered_foreign_and_dangling_links_are_the_same_404() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let id = uploaded_as(&app, "alice", "a.png").await;
    let ttl = Duration::from_secs(600);
    let (url, _) = signed_download_url(&app.signer, "/files", id, ttl, NOW, Some("alice"));
    let token = url.strip_prefix("/files/").unwrap();
    assert_eq!(token.len(), 78);

    // Token layout: version (byte 0), id (1..17), expiry (17..25), binding,
    // tag. Base64 character k carries bits 6k..6k+6: character 4 lies in
    // the id's bytes, character 26 in the expiry's.
    let tampered_id = flip(token, 4);
    let tampered_expiry = flip(token, 26);
    let other_key = UrlSigner::new(b"another secret, 32 bytes or more").unwrap();
    let (forged, _) = signed_download_url(&other_key, "/files", id, ttl, NOW, Some("alice"));
    let gone = ObjectId::random();
    let (dangling, _) = signed_download_url(&app.signer, "/files", gone, ttl, NOW, None);

    let cases: Vec<(&str, String, Option<&str>, u64)> = vec![
        ("expired", url.clone(), Some("alice"), NOW + 600),
        ("long expired", url.clone(), Some("alice"), NOW + 86_400),
        (
            "tampered id",
            format!("/files/{tampered_id}"),
            Some("alice"),
            NOW,
        ),
        (
            "tampered expiry",
            format!("/files/{tampered_expiry}"),
            Some("alice"),
            NOW,
        ),
        ("another principal", url.clone(), Some("mallory"), NOW),
        ("anonymous", url.clone(), None, NOW),
        ("another key", forged, Some("alice"), NOW),
        (
            "truncated",
            url[..url.len() - 1].to_owned(),
            Some("alice"),
            NOW,
        ),
        (
            "object id as token",
            format!("/files/{id}"),
            Some("alice"),
            NOW,
        ),
        (
            "path as token",
            "/files/..%2F..%2Fetc%2Fpasswd".into(),
            Some("alice"),
            NOW,
        ),
        ("object gone", dangling, None, NOW),
    ];
    for (what, url, user, now) in cases {
        let reply = send(&app, get_as(&url, user, now)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{what}");
        assert_eq!(reply.text(), NOT_FOUND, "{what}");
        assert!(
            reply.headers.get(header::CONTENT_DISPOSITION).is_none(),
            "{what}"
        );
    }

    // The untouched link still works: the refusals above were the changes.
    let reply = send(&app, get_as(&url, Some("alice"), NOW)).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn a_deleted_object_is_404_even_with_a_valid_link() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let id = uploaded_as(&app, "alice", "a.png").await;
    let (url, _) = signed_download_url(
        &app.signer,
        "/files",
        id,
        Duration::from_secs(60),
        NOW,
        None,
    );
    let store = UploadStore::new(LocalStore::new(&app.store_dir).unwrap());
    store.delete(id).await.unwrap();
    let reply = send(&app, get_as(&url, None, NOW)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.text(), NOT_FOUND);
    assert_store_holds(&app, &[]);
}

// ------------------------------------------- markup anywhere, typed names

/// PNG bytes, `filler` clean bytes (no `<`), then `marker`.
fn png_then(filler: usize, marker: &[u8]) -> Vec<u8> {
    let mut bytes = PNG.to_vec();
    bytes.resize(PNG.len() + filler, b'.');
    bytes.extend_from_slice(marker);
    bytes
}

#[tokio::test]
async fn markup_past_the_first_kib_is_refused_and_nothing_is_kept() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let cases: &[(usize, &[u8])] = &[
        (1024, b"<script>alert(document.cookie)</script>"),
        (50_000, b"<svg onload=alert(1)>"),
        (200_000, b"<IFRAME src=//evil.example>"),
        (3_000, b"<?php system($_GET['c']); ?>"),
        (3_000, b"<\0s\0c\0r\0i\0p\0t\0>\0"),
    ];
    for (filler, marker) in cases {
        let bytes = png_then(*filler, marker);
        let reply = send(&app, upload_file("invoice.png", "image/png", &bytes)).await;
        let what = String::from_utf8_lossy(marker);
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{what}");
        assert_eq!(reply.text(), UNSUPPORTED, "{what}");
    }
    assert_store_holds(&app, &[]);

    // The same bytes without the marker are a PNG like any other.
    let clean = png_then(200_000, b"<iframes are not a tag>");
    let reply = send(&app, upload_file("clean.png", "image/png", &clean)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    assert_store_holds(&app, &[&id]);
}

/// A one-file upload whose body arrives as two chunks, cut `at` bytes into
/// the file's content. The second is not ready for a while, as on a real
/// connection, so the multipart parser hands the first part of the file to
/// the extractor before the rest instead of joining them.
fn two_chunk_upload(content: &[u8], at: usize) -> Request {
    let mut first = part_head(&file_part("invoice.png", "image/png", b""));
    first.extend_from_slice(&content[..at]);
    let mut second = content[at..].to_vec();
    second.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let chunks = stream::iter([(first, 0), (second, 16)]).then(|(chunk, waits)| async move {
        for _ in 0..waits {
            tokio::task::yield_now().await;
        }
        Ok::<_, Infallible>(Bytes::from(chunk))
    });
    post_to(
        "/upload",
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        Body::from_stream(chunks),
    )
}

#[tokio::test]
async fn a_marker_split_across_two_body_chunks_is_found() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let content = png_then(5_000, b"<script>alert(1)</script>");
    let marker_at = PNG.len() + 5_000;
    // `<scr` | `ipt>`, and the tag name cut from its boundary: `<script` | `>`.
    for at in [marker_at + 4, marker_at + 7] {
        let reply = send(&app, two_chunk_upload(&content, at)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "cut at {at}"
        );
        assert_eq!(reply.text(), UNSUPPORTED);
    }
    assert_store_holds(&app, &[]);

    // Split the same way, a name that only starts like a tag is no tag.
    let content = png_then(5_000, b"<scriptorium>");
    let reply = send(&app, two_chunk_upload(&content, marker_at + 4)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
}

#[tokio::test]
async fn a_clean_png_named_invoice_html_is_stored_and_downloads_as_invoice_png() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let cases = [
        ("invoice.html", "invoice.png"),
        ("a.png.html", "a_png.png"),
        ("a.html.png", "a_html.png"),
        ("invoice.html. .", "invoice.png"),
        ("invoice", "invoice.png"),
        // The negative case: a name that is already right stays.
        ("photo.png", "photo.png"),
    ];
    let mut ids = Vec::new();
    for (sent, stored) in cases {
        let reply = send(&app, upload_file(sent, "text/html", PNG)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{sent}");
        assert_eq!(reply.json()["display_name"], stored, "{sent}");
        assert_eq!(reply.json()["kind"], "png", "{sent}");
        let id: ObjectId = reply.json()["id"].as_str().unwrap().parse().unwrap();

        let ttl = Duration::from_secs(60);
        let (url, _) = signed_download_url(&app.signer, "/files", id, ttl, NOW, None);
        let download = send(&app, get_as(&url, None, NOW)).await;
        assert_eq!(download.status, StatusCode::OK, "{sent}");
        assert_eq!(download.headers[header::CONTENT_TYPE], "image/png");
        assert_eq!(
            download.headers[header::CONTENT_DISPOSITION],
            format!("attachment; filename=\"{stored}\"; filename*=UTF-8''{stored}"),
            "{sent}"
        );
        ids.push(id.to_string());
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_store_holds(&app, &ids);
}

#[tokio::test]
async fn metadata_written_with_another_extension_still_downloads_with_the_kinds() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let reply = send(&app, upload_file("invoice.png", "image/png", PNG)).await;
    let id: ObjectId = reply.json()["id"].as_str().unwrap().parse().unwrap();
    // A sidecar written before names followed the kind, or by hand.
    let sidecar = app.store_dir.join(format!("{id}.json"));
    let json = std::fs::read_to_string(&sidecar).unwrap();
    std::fs::write(&sidecar, json.replace("invoice.png", "invoice.html")).unwrap();

    let ttl = Duration::from_secs(60);
    let (url, _) = signed_download_url(&app.signer, "/files", id, ttl, NOW, None);
    let download = send(&app, get_as(&url, None, NOW)).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(
        download.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"invoice.png\"; filename*=UTF-8''invoice.png"
    );
}

// ------------------------------------- commit on success, delete otherwise

fn to(path: &str, mut request: Request) -> Request {
    *request.uri_mut() = path.parse().unwrap();
    request
}

/// Back-dates `file`'s modification time by two hours.
fn back_date(file: &FsPath) {
    let two_hours_ago = SystemTime::now() - Duration::from_secs(7_200);
    std::fs::File::options()
        .write(true)
        .open(file)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
}

#[tokio::test]
async fn a_handler_that_fails_after_the_upload_leaves_no_object_behind() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    for body in [PNG.to_vec(), png_of_len(300_000)] {
        let request = to("/upload/refused", upload_file("a.png", "image/png", &body));
        let reply = send(&app, request).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.text(), r#"{"error":"forbidden"}"#);
    }
    app.store.settle().await;
    assert_store_holds(&app, &[]);
}

#[tokio::test]
async fn a_handler_that_commits_keeps_exactly_one_object() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let reply = send(&app, upload_file("a.png", "image/png", PNG)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    app.store.settle().await;
    assert_store_holds(&app, &[&id]);
    let opened = app.store.open(id.parse().unwrap()).await.unwrap();
    assert_eq!(opened.meta.size, PNG.len() as u64);
}

/// A route outside the shared router: `POST /upload` to `handler`, behind
/// the upload extensions (`app`'s store) and a panic catcher.
struct LoneRoute(Router);

impl AsRef<Router> for LoneRoute {
    fn as_ref(&self) -> &Router {
        &self.0
    }
}

fn lone_route<H, T>(app: &TestApp, handler: H) -> LoneRoute
where
    H: axum::handler::Handler<T, ()>,
    T: 'static,
{
    LoneRoute(
        Router::new()
            .route("/upload", post(handler))
            .layer(tower_http::catch_panic::CatchPanicLayer::new())
            .layer(Extension(limits("1MiB", &[FileKind::Png])))
            .layer(Extension(app.store.clone())),
    )
}

#[tokio::test]
async fn a_panicking_handler_leaves_no_object_behind() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let router = lone_route(&app, |upload: Upload| async move {
        assert!(upload.size == 0, "the handler panics holding the upload");
    });
    let reply = send(&router, upload_file("a.png", "image/png", PNG)).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    app.store.settle().await;
    assert_store_holds(&app, &[]);
}

#[tokio::test]
async fn a_request_dropped_while_its_handler_runs_leaves_no_object_behind() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let received = Arc::new(Notify::new());
    let signal = received.clone();
    let router = lone_route(&app, move |upload: Upload| async move {
        signal.notify_one();
        // A slow database, a client that goes away meanwhile.
        std::future::pending::<()>().await;
        drop(upload);
    });
    let call = router.0.oneshot(upload_file("a.png", "image/png", PNG));
    tokio::select! {
        _ = call => unreachable!("the handler never returns"),
        () = received.notified() => {}
    }
    // `call` is dropped here, as hyper drops a disconnected request.
    app.store.settle().await;
    assert_store_holds(&app, &[]);
}

#[tokio::test]
async fn the_sweep_removes_an_upload_a_crash_left_uncommitted_and_keeps_committed_ones() {
    let app = app(limits("1MiB", &[FileKind::Png]));
    let committed = send(&app, upload_file("a.png", "image/png", PNG)).await;
    assert_eq!(committed.status, StatusCode::CREATED);
    let committed = committed.json()["id"].as_str().unwrap().to_owned();
    let crashed = send(
        &app,
        to("/upload/crash", upload_file("b.png", "image/png", PNG)),
    )
    .await;
    assert_eq!(crashed.status, StatusCode::ACCEPTED);
    let crashed = crashed.text().to_owned();

    // The crashed upload is on disk, staged: no metadata, no download.
    let mut on_disk = vec![
        committed.clone(),
        format!("{committed}.json"),
        crashed.clone(),
    ];
    on_disk.sort();
    assert_eq!(entries(&app.store_dir), on_disk);
    let ttl = Duration::from_secs(60);
    let (url, _) = signed_download_url(
        &app.signer,
        "/files",
        crashed.parse().unwrap(),
        ttl,
        NOW,
        None,
    );
    let reply = send(&app, get_as(&url, None, NOW)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.text(), NOT_FOUND);

    // An hour's cutoff spares what is younger than an hour...
    let hour_ago = SystemTime::now() - Duration::from_secs(3_600);
    assert_eq!(app.store.sweep(hour_ago).await.unwrap(), 0);
    assert_eq!(entries(&app.store_dir), on_disk);
    // ...and once both are two hours old, removes only the uncommitted one.
    for name in &on_disk {
        back_date(&app.store_dir.join(name));
    }
    assert_eq!(app.store.sweep(hour_ago).await.unwrap(), 1);
    assert_store_holds(&app, &[&committed]);
    assert_eq!(app.store.sweep(hour_ago).await.unwrap(), 0);
}
