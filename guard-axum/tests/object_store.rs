//! Uploads in an `object_store` backend (`InMemory` here) through a real
//! axum `Router`: what lands in the store under the prefix, what a refused
//! upload leaves (nothing), signed downloads and deletion. The extensions
//! the guards would insert are added by `Extension` layers and a tiny
//! principal layer, shared with `tests/upload.rs` (`support/upload.rs`).

#![cfg(feature = "object-store")]
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/upload.rs"]
mod upload_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt as _};
use guard_axum::upload::{ObjectStore as _, ObjectStoreBackend, UploadStore, signed_download_url};
use guard_core::upload::{FileKind, ObjectId, UrlSigner};
use http::{StatusCode, header};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore as _,
    ObjectStoreExt as _, PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};
use tower::ServiceExt as _;
use upload_support::{
    NOW, PNG, SECRET, TOO_LARGE, UNSUPPORTED, limits, png_of_len, router, send, upload_file_as,
};

const PREFIX: &str = "tenant-a/uploads";

// ---------------------------------------------------------------- the app

struct TestApp {
    router: Router,
    memory: Arc<InMemory>,
    store: UploadStore,
    signer: UrlSigner,
}

impl AsRef<Router> for TestApp {
    fn as_ref(&self) -> &Router {
        &self.router
    }
}

fn app(max: &str, types: &[FileKind]) -> TestApp {
    let memory = Arc::new(InMemory::new());
    let store = UploadStore::new(ObjectStoreBackend::new(memory.clone(), PREFIX));
    let signer = UrlSigner::new(SECRET).unwrap();
    TestApp {
        router: router(limits(max, types), store.clone(), signer.clone()),
        memory,
        store,
        signer,
    }
}

// ------------------------------------------------------------ the requests

fn upload_png(user: &str, file_name: &str, body: &[u8]) -> Request {
    upload_file_as(user, file_name, "image/png", body)
}

/// An unbound download link for `id`, valid for ten minutes from `NOW`.
fn link(app: &TestApp, id: ObjectId) -> String {
    let ttl = Duration::from_secs(600);
    signed_download_url(&app.signer, "/files", id, ttl, NOW, None).0
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
    let reply = send(app, upload_png("alice", "../../etc/passwd.png", body)).await;
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
        let reply = send(&app, upload_png("alice", "a.png", &png_of_len(len))).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "cap {cap}");
        assert_eq!(reply.text(), TOO_LARGE);
        assert_eq!(keys(&app).await, Vec::<String>::new(), "cap {cap}");
    }
}

#[tokio::test]
async fn a_refused_type_leaves_nothing_in_the_store() {
    let app = app("1MiB", &[FileKind::Png]);
    let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
    let reply = send(&app, upload_png("alice", "photo.png", html)).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(reply.text(), UNSUPPORTED);
    assert_eq!(keys(&app).await, Vec::<String>::new());
}

// ------------------------------------------- multipart uploads end cleanly

/// `InMemory` behind a wrapper that counts the multipart uploads started,
/// completed and aborted: an in-memory store shows no parts, so only this
/// tells whether an upload that never commits is aborted (on S3 or GCS an
/// upload left open keeps its parts, and their cost, until a lifecycle
/// rule removes them).
#[derive(Debug, Default)]
struct Counting {
    inner: InMemory,
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    started: AtomicUsize,
    completed: AtomicUsize,
    aborted: AtomicUsize,
}

impl Counts {
    fn get(&self) -> [usize; 3] {
        [&self.started, &self.completed, &self.aborted].map(|n| n.load(Ordering::SeqCst))
    }
}

impl std::fmt::Display for Counting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[derive(Debug)]
struct CountingUpload {
    inner: Box<dyn MultipartUpload>,
    counts: Arc<Counts>,
}

#[async_trait::async_trait]
impl MultipartUpload for CountingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.counts.completed.fetch_add(1, Ordering::SeqCst);
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.counts.aborted.fetch_add(1, Ordering::SeqCst);
        self.inner.abort().await
    }
}

#[async_trait::async_trait]
impl object_store::ObjectStore for Counting {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        self.counts.started.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(CountingUpload {
            inner,
            counts: self.counts.clone(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

struct CountingApp {
    router: Router,
    store: UploadStore,
}

impl AsRef<Router> for CountingApp {
    fn as_ref(&self) -> &Router {
        &self.router
    }
}

fn counting_app(max: &str) -> (CountingApp, Arc<Counting>) {
    let counting = Arc::new(Counting::default());
    let store = UploadStore::new(ObjectStoreBackend::new(counting.clone(), PREFIX));
    let signer = UrlSigner::new(SECRET).unwrap();
    let router = router(limits(max, &[FileKind::Png]), store.clone(), signer);
    (CountingApp { router, store }, counting)
}

#[tokio::test]
async fn every_multipart_upload_is_completed_or_aborted() {
    // Stored: completed, never aborted.
    let (router, counting) = counting_app("1MiB");
    let reply = send(&router, upload_png("alice", "a.png", &png_of_len(4096))).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(counting.counts.get(), [1, 1, 0]);

    // Refused while streaming (over the cap) or after sniffing (not a PNG):
    // aborted, never completed, nothing listed.
    let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
    for (request, status) in [
        (
            upload_png("alice", "b.png", &png_of_len(2 * 1024 * 1024)),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            upload_png("alice", "c.png", html),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let (router, counting) = counting_app("1MiB");
        let reply = send(&router, request).await;
        assert_eq!(reply.status, status);
        let [started, completed, aborted] = counting.counts.get();
        assert_eq!((completed, aborted), (0, started), "{status}");
        let listed: Vec<ObjectMeta> = counting.inner.list(None).try_collect().await.unwrap();
        assert!(listed.is_empty(), "{status}: {listed:?}");
    }
}

#[tokio::test]
async fn a_client_that_goes_away_mid_upload_leaves_its_multipart_upload_aborted() {
    let (router, counting) = counting_app("8MiB");
    // The multipart head and the first 64 KiB of a PNG, then a body that
    // never ends: the upload is under way when the request is dropped, as
    // when a client disconnects.
    let mut first =
        upload_support::part_head(&upload_support::file_part("slow.png", "image/png", &[]));
    first.extend(png_of_len(64 * 1024));
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(first)])
        .chain(futures_util::stream::pending());
    let request = upload_support::post_to(
        "/upload",
        &format!("multipart/form-data; boundary={}", upload_support::BOUNDARY),
        Body::from_stream(chunks),
    );
    let mut request = request;
    request
        .headers_mut()
        .insert("x-user", "alice".parse().unwrap());
    let call = router.router.clone().oneshot(request);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), call)
            .await
            .is_err(),
        "the upload cannot finish: its body never ends"
    );
    // The writer's drop spawns the abort on the runtime; let it run.
    for _ in 0..100 {
        if counting.counts.get()[2] > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(counting.counts.get(), [1, 0, 1]);
    let listed: Vec<ObjectMeta> = counting.inner.list(None).try_collect().await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}

#[tokio::test]
async fn a_signed_link_streams_the_bytes_with_the_sniffed_type() {
    let app = app("1MiB", &[FileKind::Png]);
    let id = uploaded(&app, PNG).await;
    let url = link(&app, id);

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
    let url = link(&app, id);

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

// ------------------------------------- commit on success, delete otherwise

fn to(path: &str, mut request: Request) -> Request {
    *request.uri_mut() = path.parse().unwrap();
    request
}

#[tokio::test]
async fn a_handler_that_fails_after_the_upload_leaves_nothing_in_the_store() {
    let (router, counting) = counting_app("8MiB");
    // One part, and more than one: staged as a completed multipart upload.
    for body in [png_of_len(4096), png_of_len(6 * 1024 * 1024)] {
        let reply = send(
            &router,
            to("/upload/refused", upload_png("alice", "a.png", &body)),
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.text(), r#"{"error":"forbidden"}"#);
    }
    router.store.settle().await;
    assert_eq!(counting.counts.get(), [2, 2, 0]);
    let listed: Vec<ObjectMeta> = counting.inner.list(None).try_collect().await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}

#[tokio::test]
async fn markup_past_the_first_kib_leaves_nothing_in_the_store() {
    let (router, counting) = counting_app("1MiB");
    let mut bytes = png_of_len(64 * 1024);
    bytes.extend_from_slice(b"<script>alert(document.cookie)</script>");
    let reply = send(&router, upload_png("alice", "a.png", &bytes)).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(reply.text(), UNSUPPORTED);
    let [started, completed, aborted] = counting.counts.get();
    assert_eq!((started, completed, aborted), (1, 0, 1));
    let listed: Vec<ObjectMeta> = counting.inner.list(None).try_collect().await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}

#[tokio::test]
async fn the_sweep_removes_an_upload_a_crash_left_uncommitted_and_keeps_committed_ones() {
    let app = app("1MiB", &[FileKind::Png]);
    let committed = uploaded(&app, PNG).await;
    let crashed = send(&app, to("/upload/crash", upload_png("alice", "b.png", PNG))).await;
    assert_eq!(crashed.status, StatusCode::ACCEPTED);
    let crashed = ObjectId::parse(crashed.text()).unwrap();

    // Staged: the blob is there, without metadata, and cannot be downloaded.
    let mut expected = vec![
        format!("{PREFIX}/{committed}"),
        format!("{PREFIX}/{committed}.json"),
        format!("{PREFIX}/{crashed}"),
    ];
    expected.sort();
    assert_eq!(keys(&app).await, expected);
    let reply = send(
        &app,
        Request::get(link(&app, crashed))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // Younger than the cutoff: kept. `InMemory` stamps its own times, so
    // the clock is moved by the cutoff instead: one in the future makes
    // everything old.
    let hour_ago = SystemTime::now() - Duration::from_secs(3_600);
    assert_eq!(app.store.sweep(hour_ago).await.unwrap(), 0);
    assert_eq!(keys(&app).await, expected);
    let later = SystemTime::now() + Duration::from_secs(3_600);
    assert_eq!(app.store.sweep(later).await.unwrap(), 1);
    let mut kept = vec![
        format!("{PREFIX}/{committed}"),
        format!("{PREFIX}/{committed}.json"),
    ];
    kept.sort();
    assert_eq!(keys(&app).await, kept);
    assert_eq!(
        app.store.open(committed).await.unwrap().meta.size,
        PNG.len() as u64
    );
}
