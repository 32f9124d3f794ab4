#![allow(clippy::unwrap_used)]
//! End-to-end attack tests: the real service on a real loopback listener,
//! driven over HTTP with a real client. Every refusal is checked for its
//! exact status and body, and for what did *not* happen behind it (the
//! project list unchanged, nothing in the upload directory, no connection
//! reaching a local listener).
//!
//! Every answer any test sees is checked for the security headers by the
//! harness (`common::App::send`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    App, ConnectionCounter, PageServer, Reply, TempDir, User, assert_security_headers, bounded,
    credentials, multipart, session_cookie, tiny_png,
};
use reqwest::Method;
use serde_json::json;
use tokio::sync::mpsc;

const UNAUTHENTICATED: &str = r#"{"error":"unauthenticated"}"#;
const NOT_FOUND: &str = r#"{"error":"not_found"}"#;
const INVALID_INPUT: &str = r#"{"error":"invalid_input"}"#;
const PAYLOAD_TOO_LARGE: &str = r#"{"error":"payload_too_large"}"#;
const UNSUPPORTED_MEDIA_TYPE: &str = r#"{"error":"unsupported_media_type"}"#;
const TOO_MANY_REQUESTS: &str = r#"{"error":"too_many_requests"}"#;
const URL_NOT_ALLOWED: &str = r#"{"error":"url_not_allowed"}"#;

/// A request body: its content type and bytes.
type Body<'a> = (&'a str, Vec<u8>);

/// A syntactically valid object id (32 lowercase hex digits of a v4 UUID)
/// that no upload was given.
const UNKNOWN_OBJECT_ID: &str = "0f8fad5bd9cb469fa16570867728950e";

fn fields(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(field, code)| format!(r#""{field}":["{code}"]"#))
        .collect();
    format!(
        r#"{{"error":"invalid_input","fields":{{{}}}}}"#,
        inner.join(",")
    )
}

#[track_caller]
fn assert_retry_after(reply: &Reply, max_seconds: u64) {
    let seconds: u64 = reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", reply.headers))
        .parse()
        .unwrap();
    assert!(
        (1..=max_seconds).contains(&seconds),
        "Retry-After: {seconds}"
    );
}

fn preview_body(url: &str) -> String {
    json!({ "url": url }).to_string()
}

// ---------------------------------------------------------------------------
// Accounts and sessions
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_sign_up_and_log_in_with_an_httponly_lax_session_cookie() {
    bounded(async {
        let app = App::start().await;
        let password = "correct horse battery";
        app.signup("alice@example.com", password)
            .await
            .expect(201, r#"{"status":"created"}"#);
        let login = app.login("alice@example.com", password).await;
        login.expect(200, r#"{"id":1}"#);

        let set_cookie: Vec<&str> = login
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(set_cookie.len(), 1, "{set_cookie:?}");
        let attributes: Vec<String> = set_cookie[0]
            .split(';')
            .skip(1)
            .map(|a| a.trim().to_ascii_lowercase())
            .collect();
        assert!(set_cookie[0].starts_with("sid="), "{set_cookie:?}");
        assert!(
            attributes.contains(&"httponly".to_owned()),
            "{attributes:?}"
        );
        assert!(
            attributes.contains(&"samesite=lax".to_owned()),
            "{attributes:?}"
        );
        assert!(attributes.contains(&"path=/".to_owned()), "{attributes:?}");
        // The test configuration is `--insecure-cookies`: no `Secure`.
        assert!(!attributes.contains(&"secure".to_owned()), "{attributes:?}");
        let alice = session_cookie(&login);

        let bob = app.user("bob@example.com").await;
        assert_ne!(alice, bob.cookie);

        let me = app.get("/api/me", Some(&alice)).await;
        me.expect(200, r#"{"email":"alice@example.com","id":1}"#);
        // Authenticated answers are never cached.
        assert_eq!(me.header("cache-control"), Some("no-store"));
        app.get("/api/me", Some(&bob.cookie))
            .await
            .expect(200, r#"{"email":"bob@example.com","id":2}"#);

        // No cookie, a made-up cookie: the same 401.
        let none = app.get("/api/me", None).await;
        none.expect(401, UNAUTHENTICATED);
        let forged = app.get("/api/me", Some("sid=AAAAAAAAAAAAAAAAAAAAAA")).await;
        // The same but for the unknown cookie being cleared.
        assert_eq!(
            forged.fingerprint_without(&["set-cookie"]),
            none.fingerprint()
        );
        let cleared = forged.header("set-cookie").unwrap();
        assert!(
            cleared.starts_with("sid=;") && cleared.contains("Max-Age=0"),
            "{cleared}"
        );

        // Logout ends the session server-side: the old cookie is worthless.
        app.send(Method::POST, "/api/logout", Some(&alice), None, &[])
            .await
            .expect(204, "");
        app.get("/api/me", Some(&alice))
            .await
            .expect(401, UNAUTHENTICATED);
        // Bob's session is untouched.
        app.get("/api/me", Some(&bob.cookie))
            .await
            .expect_status(200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_of_an_existing_email_answers_like_a_new_one_and_changes_nothing() {
    bounded(async {
        let app = App::start().await;
        let original = "the original password";
        let new = app.signup("carol@example.com", original).await;
        new.expect(201, r#"{"status":"created"}"#);
        let again = app
            .signup("carol@example.com", "an attacker's password")
            .await;
        let case_variant = app
            .signup("CAROL@Example.com", "another attacker password")
            .await;
        // Byte for byte but the `RateLimit` header, whose remaining count
        // goes down by one per sign-up whatever the email.
        for reply in [&again, &case_variant] {
            assert_eq!(
                reply.fingerprint_without(&["ratelimit"]),
                new.fingerprint_without(&["ratelimit"])
            );
        }
        let remaining = |reply: &Reply| reply.header("ratelimit").unwrap().to_owned();
        assert!(
            remaining(&new).starts_with(r#""ip";r=9;"#),
            "{}",
            remaining(&new)
        );
        assert!(
            remaining(&again).starts_with(r#""ip";r=8;"#),
            "{}",
            remaining(&again)
        );

        // The existing account kept its password.
        app.login("carol@example.com", original)
            .await
            .expect(200, r#"{"id":1}"#);
        app.login("carol@example.com", "an attacker's password")
            .await
            .expect(401, UNAUTHENTICATED);
        app.login("carol@example.com", "another attacker password")
            .await
            .expect(401, UNAUTHENTICATED);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_an_unknown_email_and_with_a_wrong_password_answer_identically() {
    bounded(async {
        let app = App::start().await;
        let user = app.user("dave@example.com").await;
        let wrong_password = app.login(&user.email, "not the right password").await;
        let unknown_email = app
            .login("nobody@example.com", "not the right password")
            .await;
        wrong_password.expect(401, UNAUTHENTICATED);
        assert_eq!(unknown_email.fingerprint(), wrong_password.fingerprint());
        assert!(unknown_email.headers.get("set-cookie").is_none());
        assert!(wrong_password.headers.get("set-cookie").is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_bodies_are_validated_field_by_field() {
    bounded(async {
        let app = App::start().await;
        app.signup("not-an-email", "long enough password")
            .await
            .expect(400, &fields(&[("email", "email")]));
        app.signup("erin@example.com", "short")
            .await
            .expect(400, &fields(&[("password", "length")]));
        app.post_json(
            "/api/signup",
            None,
            r#"{"email":"erin@example.com","password":"long enough password","role":"admin"}"#,
        )
        .await
        .expect(400, &fields(&[("role", "identity_field")]));
        // None of those created the account.
        app.login("erin@example.com", "long enough password")
            .await
            .expect(401, UNAUTHENTICATED);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_authenticated_route_refuses_a_request_without_a_session() {
    bounded(async {
        let app = App::start().await;
        let owner = app.user("frank@example.com").await;
        let project = app.project(&owner, "frank's").await;
        let before = app.project_list(&owner).await;
        let json_body = Some(("application/json", br#"{"title":"x"}"#.to_vec()));
        let (form_type, form) = multipart("a.png", "image/png", &tiny_png());
        let requests: Vec<(Method, String, Option<Body<'_>>)> = vec![
            (Method::POST, "/api/logout".to_owned(), None),
            (Method::GET, "/api/me".to_owned(), None),
            (Method::GET, "/api/projects".to_owned(), None),
            (Method::POST, "/api/projects".to_owned(), json_body.clone()),
            (Method::GET, format!("/api/projects/{project}"), None),
            (
                Method::PATCH,
                format!("/api/projects/{project}"),
                json_body.clone(),
            ),
            (Method::DELETE, format!("/api/projects/{project}"), None),
            (
                Method::POST,
                format!("/api/projects/{project}/files"),
                Some((form_type.as_str(), form.clone())),
            ),
            (
                Method::GET,
                format!("/api/projects/{project}/files/{UNKNOWN_OBJECT_ID}"),
                None,
            ),
            (
                Method::POST,
                "/api/link-preview".to_owned(),
                Some((
                    "application/json",
                    preview_body("http://example.com/").into_bytes(),
                )),
            ),
        ];
        for (method, path, body) in requests {
            let reply = app.send(method.clone(), &path, None, body, &[]).await;
            assert_eq!(
                (reply.status, reply.text()),
                (401, UNAUTHENTICATED),
                "{method} {path}"
            );
        }
        assert_eq!(app.project_list(&owner).await, before);
        assert!(app.upload_dir_entries().is_empty());
    })
    .await;
}

// ---------------------------------------------------------------------------
// IDOR
// ---------------------------------------------------------------------------

/// Ids that name no project of the caller: ids of nobody's, and ids that
/// do not parse.
const MISSING_PROJECT_IDS: [&str; 6] = [
    "999999",
    "0",
    "-1",
    "abc",
    "1%20OR%201=1",
    "99999999999999999999999",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_of_another_user_are_404_byte_identical_to_nonexistent_ones() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let bob = app.user("bob@example.com").await;
        let theirs = app.project(&alice, "alice's plan").await;
        let mine = app.project(&bob, "bob's plan").await;
        let alice_view = app
            .get(&format!("/api/projects/{theirs}"), Some(&alice.cookie))
            .await;
        alice_view.expect(
            200,
            &format!(r#"{{"id":{theirs},"title":"alice's plan","description":null}}"#),
        );
        let alice_list = app.project_list(&alice).await;

        let patch = r#"{"title":"hijacked"}"#;
        let attempts: [(Method, Option<&str>); 3] = [
            (Method::GET, None),
            (Method::PATCH, Some(patch)),
            (Method::DELETE, None),
        ];
        for (method, body) in attempts {
            let send = |id: String| {
                let method = method.clone();
                let app = &app;
                let bob = &bob;
                async move {
                    let body = body.map(|b| ("application/json", b.as_bytes().to_vec()));
                    app.send(
                        method,
                        &format!("/api/projects/{id}"),
                        Some(&bob.cookie),
                        body,
                        &[],
                    )
                    .await
                }
            };
            let other_users = send(theirs.to_string()).await;
            other_users.expect(404, NOT_FOUND);
            for missing in MISSING_PROJECT_IDS {
                let reply = send(missing.to_owned()).await;
                assert_eq!(
                    reply.fingerprint(),
                    other_users.fingerprint(),
                    "{method} /api/projects/{missing} differs from another user's project"
                );
            }
            // Alice's project is exactly as it was.
            let reread = app
                .get(&format!("/api/projects/{theirs}"), Some(&alice.cookie))
                .await;
            assert_eq!(reread.fingerprint(), alice_view.fingerprint());
            assert_eq!(app.project_list(&alice).await, alice_list);
        }

        // The owner's own requests: 200, 200, 204.
        let path = format!("/api/projects/{mine}");
        app.get(&path, Some(&bob.cookie)).await.expect(
            200,
            &format!(r#"{{"id":{mine},"title":"bob's plan","description":null}}"#),
        );
        app.json(Method::PATCH, &path, Some(&bob.cookie), patch)
            .await
            .expect(
                200,
                &format!(r#"{{"id":{mine},"title":"hijacked","description":null}}"#),
            );
        app.delete(&path, Some(&bob.cookie)).await.expect(204, "");
        // Deleted is the same 404 as never-existed and another user's.
        let gone = app.get(&path, Some(&bob.cookie)).await;
        let others = app
            .get(&format!("/api/projects/{theirs}"), Some(&bob.cookie))
            .await;
        gone.expect(404, NOT_FOUND);
        assert_eq!(gone.fingerprint(), others.fingerprint());
        assert_eq!(app.project_list(&bob).await, "[]");
        assert_eq!(app.project_list(&alice).await, alice_list);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_another_user_are_404_byte_identical_to_nonexistent_ones() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let bob = app.user("bob@example.com").await;
        let alice_project = app.project(&alice, "alice's").await;
        let bob_project = app.project(&bob, "bob's").await;
        let png = tiny_png();
        let alice_file = app
            .upload(&alice, alice_project, "a.png", "image/png", &png)
            .await;
        alice_file.expect_status(201);
        let alice_file = alice_file.json()["id"].as_str().unwrap().to_owned();
        let bob_file = app
            .upload(&bob, bob_project, "b.png", "image/png", &png)
            .await;
        bob_file.expect_status(201);
        let bob_file = bob_file.json()["id"].as_str().unwrap().to_owned();

        let link = |user: &User, project: String, file: String| {
            let cookie = user.cookie.clone();
            let app = &app;
            async move {
                app.get(
                    &format!("/api/projects/{project}/files/{file}"),
                    Some(&cookie),
                )
                .await
            }
        };
        // Each owner gets their own link.
        let own = link(&alice, alice_project.to_string(), alice_file.clone()).await;
        own.expect_status(200);
        link(&bob, bob_project.to_string(), bob_file.clone())
            .await
            .expect_status(200);

        let refused = link(&bob, alice_project.to_string(), alice_file.clone()).await;
        refused.expect(404, NOT_FOUND);
        let cases = [
            // Bob's own project, Alice's file.
            (&bob, bob_project.to_string(), alice_file.clone()),
            // Alice's project, Bob's file: by Alice and by Bob.
            (&alice, alice_project.to_string(), bob_file.clone()),
            (&bob, alice_project.to_string(), bob_file.clone()),
            // Nonexistent file, nonexistent project, malformed ids.
            (&bob, bob_project.to_string(), UNKNOWN_OBJECT_ID.to_owned()),
            (&bob, "999999".to_owned(), bob_file.clone()),
            (&bob, bob_project.to_string(), "not-an-id".to_owned()),
            (&bob, bob_project.to_string(), bob_file.to_uppercase()),
            (&bob, "abc".to_owned(), bob_file.clone()),
        ];
        for (user, project, file) in cases {
            let reply = link(user, project.clone(), file.clone()).await;
            assert_eq!(
                reply.fingerprint(),
                refused.fingerprint(),
                "{} on /api/projects/{project}/files/{file}",
                user.email
            );
        }

        // Bob cannot upload into Alice's project either; nothing is stored.
        let entries = app.upload_dir_entries();
        app.upload(&bob, alice_project, "c.png", "image/png", &png)
            .await
            .expect(404, NOT_FOUND);
        assert_eq!(app.upload_dir_entries(), entries);

        // Alice's link still works, and serves her file.
        let url = own.json()["url"].as_str().unwrap().to_owned();
        let download = app.get(&url, None).await;
        download.expect_status(200);
        assert_eq!(download.body, png);
    })
    .await;
}

// ---------------------------------------------------------------------------
// Mass assignment and strict bodies
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_fields_in_create_and_patch_bodies_are_refused_and_change_nothing() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let bob = app.user("bob@example.com").await;
        let project = app.project(&alice, "alice's").await;
        let path = format!("/api/projects/{project}");
        let alice_list = app.project_list(&alice).await;
        let bob_list = app.project_list(&bob).await;
        let bob_id = bob.id;

        let cases = [
            ("owner_id", json!(bob_id)),
            ("user_id", json!(bob_id)),
            ("role", json!("admin")),
            ("ownerId", json!(bob_id)),
        ];
        for (field, value) in cases {
            let expected = fields(&[(field, "identity_field")]);
            let create = json!({ "title": "planted", field: value }).to_string();
            app.post_json("/api/projects", Some(&alice.cookie), &create)
                .await
                .expect(400, &expected);
            let patch = json!({ "title": "moved", field: value }).to_string();
            app.json(Method::PATCH, &path, Some(&alice.cookie), &patch)
                .await
                .expect(400, &expected);
        }
        // Several at once: every one listed.
        let create = json!({ "title": "planted", "owner_id": bob_id, "role": "admin" });
        app.post_json("/api/projects", Some(&alice.cookie), &create.to_string())
            .await
            .expect(
                400,
                &fields(&[("owner_id", "identity_field"), ("role", "identity_field")]),
            );

        assert_eq!(app.project_list(&alice).await, alice_list);
        assert_eq!(app.project_list(&bob).await, bob_list);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_refused_at_the_top_level_and_nested() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let project = app.project(&alice, "alice's").await;
        let path = format!("/api/projects/{project}");
        let list = app.project_list(&alice).await;

        let create_cases = [
            (
                r#"{"title":"t","colour":"red"}"#,
                fields(&[("colour", "unknown_field")]),
            ),
            (
                r#"{"title":"t","meta":{"x":1}}"#,
                fields(&[("meta", "unknown_field")]),
            ),
            (
                r#"{"title":"t","meta":{"owner_id":1}}"#,
                fields(&[
                    ("meta", "unknown_field"),
                    ("meta.owner_id", "identity_field"),
                ]),
            ),
            (
                r#"{"title":{"owner_id":1}}"#,
                fields(&[("title.owner_id", "identity_field")]),
            ),
            (
                r#"{"title":"t","tags":[{"role":"admin"}]}"#,
                fields(&[
                    ("tags", "unknown_field"),
                    ("tags[0].role", "identity_field"),
                ]),
            ),
        ];
        for (body, expected) in &create_cases {
            let reply = app
                .post_json("/api/projects", Some(&alice.cookie), body)
                .await;
            assert_eq!(
                (reply.status, reply.text()),
                (400, expected.as_str()),
                "{body}"
            );
        }
        app.json(
            Method::PATCH,
            &path,
            Some(&alice.cookie),
            r#"{"titel":"typo"}"#,
        )
        .await
        .expect(400, &fields(&[("titel", "unknown_field")]));
        assert_eq!(app.project_list(&alice).await, list);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_64_kib_are_413_and_exactly_64_kib_is_accepted() {
    bounded(async {
        const LIMIT: usize = 64 * 1024;
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let project = app.project(&alice, "alice's").await;
        let path = format!("/api/projects/{project}");

        // Valid JSON padded with whitespace to an exact length.
        let padded = |len: usize, title: &str| {
            let head = format!(r#"{{"title":"{title}""#);
            let mut body = head.clone();
            body.push_str(&" ".repeat(len - head.len() - 1));
            body.push('}');
            assert_eq!(body.len(), len);
            body
        };
        let before = app.project_list(&alice).await;
        let cookie = Some(alice.cookie.as_str());
        // One byte over, by declared length and streamed (chunked, no
        // length: cut off as it arrives); far over too.
        for (method, target, len, chunked) in [
            ("POST", "/api/projects", LIMIT + 1, false),
            ("POST", "/api/projects", LIMIT + 1, true),
            ("PATCH", path.as_str(), LIMIT + 1, false),
            ("PATCH", path.as_str(), LIMIT + 1, true),
            ("POST", "/api/projects", 4 * 1024 * 1024, false),
            ("POST", "/api/projects", 4 * 1024 * 1024, true),
        ] {
            let body = padded(len, "big");
            let reply = app
                .send_raw(
                    method,
                    target,
                    cookie,
                    "application/json",
                    body.as_bytes(),
                    chunked,
                )
                .await;
            assert_eq!(
                (reply.status, reply.text()),
                (413, PAYLOAD_TOO_LARGE),
                "{method} {target}: {len} bytes, chunked: {chunked}"
            );
        }
        assert_eq!(app.project_list(&alice).await, before);
        app.get(&path, cookie).await.expect(
            200,
            &format!(r#"{{"id":{project},"title":"alice's","description":null}}"#),
        );

        let created = app
            .post_json(
                "/api/projects",
                Some(&alice.cookie),
                &padded(LIMIT, "sized"),
            )
            .await;
        created.expect_status(201);
        assert_eq!(created.json()["title"], "sized");
        app.json(
            Method::PATCH,
            &path,
            Some(&alice.cookie),
            &padded(LIMIT, "edited"),
        )
        .await
        .expect(
            200,
            &format!(r#"{{"id":{project},"title":"edited","description":null}}"#),
        );
        let streamed = app
            .send_raw(
                "POST",
                "/api/projects",
                cookie,
                "application/json",
                padded(LIMIT, "streamed").as_bytes(),
                true,
            )
            .await;
        streamed.expect_status(201);
        assert_eq!(streamed.json()["title"], "streamed");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_types_are_415_and_malformed_json_is_a_bare_400() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let before = app.project_list(&alice).await;
        let body = br#"{"title":"t"}"#.to_vec();
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "",
        ] {
            let reply = app
                .send(
                    Method::POST,
                    "/api/projects",
                    Some(&alice.cookie),
                    Some((content_type, body.clone())),
                    &[],
                )
                .await;
            assert_eq!(
                (reply.status, reply.text()),
                (415, UNSUPPORTED_MEDIA_TYPE),
                "content type {content_type:?}"
            );
        }
        for malformed in [
            r#"{"title":"#,
            r#"{"title":"a"} trailing"#,
            r#"{"title":"a","title":"b"}"#,
            r#"{"title":{"x":1}}"#,
            r#"{"title":12}"#,
            r#"["title"]"#,
            "",
            "\u{feff}{\"title\":\"bom\"}",
        ] {
            let reply = app
                .post_json("/api/projects", Some(&alice.cookie), malformed)
                .await;
            assert_eq!(
                (reply.status, reply.text()),
                (400, INVALID_INPUT),
                "body {malformed:?}"
            );
        }
        // `application/*+json` is JSON.
        app.send(
            Method::POST,
            "/api/projects",
            Some(&alice.cookie),
            Some(("application/vnd.api+json; charset=utf-8", body.clone())),
            &[],
        )
        .await
        .expect_status(201);
        let after = app.project_list(&alice).await;
        assert_ne!(after, before);
        assert_eq!(after.matches("\"id\"").count(), 1, "{after}");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Login brute force
// ---------------------------------------------------------------------------

/// Sends every login at once and returns the answers as they arrive.
fn login_burst(
    app: &Arc<App>,
    logins: Vec<(String, String, Option<String>)>,
) -> mpsc::UnboundedReceiver<Reply> {
    let (tx, rx) = mpsc::unbounded_channel();
    for (email, password, forwarded) in logins {
        let app = Arc::clone(app);
        let tx = tx.clone();
        tokio::spawn(async move {
            let headers: Vec<(&str, &str)> = match &forwarded {
                Some(ip) => vec![
                    ("x-forwarded-for", ip.as_str()),
                    ("x-real-ip", ip.as_str()),
                    ("forwarded", "for=198.51.100.7"),
                ],
                None => Vec::new(),
            };
            let reply = app
                .send(
                    Method::POST,
                    "/api/login",
                    None,
                    Some((
                        "application/json",
                        credentials(&email, &password).into_bytes(),
                    )),
                    &headers,
                )
                .await;
            let _ = tx.send(reply);
        });
    }
    rx
}

/// Waits until `refusals` 429s have arrived (so every request of the burst
/// has been decided by the limiter, which answers before any password
/// work), then collects the rest. Returns (401s, 429s).
async fn settle(mut rx: mpsc::UnboundedReceiver<Reply>, total: usize) -> (Vec<Reply>, Vec<Reply>) {
    let mut rejected = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..total {
        let reply = rx.recv().await.expect("a login of the burst failed");
        match reply.status {
            401 => rejected.push(reply),
            429 => refused.push(reply),
            other => panic!("unexpected {other}: {}", reply.text()),
        }
    }
    (rejected, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_brute_force_on_one_email_is_429_but_another_email_still_logs_in() {
    bounded(async {
        let app = Arc::new(App::start().await);
        let password = "victim's real password";
        app.signup("victim@example.com", password)
            .await
            .expect_status(201);
        app.signup("other@example.com", password)
            .await
            .expect_status(201);

        // Eight wrong guesses at once, in three spellings of the email: one
        // budget of 5 per minute for the account however it is written.
        let spellings = [
            "victim@example.com",
            "VICTIM@example.com",
            "Victim@Example.COM",
        ];
        let guesses: Vec<(String, String, Option<String>)> = (0..8)
            .map(|i| {
                (
                    spellings[i % spellings.len()].to_owned(),
                    format!("wrong guess number {i}"),
                    None,
                )
            })
            .collect();
        let mut rx = login_burst(&app, guesses);
        // The three refusals come back first (no password work); once they
        // are in, all eight are decided.
        let mut early = Vec::new();
        while early.iter().filter(|r: &&Reply| r.status == 429).count() < 3 {
            early.push(rx.recv().await.expect("a login of the burst failed"));
        }
        // Locked: even the right password is refused now, from this client.
        let locked = app.login("victim@example.com", password).await;
        locked.expect(429, TOO_MANY_REQUESTS);
        assert_retry_after(&locked, 60);
        assert!(locked.headers.get("set-cookie").is_none());

        let (mut rejected, refused) = settle(rx, 8 - early.len()).await;
        rejected.extend(early.iter().filter(|r| r.status == 401).cloned());
        let refused: Vec<Reply> = refused
            .into_iter()
            .chain(early.into_iter().filter(|r| r.status == 429))
            .collect();
        assert_eq!((rejected.len(), refused.len()), (5, 3));
        for reply in &rejected {
            reply.expect(401, UNAUTHENTICATED);
        }
        for reply in &refused {
            reply.expect(429, TOO_MANY_REQUESTS);
            assert_retry_after(reply, 60);
        }

        // Another account from the same client is not locked out.
        let other = app.login("other@example.com", password).await;
        other.expect(200, r#"{"id":2}"#);
        let cookie = session_cookie(&other);
        app.get("/api/me", Some(&cookie))
            .await
            .expect(200, r#"{"email":"other@example.com","id":2}"#);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_rate_limit_per_ip_ignores_forged_forwarding_headers() {
    bounded(async {
        let app = Arc::new(App::start().await);
        let password = "a real user's password";
        app.signup("real@example.com", password)
            .await
            .expect_status(201);

        // 25 logins at once, each for a different email and each claiming a
        // different client address: the test config trusts no proxy, so all
        // count against 127.0.0.1 (20 per minute).
        let logins: Vec<(String, String, Option<String>)> = (0..25)
            .map(|i| {
                (
                    format!("user{i}@example.com"),
                    "some password or other".to_owned(),
                    Some(format!("203.0.113.{i}")),
                )
            })
            .collect();
        let mut rx = login_burst(&app, logins);
        let mut early = Vec::new();
        while early.iter().filter(|r: &&Reply| r.status == 429).count() < 5 {
            early.push(rx.recv().await.expect("a login of the burst failed"));
        }
        // Right credentials, yet another forged address: still this client.
        let real = app
            .send(
                Method::POST,
                "/api/login",
                None,
                Some((
                    "application/json",
                    credentials("real@example.com", password).into_bytes(),
                )),
                &[("x-forwarded-for", "192.0.2.99")],
            )
            .await;
        real.expect(429, TOO_MANY_REQUESTS);
        assert_retry_after(&real, 60);
        assert!(real.headers.get("set-cookie").is_none());

        let (mut rejected, mut refused) = settle(rx, 25 - early.len()).await;
        for reply in early {
            if reply.status == 429 {
                refused.push(reply);
            } else {
                rejected.push(reply);
            }
        }
        assert_eq!((rejected.len(), refused.len()), (20, 5));
        for reply in &rejected {
            reply.expect(401, UNAUTHENTICATED);
        }
        for reply in &refused {
            reply.expect(429, TOO_MANY_REQUESTS);
            assert_retry_after(reply, 60);
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// Link preview (SSRF)
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_preview_refuses_loopback_targets_without_connecting() {
    bounded(async {
        let witness = ConnectionCounter::start().await;
        witness.self_check().await;
        let port = witness.port;
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        // On the witness's port, and on port 80, which the policy allows:
        // refused by address, not by port.
        let urls = [
            format!("http://127.0.0.1:{port}/"),
            format!("http://localhost:{port}/"),
            format!("http://[::1]:{port}/"),
            format!("http://2130706433:{port}/"),
            "http://127.0.0.1/".to_owned(),
            "http://2130706433/".to_owned(),
            "http://0x7f.1/".to_owned(),
            "http://[::ffff:127.0.0.1]/".to_owned(),
            "http://localhost./".to_owned(),
        ];
        for url in &urls {
            let reply = app
                .post_json("/api/link-preview", Some(&alice.cookie), &preview_body(url))
                .await;
            assert_eq!(
                (reply.status, reply.text()),
                (400, URL_NOT_ALLOWED),
                "{url}"
            );
        }
        // Only the self-check's own connection.
        assert_eq!(witness.count().await, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_preview_refuses_private_and_metadata_targets_before_connecting() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let urls = [
            "http://10.0.0.1/",
            "http://192.168.1.1/",
            "http://172.16.0.1/",
            "http://100.64.0.1/",
            "http://[fd00::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/",
            "http://0.0.0.0/",
            "https://169.254.169.254/",
        ];
        for url in urls {
            let started = Instant::now();
            let reply = app
                .post_json("/api/link-preview", Some(&alice.cookie), &preview_body(url))
                .await;
            assert_eq!(
                (reply.status, reply.text()),
                (400, URL_NOT_ALLOWED),
                "{url}"
            );
            // Refused before any connect: these addresses are unroutable
            // here, so an attempt would have cost the 2 s connect timeout.
            assert!(
                started.elapsed() < Duration::from_millis(1500),
                "{url} took {:?}",
                started.elapsed()
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_preview_fetches_the_allowed_test_page_and_refuses_a_redirect_to_metadata() {
    bounded(async {
        let page = PageServer::start().await;
        let witness = ConnectionCounter::start().await;
        witness.self_check().await;
        let port = page.port;
        let app = App::start_with(|config| config.preview_test_port = Some(port)).await;
        let alice = app.user("alice@example.com").await;
        let preview = |url: String| {
            let app = &app;
            let cookie = alice.cookie.clone();
            async move {
                app.post_json("/api/link-preview", Some(&cookie), &preview_body(&url))
                    .await
            }
        };

        let url = format!("http://127.0.0.1:{port}/");
        preview(url.clone())
            .await
            .expect(200, &format!(r#"{{"title":"Hi","url":"{url}"}}"#));
        assert_eq!(page.hits(), 1);

        // A redirect hop to the metadata address, or to a loopback port the
        // policy does not allow, is checked like the first URL.
        for target in [
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "http://metadata.google.internal/".to_owned(),
            format!("http://127.0.0.1:{}/", witness.port),
        ] {
            preview(format!("http://127.0.0.1:{port}/redirect?to={target}"))
                .await
                .expect(400, URL_NOT_ALLOWED);
        }
        assert_eq!(page.hits(), 4);
        assert_eq!(witness.count().await, 1);

        // The test allowance is 127.0.0.1 on this port only.
        for url in [
            format!("http://localhost:{port}/"),
            format!("http://[::1]:{port}/"),
        ] {
            preview(url.clone()).await.expect(400, URL_NOT_ALLOWED);
        }
        assert_eq!(page.hits(), 4);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_preview_without_a_session_is_401_and_fetches_nothing() {
    bounded(async {
        let page = PageServer::start().await;
        let port = page.port;
        let app = App::start_with(|config| config.preview_test_port = Some(port)).await;
        let body = preview_body(&format!("http://127.0.0.1:{port}/"));
        app.post_json("/api/link-preview", None, &body)
            .await
            .expect(401, UNAUTHENTICATED);
        app.post_json("/api/link-preview", Some("sid=forged"), &body)
            .await
            .expect(401, UNAUTHENTICATED);
        assert_eq!(page.hits(), 0);
    })
    .await;
}

// ---------------------------------------------------------------------------
// Uploads and signed downloads
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_png_upload_downloads_by_its_signed_link_as_an_attachment() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let bob = app.user("bob@example.com").await;
        let project = app.project(&alice, "alice's").await;
        let png = tiny_png();

        // The client's name is display metadata only, stripped of any path.
        let uploaded = app
            .upload(
                &alice,
                project,
                "../../etc/holiday photo.png",
                "image/png",
                &png,
            )
            .await;
        uploaded.expect_status(201);
        let id = uploaded.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        uploaded.expect(
            201,
            &format!(
                r#"{{"id":"{id}","display_name":"holiday photo.png","kind":"png","size":{}}}"#,
                png.len()
            ),
        );
        // Stored under the server's id, nowhere else.
        assert_eq!(app.upload_dir_entries(), [id.clone(), format!("{id}.json")]);
        assert!(!app.dir().join("etc").exists());

        let link_path = format!("/api/projects/{project}/files/{id}");
        let link = app.get(&link_path, Some(&alice.cookie)).await;
        link.expect_status(200);
        let url = link.json()["url"].as_str().unwrap().to_owned();
        let expires_at = link.json()["expires_at"].as_u64().unwrap();
        assert_eq!(
            link.text(),
            format!(r#"{{"expires_at":{expires_at},"url":"{url}"}}"#)
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            (now + 290..=now + 310).contains(&expires_at),
            "{expires_at} vs {now}"
        );
        let token = url.strip_prefix("/files/").unwrap().to_owned();

        // The link works without a session, and serves the bytes as sniffed.
        let download = app.get(&url, None).await;
        download.expect_status(200);
        assert_eq!(download.body, png);
        assert_eq!(download.header("content-type"), Some("image/png"));
        assert_eq!(download.header("x-content-type-options"), Some("nosniff"));
        let disposition = download.header("content-disposition").unwrap();
        assert!(disposition.starts_with("attachment"), "{disposition}");
        assert!(disposition.contains("holiday photo.png"), "{disposition}");
        assert_eq!(download.header("cache-control"), Some("private, no-store"));

        // A tampered, truncated or extended token is the same 404 as a
        // token for nothing.
        let mut tampered = token.clone().into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let refused = app.get(&format!("/files/{tampered}"), None).await;
        refused.expect(404, NOT_FOUND);
        for bad in [
            token[..token.len() - 1].to_owned(),
            format!("{token}A"),
            "A".repeat(token.len()),
            "not-a-token".to_owned(),
        ] {
            let reply = app.get(&format!("/files/{bad}"), None).await;
            assert_eq!(reply.fingerprint(), refused.fingerprint(), "/files/{bad}");
        }

        // Bob cannot get a link to Alice's file.
        app.get(&link_path, Some(&bob.cookie))
            .await
            .expect(404, NOT_FOUND);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_with_spoofed_types_are_415_and_nothing_is_kept() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let project = app.project(&alice, "alice's").await;
        let mut png_then_script = tiny_png();
        png_then_script.extend_from_slice(b"<script>alert(document.cookie)</script>");
        let cases: [(&str, &str, Vec<u8>); 7] = [
            (
                "photo.png",
                "image/png",
                b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>".to_vec(),
            ),
            (
                "shell.php.png",
                "image/png",
                b"<?php system($_GET['c']); ?>".to_vec(),
            ),
            (
                "anim.gif",
                "image/gif",
                b"GIF89a\x01\x00\x01\x00\x00\x00\x00<script>alert(1)</script>".to_vec(),
            ),
            (
                "logo.svg",
                "image/svg+xml",
                br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#
                    .to_vec(),
            ),
            ("empty.png", "image/png", Vec::new()),
            ("polyglot.png", "image/png", png_then_script),
            (
                "script.pdf",
                "application/pdf",
                b"<script>alert(1)</script>%PDF-1.4".to_vec(),
            ),
        ];
        for (name, content_type, bytes) in cases {
            let reply = app
                .upload(&alice, project, name, content_type, &bytes)
                .await;
            assert_eq!(
                (reply.status, reply.text()),
                (415, UNSUPPORTED_MEDIA_TYPE),
                "{name}"
            );
            assert_eq!(app.upload_dir_entries(), Vec::<String>::new(), "{name}");
        }
        // A JSON body to the upload route is not an upload.
        app.post_json(
            &format!("/api/projects/{project}/files"),
            Some(&alice.cookie),
            r#"{"file":"iVBORw0KGgo="}"#,
        )
        .await
        .expect(415, UNSUPPORTED_MEDIA_TYPE);
        assert!(app.upload_dir_entries().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_5_mib_is_413_and_exactly_5_mib_is_accepted() {
    bounded(async {
        const CAP: usize = 5 * 1024 * 1024;
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let project = app.project(&alice, "alice's").await;
        let mut big = tiny_png();
        big.resize(CAP + 1, 0);
        let (form_type, form) = multipart("big.png", "image/png", &big);
        let target = format!("/api/projects/{project}/files");
        // With a length (under the multipart envelope, so the cap is
        // enforced while streaming) and chunked.
        for chunked in [false, true] {
            app.send_raw(
                "POST",
                &target,
                Some(&alice.cookie),
                &form_type,
                &form,
                chunked,
            )
            .await
            .expect(413, PAYLOAD_TOO_LARGE);
            assert!(app.upload_dir_entries().is_empty());
        }
        // Far over: refused by the declared length alone.
        let (_, huge) = multipart("huge.png", "image/png", &vec![0_u8; 3 * CAP]);
        app.send_raw(
            "POST",
            &target,
            Some(&alice.cookie),
            &form_type,
            &huge,
            false,
        )
        .await
        .expect(413, PAYLOAD_TOO_LARGE);
        assert!(app.upload_dir_entries().is_empty());

        big.truncate(CAP);
        let accepted = app
            .upload(&alice, project, "edge.png", "image/png", &big)
            .await;
        accepted.expect_status(201);
        assert_eq!(accepted.json()["size"], CAP);
        assert_eq!(app.upload_dir_entries().len(), 2);
    })
    .await;
}

/// Deleting a project must delete its stored objects, so that a link issued
/// before the delete stops working and no orphan stays on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_project_deletes_its_files_and_their_links() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let project = app.project(&alice, "alice's").await;
        let uploaded = app
            .upload(&alice, project, "a.png", "image/png", &tiny_png())
            .await;
        uploaded.expect_status(201);
        let id = uploaded.json()["id"].as_str().unwrap().to_owned();
        let link = app
            .get(
                &format!("/api/projects/{project}/files/{id}"),
                Some(&alice.cookie),
            )
            .await;
        let url = link.json()["url"].as_str().unwrap().to_owned();
        app.get(&url, None).await.expect_status(200);

        app.delete(&format!("/api/projects/{project}"), Some(&alice.cookie))
            .await
            .expect(204, "");
        app.get(&url, None).await.expect(404, NOT_FOUND);
        assert!(
            app.upload_dir_entries().is_empty(),
            "{:?}",
            app.upload_dir_entries()
        );
    })
    .await;
}

// ---------------------------------------------------------------------------
// Security headers, the report
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_are_on_every_status() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let cookie = Some(alice.cookie.as_str());
        let mut seen = Vec::new();
        let mut check = |reply: Reply, status: u16| {
            assert_eq!(reply.status, status, "{}", reply.text());
            assert_security_headers(&reply);
            seen.push(status);
        };
        check(app.get("/healthz", None).await, 200);
        check(app.post_json("/api/projects", cookie, "{").await, 400);
        check(app.get("/api/me", None).await, 401);
        check(app.get("/nowhere", None).await, 404);
        check(app.get("/api/projects/12345", cookie).await, 404);
        check(
            app.send(Method::PUT, "/api/projects", cookie, None, &[])
                .await,
            405,
        );
        let big = format!(r#"{{"title":"{}"}}"#, "x".repeat(70_000));
        check(
            app.send_raw(
                "POST",
                "/api/projects",
                cookie,
                "application/json",
                big.as_bytes(),
                false,
            )
            .await,
            413,
        );
        check(
            app.send(
                Method::POST,
                "/api/projects",
                cookie,
                Some(("text/plain", b"{}".to_vec())),
                &[],
            )
            .await,
            415,
        );
        // The preview route allows 10 a minute: the 11th is 429.
        let body = preview_body("http://10.0.0.1/");
        for _ in 0..10 {
            check(app.post_json("/api/link-preview", cookie, &body).await, 400);
        }
        let limited = app.post_json("/api/link-preview", cookie, &body).await;
        assert_eq!(limited.text(), TOO_MANY_REQUESTS);
        assert_retry_after(&limited, 60);
        check(limited, 429);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, [200, 400, 401, 404, 405, 413, 415, 429]);
    })
    .await;
}

/// The report's rows as cells (columns are separated by two or more spaces).
fn report_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .take_while(|line| !line.is_empty())
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_report_lists_every_route_with_its_guards() {
    bounded(async {
        let dir = TempDir::new("report");
        let service = projects_api::build(&projects_api::Config::for_tests(dir.path()))
            .await
            .unwrap();
        let text = service.report.to_text();
        let rows = report_rows(&text);
        assert_eq!(rows[0], ["METHOD", "PATH", "ACCESS", "GUARDS", "HANDLER"]);
        let mut routes: Vec<(String, String)> = rows[1..]
            .iter()
            .map(|row| (row[0].clone(), row[1].clone()))
            .collect();
        routes.sort();
        let mut expected: Vec<(String, String)> = [
            ("GET", "/healthz"),
            ("POST", "/api/signup"),
            ("POST", "/api/login"),
            ("POST", "/api/logout"),
            ("GET", "/api/me"),
            ("GET", "/api/projects"),
            ("POST", "/api/projects"),
            ("GET", "/api/projects/{project}"),
            ("PATCH", "/api/projects/{project}"),
            ("DELETE", "/api/projects/{project}"),
            ("POST", "/api/projects/{project}/files"),
            ("GET", "/api/projects/{project}/files/{file}"),
            ("GET", "/files/{token}"),
            ("POST", "/api/link-preview"),
        ]
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
        expected.sort();
        assert_eq!(routes, expected, "{text}");

        let row = |method: &str, path: &str| -> Vec<String> {
            rows.iter()
                .find(|r| r[0] == method && r[1] == path)
                .cloned()
                .unwrap()
        };
        assert_eq!(
            row("POST", "/api/login"),
            [
                "POST",
                "/api/login",
                "public: login",
                "body: Credentials; body limit: 65536 B; rate_ip: 20/min; rate_identifier: 5/min; rate_route: 600/min, burst = 60 (override)",
                "login"
            ]
        );
        assert_eq!(
            row("PATCH", "/api/projects/{project}"),
            [
                "PATCH",
                "/api/projects/{project}",
                "auth",
                "owner: project; body: ProjectChanges; body limit: 65536 B; csrf: origin checked",
                "update"
            ]
        );
        assert_eq!(
            row("GET", "/api/projects/{project}/files/{file}"),
            [
                "GET",
                "/api/projects/{project}/files/{file}",
                "auth",
                "owner: project, file",
                "link"
            ]
        );
        assert_eq!(
            row("POST", "/api/projects/{project}/files"),
            [
                "POST",
                "/api/projects/{project}/files",
                "auth",
                "owner: project; body limit: 5242880 B; rate_ip: 30/min; rate_account: 30/min; upload: 5242880 B of png, jpeg, pdf; csrf: origin checked",
                "upload"
            ]
        );
        assert_eq!(
            row("POST", "/api/link-preview"),
            [
                "POST",
                "/api/link-preview",
                "auth",
                "body: PreviewRequest; body limit: 65536 B; rate_ip: 10/min; rate_account: 10/min; quota: 200/day [fixed window: up to 400 (2×) in any 24 h span across a window boundary]; fetches user URLs; csrf: origin checked",
                "link_preview"
            ]
        );
        assert_eq!(
            row("GET", "/files/{token}")[2],
            "public: download by signed, expiring URL"
        );
        assert!(
            text.contains("\nauthenticator: session cookie (tower-sessions)\n"),
            "{text}"
        );

        // The GET rows of cookie routes are not checked (safe methods).
        assert!(!row("GET", "/api/projects/{project}/files/{file}")[3].contains("csrf"));
        assert!(row("POST", "/api/logout")[3].contains("csrf: origin checked"));

        // `projects-api --print-routes` prints the same report and exits.
        let bin_dir = TempDir::new("print-routes");
        let (uploads, secret) = (bin_dir.path().join("uploads"), bin_dir.path().join("secret"));
        let output = tokio::task::spawn_blocking(move || {
            run_bounded(
                std::process::Command::new(env!("CARGO_BIN_EXE_projects-api"))
                    .arg("--print-routes")
                    .args(["--database", "sqlite::memory:"])
                    .arg("--upload-dir")
                    .arg(uploads)
                    .arg("--secret-file")
                    .arg(secret)
                    .env("RUST_LOG", "off")
                    .env_remove("PROJECTS_API_SIGNING_SECRET")
                    .env_remove("PROJECTS_API_ADDR")
                    .env_remove("PROJECTS_API_REDIS"),
            )
        })
        .await
        .unwrap();
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(stdout.trim_end(), text.trim_end());
    })
    .await;
}

/// Runs a command to completion within 60 s (killed past that).
fn run_bounded(command: &mut std::process::Command) -> std::process::Output {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the binary did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

// ---------------------------------------------------------------------------
// Cross-site request forgery
// ---------------------------------------------------------------------------

const FORBIDDEN: &str = r#"{"error":"forbidden"}"#;

/// A page on another site makes the victim's browser send the service's
/// state-changing requests with the victim's session cookie: a body-less
/// logout, a multipart upload and a JSON delete. Every one is 403 with the
/// generic body, and nothing happened behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_with_the_session_cookie_are_refused_and_change_nothing() {
    let app = App::start().await;
    let alice = app.user("csrf-alice@example.com").await;
    let project = app.project(&alice, "keep me").await;
    let list = app.project_list(&alice).await;
    let (upload_type, upload_body) = multipart("a.png", "image/png", &tiny_png());
    let attacks: [(Method, String, Option<Body<'_>>); 4] = [
        (Method::POST, "/api/logout".to_owned(), None),
        (
            Method::POST,
            format!("/api/projects/{project}/files"),
            Some((upload_type.as_str(), upload_body.clone())),
        ),
        (Method::DELETE, format!("/api/projects/{project}"), None),
        (
            Method::PATCH,
            format!("/api/projects/{project}"),
            Some(("application/json", br#"{"title":"pwned"}"#.to_vec())),
        ),
    ];
    for origin in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        // A non-browser client with a stolen-by-reference cookie but no
        // Origin is refused too: browsers always send one on these.
        vec![("sec-fetch-site", "cross-site")],
    ] {
        for (method, path, body) in &attacks {
            app.send(
                method.clone(),
                path,
                Some(&alice.cookie),
                body.clone(),
                &origin,
            )
            .await
            .expect(403, FORBIDDEN);
        }
    }
    // Nothing changed: the session still works, the project is unchanged,
    // no file was stored.
    assert_eq!(app.project_list(&alice).await, list);
    assert!(
        app.upload_dir_entries().is_empty(),
        "{:?}",
        app.upload_dir_entries()
    );

    // The same requests from the service's own page go through.
    app.send(
        Method::DELETE,
        &format!("/api/projects/{project}"),
        Some(&alice.cookie),
        None,
        &[("sec-fetch-site", "same-origin")],
    )
    .await
    .expect_status(204);
    app.send(Method::POST, "/api/logout", Some(&alice.cookie), None, &[])
        .await
        .expect_status(204);
    app.get("/api/me", Some(&alice.cookie))
        .await
        .expect(401, UNAUTHENTICATED);
}
