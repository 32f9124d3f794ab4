//! [`GuardedApp`]: what [`crate::GuardedRouter::build`] returns.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::extract::connect_info::{ConnectInfo, IntoMakeServiceWithConnectInfo};
use axum::response::Response;
use axum::routing::IntoMakeService;
use axum::routing::future::RouteFuture;
use axum::serve::{IncomingStream, Listener};
use guard_core::report::RouteReport;
use tower::Service;

use crate::serve::Serve;

/// A built guarded application: every route of it runs behind the guards
/// and the router-wide security stack, and it takes no more routes.
///
/// It is deliberately not an [`axum::Router`]: a router's `.route`,
/// `.merge` or `.nest_service` called after the security stack was attached
/// would serve with no authentication, no security headers, no panic
/// catcher, no timeout, no body cap, and never appear in the report. Add
/// everything to the [`crate::GuardedRouter`] before building it instead;
/// it has guarded `merge`, `nest`, `nest_service` and `fallback`.
///
/// ```compile_fail
/// use guard_axum::{GuardedRouter, secure_route, routing::get};
///
/// #[secure_route(public = "health check")]
/// async fn health() -> &'static str { "ok" }
///
/// let app = GuardedRouter::new().route("/healthz", get(health)).build().unwrap();
/// // No `route` on a built app: this route would have no guards.
/// let app = app.route("/admin", axum::routing::get(|| async { "everything" }));
/// ```
///
/// Serve it with [`GuardedApp::serve`], which closes connections whose
/// headers arrive too slowly. [`axum::serve()`](fn@axum::serve) takes it
/// too, directly (each connection's peer address then reaches the
/// client-IP guard, see [`ConnectedApp`]) or through
/// [`GuardedApp::into_make_service_with_connect_info`], but without a
/// header read timeout; it is also a
/// [`tower::Service`], for tests with `oneshot` and for mounting under an
/// outer router (which must then hand the connection info itself).
#[must_use]
pub struct GuardedApp<S = ()> {
    router: Router<S>,
    report: Arc<RouteReport>,
}

impl<S> Clone for GuardedApp<S> {
    fn clone(&self) -> Self {
        Self {
            router: self.router.clone(),
            report: self.report.clone(),
        }
    }
}

impl<S> fmt::Debug for GuardedApp<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedApp")
            .field("routes", &self.report.routes.len())
            .finish_non_exhaustive()
    }
}

impl<S> GuardedApp<S>
where
    S: Clone + Send + Sync + 'static,
{
    pub(crate) fn new(router: Router<S>, report: RouteReport) -> Self {
        Self {
            router,
            report: Arc::new(report),
        }
    }

    /// Provides the state the handlers extract, as [`Router::with_state`].
    pub fn with_state<S2>(self, state: S) -> GuardedApp<S2> {
        GuardedApp {
            router: self.router.with_state(state),
            report: self.report,
        }
    }

    /// The route-by-route report of what this app serves.
    #[must_use]
    pub fn report(&self) -> &RouteReport {
        &self.report
    }
}

impl GuardedApp<()> {
    /// Serves the app on `listener` with the hardened HTTP/1 server of
    /// [`crate::serve`]: a header read timeout (10 s), capped request
    /// headers (16 KiB, 100 fields), each connection's peer address as
    /// [`ConnectInfo`], accept errors backed off; add
    /// [`Serve::with_graceful_shutdown`] to drain on a signal.
    ///
    /// Prefer it to [`axum::serve()`](fn@axum::serve), which sets no header
    /// read timeout: a client trickling header lines (slowloris) keeps its
    /// connection and task for as long as it likes.
    ///
    /// ```no_run
    /// # async fn run(app: guard_axum::GuardedApp) -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
    /// app.serve(listener).await
    /// # }
    /// ```
    pub fn serve<L>(self, listener: L) -> Serve<L>
    where
        L: Listener,
    {
        Serve::new(self, listener)
    }

    /// A make-service for [`axum::serve()`](fn@axum::serve) without connection info (the
    /// client-IP guard then refuses to guess and answers 500; prefer
    /// [`GuardedApp::into_make_service_with_connect_info`]).
    pub fn into_make_service(self) -> IntoMakeService<Router> {
        self.router.into_make_service()
    }

    /// A make-service that hands every request its connection info, as
    /// [`Router::into_make_service_with_connect_info`]; with
    /// `C = std::net::SocketAddr` the client-IP guard sees the socket peer.
    pub fn into_make_service_with_connect_info<C>(
        self,
    ) -> IntoMakeServiceWithConnectInfo<Router, C> {
        self.router.into_make_service_with_connect_info::<C>()
    }
}

impl<B> Service<http::Request<B>> for GuardedApp<()>
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        <Router as Service<Request<B>>>::poll_ready(&mut self.router, cx)
    }

    #[inline]
    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        self.router.call(request)
    }
}

/// `axum::serve(listener, app)` serves each connection with its peer
/// address as [`ConnectInfo`] (see [`ConnectedApp`]), so the client-IP
/// guard and rate limits work without
/// [`GuardedApp::into_make_service_with_connect_info`]. A plain
/// [`axum::Router`] served this way has no connection info; a guarded app
/// would otherwise answer every rate-limited route with 500.
impl<L> Service<IncomingStream<'_, L>> for GuardedApp<()>
where
    L: Listener,
    L::Addr: Clone + Send + Sync + 'static,
{
    type Response = ConnectedApp<L::Addr>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: IncomingStream<'_, L>) -> Self::Future {
        std::future::ready(Ok(self.connected(stream.remote_addr().clone())))
    }
}

impl GuardedApp<()> {
    /// The service for one connection from `peer`.
    pub(crate) fn connected<A>(&self, peer: A) -> ConnectedApp<A> {
        // As axum does: turn every route into its final form once per
        // connection rather than per request.
        ConnectedApp {
            app: Self {
                router: self.router.clone().with_state(()),
                report: self.report.clone(),
            },
            peer: ConnectInfo(peer),
        }
    }
}

/// The service [`GuardedApp::serve`] and `axum::serve(listener, app)` run
/// for one connection of a [`GuardedApp`]: the app, with the connection's peer address inserted
/// into every request as [`ConnectInfo`] (a `ConnectInfo` already there,
/// from an outer make-service, is kept).
#[derive(Clone)]
pub struct ConnectedApp<A> {
    app: GuardedApp<()>,
    peer: ConnectInfo<A>,
}

impl<A> fmt::Debug for ConnectedApp<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectedApp")
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl<A, B> Service<http::Request<B>> for ConnectedApp<A>
where
    A: Clone + Send + Sync + 'static,
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        <GuardedApp as Service<http::Request<B>>>::poll_ready(&mut self.app, cx)
    }

    #[inline]
    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // An HTTP/1.1 request without `Host` must be refused (RFC 9112,
        // 3.2); hyper serves it. Only a request read off a connection is
        // judged: one built in process (a test's `Request::builder()`) has
        // no `Host` either. The router's first service answers it, with
        // the security headers; a request that has `Host` pays one lookup.
        let host_missing = request.version() == http::Version::HTTP_11
            && !request.headers().contains_key(http::header::HOST);
        let extensions = request.extensions_mut();
        if extensions.get::<ConnectInfo<A>>().is_none() {
            extensions.insert(self.peer.clone());
        }
        if host_missing {
            extensions.insert(HostMissing);
        }
        self.app.call(request)
    }
}

/// Marks a request read off a connection that lacked the `Host` header
/// HTTP/1.1 requires; see [`ConnectedApp`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct HostMissing;
