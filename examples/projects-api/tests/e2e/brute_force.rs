//! Login brute force.

use std::sync::Arc;

use reqwest::Method;
use tokio::sync::mpsc;

use crate::common::{App, Reply, bounded, credentials, session_cookie};
use crate::support::{TOO_MANY_REQUESTS, UNAUTHENTICATED, assert_retry_after};

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
