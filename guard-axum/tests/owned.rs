//! Owner-scoped lookups through a real router: the IDOR matrix.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/http.rs"]
mod http_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::State;
use guard_axum::GuardedApp;
use guard_axum::auth::{ApiKeys, BearerAuth};
use guard_axum::routing::get;
use guard_axum::{
    GuardError, GuardedRouter, Owned, OwnedResource, Owner, OwnerScope, Principal, Resource,
    secure_route,
};
use http::StatusCode;
use http_support::{request_as, send};

/// Who owns a row: user ids and tenant ids are separate namespaces (user
/// `acme` and tenant `acme` are unrelated), as two columns would be.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum OwnerKey {
    User(String),
    Tenant(String),
}

impl OwnerKey {
    /// The explicit choice every lookup makes: a user-scoped principal
    /// queries the user column, a tenant-scoped one the tenant column.
    fn of(owner: &Owner<'_>) -> Self {
        match owner.scope() {
            OwnerScope::User(user) => Self::User(user.to_owned()),
            OwnerScope::Tenant(tenant) => Self::Tenant(tenant.to_owned()),
        }
    }

    fn user(id: &str) -> Self {
        Self::User(id.to_owned())
    }
}

#[derive(Clone, Default)]
struct Db {
    /// (owner, id) → title; a query by id alone is impossible through it.
    docs: Arc<HashMap<(OwnerKey, u32), String>>,
    files: Arc<HashMap<(u32, u32), String>>,
    lookups: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct Doc {
    id: u32,
    title: String,
}

impl Resource for Doc {
    const PARAM: &'static str = "doc";
    type Id = u32;
}

impl OwnedResource<Db> for Doc {
    async fn load(db: &Db, id: u32, owner: &Owner<'_>) -> Result<Option<Self>, GuardError> {
        db.lookups.fetch_add(1, Ordering::SeqCst);
        Ok(db.docs.get(&(OwnerKey::of(owner), id)).map(|title| Doc {
            id,
            title: title.clone(),
        }))
    }
}

struct File {
    name: String,
}

impl Resource for File {
    const PARAM: &'static str = "file";
    type Id = u32;
}

impl OwnedResource<Db> for File {
    /// Scoped by the parent document, itself scoped by the owner.
    async fn load(db: &Db, id: u32, owner: &Owner<'_>) -> Result<Option<Self>, GuardError> {
        let Some(Ok(doc)) = owner.param("doc").map(str::parse::<u32>) else {
            return Ok(None);
        };
        if !db.docs.contains_key(&(OwnerKey::of(owner), doc)) {
            return Ok(None);
        }
        Ok(db
            .files
            .get(&(doc, id))
            .map(|name| File { name: name.clone() }))
    }
}

#[secure_route(auth, owner = "doc")]
async fn show(Owned(doc): Owned<Doc>) -> String {
    format!("{} {}", doc.id, doc.title)
}

#[secure_route(auth, owner = ["doc", "file"])]
async fn show_file(
    Owned(doc): Owned<Doc>,
    Owned(file): Owned<File>,
    State(_db): State<Db>,
) -> String {
    format!("{}/{}", doc.title, file.name)
}

const ALICE: &str = "alice-key-0123456789-0123456789-0123456789";
const BOB: &str = "bob-key-0123456789-0123456789-0123456789";
/// User `7`, a member of tenant `acme`: her owner scope is the tenant.
const CAROL: &str = "carol-key-0123456789-0123456789-0123456789";

fn app(db: Db) -> GuardedApp {
    let keys = ApiKeys::new()
        .with_key(ALICE, Principal::new("alice"))
        .unwrap()
        .with_key(BOB, Principal::new("bob"))
        .unwrap()
        .with_key(CAROL, Principal::new("7").with_tenant("acme"))
        .unwrap();
    GuardedRouter::new()
        .route("/docs/{doc}", get(show))
        .route("/docs/{doc}/files/{file}", get(show_file))
        .authenticator(BearerAuth::new(keys))
        .build()
        .unwrap()
        .with_state(db)
}

fn db() -> Db {
    let docs = HashMap::from([
        ((OwnerKey::user("alice"), 1), "alice's plan".to_owned()),
        ((OwnerKey::user("bob"), 2), "bob's secrets".to_owned()),
    ]);
    let files = HashMap::from([((1, 10), "a.pdf".to_owned()), ((2, 20), "b.pdf".to_owned())]);
    Db {
        docs: Arc::new(docs),
        files: Arc::new(files),
        lookups: Arc::default(),
    }
}

async fn get_as(
    app: &GuardedApp,
    uri: &str,
    key: Option<&str>,
) -> (StatusCode, http::HeaderMap, String) {
    let request = request_as("GET", uri, key).body(Body::empty()).unwrap();
    let reply = send(app, request).await;
    (reply.status, reply.headers, reply.body)
}

#[tokio::test]
async fn idor_matrix_answers_the_same_404_for_absent_and_not_owned() {
    let db = db();
    let app = app(db.clone());
    let own = get_as(&app, "/docs/1", Some(ALICE)).await;
    assert_eq!((own.0, own.2.as_str()), (StatusCode::OK, "1 alice's plan"));

    let others = get_as(&app, "/docs/2", Some(ALICE)).await;
    let absent = get_as(&app, "/docs/999", Some(ALICE)).await;
    let malformed = get_as(&app, "/docs/not-a-number", Some(ALICE)).await;
    let overflow = get_as(&app, "/docs/99999999999999999999", Some(ALICE)).await;
    for reply in [&others, &absent, &malformed, &overflow] {
        assert_eq!(reply.0, StatusCode::NOT_FOUND);
        assert_eq!(reply.2, r#"{"error":"not_found"}"#);
    }
    // Byte-identical: same body, same headers.
    assert_eq!(others.1, absent.1);
    assert_eq!(others.2, absent.2);
    assert!(!others.2.contains("bob"));

    // Logged out: 401 before any lookup.
    let before = db.lookups.load(Ordering::SeqCst);
    let anonymous = get_as(&app, "/docs/2", None).await;
    assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED);
    assert_eq!(db.lookups.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn an_alias_of_an_id_is_404_and_loads_nothing() {
    // `u32::from_str` takes `+1` and `01` as 1: one resource, many URLs, so
    // a cache or a WAF rule keyed by the path could be sidestepped.
    let db = db();
    let app = app(db.clone());
    let before = db.lookups.load(Ordering::SeqCst);
    for uri in [
        "/docs/+1",
        "/docs/01",
        "/docs/%2B1",
        "/docs/+0001",
        "/docs/1/files/010",
    ] {
        let reply = get_as(&app, uri, Some(ALICE)).await;
        assert_eq!(reply.0, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(reply.2, r#"{"error":"not_found"}"#, "{uri}");
    }
    // `/docs/1/files/010` loads the document, then refuses the file's alias.
    assert_eq!(db.lookups.load(Ordering::SeqCst), before + 1);
    let own = get_as(&app, "/docs/1", Some(ALICE)).await;
    assert_eq!(own.0, StatusCode::OK);
}

#[tokio::test]
async fn nested_resources_are_scoped_by_their_parent_and_owner() {
    let app = app(db());
    let own = get_as(&app, "/docs/1/files/10", Some(ALICE)).await;
    assert_eq!(
        (own.0, own.2.as_str()),
        (StatusCode::OK, "alice's plan/a.pdf")
    );
    for uri in [
        "/docs/1/files/20", // bob's file under alice's doc
        "/docs/2/files/20", // bob's doc
        "/docs/1/files/11", // absent
        "/docs/1/files/x",  // malformed
    ] {
        let reply = get_as(&app, uri, Some(ALICE)).await;
        assert_eq!(reply.0, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(reply.2, r#"{"error":"not_found"}"#, "{uri}");
    }
    let bob = get_as(&app, "/docs/2/files/20", Some(BOB)).await;
    assert_eq!(bob.0, StatusCode::OK);
}

#[tokio::test]
async fn a_tenant_scoped_principal_looks_up_by_the_tenant_id_never_a_user_id() {
    let docs = HashMap::from([
        (
            (OwnerKey::Tenant("acme".into()), 5),
            "acme roadmap".to_owned(),
        ),
        // Carol's own user id: not her scope while she acts for the tenant.
        ((OwnerKey::user("7"), 6), "user 7's draft".to_owned()),
        // A *user* whose id equals the tenant's: an erased `id()` would
        // have compared "acme" with this row's owner and matched it.
        (
            (OwnerKey::user("acme"), 7),
            "user acme's secrets".to_owned(),
        ),
    ]);
    let files = HashMap::from([
        ((5, 50), "plan.pdf".to_owned()),
        ((7, 70), "x.pdf".to_owned()),
    ]);
    let app = app(Db {
        docs: Arc::new(docs),
        files: Arc::new(files),
        lookups: Arc::default(),
    });

    let tenant_doc = get_as(&app, "/docs/5", Some(CAROL)).await;
    assert_eq!(
        (tenant_doc.0, tenant_doc.2.as_str()),
        (StatusCode::OK, "5 acme roadmap")
    );
    let tenant_file = get_as(&app, "/docs/5/files/50", Some(CAROL)).await;
    assert_eq!(
        (tenant_file.0, tenant_file.2.as_str()),
        (StatusCode::OK, "acme roadmap/plan.pdf")
    );
    for uri in ["/docs/6", "/docs/7", "/docs/7/files/70"] {
        let reply = get_as(&app, uri, Some(CAROL)).await;
        assert_eq!(
            (reply.0, reply.2.as_str()),
            (StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#),
            "{uri}"
        );
    }
    // Without a tenant the same lookups use the user id: alice (user
    // `alice`) sees none of these, and the user-owned rows stay reachable
    // only by their users.
    for uri in ["/docs/5", "/docs/6", "/docs/7"] {
        assert_eq!(
            get_as(&app, uri, Some(ALICE)).await.0,
            StatusCode::NOT_FOUND
        );
    }
}

#[test]
fn the_router_refuses_an_owner_parameter_missing_from_the_path() {
    let err = GuardedRouter::<Db>::new()
        .route("/docs/{id}", get(show))
        .authenticator(BearerAuth::new(ApiKeys::new()))
        .build()
        .unwrap_err();
    assert_eq!(
        err.problems(),
        [
            "GET /docs/{id} (show): `owner = \"doc\"` names a path parameter the path does not have; add `{doc}` to the path"
        ]
    );
}
