//! The router-wide default layers as two services with one hand-written
//! future each, instead of nine nested layers: every layer of a
//! `ServiceBuilder` stack moves the request into its service and the inner
//! future into its own, and each response back out through all of them.
//!
//! [`Front`] is the outer part (security headers, sensitive request
//! headers, the request span) and [`Back`] the inner part (timeout, client
//! IP, default body cap, panic catcher, sensitive response headers); CORS,
//! when configured, sits between the two, where the stack of separate
//! layers had it. Each part is also a public layer of its own
//! ([`crate::headers::SecurityHeadersLayer`], [`crate::trace`],
//! [`crate::rate_limit::ClientIpLayer`], [`crate::extract::BodyLimitLayer`]);
//! these two only do the same work in one pass.

use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::HttpBody as _;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::{IntoResponse, Response};
use guard_core::GuardError;
use guard_core::headers::PreparedSecurityHeaders;
use http::Method;
use http::header::CONTENT_LENGTH;
use tower::{Layer, Service};
use tracing::Span;

use super::length::content_length;
use crate::app::HostMissing;
use crate::headers::{SecurityHeaders, prepare};
use crate::rate_limit::ClientIpLayer;
use crate::trace::{
    RequestSpanLayer, SensitiveHeaders, SensitiveNames, generic_timeout, mark_sensitive,
    timeout_response,
};

/// The outer part of the default stack; see the [module docs](self).
///
/// Its settings sit behind one `Arc` (as [`BackLayer`]'s do): axum clones
/// the layered service for every request and the future keeps the
/// settings, so each `Arc` is two shared counter updates per request, on a
/// cache line every worker touches.
#[derive(Clone)]
pub(crate) struct FrontLayer {
    config: Arc<FrontConfig>,
}

struct FrontConfig {
    headers: PreparedSecurityHeaders,
    sensitive: Arc<SensitiveNames>,
    span: RequestSpanLayer,
}

impl FrontLayer {
    pub(crate) fn new(
        headers: SecurityHeaders,
        sensitive: &SensitiveHeaders,
        span: RequestSpanLayer,
    ) -> Self {
        Self {
            config: Arc::new(FrontConfig {
                headers: prepare(headers),
                sensitive: sensitive.shared(),
                span,
            }),
        }
    }
}

impl<S> Layer<S> for FrontLayer {
    type Service = Front<S>;

    fn layer(&self, inner: S) -> Front<S> {
        Front {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of [`FrontLayer`].
#[derive(Clone)]
pub(crate) struct Front<S> {
    inner: S,
    config: Arc<FrontConfig>,
}

impl<S> Service<Request> for Front<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = FrontFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        mark_sensitive(request.headers_mut(), &self.config.sensitive);
        let span = self.config.span.span_for(&request);
        // A 2xx answer to CONNECT must not carry a length (RFC 9110).
        let set_length = request.method() != Method::CONNECT;
        // Services do work in `call` too (routing, CORS predicates), so the
        // span is entered there as well as around every poll.
        let inner = span.in_scope(|| self.inner.call(request));
        FrontFuture {
            inner,
            span,
            config: Arc::clone(&self.config),
            set_length,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Front`]: the inner future polled inside the
    /// request span, then the length and the security headers.
    pub(crate) struct FrontFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        config: Arc<FrontConfig>,
        set_length: bool,
    }
}

impl<F> Future for FrontFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.span.enter();
            this.inner.poll(cx)
        };
        let Poll::Ready(Ok(mut response)) = result else {
            return result;
        };
        let headers = &this.config.headers;
        match response.body().size_hint().exact() {
            Some(len) if *this.set_length => {
                headers.apply_with(
                    response.headers_mut(),
                    false,
                    CONTENT_LENGTH,
                    content_length(len),
                );
            }
            _ => headers.apply_to(response.headers_mut(), false),
        }
        Poll::Ready(Ok(response))
    }
}

// `Content-Length` is set as axum's router would once the response leaves
// the stack, but with the security headers: the response then has the shape
// of a prepared map (`Content-Type`, `Content-Length`), the length goes
// straight into its place and the map never grows (see
// `PreparedSecurityHeaders`).

/// The inner part of the default stack; see the [module docs](self).
#[derive(Clone)]
pub(crate) struct BackLayer {
    config: Arc<BackConfig>,
}

struct BackConfig {
    timeout: Option<Duration>,
    client_ip: Option<ClientIpLayer>,
    body_limit: usize,
    /// Set when `Set-Cookie` and the other names are marked here (no user
    /// layer sits inside the stack).
    sensitive: Option<Arc<SensitiveNames>>,
}

impl BackLayer {
    pub(crate) fn new(
        timeout: Option<Duration>,
        client_ip: Option<ClientIpLayer>,
        body_limit: usize,
        sensitive: Option<&SensitiveHeaders>,
    ) -> Self {
        Self {
            config: Arc::new(BackConfig {
                timeout,
                client_ip,
                body_limit,
                sensitive: sensitive.map(SensitiveHeaders::shared),
            }),
        }
    }
}

impl<S> Layer<S> for BackLayer {
    type Service = Back<S>;

    fn layer(&self, inner: S) -> Back<S> {
        Back {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of [`BackLayer`].
#[derive(Clone)]
pub(crate) struct Back<S> {
    inner: S,
    config: Arc<BackConfig>,
}

impl<S> Service<Request> for Back<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clock starts when the request arrives; the timer is armed
        // only if the inner service does not answer in its first poll.
        let deadline = self
            .config
            .timeout
            .map(|timeout| (tokio::time::Instant::now() + timeout, timeout.is_zero()));
        let mut future = BackFuture {
            state: State::Done,
            deadline,
            sleep: None,
            config: Arc::clone(&self.config),
        };
        // Two `Host` headers are a request a server must refuse (RFC 9112,
        // 3.2): a proxy in front and this service may each read another
        // one, and every check of the request's own origin (the CSRF
        // check, a link built from it) would decide on the one the
        // attacker chose. hyper passes them through, and serves an
        // HTTP/1.1 request with none, which the same section refuses too.
        if bad_host(&request) {
            tracing::info!("request with no Host header or more than one refused");
            future.state = State::Ready {
                response: Some(GuardError::invalid_input().into_response()),
            };
            return future;
        }
        if let Some(client_ip) = &self.config.client_ip {
            match client_ip.resolve(&request) {
                Ok(resolved) => {
                    request.extensions_mut().insert(resolved);
                }
                Err(refusal) => {
                    future.state = State::Ready {
                        response: Some(refusal.into_response()),
                    };
                    return future;
                }
            }
        }
        // A body that has already ended has nothing to cap.
        if !request.body().is_end_stream() {
            DefaultBodyLimit::max(self.config.body_limit).apply(&mut request);
        }
        future.state = match catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(inner) => State::Running { inner },
            Err(panic) => State::Ready {
                response: Some(panic_response(panic)),
            },
        };
        future
    }
}

/// Whether `request` has more than one `Host` header, or none although it
/// came off a connection as HTTP/1.1 ([`HostMissing`]).
fn bad_host(request: &Request) -> bool {
    let mut hosts = request.headers().get_all(http::header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), None) => false,
        (Some(_), Some(_)) => true,
        (None, _) => request.extensions().get::<HostMissing>().is_some(),
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Back`].
    pub(crate) struct BackFuture<F> {
        #[pin]
        state: State<F>,
        // The deadline, and whether the timeout is zero (408 at once).
        deadline: Option<(tokio::time::Instant, bool)>,
        #[pin]
        sleep: Option<tokio::time::Sleep>,
        config: Arc<BackConfig>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running { #[pin] inner: F },
        // A refusal or a caught panic, answered at the first poll.
        Ready { response: Option<Response> },
        Done,
    }
}

impl<F> Future for BackFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some((_, true)) = this.deadline {
            // A zero timeout: 408 without polling the inner future at all.
            this.state.set(State::Done);
            return Poll::Ready(Ok(timeout_response()));
        }
        let mut response = match this.state.as_mut().project() {
            StateProj::Ready { response } => response.take().unwrap_or_else(internal),
            StateProj::Done => internal(),
            StateProj::Running { inner } => {
                match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                    Ok(Poll::Ready(Ok(response))) => match &this.config.sensitive {
                        Some(names) => {
                            let mut response = response;
                            mark_sensitive(response.headers_mut(), names);
                            response
                        }
                        None => response,
                    },
                    Ok(Poll::Ready(Err(never))) => match never {},
                    Err(panic) => panic_response(panic),
                    Ok(Poll::Pending) => {
                        let Some((deadline, _)) = *this.deadline else {
                            return Poll::Pending;
                        };
                        if this.sleep.is_none() {
                            this.sleep.set(Some(tokio::time::sleep_until(deadline)));
                        }
                        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
                            Some(Poll::Ready(())) => {
                                this.state.set(State::Done);
                                return Poll::Ready(Ok(timeout_response()));
                            }
                            _ => return Poll::Pending,
                        }
                    }
                }
            }
        };
        this.state.set(State::Done);
        if this.deadline.is_some() {
            response = generic_timeout(response);
        }
        Poll::Ready(Ok(response))
    }
}

/// A future polled again after it answered: a wiring bug, answered with
/// the generic 500 rather than a panic.
fn internal() -> Response {
    GuardError::internal("the default stack's future was polled after it answered").into_response()
}

/// A caught panic becomes the generic 500; its message is logged, scrubbed,
/// under the error id the client sees.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    GuardError::internal(format_args!("handler panicked: {message}")).into_response()
}

impl fmt::Debug for FrontLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrontLayer").finish_non_exhaustive()
    }
}

impl fmt::Debug for BackLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackLayer")
            .field("timeout", &self.config.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::body::Body;
    use axum::extract::connect_info::MockConnectInfo;
    use guard_core::client_ip::ClientIpConfig;
    use http::{HeaderValue, StatusCode, header};
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;
    use crate::headers::SecurityHeadersLayer;

    fn stack(timeout: Option<Duration>, client_ip: bool) -> (FrontLayer, BackLayer) {
        let sensitive = SensitiveHeaders::new();
        let client_ip = client_ip.then(|| ClientIpLayer::new(ClientIpConfig::new()));
        (
            FrontLayer::new(
                SecurityHeaders::default(),
                &sensitive,
                RequestSpanLayer::new(),
            ),
            BackLayer::new(timeout, client_ip, 1024, Some(&sensitive)),
        )
    }

    async fn body_of(response: Response) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// Name and values of every header, sorted, for comparing maps built
    /// in different orders.
    fn sorted(headers: &http::HeaderMap) -> Vec<(String, Vec<String>)> {
        let mut all: Vec<_> = headers
            .keys()
            .map(|name| {
                let values = headers
                    .get_all(name)
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect();
                (name.as_str().to_owned(), values)
            })
            .collect();
        all.sort();
        all
    }

    async fn json(request: Request) -> Result<Response, Infallible> {
        let marked = request.headers()[header::AUTHORIZATION].is_sensitive();
        let mut response = axum::Json(serde_json::json!({ "marked": marked })).into_response();
        if request.uri().path() == "/cookie" {
            response
                .headers_mut()
                .insert(header::SET_COOKIE, HeaderValue::from_static("id=1"));
        }
        Ok(response)
    }

    fn get(uri: &str) -> Request {
        Request::get(uri)
            .header(header::AUTHORIZATION, "Bearer t")
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn answers_with_the_headers_the_separate_layers_give_and_the_length() {
        for uri in ["/json", "/cookie"] {
            let fused = stack(None, false)
                .layer(tower::service_fn(json))
                .oneshot(get(uri))
                .await
                .unwrap();
            let separate = SecurityHeadersLayer::default()
                .layer(tower::service_fn(json))
                .oneshot(get(uri))
                .await
                .unwrap();
            let mut expected = separate.headers().clone();
            expected.insert(CONTENT_LENGTH, HeaderValue::from_static("15"));
            assert_eq!(sorted(fused.headers()), sorted(&expected), "{uri}");
            assert_eq!(
                fused
                    .headers()
                    .get(header::SET_COOKIE)
                    .map(HeaderValue::is_sensitive),
                (uri == "/cookie").then_some(true),
                "{uri}"
            );
            assert_eq!(body_of(fused).await, r#"{"marked":true}"#, "{uri}");
        }
    }

    #[tokio::test]
    async fn a_connect_answer_gets_no_length() {
        let request = Request::builder()
            .method(Method::CONNECT)
            .uri("example.com:443")
            .header(header::AUTHORIZATION, "Bearer t")
            .body(Body::empty())
            .unwrap();
        let response = stack(None, false)
            .layer(tower::service_fn(json))
            .oneshot(request)
            .await
            .unwrap();
        assert!(!response.headers().contains_key(CONTENT_LENGTH));
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
    }

    #[tokio::test]
    async fn a_panic_in_call_or_in_poll_is_the_generic_500_with_the_headers() {
        #[derive(Clone)]
        struct PanicsInCall;
        impl Service<Request> for PanicsInCall {
            type Response = Response;
            type Error = Infallible;
            type Future = std::future::Ready<Result<Response, Infallible>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, _: Request) -> Self::Future {
                panic!("in call")
            }
        }
        let in_call = stack(None, false)
            .layer(PanicsInCall)
            .oneshot(get("/"))
            .await
            .unwrap();
        let in_poll = stack(None, false)
            .layer(tower::service_fn(|_: Request| async {
                if true {
                    panic!("in poll");
                }
                Ok::<Response, Infallible>(Response::new(Body::empty()))
            }))
            .oneshot(get("/"))
            .await
            .unwrap();
        for response in [in_call, in_poll] {
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(
                response.headers()[header::X_CONTENT_TYPE_OPTIONS],
                "nosniff"
            );
            let body = body_of(response).await;
            assert!(
                body.starts_with(r#"{"error":"internal","error_id":""#),
                "{body}"
            );
            assert!(
                !body.contains("in call") && !body.contains("in poll"),
                "{body}"
            );
        }
    }

    #[tokio::test]
    async fn a_zero_timeout_answers_408_without_polling_the_inner_service() {
        static POLLED: AtomicBool = AtomicBool::new(false);
        let inner = tower::service_fn(|request: Request| async move {
            POLLED.store(true, Ordering::SeqCst);
            json(request).await
        });
        let zero = stack(Some(Duration::ZERO), false)
            .layer(inner)
            .oneshot(get("/"))
            .await
            .unwrap();
        assert_eq!(zero.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(zero.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(body_of(zero).await, r#"{"error":"request_timeout"}"#);
        assert!(!POLLED.load(Ordering::SeqCst), "the inner future ran");
        let ample = stack(Some(Duration::from_secs(30)), false)
            .layer(inner)
            .oneshot(get("/"))
            .await
            .unwrap();
        assert_eq!(ample.status(), StatusCode::OK);
        assert!(POLLED.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn the_client_ip_is_resolved_or_the_request_refused() {
        let seen = |request: Request| async move {
            let found = request
                .extensions()
                .get::<crate::extract::client_ip::ResolvedClientIp>()
                .map(|resolved| resolved.ip.to_string());
            Ok::<_, Infallible>(found.unwrap_or_default().into_response())
        };
        let mut from_peer = get("/");
        from_peer
            .extensions_mut()
            .insert(MockConnectInfo(SocketAddr::from(([198, 51, 100, 4], 1))));
        let resolved = stack(None, true)
            .layer(tower::service_fn(seen))
            .oneshot(from_peer)
            .await
            .unwrap();
        assert_eq!(resolved.status(), StatusCode::OK);
        assert_eq!(body_of(resolved).await, "198.51.100.4");
        let refused = stack(None, true)
            .layer(tower::service_fn(seen))
            .oneshot(get("/"))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(refused.headers()[header::X_FRAME_OPTIONS], "DENY");
    }
}
