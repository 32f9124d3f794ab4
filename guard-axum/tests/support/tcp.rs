//! Raw HTTP/1.1 over real TCP, shared by the test binaries that serve an
//! app on 127.0.0.1 and talk to it as a client would, byte for byte.
//!
//! Each binary includes this file with
//! `#[path = "support/tcp.rs"] mod tcp_support;`.

// Each test binary uses a different subset of these helpers, and an
// unused one would fail clippy's `-D warnings` in the binaries that skip it.
#![allow(dead_code)]

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// One `GET` on its own connection; the whole raw response.
pub(crate) async fn get_raw(addr: SocketAddr, path: &str) -> String {
    send_raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
    .await
}

/// Raw bytes on their own connection; everything read until it closes.
pub(crate) async fn send_raw(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    String::from_utf8(read_until_closed(&mut stream).await).unwrap()
}

/// Everything until the server closes (a reset counts as closed).
pub(crate) async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut read = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return read,
            Ok(n) => read.extend_from_slice(&buf[..n]),
        }
    }
}
