//! The order a guarded handler's arguments are extracted in, attacked with
//! the requests that would cost a query (or a store write) if it were wrong:
//!
//! * `body = T` with `Owned<T>`: the body is read and validated first, so a
//!   malformed body (400, 413, 415) never reaches the owner-scoped load;
//! * `upload(...)` with `Owned<T>`: the lookup comes first, so a file sent
//!   to a resource the principal cannot see is never written to the store.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/http.rs"]
mod http_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use axum::body::Body;
use futures_util::future::BoxFuture;
use guard_axum::GuardedApp;
use guard_axum::auth::{ApiKeys, BearerAuth};
use guard_axum::routing::{patch, post};
use guard_axum::upload::{
    LocalStore, ObjectId, ObjectStore, ObjectWriter, OpenedObject, Upload, UploadStore,
};
use guard_axum::{
    GuardError, GuardedRouter, Owned, OwnedResource, Owner, OwnerScope, Principal, Resource, Valid,
    secure_route,
};
use guard_core::upload::{ObjectMeta, StoreError};
use http::{StatusCode, header};
use http_support::request_as;
use serde::Deserialize;
use validator::Validate;

const ALICE: &str = "alice-key-0123456789-0123456789-0123456789";
const BOUNDARY: &str = "guard-order-5c1e";
/// A complete 1x1 RGBA PNG.
const PNG: &[u8] = b"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0d\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99\x3d\x1d\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";

#[derive(Clone, Default)]
struct Db {
    /// (owner user id, doc id) → title.
    docs: Arc<HashMap<(String, u32), String>>,
    /// Calls of `OwnedResource::load`: one per owner-scoped query.
    loads: Arc<AtomicUsize>,
    /// Handler runs.
    runs: Arc<AtomicUsize>,
}

impl Db {
    fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

#[derive(Debug)]
struct Doc {
    title: String,
}

impl Resource for Doc {
    const PARAM: &'static str = "doc";
    type Id = u32;
}

impl OwnedResource<Db> for Doc {
    async fn load(db: &Db, id: u32, owner: &Owner<'_>) -> Result<Option<Self>, GuardError> {
        db.loads.fetch_add(1, Ordering::SeqCst);
        let OwnerScope::User(user) = owner.scope() else {
            return Ok(None);
        };
        Ok(db.docs.get(&(user.to_owned(), id)).map(|title| Doc {
            title: title.clone(),
        }))
    }
}

#[derive(Debug, Deserialize, Validate)]
struct Patch {
    #[validate(length(min = 1, max = 100))]
    title: String,
}

#[secure_route(auth, owner = "doc", body = Patch)]
async fn edit(
    axum::extract::State(db): axum::extract::State<Db>,
    Owned(doc): Owned<Doc>,
    Valid(patch): Valid<Patch>,
) -> String {
    db.runs.fetch_add(1, Ordering::SeqCst);
    format!("{} -> {}", doc.title, patch.title)
}

#[secure_route(auth, owner = "doc", upload(max = "1KiB", types = ["png"]))]
async fn attach(
    axum::extract::State(db): axum::extract::State<Db>,
    Owned(doc): Owned<Doc>,
    upload: Upload,
) -> String {
    db.runs.fetch_add(1, Ordering::SeqCst);
    format!("{}: {} bytes", doc.title, upload.size)
}

/// A store that counts the writes it begins, over a real local store (by
/// the trait: `LocalStore`'s inherent methods of the same names are sync).
#[derive(Debug)]
struct CountingStore {
    inner: LocalStore,
    begun: Arc<AtomicUsize>,
}

impl ObjectStore for CountingStore {
    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn ObjectWriter>, StoreError>> {
        self.begun.fetch_add(1, Ordering::SeqCst);
        ObjectStore::begin(&self.inner)
    }
    fn commit(&self, meta: ObjectMeta) -> BoxFuture<'_, Result<(), StoreError>> {
        ObjectStore::commit(&self.inner, meta)
    }
    fn discard(&self, id: ObjectId) -> BoxFuture<'_, Result<(), StoreError>> {
        ObjectStore::discard(&self.inner, id)
    }
    fn open(&self, id: ObjectId) -> BoxFuture<'_, Result<OpenedObject, StoreError>> {
        ObjectStore::open(&self.inner, id)
    }
    fn delete(&self, id: ObjectId) -> BoxFuture<'_, Result<(), StoreError>> {
        ObjectStore::delete(&self.inner, id)
    }
    fn sweep(&self, cutoff: SystemTime) -> BoxFuture<'_, Result<usize, StoreError>> {
        ObjectStore::sweep(&self.inner, cutoff)
    }
}

struct TestApp {
    app: GuardedApp,
    db: Db,
    /// Writes the upload store began.
    begun: Arc<AtomicUsize>,
    dir: std::path::PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Alice owns doc 1; doc 2 is bob's.
fn app() -> TestApp {
    let keys = ApiKeys::new()
        .with_key(ALICE, Principal::new("alice"))
        .unwrap();
    let db = Db {
        docs: Arc::new(HashMap::from([
            (("alice".to_owned(), 1), "plan".to_owned()),
            (("bob".to_owned(), 2), "secrets".to_owned()),
        ])),
        ..Db::default()
    };
    let dir = std::env::temp_dir().join(format!("guard-axum-order-{}", ObjectId::random()));
    let begun = Arc::new(AtomicUsize::new(0));
    let store = CountingStore {
        inner: LocalStore::new(&dir).unwrap(),
        begun: begun.clone(),
    };
    let app = GuardedRouter::new()
        .route("/docs/{doc}", patch(edit))
        .route("/docs/{doc}/files", post(attach))
        .authenticator(BearerAuth::new(keys))
        .upload_store(UploadStore::new(store))
        .build()
        .unwrap()
        .with_state(db.clone());
    TestApp {
        app,
        db,
        begun,
        dir,
    }
}

async fn send(
    app: &GuardedApp,
    method: &str,
    uri: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let mut request = request_as(method, uri, Some(ALICE));
    if !content_type.is_empty() {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let reply = http_support::send(app, request.body(Body::from(body)).unwrap()).await;
    (reply.status, reply.body)
}

async fn patch_doc(
    app: &GuardedApp,
    doc: &str,
    content_type: &str,
    body: &[u8],
) -> (StatusCode, String) {
    send(
        app,
        "PATCH",
        &format!("/docs/{doc}"),
        content_type,
        body.to_vec(),
    )
    .await
}

fn png_form() -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(PNG);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn a_malformed_body_is_refused_before_the_owner_lookup() {
    let t = app();
    let json = "application/json";
    let oversized = format!(r#"{{"title":"{}"}}"#, "a".repeat(70 * 1024));
    let cases: [(&str, &str, &[u8], StatusCode, &str); 7] = [
        (
            "an unknown field",
            json,
            br#"{"title":"x","color":"red"}"#,
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_input","fields":{"color":["unknown_field"]}}"#,
        ),
        (
            "an identity field",
            json,
            br#"{"title":"x","owner_id":"bob"}"#,
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_input","fields":{"owner_id":["identity_field"]}}"#,
        ),
        (
            "malformed JSON",
            json,
            br#"{"title":"#,
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_input"}"#,
        ),
        (
            "a wrong content type",
            "text/plain",
            br#"{"title":"x"}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            r#"{"error":"unsupported_media_type"}"#,
        ),
        (
            "no content type at all",
            "",
            br#"{"title":"x"}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            r#"{"error":"unsupported_media_type"}"#,
        ),
        (
            "a body over the 64 KiB default",
            json,
            oversized.as_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            r#"{"error":"payload_too_large"}"#,
        ),
        (
            "a validation failure",
            json,
            br#"{"title":""}"#,
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_input","fields":{"title":["length"]}}"#,
        ),
    ];
    for (what, content_type, body, status, expected) in cases {
        // Alice's own doc, bob's, and one that does not exist: the body is
        // refused the same way before any of them is looked up.
        for doc in ["1", "2", "999"] {
            let reply = patch_doc(&t.app, doc, content_type, body).await;
            assert_eq!(reply, (status, expected.to_owned()), "{what} on doc {doc}");
        }
    }
    assert_eq!(t.db.loads(), 0, "a refused body cost a query");
    assert_eq!(t.db.runs(), 0);
}

#[tokio::test]
async fn a_valid_body_is_loaded_once_within_the_owner_scope() {
    let t = app();
    let own = patch_doc(&t.app, "1", "application/json", br#"{"title":"new"}"#).await;
    assert_eq!(own, (StatusCode::OK, "plan -> new".to_owned()));
    assert_eq!((t.db.loads(), t.db.runs()), (1, 1));

    for doc in ["2", "999"] {
        let reply = patch_doc(&t.app, doc, "application/json", br#"{"title":"new"}"#).await;
        assert_eq!(
            reply,
            (StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#.to_owned()),
            "doc {doc}"
        );
    }
    assert_eq!((t.db.loads(), t.db.runs()), (3, 1));
}

#[tokio::test]
async fn an_upload_is_refused_by_the_owner_lookup_before_it_is_stored() {
    let t = app();
    let form = format!("multipart/form-data; boundary={BOUNDARY}");
    // Bob's doc: 404 from the lookup; the store was never asked to write.
    let foreign = send(&t.app, "POST", "/docs/2/files", &form, png_form()).await;
    assert_eq!(
        foreign,
        (StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#.to_owned())
    );
    // A body that is not even multipart: the same 404, the lookup first.
    let not_a_form = send(
        &t.app,
        "POST",
        "/docs/2/files",
        "application/json",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(
        not_a_form,
        (StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#.to_owned())
    );
    assert_eq!((t.db.loads(), t.db.runs()), (2, 0));
    assert_eq!(
        t.begun.load(Ordering::SeqCst),
        0,
        "a foreign upload was written"
    );

    // Alice's own doc: looked up, then stored.
    let own = send(&t.app, "POST", "/docs/1/files", &form, png_form()).await;
    assert_eq!(own, (StatusCode::OK, format!("plan: {} bytes", PNG.len())));
    assert_eq!((t.db.loads(), t.db.runs()), (3, 1));
    assert_eq!(t.begun.load(Ordering::SeqCst), 1);
}
