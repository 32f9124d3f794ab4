//! The report-driven attack suite finds nothing on a sound router and names
//! the route and check on a broken one.

#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use guard_axum::auth::{ApiKeys, BearerAuth};
use guard_axum::extract::Valid;
use guard_axum::routing::{get, post};
use guard_axum::testing::AttackSuite;
use guard_axum::{
    GuardError, GuardedRouter, Owned, OwnedResource, Owner, OwnerScope, Principal, Resource,
    secure_route,
};
use http::header;

#[derive(Clone)]
struct Db(Arc<HashMap<u32, String>>); // id → owner

struct Doc;

impl Resource for Doc {
    const PARAM: &'static str = "doc";
    type Id = u32;
}

impl OwnedResource<Db> for Doc {
    async fn load(db: &Db, id: u32, owner: &Owner<'_>) -> Result<Option<Self>, GuardError> {
        // Docs here are owned by users only: a tenant scope owns none.
        let OwnerScope::User(user) = owner.scope() else {
            return Ok(None);
        };
        Ok((db.0.get(&id).map(String::as_str) == Some(user)).then_some(Doc))
    }
}

/// The bug the suite must catch: a lookup by id alone.
struct LeakyDoc;

impl Resource for LeakyDoc {
    const PARAM: &'static str = "doc";
    type Id = u32;
}

impl OwnedResource<Db> for LeakyDoc {
    async fn load(db: &Db, id: u32, _owner: &Owner<'_>) -> Result<Option<Self>, GuardError> {
        Ok(db.0.contains_key(&id).then_some(LeakyDoc))
    }
}

#[derive(serde::Deserialize, validator::Validate)]
struct Note {
    #[validate(length(min = 1))]
    text: String,
}

#[secure_route(auth, owner = "doc", rate = "5/min")]
async fn show(Owned(_doc): Owned<Doc>) -> &'static str {
    "doc"
}

#[secure_route(auth, owner = "doc")]
async fn leaky(Owned(_doc): Owned<LeakyDoc>) -> &'static str {
    "doc"
}

#[secure_route(auth, body = Note)]
async fn note(_user: Principal, State(_db): State<Db>, Valid(note): Valid<Note>) -> String {
    note.text
}

const A: &str = "user-a-key-0123456789-0123456789-0123456789";
const B: &str = "user-b-key-0123456789-0123456789-0123456789";

fn suite(router: GuardedRouter<Db>) -> AttackSuite {
    let keys = ApiKeys::new()
        .with_key(A, Principal::new("a"))
        .unwrap()
        .with_key(B, Principal::new("b"))
        .unwrap();
    let app = router.authenticator(BearerAuth::new(keys)).build().unwrap();
    let db = Db(Arc::new(HashMap::from([
        (1, "a".to_owned()),
        (2, "b".to_owned()),
    ])));
    AttackSuite::new(app.with_state(db))
        .user_a(|r| r.header(header::AUTHORIZATION, format!("Bearer {A}")))
        .user_b(|r| r.header(header::AUTHORIZATION, format!("Bearer {B}")))
        .resource("doc", "1", "2")
}

#[tokio::test]
async fn a_sound_router_passes_every_check() {
    let failures = suite(
        GuardedRouter::new()
            .route("/docs/{doc}", get(show))
            .route("/notes", post(note)),
    )
    .run()
    .await;
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn an_unscoped_lookup_is_reported_with_its_route() {
    let failures = suite(GuardedRouter::new().route("/leaky/{doc}", get(leaky)))
        .run()
        .await;
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert_eq!(failures[0].route, "GET /leaky/{doc}");
    assert_eq!(failures[0].check, "another user's id");
    assert_eq!(failures[0].detail, "200 doc");
}
