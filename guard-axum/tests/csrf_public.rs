//! Login CSRF against a public route under a cookie authenticator, attacked
//! over real TCP: a page on another site posts the attacker's credentials
//! to the login form, and the victim's browser would be signed in to the
//! attacker's account (what the victim then saves lands there). The check
//! runs on public routes by itself; no handler calls anything for it.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/tcp.rs"]
mod tcp_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use guard_axum::auth::SessionAuth;
use guard_axum::routing::{get, post};
use guard_axum::{GuardError, GuardedApp, GuardedRouter, Principal, secure_route};
use tcp_support::send_raw;
use tokio::net::TcpListener;
use tower_sessions::{MemoryStore, SessionManagerLayer};

/// Logins the handler ran: a refused request must leave it unchanged.
static LOGINS: AtomicUsize = AtomicUsize::new(0);
static HOOKS: AtomicUsize = AtomicUsize::new(0);
/// Held by the tests that count, which run in parallel.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const FORBIDDEN: &str = r#"{"error":"forbidden"}"#;
/// The most any one test may take.
const BOUND: Duration = Duration::from_secs(20);

#[secure_route(public = "the login form")]
async fn login(session: tower_sessions::Session) -> Result<&'static str, GuardError> {
    LOGINS.fetch_add(1, Ordering::SeqCst);
    guard_axum::auth::login(&session, &Principal::new("mallory")).await?;
    Ok("signed in")
}

#[secure_route(public = "the login page")]
async fn login_page() -> &'static str {
    "<form method=post>"
}

#[secure_route(public = "webhook", csrf = "none: webhook")]
async fn hook() -> &'static str {
    HOOKS.fetch_add(1, Ordering::SeqCst);
    "received"
}

#[secure_route(auth)]
async fn me(user: Principal) -> String {
    user.id().to_owned()
}

fn app() -> GuardedApp {
    GuardedRouter::new()
        .route("/login", get(login_page).post(login))
        .route("/hooks/payment", post(hook))
        .route("/me", get(me))
        .authenticator(SessionAuth::new())
        .layer(SessionManagerLayer::new(MemoryStore::default()))
        .build()
        .unwrap()
}

/// Serves `app()` on a fresh port of 127.0.0.1.
async fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app().serve(listener).into_future());
    addr
}

/// An answer as the client reads it off the socket.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    /// Whether the answer hands the browser a session: a `Set-Cookie` with
    /// a value (the session layer clearing an unknown cookie, `id=;
    /// Max-Age=0`, starts none).
    fn starts_session(&self) -> bool {
        self.head.lines().any(|line| {
            let Some((name, value)) = line.split_once(':') else {
                return false;
            };
            name.eq_ignore_ascii_case("set-cookie")
                && value
                    .split(';')
                    .next()
                    .and_then(|pair| pair.split_once('='))
                    .is_some_and(|(_, value)| !value.trim().is_empty())
        })
    }
}

/// One request on its own connection, `Host` the address served, with the
/// headers a browser (or another client) adds; a POST carries the
/// attacker's login form as a plain HTML form would.
async fn send(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        let form = "email=mallory%40evil.example&password=correct+horse+battery";
        request.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ));
    } else {
        request.push_str("\r\n");
    }
    let raw = tokio::time::timeout(BOUND, send_raw(addr, &request))
        .await
        .expect("no answer within the bound");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

const EVIL: (&str, &str) = ("Origin", "https://evil.example");
const CROSS_SITE: (&str, &str) = ("Sec-Fetch-Site", "cross-site");

#[tokio::test]
async fn a_cross_site_login_post_is_403_and_runs_no_handler() {
    let _serial = SERIAL.lock().await;
    let addr = start().await;
    let own = format!("http://{addr}");
    let port = addr.port() + 1;
    let other_port = format!("http://127.0.0.1:{port}");
    let before = LOGINS.load(Ordering::SeqCst);
    for headers in [
        // What a browser sends for another site's auto-submitted form.
        vec![EVIL, CROSS_SITE],
        vec![EVIL],
        // A sandboxed frame or a redirect: an opaque origin.
        vec![("Origin", "null"), CROSS_SITE],
        // Fetch metadata saying cross-site, with no Origin to vouch.
        vec![CROSS_SITE],
        // Another port of the same host is another origin.
        vec![
            ("Origin", other_port.as_str()),
            ("Sec-Fetch-Site", "same-site"),
        ],
        // Two Origins, one of them ours.
        vec![("Origin", own.as_str()), EVIL],
        // The victim is already signed in: the attacker's login would
        // replace the victim's session.
        vec![EVIL, CROSS_SITE, ("Cookie", "id=the-victims-session")],
    ] {
        let answer = send(addr, "POST", "/login", &headers).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (403, FORBIDDEN),
            "{headers:?}: {answer:?}"
        );
        assert!(!answer.starts_session(), "{headers:?}: {answer:?}");
    }
    assert_eq!(
        LOGINS.load(Ordering::SeqCst),
        before,
        "a forged login reached the handler"
    );
}

#[tokio::test]
async fn the_own_page_and_clients_with_no_browser_headers_log_in() {
    let _serial = SERIAL.lock().await;
    let addr = start().await;
    let own = format!("http://{addr}");
    for headers in [
        vec![("Origin", own.as_str()), ("Sec-Fetch-Site", "same-origin")],
        vec![("Origin", own.as_str())],
        vec![("Sec-Fetch-Site", "same-origin")],
        // curl, a server-side client: neither header, no browser to borrow.
        vec![],
    ] {
        let before = LOGINS.load(Ordering::SeqCst);
        let answer = send(addr, "POST", "/login", &headers).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "signed in"),
            "{headers:?}: {answer:?}"
        );
        assert!(answer.starts_session(), "{headers:?}: {answer:?}");
        assert_eq!(LOGINS.load(Ordering::SeqCst), before + 1, "{headers:?}");
    }
}

#[tokio::test]
async fn safe_methods_and_an_opted_out_public_route_are_not_checked() {
    let _serial = SERIAL.lock().await;
    let addr = start().await;
    // A link to the login page from another site is an ordinary navigation.
    for method in ["GET", "HEAD"] {
        let answer = send(addr, method, "/login", &[EVIL, CROSS_SITE]).await;
        assert_eq!(answer.status, 200, "{method}: {answer:?}");
    }
    let before = HOOKS.load(Ordering::SeqCst);
    let answer = send(addr, "POST", "/hooks/payment", &[EVIL, CROSS_SITE]).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "received"),
        "{answer:?}"
    );
    assert_eq!(HOOKS.load(Ordering::SeqCst), before + 1);
}

#[test]
fn the_report_says_which_public_rows_are_checked() {
    let app = app();
    let report = app.report();
    let csrf = |method: &str, path: &str| report.route(method, path).unwrap().csrf.clone();
    assert_eq!(csrf("POST", "/login").as_deref(), Some("origin"));
    assert_eq!(csrf("GET", "/login"), None);
    assert_eq!(
        csrf("POST", "/hooks/payment").as_deref(),
        Some("none: webhook")
    );
    let text = report.to_text();
    assert!(text.contains("csrf: none (webhook)"), "{text}");
    let login_row = text
        .lines()
        .find(|line| line.starts_with("POST") && line.contains("/login"))
        .unwrap();
    assert!(login_row.contains("csrf: origin checked"), "{text}");
}
