//! What one account may take: a rate and a cap on projects, a storage
//! quota on uploads, a paged project list, and display text without
//! control or bidi characters. Every refusal is checked for its exact
//! body and for nothing kept behind it.

use crate::common::{App, bounded, tiny_png};
use crate::support::{TOO_MANY_REQUESTS, assert_retry_after, fields};

const QUOTA_EXCEEDED: &str = r#"{"error":"quota_exceeded"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_past_its_project_cap_is_403_and_gets_no_row() {
    bounded(async {
        let app = App::start_with(|config| config.max_projects = 2).await;
        let alice = app.user("alice@example.com").await;
        let bob = app.user("bob@example.com").await;
        let first = app.project(&alice, "one").await;
        let second = app.project(&alice, "two").await;
        let before = app.project_list(&alice).await;
        app.post_json("/api/projects", Some(&alice.cookie), r#"{"title":"three"}"#)
            .await
            .expect(403, QUOTA_EXCEEDED);
        assert_eq!(app.project_list(&alice).await, before);
        // The cap is per account.
        app.project(&bob, "bob's").await;
        // A deleted project frees its place.
        app.delete(&format!("/api/projects/{first}"), Some(&alice.cookie))
            .await
            .expect_status(204);
        let third = app.project(&alice, "three").await;
        assert!(third > second);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_projects_is_rate_limited_per_account() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let bob = app.user("bob@example.com").await;
        for n in 0..30 {
            app.project(&alice, &format!("p{n}")).await;
        }
        let before = app.project_list(&alice).await;
        let refused = app
            .post_json("/api/projects", Some(&alice.cookie), r#"{"title":"p30"}"#)
            .await;
        refused.expect(429, TOO_MANY_REQUESTS);
        assert_retry_after(&refused, 60);
        assert_eq!(app.project_list(&alice).await, before);
        // `rate` limits the account and the client IP alike: another
        // account from the same address waits too. Other routes do not.
        app.post_json("/api/projects", Some(&bob.cookie), r#"{"title":"b"}"#)
            .await
            .expect(429, TOO_MANY_REQUESTS);
        assert_eq!(app.project_list(&bob).await, "[]");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_past_the_storage_quota_is_403_and_is_not_kept() {
    bounded(async {
        let app = App::start_with(|config| config.storage_quota_mib = 1).await;
        let alice = app.user("alice@example.com").await;
        let bob = app.user("bob@example.com").await;
        let one = app.project(&alice, "one").await;
        let two = app.project(&alice, "two").await;
        // A PNG is sniffed by its signature: padding makes it 600 KiB.
        let mut big = tiny_png();
        big.resize(600 * 1024, 0);
        app.upload(&alice, one, "a.png", "image/png", &big)
            .await
            .expect_status(201);
        let kept = app.upload_dir_entries();
        assert_eq!(kept.len(), 2, "{kept:?}");
        // The quota counts every project of the account.
        app.upload(&alice, two, "b.png", "image/png", &big)
            .await
            .expect(403, QUOTA_EXCEEDED);
        let listed = app
            .get(&format!("/api/projects/{two}"), Some(&alice.cookie))
            .await;
        listed.expect_status(200);
        // The refused object was uncommitted: it is deleted as its request's
        // task drops it.
        assert_eq!(app.upload_dir_settled(&kept).await, kept);
        // A small file still fits, and another account has its own quota.
        app.upload(&alice, two, "c.png", "image/png", &tiny_png())
            .await
            .expect_status(201);
        let bobs = app.project(&bob, "bob's").await;
        app.upload(&bob, bobs, "d.png", "image/png", &big)
            .await
            .expect_status(201);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_list_is_paged_by_id() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let ids = [
            app.project(&alice, "a").await,
            app.project(&alice, "b").await,
            app.project(&alice, "c").await,
        ];
        let page = |query: &str| {
            let path = format!("/api/projects{query}");
            let cookie = alice.cookie.clone();
            let app = &app;
            async move { app.get(&path, Some(&cookie)).await }
        };
        let first = page("?limit=2").await;
        first.expect(
            200,
            &format!(
                r#"[{{"id":{},"title":"a","description":null}},{{"id":{},"title":"b","description":null}}]"#,
                ids[0], ids[1]
            ),
        );
        page(&format!("?after={}&limit=2", ids[1])).await.expect(
            200,
            &format!(r#"[{{"id":{},"title":"c","description":null}}]"#, ids[2]),
        );
        page(&format!("?after={}", ids[2])).await.expect(200, "[]");
        for (query, field) in [
            ("?limit=0", "limit"),
            ("?limit=101", "limit"),
            ("?after=-1", "after"),
        ] {
            page(query)
                .await
                .expect(400, &fields(&[(field, "range")]));
        }
        page("?offset=1")
            .await
            .expect(400, &fields(&[("offset", "unknown_field")]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn titles_with_control_or_bidi_characters_are_400_and_store_nothing() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let project = app.project(&alice, "plan").await;
        let before = app.project_list(&alice).await;
        for title in [
            "evil\u{202E}fdp.exe",
            "\u{1b}[31mred",
            "a\u{0}b",
            "two\nlines",
            "zero\u{200B}width",
        ] {
            let body = serde_json::json!({ "title": title }).to_string();
            app.post_json("/api/projects", Some(&alice.cookie), &body)
                .await
                .expect(400, &fields(&[("title", "text")]));
            app.json(
                reqwest::Method::PATCH,
                &format!("/api/projects/{project}"),
                Some(&alice.cookie),
                &body,
            )
            .await
            .expect(400, &fields(&[("title", "text")]));
        }
        let body = r#"{"title":"ok","description":"safe\rEVIL"}"#;
        app.post_json("/api/projects", Some(&alice.cookie), body)
            .await
            .expect(400, &fields(&[("description", "text")]));
        assert_eq!(app.project_list(&alice).await, before);
        // Lines and tabs are fine in a description.
        let body = r#"{"title":"Über 计划","description":"line one\nline two\tend\r\n"}"#;
        app.post_json("/api/projects", Some(&alice.cookie), body)
            .await
            .expect_status(201);
    })
    .await;
}
