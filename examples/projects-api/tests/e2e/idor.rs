//! IDOR.

use reqwest::Method;

use crate::common::{App, User, bounded, tiny_png};
use crate::support::{NOT_FOUND, UNKNOWN_OBJECT_ID};

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
