//! The function's signature: its error type, its owner argument, `async`.

use guard_axum::Owned;
// The macro is `guard_leptos::secure_server_fn` (a re-export): these cases
// need no Leptos build, because a refused function is emitted without
// `#[server]`. `GuardedError` stands in for `guard_leptos::GuardedError`:
// the macro checks the return type by name.
use guard_macros::secure_server_fn;

pub struct GuardedError;

pub struct Todo;

#[secure_server_fn(auth)]
#[leptos::server]
pub async fn leaks_errors() -> Result<(), String> {
    Ok(())
}

#[secure_server_fn(auth, owner = "todo")]
#[leptos::server]
pub async fn owner_not_taken(id: i64) -> Result<(), GuardedError> {
    let _ = id;
    Ok(())
}

#[secure_server_fn(auth)]
#[leptos::server]
pub async fn owned_not_declared(todo: Owned<Todo>) -> Result<(), GuardedError> {
    let _ = todo;
    Ok(())
}

#[secure_server_fn(auth, owner = "todo")]
#[leptos::server]
pub async fn owner_not_owned(todo: i64) -> Result<(), GuardedError> {
    let _ = todo;
    Ok(())
}

#[secure_server_fn(auth)]
#[leptos::server]
pub fn not_async() -> Result<(), GuardedError> {
    Ok(())
}

#[secure_server_fn(auth)]
#[leptos::server]
pub async fn with_where_clause() -> Result<(), GuardedError>
where
    GuardedError: Sized,
{
    Ok(())
}

fn main() {}
