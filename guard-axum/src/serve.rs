//! The hardened HTTP/1 server [`GuardedApp::serve`] returns.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! # async fn run(app: guard_axum::GuardedApp) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! app.serve(listener)
//!     .header_read_timeout(Duration::from_secs(5))
//!     .with_graceful_shutdown(guard_axum::serve::shutdown_signal())
//!     .shutdown_timeout(Duration::from_secs(30))
//!     .await
//! # }
//! ```
//!
//! [`shutdown_signal`] (feature `signal`) completes on Ctrl-C or `SIGTERM`;
//! any other future can be the signal.
//!
//! What it does that [`axum::serve()`](fn@axum::serve) does not:
//!
//! | setting | default | on excess |
//! |---|---|---|
//! | [`Serve::header_read_timeout`] | 10 s | the connection is closed (hyper may first write a bare `408`) |
//! | [`Serve::max_header_bytes`] (request line and headers) | 16 KiB | `431`, then closed |
//! | [`Serve::max_headers`] (header fields) | 100 | `431`, then closed |
//! | [`Serve::max_connections`] | none | no more accepts until one closes (the kernel's backlog queues the rest) |
//! | [`Serve::max_connections_per_ip`] | none | one more from that client (IPv4 address, IPv6 /64) is closed at once (leave off behind a proxy) |
//! | [`WithGracefulShutdown::shutdown_timeout`] | none | the connections still open are dropped |
//!
//! and, as `axum::serve` does: each connection's peer address reaches the
//! app as [`ConnectInfo`](axum::extract::ConnectInfo) (so the client-IP
//! guard and per-IP rate limits work), keep-alive is on, protocol upgrades
//! (WebSockets) are served, and accept errors never end the server: a
//! [`tokio::net::TcpListener`] retries at once after a connection reset
//! before accept and waits a second after any other error (out of file
//! descriptors, `EMFILE`), logging it. That loop is axum's
//! [`Listener`] implementation, reused; a listener of your own does its
//! own retrying.
//!
//! # Protocol
//!
//! HTTP/1.1 only, on hyper's `http1` connection. hyper-util's auto builder
//! would add HTTP/2, but it needs hyper's `http2` feature and the `h2`
//! crate, which nothing in this workspace builds; behind a TLS-terminating
//! proxy the hop to the app is HTTP/1.1 anyway. A client that opens with
//! the HTTP/2 preface is answered with an error and closed. A response
//! sent before its request's body was read to the end (a guard's 413, 401
//! or 429) carries `Connection: close`: hyper closes such a connection
//! rather than read a body nobody wants, and a keep-alive client would
//! otherwise send its next request into the closing socket.
//!
//! # Security
//!
//! * The header read timeout starts when hyper waits for a request head,
//!   so it also closes a keep-alive connection left idle that long.
//! * It bounds the headers only. The time a handler takes, reading the
//!   body included, is bounded by the guarded router's request timeout;
//!   a response streamed slowly to a slow reader is bounded by neither.
//! * Graceful shutdown stops accepting, lets each connection finish the
//!   request it is serving (idle ones close at once) and then resolves;
//!   without [`WithGracefulShutdown::shutdown_timeout`] a response that
//!   never ends holds it open.
//! * An HTTP/1.1 request without `Host`, or with two, is the generic 400
//!   (RFC 9112, 3.2), answered by the router's first layer with the
//!   security headers. What hyper refuses itself before the app runs (a
//!   malformed head or length, a head over the size or count caps) is its
//!   own bare `400`/`431` with an empty body and no security headers: no
//!   app code sees it, and an empty body renders nothing.
//! * Dropping the future closes every connection it accepted (axum's
//!   leaves them running). A WebSocket, once upgraded, runs on the task its
//!   handler spawned and is not waited for.

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinSet};

use guard_core::client_ip::{Ipv6KeyPrefix, rate_key_for_ip};
use guard_core::rate::RateKey;

use crate::GuardedApp;
use crate::unread::CloseUnread;

/// The default [`Serve::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`Serve::max_header_bytes`]: Node.js's default.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// The default [`Serve::max_headers`]: hyper's default.
pub const DEFAULT_MAX_HEADERS: usize = 100;

#[derive(Clone, Debug)]
struct Settings {
    header_read_timeout: Duration,
    max_header_bytes: usize,
    max_headers: usize,
    max_connections: Option<NonZeroUsize>,
    max_connections_per_ip: Option<NonZeroUsize>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            max_connections: None,
            max_connections_per_ip: None,
        }
    }
}

impl Settings {
    fn http1(&self) -> http1::Builder {
        let mut builder = http1::Builder::new();
        // Without a timer hyper enforces no header read timeout at all:
        // that is why `axum::serve` has none.
        builder
            .timer(TokioTimer::new())
            .keep_alive(true)
            .header_read_timeout(self.header_read_timeout)
            .max_header_size(self.max_header_bytes)
            .max_headers(self.max_headers);
        builder
    }
}

/// A [`GuardedApp`] served on a listener: what [`GuardedApp::serve`]
/// returns. Set it up with its methods, then `.await` it; it runs until
/// dropped, or until its signal with
/// [`with_graceful_shutdown`](Self::with_graceful_shutdown). See the
/// [module docs](self) for the defaults.
#[must_use = "a server does nothing unless `.await`ed"]
pub struct Serve<L> {
    app: GuardedApp,
    listener: L,
    settings: Settings,
}

impl<L> fmt::Debug for Serve<L>
where
    L: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("app", &self.app)
            .field("listener", &self.listener)
            .field("settings", &self.settings)
            .finish()
    }
}

impl<L> Serve<L>
where
    L: Listener,
{
    pub(crate) fn new(app: GuardedApp, listener: L) -> Self {
        Self {
            app,
            listener,
            settings: Settings::default(),
        }
    }

    /// How long a client may take to send a request's line and headers,
    /// from the moment the server waits for them (default 10 s). Past it
    /// the connection is closed: a client that trickles header lines
    /// (slowloris) holds a connection no longer than this. A zero timeout
    /// closes every connection before its first request.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.settings.header_read_timeout = timeout;
        self
    }

    /// The most bytes a request line and its headers may take (default
    /// 16 KiB); a larger head is answered `431 Request Header Fields Too
    /// Large` and the connection closed. It also caps chunked trailers.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_header_bytes = bytes;
        self
    }

    /// The most header fields a request may carry (default 100); more is
    /// answered `431` and the connection closed.
    pub fn max_headers(mut self, count: usize) -> Self {
        self.settings.max_headers = count;
        self
    }

    /// The most connections open at once (default: no cap). At the cap the
    /// server accepts no more until one closes; new clients wait in the
    /// kernel's listen backlog instead of each taking a task and buffers.
    pub fn max_connections(mut self, max: NonZeroUsize) -> Self {
        self.settings.max_connections = Some(max);
        self
    }

    /// The most connections open at once from one client (default: no
    /// cap): one IPv4 address, or one IPv6 /64, the grouping the per-IP
    /// rate limits key by by default (a subscriber holds a whole /64 and
    /// could rotate through it). One more is closed as soon as it is
    /// accepted, before a byte of it is read, so one client cannot hold
    /// every connection (or file descriptor) with idle or trickling
    /// connections. Leave it off behind a reverse proxy: every connection
    /// then comes from the proxy's address. Applies to TCP listeners (a
    /// peer that is a `SocketAddr`).
    pub fn max_connections_per_ip(mut self, max: NonZeroUsize) -> Self {
        self.settings.max_connections_per_ip = Some(max);
        self
    }

    /// Stops accepting when `signal` completes, lets the connections
    /// finish the requests they are serving, then resolves with `Ok(())`.
    /// Call it last: the settings above are on [`Serve`] only.
    pub fn with_graceful_shutdown<F>(self, signal: F) -> WithGracefulShutdown<L, F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        WithGracefulShutdown {
            serve: self,
            signal,
            shutdown_timeout: None,
        }
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// The listener's own, as [`Listener::local_addr`].
    pub fn local_addr(&self) -> io::Result<L::Addr> {
        self.listener.local_addr()
    }
}

impl<L> IntoFuture for Serve<L>
where
    L: Listener,
    L::Addr: Clone + Sync + fmt::Debug + 'static,
{
    /// As `axum::serve`'s: it never resolves, and accept errors are
    /// retried, never returned.
    type Output = io::Result<()>;
    type IntoFuture = ServeFuture;

    fn into_future(self) -> ServeFuture {
        ServeFuture(Box::pin(async move {
            run(self, std::future::pending(), None).await;
            Ok(())
        }))
    }
}

/// A [`Serve`] that shuts down gracefully on a signal: what
/// [`Serve::with_graceful_shutdown`] returns.
#[must_use = "a server does nothing unless `.await`ed"]
pub struct WithGracefulShutdown<L, F> {
    serve: Serve<L>,
    signal: F,
    shutdown_timeout: Option<Duration>,
}

impl<L, F> fmt::Debug for WithGracefulShutdown<L, F>
where
    L: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithGracefulShutdown")
            .field("serve", &self.serve)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

impl<L, F> WithGracefulShutdown<L, F>
where
    L: Listener,
{
    /// How long to wait, after the signal, for the connections to finish
    /// (default: as long as they take). Past it the ones still open are
    /// dropped mid-response and the future resolves.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// The listener's own, as [`Listener::local_addr`].
    pub fn local_addr(&self) -> io::Result<L::Addr> {
        self.serve.local_addr()
    }
}

impl<L, F> IntoFuture for WithGracefulShutdown<L, F>
where
    L: Listener,
    L::Addr: Clone + Sync + fmt::Debug + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    /// `Ok(())` once the signal has come and the connections are closed;
    /// never an error.
    type Output = io::Result<()>;
    type IntoFuture = ServeFuture;

    fn into_future(self) -> ServeFuture {
        ServeFuture(Box::pin(async move {
            run(self.serve, self.signal, self.shutdown_timeout).await;
            Ok(())
        }))
    }
}

/// The future of a [`Serve`] or a [`WithGracefulShutdown`].
#[must_use = "futures do nothing unless `.await`ed or polled"]
pub struct ServeFuture(Pin<Box<dyn Future<Output = io::Result<()>> + Send>>);

impl Future for ServeFuture {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for ServeFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeFuture").finish_non_exhaustive()
    }
}

/// The accept loop. Written here rather than taken from hyper-util: its
/// `GracefulShutdown` watches an `http1::Connection` but not the
/// `UpgradeableConnection` that serving WebSockets needs, and it has no
/// connection cap; hyper's own `graceful_shutdown` does the draining.
async fn run<L, F>(serve: Serve<L>, signal: F, shutdown_timeout: Option<Duration>)
where
    L: Listener,
    L::Addr: Clone + Sync + fmt::Debug + 'static,
    F: Future<Output = ()> + Send,
{
    let Serve {
        app,
        mut listener,
        settings,
    } = serve;
    let http1 = settings.http1();
    let per_ip = settings.max_connections_per_ip.map(PerIp::new);
    let (stop_tx, stop_rx) = watch::channel(false);
    // Owns every connection's task: they are waited for at shutdown and
    // aborted if this future is dropped.
    let mut connections = JoinSet::new();
    let mut signal = pin!(signal);
    loop {
        // Only the signal may cancel an accept: a listener's `accept` need
        // not be cancel-safe (a TLS one may be mid-handshake).
        let (io, peer) = tokio::select! {
            biased;
            () = &mut signal => break,
            accepted = accept(&mut listener, &mut connections, settings.max_connections) => accepted,
        };
        while let Some(ended) = connections.try_join_next() {
            log_task_end(ended);
        }
        let slot = match &per_ip {
            Some(per_ip) => match per_ip.take(&peer) {
                Ok(slot) => slot,
                Err(AtCap) => {
                    tracing::debug!(
                        ?peer,
                        "connection refused: the per-IP connection cap is reached"
                    );
                    drop(io);
                    continue;
                }
            },
            None => None,
        };
        let service = TowerToHyperService::new(CloseUnread(app.connected(peer.clone())));
        let conn = http1
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            // Held for the connection's life: its end frees the IP's slot.
            let _slot = slot;
            let mut conn = pin!(conn);
            let ended = tokio::select! {
                ended = conn.as_mut() => ended,
                () = async { _ = stop.wait_for(|&stop| stop).await; } => {
                    // Finish the request in flight, close if idle.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(err) = ended {
                tracing::debug!(error = %err, ?peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    stop_tx.send_replace(true);
    tracing::debug!(
        connections = connections.len(),
        "shutting down: waiting for the open connections"
    );
    let drain = async {
        while let Some(ended) = connections.join_next().await {
            log_task_end(ended);
        }
    };
    match shutdown_timeout {
        None => drain.await,
        Some(limit) => {
            if tokio::time::timeout(limit, drain).await.is_err() {
                tracing::warn!(
                    connections = connections.len(),
                    ?limit,
                    "shutdown timeout: dropping the connections still open"
                );
                connections.shutdown().await;
            }
        }
    }
}

/// Open connections per client (the rate limits' key: an IPv4 address or
/// an IPv6 /64), for `max_connections_per_ip`.
#[derive(Clone)]
struct PerIp {
    max: usize,
    open: Arc<Mutex<HashMap<RateKey, usize>>>,
}

/// The peer's address has its most connections open.
struct AtCap;

/// One open connection's place in [`PerIp`], given back when dropped.
struct IpSlot {
    open: Arc<Mutex<HashMap<RateKey, usize>>>,
    key: RateKey,
}

impl PerIp {
    fn new(max: NonZeroUsize) -> Self {
        Self {
            max: max.get(),
            open: Arc::default(),
        }
    }

    /// A slot for `peer`'s address, or [`AtCap`]; a peer that is no
    /// socket address (a Unix socket) is not counted (`Ok(None)`).
    fn take<A: 'static>(&self, peer: &A) -> Result<Option<IpSlot>, AtCap> {
        let Some(addr) = (peer as &dyn std::any::Any).downcast_ref::<SocketAddr>() else {
            return Ok(None);
        };
        // The key folds IPv4-mapped IPv6 into the IPv4 client it carries.
        let key = rate_key_for_ip(addr.ip(), Ipv6KeyPrefix::DEFAULT);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return Err(AtCap);
        }
        *count += 1;
        Ok(Some(IpSlot {
            open: Arc::clone(&self.open),
            key,
        }))
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The next connection, once there is room for it.
async fn accept<L: Listener>(
    listener: &mut L,
    connections: &mut JoinSet<()>,
    max: Option<NonZeroUsize>,
) -> (L::Io, L::Addr) {
    if let Some(max) = max {
        while connections.len() >= max.get() {
            if let Some(ended) = connections.join_next().await {
                log_task_end(ended);
            }
        }
    }
    listener.accept().await
}

fn log_task_end(ended: Result<(), JoinError>) {
    if let Err(err) = ended
        && err.is_panic()
    {
        tracing::error!(error = %err, "a connection's task panicked");
    }
}

/// Completes on Ctrl-C (`SIGINT`) or, on Unix, on the `SIGTERM` that a
/// container runtime or systemd sends before it kills the process: the
/// signal for [`Serve::with_graceful_shutdown`]. Each handler is installed
/// when the future is first polled, and from then on the signal no longer
/// ends the process by itself. A handler that cannot be installed is left
/// out (the signal keeps its default action), never an error.
///
/// Logged at `info` when it fires.
#[cfg(feature = "signal")]
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => drop(term.recv().await),
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down, finishing the requests in flight"),
        () = terminate => tracing::info!("SIGTERM: shutting down, finishing the requests in flight"),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;

    fn peer(ip: IpAddr) -> SocketAddr {
        SocketAddr::new(ip, 40_000)
    }

    #[test]
    fn one_client_is_one_ipv4_address_or_one_ipv6_slash_64() {
        let per_ip = PerIp::new(NonZeroUsize::MIN.saturating_add(1));
        let v6 =
            |last: u16, net: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, net, 0, 0, 0, last));
        // Two addresses of one /64 share its two places: a client rotating
        // through its /64 does not get a third.
        let a = per_ip.take(&peer(v6(1, 0))).ok().flatten().unwrap();
        let b = per_ip.take(&peer(v6(2, 0))).ok().flatten().unwrap();
        assert!(per_ip.take(&peer(v6(3, 0))).is_err());
        // Another /64 is another client.
        let other = per_ip.take(&peer(v6(1, 1))).ok().flatten().unwrap();
        // An IPv4-mapped IPv6 peer is its IPv4 client.
        let v4 = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
        let mapped = IpAddr::V6(Ipv4Addr::new(203, 0, 113, 7).to_ipv6_mapped());
        let c = per_ip.take(&peer(v4)).ok().flatten().unwrap();
        let d = per_ip.take(&peer(mapped)).ok().flatten().unwrap();
        assert!(per_ip.take(&peer(v4)).is_err());
        // A closed connection gives its place back, and the map forgets a
        // client with none open.
        drop(a);
        let e = per_ip.take(&peer(v6(3, 0))).ok().flatten().unwrap();
        drop((b, c, d));
        assert_eq!(per_ip.open.lock().unwrap().len(), 2);
        drop((e, other));
        assert!(per_ip.open.lock().unwrap().is_empty());
        // Not a socket address (a Unix socket's peer): not counted.
        assert!(matches!(per_ip.take(&"unix"), Ok(None)));
    }
}
