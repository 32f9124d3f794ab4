//! Options that only a route handler can have.

use guard_leptos::{GuardedError, secure_server_fn};

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
