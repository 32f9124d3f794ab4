//! The three routers every benchmark compares, serving the same handler:
//! an in-memory lookup of a 10,000-entry map, answered as JSON.
//!
//! * [`bare`]: a plain axum route, no protection at all.
//! * [`guarded`]: `#[secure_route(auth, owner = "project", rate =
//!   "1000000/s")]` on a [`GuardedRouter`] with its default layers (security
//!   headers, generic errors, panic catcher, timeout, request span,
//!   sensitive headers): bearer authentication ([`ApiKeys`]), a per-IP and
//!   per-account limit, the owner-scoped load.
//! * [`peer`]: the same protection assembled by hand from peer crates: a
//!   hand-written bearer extractor (the same SHA-256 digest lookup as
//!   [`ApiKeys`]), `tower_governor` per peer IP, `validator` with
//!   `#[serde(deny_unknown_fields)]` on the path, the owner checked in the
//!   handler, four tower-http `SetResponseHeaderLayer`s.
//!
//! The rate is high enough never to refuse: the benchmarks measure the cost
//! of deciding, not of refusing.

// Each bench binary uses a part of this module.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::response::{IntoResponse, Response};
use guard_axum::GuardedApp;
use guard_axum::auth::{ApiKeys, BearerAuth};
use guard_axum::extract::ValidPath;
use guard_axum::routing::get;
use guard_axum::{
    GuardError, GuardedRouter, Owned, OwnedResource, Owner, OwnerScope, Principal, Resource,
    secure_route,
};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request, StatusCode, header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tower_http::set_header::SetResponseHeaderLayer;
use validator::Validate;

/// Entries in the project map.
pub(crate) const PROJECTS: u32 = 10_000;
/// Alice's API key (the principal the benchmarks call as).
pub(crate) const ALICE_KEY: &str = "alice-bench-key-0123456789-0123456789";
/// Bob's API key.
pub(crate) const BOB_KEY: &str = "bob-bench-key-0123456789-0123456789-0";
/// A project Alice owns (even ids are Alice's, odd ids Bob's).
pub(crate) const ALICE_PROJECT: u32 = 4_242;
/// A project Bob owns.
pub(crate) const BOB_PROJECT: u32 = 4_243;
/// An id no project has.
pub(crate) const ABSENT_PROJECT: u32 = 99_999;
/// The socket peer every in-process request comes from.
pub(crate) const PEER: ([u8; 4], u16) = ([203, 0, 113, 7], 40_000);

/// One project: what the handler looks up and answers.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Project {
    id: u32,
    owner: String,
    title: String,
}

/// The shared in-memory map.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    projects: Arc<HashMap<u32, Project>>,
}

impl Db {
    pub(crate) fn new() -> Self {
        let projects = (1..=PROJECTS)
            .map(|id| {
                let owner = if id % 2 == 0 { "alice" } else { "bob" };
                let project = Project {
                    id,
                    owner: owner.to_owned(),
                    title: format!("project number {id}"),
                };
                (id, project)
            })
            .collect();
        Self {
            projects: Arc::new(projects),
        }
    }

    /// The lookup by id **and** owner, as an owner-scoped query would be.
    fn owned(&self, id: u32, owner: &str) -> Option<Project> {
        self.projects
            .get(&id)
            .filter(|project| project.owner == owner)
            .cloned()
    }
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------- bare ---

async fn bare_show(State(db): State<Db>, Path(id): Path<u32>) -> Result<Json<Project>, StatusCode> {
    db.projects
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or(StatusCode::NOT_FOUND)
}

/// A plain axum route: no authentication, no limit, no headers.
pub(crate) fn bare(db: Db) -> App {
    App::Left(bare_router(db))
}

/// The bare route as a plain router, for benches that add layers to it.
pub(crate) fn bare_router(db: Db) -> Router {
    Router::new()
        .route("/projects/{project}", axum::routing::get(bare_show))
        .with_state(db)
}

// ------------------------------------------------------------- guarded ---

impl Resource for Project {
    const PARAM: &'static str = "project";
    type Id = u32;
}

impl OwnedResource<Db> for Project {
    async fn load(db: &Db, id: u32, owner: &Owner<'_>) -> Result<Option<Self>, GuardError> {
        match owner.scope() {
            OwnerScope::User(user) => Ok(db.owned(id, user)),
            // Projects here are owned by users only.
            OwnerScope::Tenant(_) => Ok(None),
        }
    }
}

#[secure_route(auth, owner = "project", rate = "1000000/s")]
async fn guarded_show(Owned(project): Owned<Project>) -> Json<Project> {
    Json(project)
}

fn api_keys() -> ApiKeys {
    // Both keys are constants of the right length: these cannot fail.
    ApiKeys::new()
        .with_key(ALICE_KEY, Principal::new("alice"))
        .and_then(|keys| keys.with_key(BOB_KEY, Principal::new("bob")))
        .unwrap_or_default()
}

/// The fully guarded route on a [`GuardedRouter`] with its default layers.
///
/// # Errors
///
/// The router's build problems (none for this route).
pub(crate) fn guarded(db: Db) -> Result<App, guard_axum::BuildError> {
    Ok(App::Right(guarded_app(db)?))
}

/// The fully guarded route as the built app itself.
///
/// # Errors
///
/// The router's build problems (none for this route).
pub(crate) fn guarded_app(db: Db) -> Result<GuardedApp, guard_axum::BuildError> {
    Ok(GuardedRouter::<Db>::new()
        .route("/projects/{project}", get(guarded_show))
        .authenticator(BearerAuth::new(api_keys()))
        .build()?
        .with_state(db))
}

/// The guarded route with its security headers cut to the peer's three
/// (nosniff, `X-Frame-Options`, CSP; `Cache-Control` is the authenticated
/// default in both): every guard and layer the same, 410 header bytes on
/// the wire instead of 1,123. It measures what the headers' bytes cost
/// under load (hyper's encoding, the socket copies, the client's parsing),
/// which an in-process profile never sees. Load tests only.
///
/// # Errors
///
/// The router's build problems (none for this route).
pub(crate) fn guarded_peer_headers(db: Db) -> Result<App, guard_axum::BuildError> {
    let mut headers = guard_axum::headers::SecurityHeaders::default();
    for name in [
        "referrer-policy",
        "strict-transport-security",
        "cross-origin-opener-policy",
        "cross-origin-resource-policy",
        "permissions-policy",
        "x-permitted-cross-domain-policies",
    ] {
        headers = headers.remove(name);
    }
    Ok(App::Right(
        GuardedRouter::<Db>::new()
            .route("/projects/{project}", get(guarded_show))
            .authenticator(BearerAuth::new(api_keys()))
            .security_headers(headers)
            .build()?
            .with_state(db),
    ))
}

// ----------------------------------------------------------- breakdown ---
//
// The guarded route with guards taken away one at a time, for the
// breakdown of what each costs (BENCHMARKS.md): the same map lookup, the
// same default layers.

/// The `{project}` path parameter. The guarded steps take it validated, as
/// the macro requires; with no rules, its `validate` is an empty call.
#[derive(Deserialize, Validate)]
struct ProjectParam {
    project: u32,
}

#[secure_route(public = "benchmark: the router's layers alone")]
async fn layers_show(
    State(db): State<Db>,
    ValidPath(ProjectParam { project: id }): ValidPath<ProjectParam>,
) -> Result<Json<Project>, GuardError> {
    db.projects
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(GuardError::not_found)
}

#[secure_route(auth)]
async fn auth_show(
    user: Principal,
    State(db): State<Db>,
    ValidPath(ProjectParam { project: id }): ValidPath<ProjectParam>,
) -> Result<Json<Project>, GuardError> {
    db.owned(id, user.id())
        .map(Json)
        .ok_or_else(GuardError::not_found)
}

#[secure_route(auth, owner = "project")]
async fn owner_show(Owned(project): Owned<Project>) -> Json<Project> {
    Json(project)
}

/// One step of the breakdown: `layers` (a public route: the default
/// layers only), `auth` (plus bearer authentication, the owner checked in
/// the handler), `owner` (plus `Owned<T>`), or `guarded` (plus the limits).
///
/// # Errors
///
/// An unknown step, or the router's build problems (none).
pub(crate) fn breakdown(db: Db, step: &str) -> Result<App, String> {
    let router = GuardedRouter::<Db>::new().authenticator(BearerAuth::new(api_keys()));
    let router = match step {
        "layers" => router.route("/projects/{project}", get(layers_show)),
        "auth" => router.route("/projects/{project}", get(auth_show)),
        "owner" => router.route("/projects/{project}", get(owner_show)),
        "guarded" => router.route("/projects/{project}", get(guarded_show)),
        other => return Err(format!("unknown breakdown step `{other}`")),
    };
    Ok(App::Right(
        router.build().map_err(|e| e.to_string())?.with_state(db),
    ))
}

// ---------------------------------------------------------------- peer ---

/// The peer stack's state: the map and the key digests.
#[derive(Debug, Clone)]
pub(crate) struct PeerState {
    db: Db,
    keys: Arc<HashMap<[u8; 32], String>>,
}

/// A hand-written bearer extractor, as users write one: the token's
/// SHA-256 digest looked up in a map, 401 otherwise.
struct PeerUser(String);

impl FromRequestParts<PeerState> for PeerUser {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, state: &PeerState) -> Result<Self, StatusCode> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(StatusCode::UNAUTHORIZED)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        state
            .keys
            .get(&digest)
            .cloned()
            .map(PeerUser)
            .ok_or(StatusCode::UNAUTHORIZED)
    }
}

/// The path, validated and closed to unknown parameters.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
struct ProjectPath {
    #[validate(range(min = 1))]
    project: u32,
}

async fn peer_show(
    user: PeerUser,
    State(state): State<PeerState>,
    Path(path): Path<ProjectPath>,
) -> Result<Json<Project>, StatusCode> {
    path.validate().map_err(|_| StatusCode::BAD_REQUEST)?;
    state
        .db
        .owned(path.project, &user.0)
        .map(Json)
        .ok_or(StatusCode::NOT_FOUND)
}

/// The same protection from peer crates: hand-written auth, tower_governor
/// per peer IP, validator, four response-header layers.
///
/// # Errors
///
/// When tower_governor refuses the quota (it does not for this one).
pub(crate) fn peer(db: Db) -> Result<App, &'static str> {
    let keys = [(ALICE_KEY, "alice"), (BOB_KEY, "bob")]
        .into_iter()
        .map(|(key, id)| (Sha256::digest(key.as_bytes()).into(), id.to_owned()))
        .collect();
    // One cell per microsecond, a burst of a million: 1,000,000/s.
    let governor = tower_governor::governor::GovernorConfigBuilder::default()
        .per_nanosecond(1_000)
        .burst_size(1_000_000)
        .finish()
        .ok_or("tower_governor refused the quota")?;
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    Ok(App::Left(
        Router::new()
            .route("/projects/{project}", axum::routing::get(peer_show))
            .layer(tower_governor::GovernorLayer::new(governor))
            .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(header(header::X_FRAME_OPTIONS, "DENY"))
            .layer(header(
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; frame-ancestors 'none'",
            ))
            .layer(header(header::CACHE_CONTROL, "no-store"))
            .with_state(PeerState {
                db,
                keys: Arc::new(keys),
            }),
    ))
}

// ------------------------------------------------------------ requests ---

/// `GET /projects/{id}` as `key`, from [`PEER`] (the rate limits key on the
/// socket peer, which a server puts in `ConnectInfo`).
pub(crate) fn get_project(id: u32, key: &str) -> Request<Body> {
    let mut request = Request::get(format!("/projects/{id}"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap_or_default();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(PEER)));
    request
}

/// `POST uri` with a JSON body, from [`PEER`].
pub(crate) fn post_json(uri: &str, body: &'static [u8]) -> Request<Body> {
    let mut request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap_or_default();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(PEER)));
    request
}

/// A bare or peer router, or a built guarded app: one type, so every
/// variant is timed through the same code (`Either` adds one match and no
/// allocation to each).
pub(crate) type App = tower::util::Either<Router, GuardedApp>;

/// A response's status and whole body, read as a server would send it.
pub(crate) async fn drain(response: Response) -> (StatusCode, usize) {
    use http_body_util::BodyExt as _;
    let status = response.status();
    let len = match response.into_body().collect().await {
        Ok(collected) => collected.to_bytes().len(),
        Err(_) => 0,
    };
    (status, len)
}

/// Makes sure a router answers `expected` before it is measured, so a
/// benchmark never times an error path by mistake.
pub(crate) async fn expect(
    router: &App,
    request: Request<Body>,
    expected: StatusCode,
) -> Result<(), String> {
    use tower::ServiceExt as _;
    let response = match router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (status, _) = drain(response.into_response()).await;
    if status == expected {
        Ok(())
    } else {
        Err(format!("expected {expected}, got {status}"))
    }
}
