//! How many connections one client may hold open.

use std::time::Duration;

use projects_api::{CONNECTIONS_PER_IP, Config, build};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::{App, TempDir, bounded};

/// Everything the server sends until it closes (a reset counts as closed).
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut read = Vec::new();
    let mut buf = [0_u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return read,
            Ok(n) => read.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_at_most_the_cap_and_one_more_is_closed_unanswered() {
    bounded(async {
        let app = App::start().await;
        // Slowloris: every connection sends half a request line and waits.
        let mut held = Vec::new();
        for _ in 0..CONNECTIONS_PER_IP.get() {
            let mut conn = TcpStream::connect(app.addr).await.unwrap();
            conn.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
            held.push(conn);
        }
        let mut extra = TcpStream::connect(app.addr).await.unwrap();
        // The write may already meet the closed socket.
        let _ = extra
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await;
        let answer = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut extra))
            .await
            .expect("a connection past the per-IP cap was kept open");
        assert_eq!(String::from_utf8_lossy(&answer), "");
        // One held connection goes away: the client may connect again (the
        // slot is given back when the server's task for it ends).
        drop(held.pop());
        let reply = loop {
            let mut conn = TcpStream::connect(app.addr).await.unwrap();
            let _ = conn
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .await;
            let reply = read_until_closed(&mut conn).await;
            if !reply.is_empty() {
                break String::from_utf8(reply).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(reply.starts_with("HTTP/1.1 200 "), "{reply}");
        assert!(reply.ends_with("\r\n\r\nok"), "{reply}");
    })
    .await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_there_is_no_per_ip_cap() {
    let dir = TempDir::new("proxy");
    let mut config = Config::for_tests(dir.path());
    assert_eq!(
        build(&config).await.unwrap().connections_per_ip,
        Some(CONNECTIONS_PER_IP)
    );
    let dir = TempDir::new("proxy2");
    config = Config::for_tests(dir.path());
    config.trusted_proxies = vec!["10.0.0.1/32".to_owned()];
    // Every connection would be the proxy's: no cap on one address.
    assert_eq!(build(&config).await.unwrap().connections_per_ip, None);
}
