//! Direct server-side calls (what a page render does): the same checks as
//! over HTTP, from the request's parts in the Leptos context.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use common::{ADMIN, Running, start};
use guard_axum::Principal;
use guard_axum::rate_limit::LimitsConfig;
use guard_leptos::GuardedError;
use leptos::prelude::{Owner, provide_context};
use leptos::reactive::computed::ScopedFuture;
use todo_leptos::Config;
use todo_leptos::accounts::login;
use todo_leptos::todos::{TodoChanges, all_todos, delete_todo, list_todos, rename_todo};
use tower_sessions::{MemoryStore, Session};

/// The parts of a page request from 127.0.0.1, signed in as `principal`
/// (or not), as the router hands them to a page.
async fn page_request(app: &Running, principal: Option<Principal>) -> http::request::Parts {
    page_request_from(app, principal, "127.0.0.1:40000").await
}

/// [`page_request`] from the client at `peer`.
async fn page_request_from(
    app: &Running,
    principal: Option<Principal>,
    peer: &str,
) -> http::request::Parts {
    let (mut parts, ()) = http::Request::get("/").body(()).unwrap().into_parts();
    let peer: SocketAddr = peer.parse().unwrap();
    parts.extensions.insert(ConnectInfo(peer));
    parts.extensions.insert(app.built.server_fns.clone());
    let session = Session::new(None, Arc::new(MemoryStore::default()), None);
    if let Some(principal) = principal {
        guard_axum::auth::login(&session, &principal).await.unwrap();
    }
    parts.extensions.insert(session);
    parts
}

/// Runs `call` as a page render would: in an owner whose context holds the
/// request's parts and the app's context.
async fn direct<T>(
    app: &Running,
    parts: Option<http::request::Parts>,
    call: impl std::future::Future<Output = Result<T, GuardedError>>,
) -> Result<T, GuardedError> {
    let owner = Owner::new();
    let fns = app.built.server_fns.clone();
    owner
        .with(move || {
            if let Some(parts) = parts {
                provide_context(parts);
            }
            fns.provide_context();
            ScopedFuture::new(call)
        })
        .await
}

async fn user_id(app: &Running, email: &str) -> String {
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = ?")
        .bind(email)
        .fetch_one(&app.built.db.0)
        .await
        .unwrap();
    id.to_string()
}

#[tokio::test]
async fn a_direct_call_without_a_session_fails_as_over_http() {
    let app = start(None).await;
    let parts = page_request(&app, None).await;
    let err = direct(&app, Some(parts), list_todos()).await.unwrap_err();
    assert_eq!(err.status().as_u16(), 401);
    assert_eq!(err.public_body(), r#"{"error":"unauthenticated"}"#);
    let parts = page_request(&app, None).await;
    let err = direct(&app, Some(parts), delete_todo(1)).await.unwrap_err();
    assert_eq!(err.status().as_u16(), 401);
}

#[tokio::test]
async fn a_direct_call_outside_a_request_fails_closed() {
    let app = start(None).await;
    let err = direct(&app, None, list_todos()).await.unwrap_err();
    assert_eq!(err.status().as_u16(), 500);
    assert_eq!(err.code(), "internal");
    // Parts of a request that never went through the app's router: no
    // server-function guards to run, so no call.
    let (bare, ()) = http::Request::get("/").body(()).unwrap().into_parts();
    let err = direct(&app, Some(bare), list_todos()).await.unwrap_err();
    assert_eq!(err.status().as_u16(), 500);
}

#[tokio::test]
async fn direct_calls_see_the_owner_scope_and_roles() {
    let app = start(None).await;
    let alice_cookie = app.user("alice@example.com").await;
    app.user("bob@example.com").await;
    app.user(ADMIN).await;
    let id = app.add(&alice_cookie, "alice's").await;
    let alice = Principal::new(user_id(&app, "alice@example.com").await);
    let bob = Principal::new(user_id(&app, "bob@example.com").await);
    let admin = Principal::new(user_id(&app, ADMIN).await).with_roles(["admin"]);

    let mine = direct(
        &app,
        Some(page_request(&app, Some(alice.clone())).await),
        list_todos(),
    )
    .await
    .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].title, "alice's");

    // Bob: another user's todo is the same 404 as a missing one.
    for target in [id, 999_999] {
        let err = direct(
            &app,
            Some(page_request(&app, Some(bob.clone())).await),
            delete_todo(target),
        )
        .await
        .unwrap_err();
        assert_eq!(err.public_body(), r#"{"error":"not_found"}"#, "{target}");
    }
    let err = direct(
        &app,
        Some(page_request(&app, Some(bob.clone())).await),
        all_todos(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status().as_u16(), 403);
    let all = direct(
        &app,
        Some(page_request(&app, Some(admin)).await),
        all_todos(),
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 1);

    // `validator` rules run on the direct path too.
    let changes = TodoChanges {
        title: String::new(),
    };
    let err = direct(
        &app,
        Some(page_request(&app, Some(alice.clone())).await),
        rename_todo(id, changes),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.public_body(),
        r#"{"error":"invalid_input","fields":{"changes.title":["length"]}}"#
    );

    // The owner's own direct delete goes through.
    direct(
        &app,
        Some(page_request(&app, Some(alice.clone())).await),
        delete_todo(id),
    )
    .await
    .unwrap();
    let mine = direct(
        &app,
        Some(page_request(&app, Some(alice)).await),
        list_todos(),
    )
    .await
    .unwrap();
    assert!(mine.is_empty());
}

#[tokio::test]
async fn direct_calls_spend_the_same_budget_as_http_calls() {
    // `delete_todo` allows 30/min per client and account: 30 direct calls
    // from 127.0.0.1 as bob, then the 31st over HTTP (same IP) is 429.
    let app = start(None).await;
    let bob_cookie = app.user("bob@example.com").await;
    let bob = Principal::new(user_id(&app, "bob@example.com").await);
    for call in 1..=30 {
        let err = direct(
            &app,
            Some(page_request(&app, Some(bob.clone())).await),
            delete_todo(999_999),
        )
        .await
        .unwrap_err();
        assert_eq!(err.status().as_u16(), 404, "call {call}");
    }
    let limited = direct(
        &app,
        Some(page_request(&app, Some(bob.clone())).await),
        delete_todo(999_999),
    )
    .await
    .unwrap_err();
    assert_eq!(limited.status().as_u16(), 429);
    assert!(limited.retry_after_secs().is_some());
    let over_http = app
        .form(
            common::paths::DELETE,
            Some(&bob_cookie),
            &[("todo", "999999")],
        )
        .await;
    assert_eq!(over_http.status, 429, "{over_http:?}");
}

#[tokio::test]
async fn direct_calls_follow_the_operators_rate_overrides() {
    // The operator lowers `delete_todo` from 30/min to 2/min: the third
    // direct call is refused, and the route shares that lowered budget.
    let key = format!("POST {}", common::paths::DELETE);
    let rate_limits: LimitsConfig =
        serde_json::from_value(serde_json::json!({ key: {"rate": "2/min"} })).unwrap();
    let app = common::start_with(Config {
        rate_limits,
        ..common::test_config()
    })
    .await;
    let bob_cookie = app.user("bob@example.com").await;
    let bob = Principal::new(user_id(&app, "bob@example.com").await);
    for call in 1..=2 {
        let err = direct(
            &app,
            Some(page_request(&app, Some(bob.clone())).await),
            delete_todo(999_999),
        )
        .await
        .unwrap_err();
        assert_eq!(err.status().as_u16(), 404, "call {call}");
    }
    let limited = direct(
        &app,
        Some(page_request(&app, Some(bob.clone())).await),
        delete_todo(999_999),
    )
    .await
    .unwrap_err();
    assert_eq!(limited.status().as_u16(), 429);
    let over_http = app
        .form(
            common::paths::DELETE,
            Some(&bob_cookie),
            &[("todo", "999999")],
        )
        .await;
    assert_eq!(over_http.status, 429, "{over_http:?}");
}

#[tokio::test]
async fn login_is_limited_per_email_across_clients() {
    // `login` allows 10/min per client and 10/min per e-mail. Signing bob up
    // logs him in over HTTP (one of his ten); nine wrong passwords from
    // nine addresses spend the rest, then a tenth address is refused for
    // bob's e-mail (in any case) but not for another e-mail.
    let app = start(None).await;
    app.user("bob@example.com").await;
    for client in 1..=9 {
        let err = direct(
            &app,
            Some(page_request_from(&app, None, &format!("10.0.0.{client}:4000")).await),
            login("bob@example.com".to_owned(), "wrong password!!".to_owned()),
        )
        .await
        .unwrap_err();
        assert_eq!(err.status().as_u16(), 401, "client {client}");
    }
    let limited = direct(
        &app,
        Some(page_request_from(&app, None, "10.0.1.1:4000").await),
        login(
            " BOB@example.com ".to_owned(),
            "wrong password!!".to_owned(),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(limited.status().as_u16(), 429);
    assert!(limited.retry_after_secs().is_some());
    let other = direct(
        &app,
        Some(page_request_from(&app, None, "10.0.1.2:4000").await),
        login(
            "carol@example.com".to_owned(),
            "wrong password!!".to_owned(),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(other.status().as_u16(), 401);
}
