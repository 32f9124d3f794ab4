//! The framework's report-driven attack suite over the example's whole
//! router: for every route it sends what an attacker would, from the
//! route's declared guards, and names any route that lets one through.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod common;

use common::{App, bounded, tiny_png};
use guard_axum::testing::AttackSuite;

#[tokio::test]
async fn no_route_of_the_example_lets_an_attack_through() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let bob = app.user("bob@example.com").await;
        let alice_project = app.project(&alice, "alice's").await;
        let bob_project = app.project(&bob, "bob's").await;
        let file_of = |reply: &common::Reply| reply.json()["id"].as_str().unwrap().to_owned();
        let alice_file = file_of(
            app.upload(&alice, alice_project, "a.png", "image/png", &tiny_png())
                .await
                .expect_status(201),
        );
        let bob_file = file_of(
            app.upload(&bob, bob_project, "b.png", "image/png", &tiny_png())
                .await
                .expect_status(201),
        );

        let (alice_cookie, bob_cookie) = (alice.cookie.clone(), bob.cookie.clone());
        let failures = AttackSuite::new(app.router.clone())
            .user_a(move |request| request.header("cookie", alice_cookie.as_str()))
            .user_b(move |request| request.header("cookie", bob_cookie.as_str()))
            .resource(
                "project",
                alice_project.to_string(),
                bob_project.to_string(),
            )
            .resource("file", alice_file, bob_file)
            .run()
            .await;
        assert!(failures.is_empty(), "{failures:#?}");

        // Nothing the attacks sent changed bob's project.
        assert_eq!(
            app.get(&format!("/api/projects/{bob_project}"), Some(&bob.cookie))
                .await
                .expect_status(200)
                .json()["title"],
            "bob's"
        );
    })
    .await;
}
