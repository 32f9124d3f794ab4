//! The option grammar and checks of `#[secure_route]`, on a server function.

use guard_leptos::{GuardedError, secure_server_fn};

#[secure_server_fn(ath)]
#[leptos::server]
pub async fn misspelt() -> Result<(), GuardedError> {
    Ok(())
}

#[secure_server_fn(rate = "10/minn")]
#[leptos::server]
pub async fn bad_rate() -> Result<(), GuardedError> {
    Ok(())
}

#[secure_server_fn(roles = ["admin"])]
#[leptos::server]
pub async fn roles_without_auth() -> Result<(), GuardedError> {
    Ok(())
}

#[secure_server_fn(public = "")]
#[leptos::server]
pub async fn public_without_reason() -> Result<(), GuardedError> {
    Ok(())
}

#[secure_server_fn(auth, csrf = "off")]
#[leptos::server]
pub async fn csrf_without_reason() -> Result<(), GuardedError> {
    Ok(())
}

fn main() {}
