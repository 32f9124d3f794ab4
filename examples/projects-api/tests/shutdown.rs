//! The service binary stops on `SIGTERM` (what a container runtime sends
//! before it kills) the graceful way: it exits 0 and says why, an idle
//! keep-alive connection does not hold it open, and a request on a
//! connection that was open before the signal is not served afterwards.

#![cfg(unix)]
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free port on 127.0.0.1 (bound, read and released).
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Waits (at most 60 s) until the service accepts connections.
fn wait_until_listening(child: &mut Child, addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(addr).is_err() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the service exited before it listened"
        );
        assert!(Instant::now() < deadline, "the service never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One keep-alive `GET /healthz`; the head and body it answered.
fn health(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut read = Vec::new();
    let mut buf = [0_u8; 4096];
    // The body is `ok` after a blank line; read until it has arrived.
    while !read.ends_with(b"\r\n\r\nok") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&read));
        read.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(read).unwrap()
}

#[test]
fn sigterm_ends_the_service_gracefully_with_an_idle_connection_open() {
    let dir = std::env::temp_dir().join(format!("projects-api-shutdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| -> PathBuf { dir.join(name) };
    let addr = free_addr();
    let mut child = Command::new(env!("CARGO_BIN_EXE_projects-api"))
        .arg("--addr")
        .arg(addr.to_string())
        .args(["--database", "sqlite::memory:"])
        .arg("--upload-dir")
        .arg(path("uploads"))
        .arg("--secret-file")
        .arg(path("secret"))
        .env("RUST_LOG", "info")
        .env_remove("PROJECTS_API_SIGNING_SECRET")
        .env_remove("PROJECTS_API_ADDR")
        .env_remove("PROJECTS_API_REDIS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_listening(&mut child, addr);

    // A keep-alive connection, served once and then left idle.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert!(health(&mut idle).starts_with("HTTP/1.1 200 OK\r\n"));

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    // It exits by itself, well inside the 30 s shutdown timeout: the idle
    // connection is closed, not waited for.
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the service was still running 15 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // Exit 0, not the signal's default death (which has no exit code).
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM: shutting down"), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");

    // The idle connection was closed: a request on it gets no answer, and
    // nothing listens any more.
    let mut rest = Vec::new();
    let _ = idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let _ = idle.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert!(TcpStream::connect(addr).is_err());
}
