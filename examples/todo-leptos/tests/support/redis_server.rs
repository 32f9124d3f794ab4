//! A throwaway `redis-server` on a free loopback port, shared by
//! `tests/redis.rs` and `benches/redis.rs` (each includes this file with
//! `#[path]`). What to do when the binary is missing is the caller's call:
//! the tests skip or fail by `GUARD_REQUIRE_REDIS`, the bench skips.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` of our own, with nothing persisted, killed on drop.
#[derive(Debug)]
pub(crate) struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free 127.0.0.1 port and waits until it accepts
    /// connections. `Err` is the spawn error (`NotFound` when the binary is
    /// not installed); a server that does not answer within 10 s panics.
    pub(crate) fn spawn() -> std::io::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        // Owned before the wait, so a panic below still kills the child.
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server now (a test of Redis going down); drop does the same.
    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
