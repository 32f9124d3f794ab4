//! Link preview (SSRF).

use std::time::{Duration, Instant};

use crate::common::{App, ConnectionCounter, PageServer, bounded};
use crate::support::{UNAUTHENTICATED, URL_NOT_ALLOWED, preview_body};

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
