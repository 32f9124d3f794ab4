//! Cross-site request forgery.

use reqwest::Method;

use crate::common::{App, multipart, tiny_png};
use crate::support::{Body, UNAUTHENTICATED};

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

/// Login CSRF: another site's page posts the attacker's credentials to the
/// public sign-up and login routes, so that the victim's browser is signed
/// in to the attacker's account (what the victim then uploads lands
/// there). Both are 403 with the generic body before the handler runs: no
/// account is created and no session cookie is set. The service's own page
/// and a client that is no browser (neither `Origin` nor `Sec-Fetch-Site`)
/// still sign up and log in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_sign_up_and_login_are_refused_and_start_nothing() {
    let app = App::start().await;
    let credentials = |email: &str| {
        Some((
            "application/json",
            format!(r#"{{"email":"{email}","password":"the attacker's long password"}}"#)
                .into_bytes(),
        ))
    };
    let cross_site = [
        vec![
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        // No Origin, but a Referer from another site.
        vec![("referer", "https://evil.example/login.html")],
    ];
    for headers in &cross_site {
        for path in ["/api/signup", "/api/login"] {
            let reply = app
                .send(
                    Method::POST,
                    path,
                    None,
                    credentials("mallory@example.com"),
                    headers,
                )
                .await;
            reply.expect(403, FORBIDDEN);
            assert_eq!(reply.header("set-cookie"), None, "{path} {headers:?}");
        }
    }
    // No account was created: the credentials open nothing.
    app.send(
        Method::POST,
        "/api/login",
        None,
        credentials("mallory@example.com"),
        &[("sec-fetch-site", "same-origin")],
    )
    .await
    .expect(401, UNAUTHENTICATED);

    // From the service's own page (`send` adds its Origin), and from a
    // script that sends neither header, sign-up and login work.
    app.send(
        Method::POST,
        "/api/signup",
        None,
        credentials("carol@example.com"),
        &[],
    )
    .await
    .expect(201, r#"{"status":"created"}"#);
    let script = app
        .send_raw(
            "POST",
            "/api/login",
            None,
            "application/json",
            br#"{"email":"carol@example.com","password":"the attacker's long password"}"#,
            false,
        )
        .await;
    script.expect_status(200);
    assert!(
        script
            .header("set-cookie")
            .is_some_and(|cookie| cookie.starts_with("sid=")),
        "{:?}",
        script.header("set-cookie")
    );
}
