//! Every guarded server function over real HTTP on 127.0.0.1: anonymous,
//! owner, other user and admin; CSRF; strict arguments; generic errors;
//! limits; the report.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::{ADMIN, PASSWORD, Running, paths, start, start_with, test_config};
use guard_leptos::{GuardedError, secure_server_fn};
use leptos::prelude::*;
use serde_json::json;

const UNAUTHENTICATED: &str = r#"{"error":"unauthenticated"}"#;
const NOT_FOUND: &str = r#"{"error":"not_found"}"#;
const FORBIDDEN: &str = r#"{"error":"forbidden"}"#;

/// A server function whose query fails in the database: its SQL and the
/// error's text must not reach the response.
#[secure_server_fn(auth)]
#[server]
pub async fn broken_report() -> Result<i64, GuardedError> {
    let db = todo_leptos::Db::from_context()?;
    Ok(
        sqlx::query_scalar("SELECT secret_column FROM todos WHERE owner_id = 'x'")
            .fetch_one(&db.0)
            .await?,
    )
}

async fn alice_and_bob() -> (Running, String, String) {
    let app = start(None).await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    (app, alice, bob)
}

#[tokio::test]
async fn anonymous_calls_of_every_auth_server_fn_are_401() {
    let app = start(None).await;
    for path in [
        paths::LIST,
        paths::ADD,
        paths::TOGGLE,
        paths::DELETE,
        paths::ALL,
        paths::LOGOUT,
    ] {
        let answer = app.form(path, None, &[]).await;
        assert_eq!(answer.status, 401, "{path}: {answer:?}");
        assert_eq!(answer.body, UNAUTHENTICATED, "{path}");
    }
    let rename = app
        .json(
            paths::RENAME,
            None,
            &json!({"todo": 1, "changes": {"title": "x"}}),
        )
        .await;
    assert_eq!(
        (rename.status, rename.body.as_str()),
        (401, UNAUTHENTICATED)
    );
    // A cookie that names no session is the same 401, not the store's text.
    let forged = app.form(paths::LIST, Some("sid=forged"), &[]).await;
    assert_eq!(
        (forged.status, forged.body.as_str()),
        (401, UNAUTHENTICATED)
    );
}

#[tokio::test]
async fn the_owner_lists_adds_toggles_renames_and_deletes() {
    let (app, alice, _) = alice_and_bob().await;
    let id = app.add(&alice, "buy milk").await;
    let list = app.form(paths::LIST, Some(&alice), &[]).await;
    assert_eq!(list.status, 200);
    assert_eq!(
        list.json(),
        json!([{"id": id, "title": "buy milk", "done": false}])
    );
    let toggled = app
        .form(paths::TOGGLE, Some(&alice), &[("todo", &id.to_string())])
        .await;
    assert_eq!(toggled.status, 200, "{toggled:?}");
    assert_eq!(toggled.json()["done"], true);
    let renamed = app
        .json(
            paths::RENAME,
            Some(&alice),
            &json!({"todo": id, "changes": {"title": "buy oat milk"}}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{renamed:?}");
    assert_eq!(renamed.json()["title"], "buy oat milk");
    let deleted = app
        .form(paths::DELETE, Some(&alice), &[("todo", &id.to_string())])
        .await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    let list = app.form(paths::LIST, Some(&alice), &[]).await;
    assert_eq!(list.json(), json!([]));
    // Authenticated answers are not cached.
    assert_eq!(list.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn another_users_todo_is_the_same_404_as_a_missing_one() {
    let (app, alice, bob) = alice_and_bob().await;
    let id = app.add(&alice, "alice's").await.to_string();
    for path in [paths::TOGGLE, paths::DELETE] {
        let theirs = app.form(path, Some(&bob), &[("todo", &id)]).await;
        let missing = app.form(path, Some(&bob), &[("todo", "999999")]).await;
        assert_eq!(
            (theirs.status, theirs.body.as_str()),
            (404, NOT_FOUND),
            "{path}"
        );
        assert_eq!(
            (missing.status, missing.body.as_str()),
            (404, NOT_FOUND),
            "{path}"
        );
    }
    let rename = app
        .json(
            paths::RENAME,
            Some(&bob),
            &json!({"todo": id.parse::<i64>().unwrap(), "changes": {"title": "mine now"}}),
        )
        .await;
    assert_eq!((rename.status, rename.body.as_str()), (404, NOT_FOUND));
    // Nothing of alice's changed, and bob's list does not show it.
    let list = app.form(paths::LIST, Some(&alice), &[]).await;
    assert_eq!(list.json()[0]["title"], "alice's");
    assert_eq!(
        app.form(paths::LIST, Some(&bob), &[]).await.json(),
        json!([])
    );
}

#[tokio::test]
async fn an_id_in_another_spelling_is_the_same_404_and_changes_nothing() {
    let (app, alice, _) = alice_and_bob().await;
    let id = app.add(&alice, "alice's").await;
    // `+1` and `01` decode to the same i64: a second name for one todo,
    // refused as a route's `Owned<T>` refuses the same path values.
    for alias in [format!("+{id}"), format!("0{id}"), format!("00{id}")] {
        for path in [paths::TOGGLE, paths::DELETE] {
            let answer = app.form(path, Some(&alice), &[("todo", &alias)]).await;
            assert_eq!(
                (answer.status, answer.body.as_str()),
                (404, NOT_FOUND),
                "{path} {alias}"
            );
        }
    }
    // Neither toggled nor deleted.
    assert_eq!(
        app.form(paths::LIST, Some(&alice), &[]).await.json(),
        json!([{"id": id, "title": "alice's", "done": false}])
    );
    // The id's own spelling still works.
    let toggled = app
        .form(paths::TOGGLE, Some(&alice), &[("todo", &id.to_string())])
        .await;
    assert_eq!(toggled.status, 200, "{toggled:?}");
}

#[tokio::test]
async fn admins_list_every_todo_and_others_are_403() {
    let (app, alice, _) = alice_and_bob().await;
    app.add(&alice, "one").await;
    let admin = app.user(ADMIN).await;
    let all = app.form(paths::ALL, Some(&admin), &[]).await;
    assert_eq!(all.status, 200, "{all:?}");
    assert_eq!(all.json().as_array().unwrap().len(), 1);
    let refused = app.form(paths::ALL, Some(&alice), &[]).await;
    assert_eq!((refused.status, refused.body.as_str()), (403, FORBIDDEN));
}

#[tokio::test]
async fn cross_site_form_posts_are_refused() {
    let (app, alice, _) = alice_and_bob().await;
    let id = app.add(&alice, "keep me").await.to_string();
    let body = format!("todo={id}");
    let form = "application/x-www-form-urlencoded";
    for headers in [
        &[("origin", "https://evil.example")][..],
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ][..],
        &[][..],
    ] {
        let answer = app
            .send(paths::DELETE, Some(&alice), form, body.clone(), headers)
            .await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (403, FORBIDDEN),
            "{headers:?}"
        );
    }
    // Same-origin by fetch metadata passes; the todo was still there.
    let same = app
        .send(
            paths::DELETE,
            Some(&alice),
            form,
            body,
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(same.status, 200, "{same:?}");
}

#[tokio::test]
async fn unknown_and_identity_arguments_are_refused_in_both_codecs() {
    let (app, alice, _) = alice_and_bob().await;
    let id = app.add(&alice, "x").await;
    let unknown = app
        .form(paths::ADD, Some(&alice), &[("title", "t"), ("debug", "1")])
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.body,
        r#"{"error":"invalid_input","fields":{"debug":["unknown_field"]}}"#
    );
    let identity = app
        .form(
            paths::ADD,
            Some(&alice),
            &[("title", "t"), ("owner_id", "2")],
        )
        .await;
    assert_eq!(identity.status, 400);
    assert_eq!(
        identity.body,
        r#"{"error":"invalid_input","fields":{"owner_id":["identity_field"]}}"#
    );
    let json_identity = app
        .json(
            paths::RENAME,
            Some(&alice),
            &json!({"todo": id, "changes": {"title": "t"}, "user_id": 2}),
        )
        .await;
    assert_eq!(json_identity.status, 400);
    assert_eq!(
        json_identity.body,
        r#"{"error":"invalid_input","fields":{"user_id":["identity_field"]}}"#
    );
    // Nested fields: the JSON document is decoded strictly into the
    // argument struct (`TodoChanges` does not deny unknown fields itself),
    // so an identity or unknown field inside `changes` is named by its path.
    let nested = app
        .json(
            paths::RENAME,
            Some(&alice),
            &json!({"todo": id, "changes": {"title": "t", "role": "admin", "debug": 1}}),
        )
        .await;
    assert_eq!(
        (nested.status, nested.body.as_str()),
        (
            400,
            r#"{"error":"invalid_input","fields":{"changes.debug":["unknown_field"],"changes.role":["identity_field"]}}"#
        )
    );
    // `validator` rules of the argument type.
    let empty = app
        .json(
            paths::RENAME,
            Some(&alice),
            &json!({"todo": id, "changes": {"title": ""}}),
        )
        .await;
    assert_eq!(empty.status, 400);
    assert_eq!(
        empty.body,
        r#"{"error":"invalid_input","fields":{"changes.title":["length"]}}"#
    );
    // None of the refused calls reached the body: the title is unchanged.
    let list = app.form(paths::LIST, Some(&alice), &[]).await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.json()[0]["title"], "x", "{list:?}");
    // A well-formed call of the same function passes.
    let fine = app
        .json(
            paths::RENAME,
            Some(&alice),
            &json!({"todo": id, "changes": {"title": "ok"}}),
        )
        .await;
    assert_eq!(fine.status, 200, "{fine:?}");
}

#[tokio::test]
async fn hostile_argument_names_are_neither_echoed_nor_listed_without_bound() {
    let (app, alice, _) = alice_and_bob().await;
    let mut pairs: Vec<(String, String)> = vec![
        ("title".into(), "t".into()),
        ("<script>alert(1)</script>".into(), "1".into()),
        ("x".repeat(200), "1".into()),
    ];
    pairs.extend((0..40).map(|i| (format!("k{i}"), "1".to_owned())));
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let refused = app.form(paths::ADD, Some(&alice), &pairs).await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(!refused.body.contains("script"), "{refused:?}");
    assert!(!refused.body.contains("xxxx"), "{refused:?}");
    let json = refused.json();
    assert_eq!(json["error"], "invalid_input");
    let fields = json["fields"].as_object().unwrap();
    assert_eq!(fields["?"], json!(["unknown_field"]), "{refused:?}");
    assert_eq!(fields.len(), guard_core::validate::MAX_LISTED_FIELDS);
    // Nothing was added behind the refusal.
    let list = app.form(paths::LIST, Some(&alice), &[]).await;
    assert_eq!(list.json(), json!([]), "{list:?}");
}

#[tokio::test]
async fn a_database_error_leaves_no_sql_in_the_body() {
    use server_fn::ServerFn as _;
    let (app, alice, _) = alice_and_bob().await;
    let answer = app.form(BrokenReport::PATH, Some(&alice), &[]).await;
    assert_eq!(answer.status, 500);
    let body = answer.json();
    assert_eq!(body["error"], "internal");
    assert!(
        body["error_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{body}"
    );
    for leak in ["SELECT", "secret_column", "no such column", "sqlx"] {
        assert!(!answer.body.contains(leak), "{leak} in {}", answer.body);
    }
    assert_eq!(answer.headers["content-type"], "application/json");
}

#[tokio::test]
async fn server_fn_routes_carry_the_routers_security_headers() {
    let (app, alice, _) = alice_and_bob().await;
    for answer in [
        app.form(paths::LIST, Some(&alice), &[]).await,
        app.form(paths::LIST, None, &[]).await,
    ] {
        assert_eq!(
            answer.headers["x-content-type-options"], "nosniff",
            "{answer:?}"
        );
        assert!(
            answer.headers.contains_key("content-security-policy"),
            "{answer:?}"
        );
    }
    // A body past the server function's limit (64 KiB by default) is 413.
    let big = "t".repeat(70 * 1024);
    let too_big = app.form(paths::ADD, Some(&alice), &[("title", &big)]).await;
    assert_eq!(too_big.status, 413, "{:?}", too_big.status);
}

#[tokio::test]
async fn login_is_limited_with_429_and_retry_after() {
    let app = start(None).await;
    let form = [
        ("email", "nobody@example.com"),
        ("password", "wrong password!"),
    ];
    for attempt in 1..=10 {
        let answer = app.form(paths::LOGIN, None, &form).await;
        assert_eq!(answer.status, 401, "attempt {attempt}: {answer:?}");
    }
    let limited = app.form(paths::LOGIN, None, &form).await;
    assert_eq!(limited.status, 429, "{limited:?}");
    assert_eq!(limited.body, r#"{"error":"too_many_requests"}"#);
    assert!(limited.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn the_report_lists_every_server_fn_as_a_server_fn_row() {
    let app = start(None).await;
    let report = app.built.app.report();
    let rows: Vec<_> = report
        .routes
        .iter()
        .filter(|r| r.kind == Some("server_fn"))
        .collect();
    for (path, handler) in [
        (paths::LIST, "list_todos"),
        (paths::DELETE, "delete_todo"),
        (paths::RENAME, "rename_todo"),
        (paths::LOGIN, "login"),
    ] {
        let row = rows
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("{path} not in {}", report.to_text()));
        assert_eq!(row.method, "POST");
        assert_eq!(row.handler, handler);
    }
    let delete = rows.iter().find(|r| r.path == paths::DELETE).unwrap();
    assert_eq!(delete.owner, ["todo"]);
    assert_eq!(delete.codec.as_deref(), Some("PostUrl"));
    assert_eq!(delete.csrf.as_deref(), Some("origin"));
    // Public server functions are checked too (login CSRF).
    for path in [paths::LOGIN, paths::SIGNUP] {
        let row = rows.iter().find(|r| r.path == path).unwrap();
        assert_eq!(row.access, "public", "{path}");
        assert_eq!(row.csrf.as_deref(), Some("origin"), "{path}");
    }
    let rename = rows.iter().find(|r| r.path == paths::RENAME).unwrap();
    assert_eq!(rename.codec.as_deref(), Some("Json"));
    // The page is a route, not a server function.
    let page = report.routes.iter().find(|r| r.path == "/").unwrap();
    assert_eq!(page.kind, None);
    let text = report.to_text();
    assert!(text.contains("server_fn (codec: PostUrl)"), "{text}");
    let json = serde_json::to_value(report).unwrap();
    assert!(
        json["routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "server_fn" && r["codec"] == "Json")
    );
    assert!(report.to_markdown().contains("server_fn (codec: Json)"));
}

#[tokio::test]
async fn the_page_renders_the_callers_todos_through_a_direct_call() {
    let (app, alice, bob) = alice_and_bob().await;
    app.add(&alice, "water the plants").await;
    let page = app.get("/", Some(&alice)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("water the plants"), "{}", page.body);
    let theirs = app.get("/", Some(&bob)).await;
    assert!(!theirs.body.contains("water the plants"));
    let anonymous = app.get("/", None).await;
    assert!(anonymous.body.contains("log in"), "{}", anonymous.body);
}

#[tokio::test]
async fn a_body_in_another_content_type_than_the_codecs_is_415_and_runs_nothing() {
    const UNSUPPORTED: &str = r#"{"error":"unsupported_media_type"}"#;
    let (app, alice, _) = alice_and_bob().await;
    let id = app.add(&alice, "keep").await;
    let origin = [("origin", app.origin.as_str())];
    // A form the strict check refuses (an identity and an unknown name),
    // labelled as something else: the codec would decode it all the same.
    let form = "title=smuggled&owner_id=2&debug=1";
    for content_type in [
        "text/plain",
        "",
        "application/octet-stream",
        "multipart/form-data; boundary=x",
        "application/json",
        "application/x-www-form-urlencodedx",
        "application/x-www-form-urlencoded; charset=utf-16",
        "application/x-www-form-urlencoded; charset=iso-8859-1",
    ] {
        let answer = app
            .send(paths::ADD, Some(&alice), content_type, form.into(), &origin)
            .await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (415, UNSUPPORTED),
            "add_todo as {content_type:?}"
        );
    }
    // The same for the JSON codec: nested and top-level identity fields.
    let document =
        json!({"todo": id, "changes": {"title": "smuggled", "role": "admin"}, "user_id": 2})
            .to_string();
    for content_type in [
        "text/plain",
        "",
        "application/x-www-form-urlencoded",
        "application/vnd.api+json",
        "application/json; charset=utf-16",
        "application/json; charset=\"ISO-8859-1\"",
    ] {
        let answer = app
            .send(
                paths::RENAME,
                Some(&alice),
                content_type,
                document.clone(),
                &origin,
            )
            .await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (415, UNSUPPORTED),
            "rename_todo as {content_type:?}"
        );
    }
    // Nothing was added or renamed behind the refusals.
    let list = app.form(paths::LIST, Some(&alice), &[]).await;
    assert_eq!(
        list.json(),
        json!([{"id": id, "title": "keep", "done": false}]),
        "{list:?}"
    );
    // The codec's own type passes in any case and with parameters.
    let fine = app
        .send(
            paths::ADD,
            Some(&alice),
            "Application/X-WWW-Form-URLEncoded; charset=UTF-8",
            "title=fine".into(),
            &origin,
        )
        .await;
    assert_eq!(fine.status, 200, "{fine:?}");
    let renamed = app
        .send(
            paths::RENAME,
            Some(&alice),
            "application/json; charset=utf-8",
            json!({"todo": id, "changes": {"title": "renamed"}}).to_string(),
            &origin,
        )
        .await;
    assert_eq!(renamed.status, 200, "{renamed:?}");
}

#[tokio::test]
async fn an_email_is_one_account_whatever_its_spaces_and_capitals() {
    let app = start(None).await;
    let credentials =
        |email: &'static str, password: &'static str| [("email", email), ("password", password)];
    // Signed up with stray spaces and capitals: the account logs in by
    // its plain address, as the login's per-e-mail limit folds it.
    let signup = app
        .form(
            paths::SIGNUP,
            None,
            &credentials(" Carol@Example.com ", common::PASSWORD),
        )
        .await;
    assert_eq!((signup.status, signup.body.as_str()), (200, "null"));
    let login = app
        .form(
            paths::LOGIN,
            None,
            &credentials("carol@example.com", common::PASSWORD),
        )
        .await;
    assert_eq!(login.status, 200, "{login:?}");
    // A look-alike with another password is not a second account: the
    // same answer as any sign-up, and its password opens nothing.
    let other = "another password entirely";
    let look_alike = app
        .form(
            paths::SIGNUP,
            None,
            &credentials("carol@example.com  ", other),
        )
        .await;
    assert_eq!((look_alike.status, look_alike.body.as_str()), (200, "null"));
    let refused = app
        .form(paths::LOGIN, None, &credentials("carol@example.com", other))
        .await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (401, UNAUTHENTICATED)
    );
    // Besides the admin account made at startup.
    let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM users WHERE is_admin = 0")
        .fetch_all(&app.built.db.0)
        .await
        .unwrap();
    assert_eq!(emails, ["carol@example.com"]);
}

#[tokio::test]
async fn a_form_value_that_decodes_to_invalid_utf8_is_400_and_adds_nothing() {
    let (app, alice, _) = alice_and_bob().await;
    let origin = [("origin", app.origin.as_str())];
    let form = "application/x-www-form-urlencoded";
    // Percent-encoded bytes that are not UTF-8: the codec would store them
    // as U+FFFD, silently, instead of the title that was sent.
    for body in [
        "title=%FF%FE",
        "title=caf%E9",
        "title=ok&%C3=1",
        "title=%F0%9F%98",
    ] {
        let answer = app
            .send(paths::ADD, Some(&alice), form, body.into(), &origin)
            .await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (400, r#"{"error":"invalid_input"}"#),
            "{body}"
        );
    }
    let list = app.form(paths::LIST, Some(&alice), &[]).await;
    assert_eq!(list.json(), json!([]), "{list:?}");
    // Percent-encoded UTF-8 and a `+` are the text they encode.
    let fine = app
        .send(
            paths::ADD,
            Some(&alice),
            form,
            "title=caf%C3%A9+%F0%9F%98%80".into(),
            &origin,
        )
        .await;
    assert_eq!(
        (fine.status, fine.json()["title"].as_str()),
        (200, Some("café 😀"))
    );
}

#[tokio::test]
async fn a_cross_site_login_form_is_403_and_starts_no_session() {
    let app = start(None).await;
    let _mallory = app.user("mallory@example.com").await;
    // Login CSRF: another site's page posts the attacker's credentials to
    // the login form, and the victim's browser is signed in as the attacker
    // (what the victim then writes lands in the attacker's account). The
    // form codec takes a plain HTML form; a `SameSite=Lax` cookie set by a
    // top-level navigation is kept.
    let form = "application/x-www-form-urlencoded";
    let body = format!(
        "email=mallory%40example.com&password={}",
        common::PASSWORD.replace(' ', "+")
    );
    for headers in [
        &[("origin", "https://evil.example")][..],
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ][..],
        &[("origin", "null")][..],
        &[("sec-fetch-site", "cross-site")][..],
    ] {
        let answer = app
            .send(paths::LOGIN, None, form, body.clone(), headers)
            .await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (403, FORBIDDEN),
            "{headers:?}"
        );
        assert!(
            answer.headers.get("set-cookie").is_none(),
            "{headers:?}: {answer:?}"
        );
    }
    // The app's own page, and a client that is no browser, still log in.
    let own = app
        .send(
            paths::LOGIN,
            None,
            form,
            body.clone(),
            &[("origin", &app.origin)],
        )
        .await;
    assert_eq!(own.status, 200, "{own:?}");
    assert!(own.headers.get("set-cookie").is_some(), "{own:?}");
    let script = app.send(paths::LOGIN, None, form, body, &[]).await;
    assert_eq!(script.status, 200, "{script:?}");
}

#[tokio::test]
async fn a_cross_site_sign_up_form_is_403_and_creates_no_account() {
    let app = start(None).await;
    // Another site's page signs the victim's browser up with the
    // attacker's address: the route's own check refuses it, as for login,
    // without any call in the function's body.
    let form = "application/x-www-form-urlencoded";
    let body = format!(
        "email=mallory%40example.com&password={}",
        common::PASSWORD.replace(' ', "+")
    );
    for headers in [
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ][..],
        &[("origin", "https://evil.example")][..],
        &[("sec-fetch-site", "cross-site")][..],
    ] {
        let answer = app
            .send(paths::SIGNUP, None, form, body.clone(), headers)
            .await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (403, FORBIDDEN),
            "{headers:?}"
        );
    }
    let accounts = || async {
        // Besides the admin account made at startup.
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE is_admin = 0")
            .fetch_one(&app.built.db.0)
            .await
            .unwrap()
    };
    assert_eq!(accounts().await, 0, "a forged sign-up created an account");
    // The app's own page signs up.
    let own = app
        .send(paths::SIGNUP, None, form, body, &[("origin", &app.origin)])
        .await;
    assert_eq!((own.status, own.body.as_str()), (200, "null"), "{own:?}");
    assert_eq!(accounts().await, 1);
}

#[tokio::test]
async fn signing_up_first_with_the_admins_email_gains_nothing() {
    // The account is made at startup, so an attacker who signs up with the
    // admin's address (in any case) gets the generic 200 and no account.
    let app = start(None).await;
    let attacker = app
        .sign_up_and_log_in(" ADMIN@Example.com ", "attacker's password")
        .await;
    assert_eq!(attacker, Err(format!("401 {UNAUTHENTICATED}")));
    // A plain user's sign-up is never an admin, and the admin is.
    let user = app
        .sign_up_and_log_in("mallory@example.com", "mallory's password")
        .await
        .unwrap();
    let refused = app.form(paths::ALL, Some(&user), &[]).await;
    assert_eq!((refused.status, refused.body.as_str()), (403, FORBIDDEN));
    let admin = app.user(ADMIN).await;
    assert_eq!(app.form(paths::ALL, Some(&admin), &[]).await.status, 200);
}

#[tokio::test]
async fn an_admin_dropped_from_the_list_loses_the_role_and_its_sessions_at_restart() {
    let dir = std::env::temp_dir().join(format!(
        "todo-leptos-admins-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("sqlite://{}?mode=rwc", dir.join("todo.db").display());
    let first = start_with(todo_leptos::Config {
        database: database.clone(),
        ..test_config()
    })
    .await;
    let old_session = first.user(ADMIN).await;
    assert_eq!(
        first.form(paths::ALL, Some(&old_session), &[]).await.status,
        200
    );
    drop(first);

    // Restarted with no admins: the old session is gone and a new login
    // is a plain user.
    let second = start_with(todo_leptos::Config {
        database,
        admin_emails: Vec::new(),
        ..test_config()
    })
    .await;
    let stale = second.form(paths::ALL, Some(&old_session), &[]).await;
    assert_eq!((stale.status, stale.body.as_str()), (401, UNAUTHENTICATED));
    let cookie = second.log_in(ADMIN, PASSWORD).await.unwrap();
    let refused = second.form(paths::ALL, Some(&cookie), &[]).await;
    assert_eq!((refused.status, refused.body.as_str()), (403, FORBIDDEN));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_malformed_email_is_no_account() {
    let app = start(None).await;
    for email in [
        "@",
        "a@",
        "<script>@x",
        "a\r\nb@example.com",
        "a\0@example.com",
        "a b@example.com",
    ] {
        let signup = app
            .form(
                paths::SIGNUP,
                None,
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(signup.status, 400, "{email:?}: {signup:?}");
    }
    let count: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(&app.built.db.0)
        .await
        .unwrap();
    // Only the admin made at startup.
    assert_eq!(count.0, 1);
}
