//! Every form of the attribute compiles and routes, with and without state.

use axum::extract::State;
use guard_axum::extract::ValidPath;
use guard_axum::routing::{delete, get, patch, post, put};
use guard_axum::{GuardError, GuardedRouter, Principal, Valid, secure_route};

#[derive(Clone)]
struct AppState {
    name: &'static str,
}

/// Docs stay on the handler.
#[secure_route(public = "health check")]
async fn health() -> &'static str {
    "ok"
}

#[secure_route(auth)]
async fn me(user: Principal, State(state): State<AppState>) -> String {
    format!("{} @ {}", user.id(), state.name)
}

/// The `{id}` path parameter.
#[derive(serde::Deserialize, validator::Validate)]
pub struct IdParam {
    id: u64,
}

#[secure_route(auth, roles = ["admin", "ops"], permission = "projects:write")]
pub async fn update(ValidPath(IdParam { id }): ValidPath<IdParam>, user: Option<Principal>) -> Result<String, GuardError> {
    Ok(format!("{id} {}", user.is_some()))
}

/// `{title}`.
#[derive(serde::Deserialize, validator::Validate)]
pub struct NewProject {
    #[validate(length(min = 1))]
    title: String,
}

#[secure_route(auth, body = NewProject)]
async fn create(_user: Principal, Valid(body): Valid<NewProject>) -> String {
    body.title
}

#[secure_route(public = "keyword options are parsed")]
async fn remove() {}

#[secure_route(auth, csrf = "none: called by the billing provider's servers, never a browser")]
async fn billing_event(_user: Principal) {}

fn main() {
    let router: guard_axum::GuardedApp = GuardedRouter::new()
        .route("/healthz", get(health))
        .route("/me", get(me))
        .route("/projects/{id}", put(update).patch(update).delete(remove))
        .route("/projects", post(create))
        .route("/p", patch(update))
        .route("/d", delete(remove))
        .route("/billing/events", post(billing_event))
        .authenticator(guard_axum::auth::SessionAuth::new())
        .build()
        .expect("builds")
        .with_state(AppState { name: "app" });
    let _ = router;
    // The unguarded handler stays callable for unit tests.
    let _ = health().call_unguarded();
    let _: &guard_axum::RouteSpec = health().spec();
    // A handler's name never shadows a binding of the same name.
    let me = 1;
    let update = "x";
    let _ = (me, update);
}
