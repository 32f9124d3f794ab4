//! `#[secure_server_fn]` guards a `#[server]` function; alone it is an error.

use guard_leptos::{GuardedError, secure_server_fn};

#[secure_server_fn(auth)]
pub async fn not_a_server_fn() -> Result<(), GuardedError> {
    Ok(())
}

fn main() {}
