//! Accounts and sessions.

use reqwest::Method;

use crate::common::{App, Reply, bounded, multipart, session_cookie, tiny_png};
use crate::support::{Body, UNAUTHENTICATED, UNKNOWN_OBJECT_ID, fields, preview_body};

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
