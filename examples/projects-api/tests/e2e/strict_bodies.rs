//! Mass assignment and strict bodies.

use reqwest::Method;
use serde_json::json;

use crate::common::{App, bounded};
use crate::support::{INVALID_INPUT, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, fields};

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
