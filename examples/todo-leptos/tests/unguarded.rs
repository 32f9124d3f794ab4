//! An app with an unguarded `#[server]` function (and one whose argument is
//! an identity field) does not start; the error names each of them.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use guard_leptos::{GuardedError, secure_server_fn, unguarded_server_fns};
use leptos::prelude::*;
use server_fn::ServerFn as _;
use todo_leptos::{Config, StartError, app};

/// What the official session-auth example shipped: a delete by id alone.
#[server]
pub async fn leaky_delete(id: i64) -> Result<(), ServerFnError> {
    let _ = id;
    Ok(())
}

/// Another one, so the error must list both at once.
#[server]
pub async fn leaky_export() -> Result<String, ServerFnError> {
    Ok(String::new())
}

/// Guarded, but it takes the owner from the caller.
#[secure_server_fn(auth)]
#[server]
pub async fn assign(user_id: i64) -> Result<(), GuardedError> {
    let _ = user_id;
    Ok(())
}

#[tokio::test]
async fn the_app_does_not_start_and_names_every_unguarded_server_fn() {
    let unguarded = unguarded_server_fns();
    assert_eq!(
        unguarded,
        [
            format!("POST {}", LeakyDelete::PATH),
            format!("POST {}", LeakyExport::PATH)
        ]
    );
    let err = app(Config {
        database: "sqlite::memory:".to_owned(),
        ..Config::default()
    })
    .await
    .unwrap_err();
    let StartError::ServerFns(err) = err else {
        panic!("{err}");
    };
    let problems = err.problems();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains(LeakyDelete::PATH) && p.contains("has no guards"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains(LeakyExport::PATH) && p.contains("has no guards"))
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains(Assign::PATH) && p.contains("user_id")),
        "{problems:#?}"
    );
    // The app's own guarded server functions are not named.
    assert!(!err.to_string().contains("delete_todo"), "{err}");
}
