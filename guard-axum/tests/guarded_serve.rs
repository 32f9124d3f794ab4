//! `GuardedApp::serve` on real TCP: slow headers are cut off, oversized
//! heads refused, the peer address reaches the rate limiter, graceful
//! shutdown drains, and resets do not stop the accept loop.
//!
//! Every test runs under [`BOUND`]; the timeouts under test are small and
//! set explicitly, well under the defaults, so that a connection closed in
//! time proves the setting took effect.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/tcp.rs"]
mod tcp_support;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use guard_axum::extract::ClientIp;
use guard_axum::routing::{get, post};
use guard_axum::serve::Serve;
use guard_axum::{GuardedApp, GuardedRouter, Valid, secure_route};
use tcp_support::{get_raw, read_until_closed, send_raw};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// The most any one test may take.
const BOUND: Duration = Duration::from_secs(20);
/// The header read timeout the tests configure (the default is 10 s).
const SHORT: Duration = Duration::from_millis(300);
/// Longer than [`SHORT`] by far, shorter than the 10 s default.
const CLOSED_WITHIN: Duration = Duration::from_secs(5);

#[secure_route(public = "test: health")]
async fn health() -> &'static str {
    "ok"
}

#[secure_route(public = "test: a limited public route", rate = "2/min")]
async fn limited() -> &'static str {
    "limited"
}

#[secure_route(public = "test: the caller's address")]
async fn whoami(ClientIp(ip): ClientIp) -> String {
    ip.to_string()
}

/// `/slow` says it has started, then waits to be released.
static SLOW_STARTED: Notify = Notify::const_new();
static SLOW_RELEASE: Notify = Notify::const_new();

#[secure_route(public = "test: a request still in flight at shutdown")]
async fn slow() -> &'static str {
    SLOW_STARTED.notify_one();
    SLOW_RELEASE.notified().await;
    "finished"
}

/// `/hang` says it has started, then never answers.
static HANG_STARTED: Notify = Notify::const_new();

#[secure_route(public = "test: a request that never ends")]
async fn hang() -> &'static str {
    HANG_STARTED.notify_one();
    std::future::pending::<()>().await;
    "never"
}

/// `{"text": …}`.
#[derive(serde::Deserialize, validator::Validate)]
struct Note {
    text: String,
}

#[secure_route(public = "test: a body read to its end", body = Note)]
async fn echo(Valid(note): Valid<Note>) -> String {
    note.text
}

fn app() -> GuardedApp {
    GuardedRouter::<()>::new()
        .route("/healthz", get(health))
        .route("/echo", post(echo))
        .route("/limited", get(limited))
        .route("/whoami", get(whoami))
        .route("/slow", get(slow))
        .route("/hang", get(hang))
        .build()
        .unwrap()
}

async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(BOUND, test)
        .await
        .expect("the test did not finish within its bound")
}

/// Serves `app()` on a fresh port, set up by `configure`.
async fn start(
    configure: impl FnOnce(Serve<TcpListener>) -> Serve<TcpListener>,
) -> (SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = configure(app().serve(listener));
    (addr, tokio::spawn(serve.into_future()))
}

/// One response on a kept-alive connection: its head and `Content-Length`
/// bytes of body.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut read = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&read).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().unwrap())
                })
                .unwrap();
            if read.len() >= end + 4 + length {
                return text;
            }
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert_ne!(n, 0, "closed mid-response: {text}");
        read.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn half_sent_headers_are_cut_off_after_the_configured_timeout() {
    bounded(async {
        let (addr, server) = start(|serve| serve.header_read_timeout(SHORT)).await;
        // Slowloris: a request line and one header, never the blank line.
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .unwrap();
        // Meanwhile another connection is served.
        let ok = get_raw(addr, "/healthz").await;
        assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
        assert!(ok.ends_with("\r\n\r\nok"), "{ok}");
        let answer = tokio::time::timeout(CLOSED_WITHIN, read_until_closed(&mut slow))
            .await
            .expect("a connection with half its headers was still open");
        // Nothing but, at most, hyper's bare timeout answer.
        let text = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
        // The server still answers afterwards.
        let ok = get_raw(addr, "/healthz").await;
        assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
        server.abort();
    })
    .await;
}

#[tokio::test]
async fn keep_alive_serves_many_requests_then_closes_when_idle() {
    bounded(async {
        let (addr, server) = start(|serve| serve.header_read_timeout(SHORT)).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        for _ in 0..3 {
            conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .unwrap();
            let response = read_response(&mut conn).await;
            assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
            assert!(response.ends_with("\r\n\r\nok"), "{response}");
            assert!(
                !response.to_ascii_lowercase().contains("connection: close"),
                "{response}"
            );
        }
        // Left idle, it is closed by the same timeout.
        let rest = tokio::time::timeout(CLOSED_WITHIN, read_until_closed(&mut conn))
            .await
            .expect("an idle keep-alive connection was still open");
        let text = String::from_utf8_lossy(&rest);
        assert!(
            rest.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
        server.abort();
    })
    .await;
}

/// Whether a response head says `Connection: close`.
fn says_close(response: &str) -> bool {
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    head.lines()
        .any(|line| line.eq_ignore_ascii_case("connection: close"))
}

#[tokio::test]
async fn a_body_read_to_its_end_keeps_the_connection_alive() {
    bounded(async {
        let (addr, server) = start(|serve| serve).await;
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let body = r#"{"text":"hi"}"#;
        for _ in 0..2 {
            let request = format!(
                "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(request.as_bytes()).await.unwrap();
            let response = read_response(&mut conn).await;
            assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
            assert!(response.ends_with("\r\n\r\nhi"), "{response}");
            assert!(!says_close(&response), "{response}");
        }
        server.abort();
    })
    .await;
}

#[tokio::test]
async fn a_response_sent_before_the_body_is_read_says_connection_close() {
    bounded(async {
        let (addr, server) = start(|serve| serve).await;
        // Refused before the body is read: 413 on its declared length.
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(
            b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 9000000\r\n\r\n",
        )
        .await
        .unwrap();
        let response = read_response(&mut conn).await;
        assert!(response.starts_with("HTTP/1.1 413 "), "{response}");
        assert!(
            response.ends_with(r#"{"error":"payload_too_large"}"#),
            "{response}"
        );
        assert!(says_close(&response), "{response}");
        // A handler that ignores a body it was sent: the same, and the
        // connection does close, so the header told the truth.
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n")
            .await
            .unwrap();
        let response = read_response(&mut conn).await;
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        assert!(says_close(&response), "{response}");
        tokio::time::timeout(CLOSED_WITHIN, read_until_closed(&mut conn))
            .await
            .expect("the connection stayed open after `Connection: close`");
        server.abort();
    })
    .await;
}

#[tokio::test]
async fn the_peer_address_reaches_the_client_ip_guard_and_the_rate_limit() {
    bounded(async {
        let (addr, server) = start(|serve| serve).await;
        let me = get_raw(addr, "/whoami").await;
        assert!(me.starts_with("HTTP/1.1 200 "), "{me}");
        assert!(me.ends_with("\r\n\r\n127.0.0.1"), "{me}");
        for _ in 0..2 {
            let ok = get_raw(addr, "/limited").await;
            assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
            assert!(ok.to_ascii_lowercase().contains("\r\nratelimit: "), "{ok}");
            assert!(ok.ends_with("\r\n\r\nlimited"), "{ok}");
        }
        // The third from the same address within the minute, on a new
        // connection (so a new port), is refused: the limit keys on the IP.
        let refused = get_raw(addr, "/limited").await;
        assert!(refused.starts_with("HTTP/1.1 429 "), "{refused}");
        assert!(
            refused.to_ascii_lowercase().contains("\r\nretry-after: "),
            "{refused}"
        );
        assert!(!refused.ends_with("limited"), "{refused}");
        server.abort();
    })
    .await;
}

#[tokio::test]
async fn oversized_request_heads_are_refused_with_431() {
    bounded(async {
        let (addr, server) = start(|serve| serve.max_header_bytes(1024).max_headers(10)).await;
        let big = format!(
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
            "a".repeat(2000)
        );
        let refused = send_raw(addr, &big).await;
        assert!(refused.starts_with("HTTP/1.1 431 "), "{refused}");
        let many: String = (0..20).map(|i| format!("X-{i}: {i}\r\n")).collect();
        let refused = send_raw(
            addr,
            &format!("GET /healthz HTTP/1.1\r\nHost: localhost\r\n{many}\r\n"),
        )
        .await;
        assert!(refused.starts_with("HTTP/1.1 431 "), "{refused}");
        // Within both caps: served.
        let ok = send_raw(
            addr,
            &format!(
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Fits: {}\r\n\r\n",
                "a".repeat(500)
            ),
        )
        .await;
        assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
        server.abort();
    })
    .await;
}

#[tokio::test]
async fn the_default_header_cap_is_16_kib() {
    bounded(async {
        let (addr, server) = start(|serve| serve).await;
        let head = |value_len: usize| {
            format!(
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
                "a".repeat(value_len)
            )
        };
        let ok = send_raw(addr, &head(8 * 1024)).await;
        assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
        let refused = send_raw(addr, &head(17 * 1024)).await;
        assert!(refused.starts_with("HTTP/1.1 431 "), "{refused}");
        server.abort();
    })
    .await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_request_in_flight_then_resolves() {
    bounded(async {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(
            app()
                .serve(listener)
                .with_graceful_shutdown(async {
                    _ = stopped.await;
                })
                .into_future(),
        );
        // An idle kept-alive connection, and one with a request in flight.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let response = read_response(&mut idle).await;
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        let mut busy = TcpStream::connect(addr).await.unwrap();
        busy.write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        SLOW_STARTED.notified().await;

        stop.send(()).unwrap();
        // The idle connection is closed without waiting for the busy one.
        let rest = read_until_closed(&mut idle).await;
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
        assert!(!server.is_finished(), "resolved with a request in flight");

        SLOW_RELEASE.notify_one();
        let finished = String::from_utf8(read_until_closed(&mut busy).await).unwrap();
        assert!(finished.starts_with("HTTP/1.1 200 "), "{finished}");
        assert!(
            finished
                .to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "{finished}"
        );
        assert!(finished.ends_with("\r\n\r\nfinished"), "{finished}");
        server.await.unwrap().unwrap();
        // The listener is gone with it.
        assert!(TcpStream::connect(addr).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn the_shutdown_timeout_drops_a_request_that_never_ends() {
    bounded(async {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(
            app()
                .serve(listener)
                .with_graceful_shutdown(async {
                    _ = stopped.await;
                })
                .shutdown_timeout(SHORT)
                .into_future(),
        );
        let mut hung = TcpStream::connect(addr).await.unwrap();
        hung.write_all(b"GET /hang HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        HANG_STARTED.notified().await;
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        // Dropped mid-request: closed with no answer.
        let rest = read_until_closed(&mut hung).await;
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    })
    .await;
}

#[tokio::test]
async fn accepting_goes_on_after_clients_reset_their_connections() {
    bounded(async {
        let (addr, server) = start(|serve| serve).await;
        for partial in [
            "",
            "GET /heal",
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ] {
            for _ in 0..5 {
                let mut conn = TcpStream::connect(addr).await.unwrap();
                conn.write_all(partial.as_bytes()).await.unwrap();
                conn.set_zero_linger().unwrap();
                drop(conn); // RST, not FIN
            }
        }
        let ok = get_raw(addr, "/healthz").await;
        assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
        assert!(!server.is_finished());
        server.abort();
    })
    .await;
}

#[tokio::test]
async fn at_the_connection_cap_the_next_client_waits_for_a_free_slot() {
    bounded(async {
        let (addr, server) =
            start(|serve| serve.max_connections(NonZeroUsize::new(1).unwrap())).await;
        let mut first = TcpStream::connect(addr).await.unwrap();
        first
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let response = read_response(&mut first).await;
        assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
        // The second is queued, unanswered, while the first stays open...
        let second = tokio::spawn(get_raw(addr, "/healthz"));
        tokio::time::sleep(SHORT).await;
        assert!(!second.is_finished(), "served past the connection cap");
        // ...and served once it closes.
        drop(first);
        let ok = second.await.unwrap();
        assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
        server.abort();
    })
    .await;
}

#[tokio::test]
async fn past_the_per_ip_cap_a_connection_is_closed_unread_and_the_slot_comes_back() {
    bounded(async {
        let (addr, server) =
            start(|serve| serve.max_connections_per_ip(NonZeroUsize::new(2).unwrap())).await;
        // Two connections held open with half a request each (slowloris).
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut conn = TcpStream::connect(addr).await.unwrap();
            conn.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
            held.push(conn);
        }
        // The third from the same address is closed without an answer.
        let refused = tokio::time::timeout(
            CLOSED_WITHIN,
            send_raw(
                addr,
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            ),
        )
        .await
        .expect("a connection past the per-IP cap was kept open");
        assert_eq!(refused, "", "answered past the per-IP cap");
        // One of the held connections finishes and closes: its slot is free.
        let mut first = held.remove(0);
        first
            .write_all(b"Host: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = String::from_utf8(read_until_closed(&mut first).await).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        // The server drops the slot when the connection's task ends, a
        // moment after the client saw the close.
        let served = loop {
            let reply = get_raw(addr, "/healthz").await;
            if !reply.is_empty() {
                break reply;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(served.starts_with("HTTP/1.1 200 "), "{served}");
        drop(held);
        server.abort();
    })
    .await;
}
