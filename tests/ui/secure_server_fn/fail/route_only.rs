//! Options that only a route handler can have.

// The macro is `guard_leptos::secure_server_fn` (a re-export): these cases
// need no Leptos build, because a refused function is emitted without
// `#[server]`. `GuardedError` stands in for `guard_leptos::GuardedError`:
// the macro checks the return type by name.
use guard_macros::secure_server_fn;

pub struct GuardedError;

#[derive(serde::Deserialize)]
pub struct Body {
    pub title: String,
}

#[secure_server_fn(auth, body = Body)]
#[leptos::server]
pub async fn with_body() -> Result<(), GuardedError> {
    Ok(())
}

#[secure_server_fn(public = "login", rate_identifier = "5/min")]
#[leptos::server]
pub async fn with_identifier_limit() -> Result<(), GuardedError> {
    Ok(())
}

#[secure_server_fn(auth, upload(max = "1MiB", types = ["png"]))]
#[leptos::server]
pub async fn with_upload() -> Result<(), GuardedError> {
    Ok(())
}

fn main() {}
