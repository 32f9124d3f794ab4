//! Logging that keeps secrets out and ids straight, and a timeout that
//! answers the generic 408.
//!
//! * [`SensitiveHeaders`]: marks `Authorization`, `Proxy-Authorization`,
//!   `Cookie`, `Set-Cookie` and the headers you add as sensitive, so a
//!   `Debug` dump of the headers (tower-http's `TraceLayer`, a
//!   `tracing::debug!(?headers)`) prints `Sensitive` instead of the value
//!   and HTTP/2 never puts them in its compression table.
//! * [`RequestSpanLayer`]: runs each request inside a `request` span
//!   carrying the method, the path (scrubbed) and the client's
//!   `X-Request-Id`. Every event logged while serving the request, the
//!   error model's `request failed error_id=…` among them, carries those
//!   fields, so a client's id and the server's error id sit on the same log
//!   line. The client's id is only ever logged: the error id in the body is
//!   always generated on the server ([`guard_core::ErrorId`]).
//! * [`RequestTimeoutLayer`]: a timeout answering
//!   `408 {"error":"request_timeout"}` instead of an empty 408.
//!
//! ```
//! use std::time::Duration;
//!
//! use axum::Router;
//! use guard_axum::trace::{RequestSpanLayer, RequestTimeoutLayer, SensitiveHeaders};
//!
//! let sensitive = SensitiveHeaders::new().with_header("x-api-key")?;
//! let app: Router = Router::new()
//!     .layer(sensitive.response_layer())
//!     .layer(RequestTimeoutLayer::new(Duration::from_secs(30)))
//!     .layer(RequestSpanLayer::new())
//!     .layer(sensitive.request_layer());
//! # Ok::<(), guard_axum::trace::TraceConfigError>(())
//! ```
//!
//! # What reaches the log
//!
//! The detail of an internal error is scrubbed by the error model before it
//! is logged ([`guard_core::scrub`]); this module adds only the span fields.
//! The path is scrubbed too (a reset token in `/reset/{token}` is masked)
//! and cut to 256 bytes; the query string is never logged. A client request
//! id is logged only if it is 1 to 128 characters of letters, digits and
//! `-_.:+/=`; any other value is logged as `[invalid]`, so a client cannot
//! forge log fields with spaces or quotes, nor flood the log.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use guard_core::scrub::scrub;
use guard_core::{ErrorKind, GenericBody, GuardError};
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, StatusCode};
use tower::{Layer, Service};
use tracing::instrument::Instrumented;
use tracing::{Instrument as _, Level, Span};

/// The headers [`SensitiveHeaders`] always marks: credentials and session
/// cookies, in both directions.
pub const ALWAYS_SENSITIVE: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
    header::SET_COOKIE,
];

/// The header a client's request id is read from by default.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client request id logged; longer ones are logged as `[invalid]`.
const MAX_CLIENT_REQUEST_ID: usize = 128;
/// Longest path logged, in bytes; the rest is cut.
const MAX_LOGGED_PATH: usize = 256;
/// Logged in place of a client request id that is not a plain token.
const INVALID: &str = "[invalid]";

/// A refused logging setting; a configuration mistake, reported when the
/// router is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceConfigError {
    /// Not a valid HTTP header name.
    #[error("`{name}` is not a valid header name; use lowercase letters, digits and `-`")]
    InvalidHeaderName {
        /// The name as given.
        name: String,
    },
}

fn parse_name(name: &str) -> Result<HeaderName, TraceConfigError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| TraceConfigError::InvalidHeaderName {
        name: name.to_owned(),
    })
}

/// The set of headers marked sensitive: [`ALWAYS_SENSITIVE`] plus those
/// added with [`with_header`](Self::with_header) (an `X-Api-Key`, a CSRF
/// token). Mark requests with [`request_layer`](Self::request_layer)
/// (outside anything that logs requests) and responses with
/// [`response_layer`](Self::response_layer) (inside anything that logs
/// responses).
///
/// Marking changes no byte on the wire; it makes `Debug` print
/// `Sensitive` and keeps the values out of HTTP/2 header compression.
#[derive(Clone, Debug)]
#[must_use]
pub struct SensitiveHeaders {
    names: Vec<HeaderName>,
}

impl Default for SensitiveHeaders {
    fn default() -> Self {
        Self {
            names: ALWAYS_SENSITIVE.to_vec(),
        }
    }
}

impl SensitiveHeaders {
    /// [`ALWAYS_SENSITIVE`] only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also marks `name`.
    ///
    /// # Errors
    ///
    /// [`TraceConfigError::InvalidHeaderName`] when `name` is not a valid
    /// header name.
    pub fn with_header(mut self, name: impl AsRef<str>) -> Result<Self, TraceConfigError> {
        let name = parse_name(name.as_ref())?;
        if !self.names.contains(&name) {
            self.names.push(name);
        }
        Ok(self)
    }

    /// The marked headers.
    pub fn names(&self) -> &[HeaderName] {
        &self.names
    }

    /// A layer marking these headers on requests.
    pub fn request_layer(&self) -> MarkSensitiveLayer {
        MarkSensitiveLayer {
            names: self.shared(),
            side: Side::Request,
        }
    }

    /// A layer marking these headers on responses.
    pub fn response_layer(&self) -> MarkSensitiveLayer {
        MarkSensitiveLayer {
            names: self.shared(),
            side: Side::Response,
        }
    }

    fn shared(&self) -> Arc<[HeaderName]> {
        Arc::from(self.names.as_slice())
    }
}

/// Marks the [`SensitiveHeaders`] on requests or on responses (see
/// [`SensitiveHeaders::request_layer`] and
/// [`SensitiveHeaders::response_layer`]).
///
/// Written by hand rather than taken from tower-http, whose layers look up
/// every listed name in the map (a hash and a probe each, on every request
/// and response): this one walks the headers actually present, usually a
/// handful, and compares names, which costs a fraction of that.
#[derive(Clone, Debug)]
pub struct MarkSensitiveLayer {
    names: Arc<[HeaderName]>,
    side: Side,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

impl<S> Layer<S> for MarkSensitiveLayer {
    type Service = MarkSensitive<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MarkSensitive {
            inner,
            names: Arc::clone(&self.names),
            side: self.side,
        }
    }
}

/// The service of [`MarkSensitiveLayer`].
#[derive(Clone, Debug)]
pub struct MarkSensitive<S> {
    inner: S,
    names: Arc<[HeaderName]>,
    side: Side,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MarkSensitive<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = MarkSensitiveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let names = match self.side {
            Side::Request => {
                mark_sensitive(request.headers_mut(), &self.names);
                None
            }
            Side::Response => Some(Arc::clone(&self.names)),
        };
        MarkSensitiveFuture {
            inner: self.inner.call(request),
            names,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`MarkSensitive`].
    pub struct MarkSensitiveFuture<F> {
        #[pin]
        inner: F,
        // Set when the response is to be marked.
        names: Option<Arc<[HeaderName]>>,
    }
}

impl<F> fmt::Debug for MarkSensitiveFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MarkSensitiveFuture")
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for MarkSensitiveFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut result = std::task::ready!(this.inner.poll(cx));
        if let (Ok(response), Some(names)) = (&mut result, this.names.as_deref()) {
            mark_sensitive(response.headers_mut(), names);
        }
        Poll::Ready(result)
    }
}

/// Marks every value of every header in `names`.
fn mark_sensitive(headers: &mut http::HeaderMap, names: &[HeaderName]) {
    for (name, value) in headers.iter_mut() {
        if names.contains(name) {
            value.set_sensitive(true);
        }
    }
}

/// Runs each request inside a `request` span with the fields `method`,
/// `path` (scrubbed, without the query) and `client_request_id` (the
/// client's `X-Request-Id`, when sent; `[invalid]` when it is not a plain
/// token of at most 128 characters). See the [module docs](self).
///
/// The span is at `ERROR` level by default, so its fields are on every
/// error line whatever the log filter; set a lower [`level`](Self::level) to
/// leave it out of error-only logs.
#[derive(Clone, Debug)]
#[must_use]
pub struct RequestSpanLayer {
    level: Level,
    header: HeaderName,
}

impl Default for RequestSpanLayer {
    fn default() -> Self {
        Self {
            level: Level::ERROR,
            header: REQUEST_ID_HEADER,
        }
    }
}

impl RequestSpanLayer {
    /// A span at `ERROR` level, reading the client's id from
    /// [`X-Request-Id`](REQUEST_ID_HEADER).
    pub fn new() -> Self {
        Self::default()
    }

    /// The span's level: a subscriber that filters the level out records no
    /// span, and its events lose the span's fields.
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Reads the client's request id from another header (`X-Correlation-Id`,
    /// `X-Amzn-Trace-Id`, …).
    ///
    /// # Errors
    ///
    /// [`TraceConfigError::InvalidHeaderName`] when `name` is not a valid
    /// header name.
    pub fn request_id_header(mut self, name: impl AsRef<str>) -> Result<Self, TraceConfigError> {
        self.header = parse_name(name.as_ref())?;
        Ok(self)
    }
}

impl<S> Layer<S> for RequestSpanLayer {
    type Service = RequestSpan<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestSpan {
            inner,
            level: self.level,
            header: self.header.clone(),
        }
    }
}

/// The service of [`RequestSpanLayer`].
#[derive(Clone, Debug)]
pub struct RequestSpan<S> {
    inner: S,
    level: Level,
    header: HeaderName,
}

impl<S, ReqBody> Service<Request<ReqBody>> for RequestSpan<S>
where
    S: Service<Request<ReqBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let mut span = request_span(self.level, &request, &self.header);
        if span.is_disabled() {
            // No subscriber records it: entering and leaving a disabled span
            // on every poll still costs (tracing's `log` fallback checks the
            // level each time), and nothing would ever see it.
            span = Span::none();
        }
        // Services do work in `call` too (routing, CORS predicates), so the
        // span is entered there as well as around every poll.
        let future = span.in_scope(|| self.inner.call(request));
        future.instrument(span)
    }
}

fn request_span<B>(level: Level, request: &Request<B>, header: &HeaderName) -> Span {
    let method = request.method().as_str();
    // Scrubbed only when a subscriber records the span, not on every request.
    let path = LoggablePath(request.uri().path());
    let empty = tracing::field::Empty;
    // The span macros need a constant level.
    let span = if level == Level::ERROR {
        tracing::error_span!("request", method = %method, path = %path, client_request_id = empty)
    } else if level == Level::WARN {
        tracing::warn_span!("request", method = %method, path = %path, client_request_id = empty)
    } else if level == Level::INFO {
        tracing::info_span!("request", method = %method, path = %path, client_request_id = empty)
    } else if level == Level::DEBUG {
        tracing::debug_span!("request", method = %method, path = %path, client_request_id = empty)
    } else {
        tracing::trace_span!("request", method = %method, path = %path, client_request_id = empty)
    };
    if let Some(value) = request.headers().get(header) {
        let id = loggable_request_id(value).unwrap_or(INVALID);
        span.record("client_request_id", tracing::field::display(id));
    }
    span
}

/// A client request id, if it is safe to put in a log as is: 1 to 128
/// letters, digits and `-_.:+/=` (UUIDs, ULIDs, hex and base64 ids, AWS
/// trace ids). Spaces, quotes and everything else could forge log fields.
fn loggable_request_id(value: &HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    let plain = (1..=MAX_CLIENT_REQUEST_ID).contains(&bytes.len())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_.:+/=".contains(&b));
    if plain { value.to_str().ok() } else { None }
}

/// Displays a path as [`loggable_path`] makes it.
struct LoggablePath<'a>(&'a str);

impl std::fmt::Display for LoggablePath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&loggable_path(self.0))
    }
}

/// The path as logged: cut to [`MAX_LOGGED_PATH`] bytes (on a character
/// boundary) and scrubbed, so a token in a path segment is masked.
fn loggable_path(path: &str) -> Cow<'_, str> {
    let mut end = path.len().min(MAX_LOGGED_PATH);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    let cut = path.get(..end).unwrap_or_default();
    match scrub(cut) {
        Cow::Borrowed(s) if end < path.len() => Cow::Owned(format!("{s}…")),
        Cow::Owned(mut s) if end < path.len() => {
            s.push('…');
            Cow::Owned(s)
        }
        scrubbed => scrubbed,
    }
}

/// Answers `408 {"error":"request_timeout"}` when the wrapped service has
/// not produced a response head within the timeout; the inner future is
/// dropped, so the handler stops at its next `.await`.
///
/// The timer is armed only when the inner service does not answer in its
/// first poll (see [`TimeoutFuture`]). A zero timeout answers 408 to
/// everything. The timeout covers the time to the response head, not the
/// streaming of a body.
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct RequestTimeoutLayer {
    timeout: Duration,
}

impl RequestTimeoutLayer {
    /// Answers the generic 408 after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// The configured timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl<S> Layer<S> for RequestTimeoutLayer {
    type Service = RequestTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTimeout {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service of [`RequestTimeoutLayer`].
#[derive(Clone, Debug)]
pub struct RequestTimeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S, ReqBody> Service<Request<ReqBody>> for RequestTimeout<S>
where
    S: Service<Request<ReqBody>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clock starts when the request arrives, even though the timer
        // is armed only if the inner service does not answer at once.
        let deadline = tokio::time::Instant::now() + self.timeout;
        TimeoutFuture {
            inner: self.inner.call(request),
            deadline,
            expired: self.timeout.is_zero(),
            sleep: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RequestTimeout`].
    ///
    /// Written by hand rather than taken from tower-http, whose timeout
    /// polls its timer first: that registers a timer with the runtime on
    /// every request, even one answered in its first poll (a cached read, a
    /// refusal by a guard). This one polls the inner future first and arms
    /// the timer only when it is pending, with the deadline taken when the
    /// request arrived. A zero timeout still answers 408 to everything.
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        deadline: tokio::time::Instant,
        // A zero timeout: 408 without polling the inner future at all.
        expired: bool,
        #[pin]
        sleep: Option<tokio::time::Sleep>,
    }
}

impl<F> fmt::Debug for TimeoutFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutFuture")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<F, E> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.expired {
            return Poll::Ready(Ok(timeout_response()));
        }
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result.map(generic_timeout));
        }
        if this.sleep.is_none() {
            this.sleep
                .set(Some(tokio::time::sleep_until(*this.deadline)));
        }
        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Ok(timeout_response())),
            _ => Poll::Pending,
        }
    }
}

fn timeout_response() -> Response {
    tracing::warn!(status = 408, "request timed out");
    GuardError::new(ErrorKind::RequestTimeout).into_response()
}

/// A 408 the inner service answered itself (a handler's own, not the
/// generic one) is made generic, as every error is; anything else passes.
fn generic_timeout(response: Response) -> Response {
    if response.status() != StatusCode::REQUEST_TIMEOUT
        || response.extensions().get::<GenericBody>().is_some()
    {
        return response;
    }
    GuardError::new(ErrorKind::RequestTimeout).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;

    #[test]
    fn loggable_request_id_accepts_plain_tokens_only() {
        let long = "a".repeat(MAX_CLIENT_REQUEST_ID);
        let too_long = "a".repeat(MAX_CLIENT_REQUEST_ID + 1);
        let table: [(&[u8], bool); 12] = [
            (b"attacker-chosen", true),
            (b"6f1c1b8e-2f4e-4a57-9d3b-1c2d3e4f5a6b", true),
            (b"01ARZ3NDEKTSV4RRFFQ69G5FAV", true),
            (b"Root=1-67891233-abcdef012345678912345678", true),
            (b"dGVzdA==/+", true),
            (long.as_bytes(), true),
            (too_long.as_bytes(), false),
            (b"", false),
            (b"abc error_id=00000000-0000-0000-0000-000000000000", false),
            (b"a\"b", false),
            (b"tab\there", false),
            (b"caf\xc3\xa9", false),
        ];
        for (raw, ok) in table {
            let value = HeaderValue::from_bytes(raw).unwrap();
            assert_eq!(
                loggable_request_id(&value).is_some(),
                ok,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn loggable_path_masks_tokens_and_cuts_long_paths() {
        let token = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0";
        assert_eq!(loggable_path("/projects/42"), "/projects/42");
        assert_eq!(
            loggable_path(&format!("/reset/{token}")),
            "/reset/[redacted]"
        );
        let long = format!("/{}", "x".repeat(1000));
        let logged = loggable_path(&long);
        assert_eq!(logged.len(), MAX_LOGGED_PATH + '…'.len_utf8());
        assert!(logged.ends_with('…'));
        // A multi-byte character across the cut does not panic.
        let accented = format!("/{}é", "x".repeat(MAX_LOGGED_PATH - 2));
        assert!(loggable_path(&accented).ends_with('…'));
    }

    #[test]
    fn sensitive_headers_always_include_credentials() {
        let headers = SensitiveHeaders::new()
            .with_header("X-Api-Key")
            .unwrap()
            .with_header("authorization")
            .unwrap();
        let names: Vec<_> = headers.names().iter().map(HeaderName::as_str).collect();
        assert_eq!(
            names,
            [
                "authorization",
                "proxy-authorization",
                "cookie",
                "set-cookie",
                "x-api-key"
            ]
        );
        assert_eq!(
            SensitiveHeaders::new().with_header("bad name").unwrap_err(),
            TraceConfigError::InvalidHeaderName {
                name: "bad name".into()
            }
        );
        assert!(RequestSpanLayer::new().request_id_header("x id").is_err());
    }

    #[tokio::test]
    async fn sensitive_headers_are_marked_both_ways() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let service = tower::service_fn(move |request: Request<()>| {
            let mut seen = record.lock().unwrap();
            for name in ["authorization", "cookie", "x-api-key", "accept"] {
                let value = request.headers().get(name).unwrap();
                seen.push((name, value.is_sensitive()));
            }
            let mut response = http::Response::new(());
            let headers = response.headers_mut();
            headers.insert(header::SET_COOKIE, HeaderValue::from_static("id=abc"));
            headers.append(header::SET_COOKIE, HeaderValue::from_static("theme=dark"));
            headers.insert(header::ETAG, HeaderValue::from_static("\"1\""));
            let all_cookies_marked = request
                .headers()
                .get_all(header::COOKIE)
                .iter()
                .all(HeaderValue::is_sensitive);
            seen.push(("every cookie", all_cookies_marked));
            async move { Ok::<_, std::convert::Infallible>(response) }
        });
        let sensitive = SensitiveHeaders::new().with_header("x-api-key").unwrap();
        let service = tower::ServiceBuilder::new()
            .layer(sensitive.request_layer())
            .layer(sensitive.response_layer())
            .service(service);
        let request = Request::get("/")
            .header(header::AUTHORIZATION, "Bearer abc")
            .header(header::COOKIE, "id=abc")
            .header(header::COOKIE, "theme=dark")
            .header("x-api-key", "k")
            .header(header::ACCEPT, "*/*")
            .body(())
            .unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [
                ("authorization", true),
                ("cookie", true),
                ("x-api-key", true),
                ("accept", false),
                ("every cookie", true)
            ]
        );
        let set_cookies = response.headers().get_all(header::SET_COOKIE);
        assert_eq!(set_cookies.iter().count(), 2);
        assert!(set_cookies.iter().all(HeaderValue::is_sensitive));
        assert!(!response.headers()[header::ETAG].is_sensitive());
        assert_eq!(
            format!("{:?}", response.headers()[header::SET_COOKIE]),
            "Sensitive"
        );
    }

    async fn body_of(response: Response) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_timeout_answers_the_generic_408_and_drops_the_handler() {
        static DROPPED: AtomicBool = AtomicBool::new(false);
        struct SetOnDrop;
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                DROPPED.store(true, Ordering::SeqCst);
            }
        }
        let app = Router::new()
            .route(
                "/stall",
                get(|| async {
                    let _dropped = SetOnDrop;
                    std::future::pending::<()>().await;
                    "never"
                }),
            )
            .route("/fast", get(|| async { "fast" }))
            .route(
                "/own408",
                get(|| async { (StatusCode::REQUEST_TIMEOUT, "slow upstream db-7") }),
            )
            .layer(RequestTimeoutLayer::new(Duration::from_millis(20)));
        let table = [
            ("/stall", 408, r#"{"error":"request_timeout"}"#),
            ("/fast", 200, "fast"),
            ("/own408", 408, r#"{"error":"request_timeout"}"#),
        ];
        for (uri, status, body) in table {
            let response = app
                .clone()
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), status, "{uri}");
            if status == 408 {
                assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            }
            assert_eq!(body_of(response).await, body, "{uri}");
        }
        assert!(DROPPED.load(Ordering::SeqCst), "the handler kept running");
    }

    #[tokio::test]
    async fn a_zero_timeout_answers_408_without_running_the_handler() {
        static RAN: AtomicBool = AtomicBool::new(false);
        let app = Router::new()
            .route(
                "/fast",
                get(|| async {
                    RAN.store(true, Ordering::SeqCst);
                    "fast"
                }),
            )
            .layer(RequestTimeoutLayer::new(Duration::ZERO));
        let response = app
            .oneshot(Request::get("/fast").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body_of(response).await, r#"{"error":"request_timeout"}"#);
        assert!(!RAN.load(Ordering::SeqCst), "the handler ran");
    }

    #[tokio::test]
    async fn the_deadline_counts_from_the_request_not_from_the_first_pending_poll() {
        // 200 ms of work before the first await, then a 200 ms wait: over
        // a 300 ms timeout in all, though no single wait reaches it. A
        // deadline taken when the timer is armed would let it through.
        let app = Router::new()
            .route(
                "/slow-start",
                get(|| async {
                    std::thread::sleep(Duration::from_millis(200));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    "late"
                }),
            )
            .layer(RequestTimeoutLayer::new(Duration::from_millis(300)));
        let response = app
            .oneshot(Request::get("/slow-start").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    }
}
