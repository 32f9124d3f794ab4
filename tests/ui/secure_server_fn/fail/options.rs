//! The option grammar and checks of `#[secure_route]`, on a server function.

// The macro is `guard_leptos::secure_server_fn` (a re-export): these cases
// need no Leptos build, because a refused function is emitted without
// `#[server]`. `GuardedError` stands in for `guard_leptos::GuardedError`:
// the macro checks the return type by name.
use guard_macros::secure_server_fn;

pub struct GuardedError;

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
