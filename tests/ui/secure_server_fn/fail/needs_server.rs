//! `#[secure_server_fn]` guards a `#[server]` function; alone it is an error.

// The macro is `guard_leptos::secure_server_fn` (a re-export): these cases
// need no Leptos build, because a refused function is emitted without
// `#[server]`. `GuardedError` stands in for `guard_leptos::GuardedError`:
// the macro checks the return type by name.
use guard_macros::secure_server_fn;

pub struct GuardedError;

#[secure_server_fn(auth)]
pub async fn not_a_server_fn() -> Result<(), GuardedError> {
    Ok(())
}

fn main() {}
