//! [`RequestTimeoutLayer`]: a timeout answering the generic 408.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use guard_core::{ErrorKind, GenericBody, GuardError};
use http::{Request, StatusCode};
use tower::{Layer, Service};

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

pub(crate) fn timeout_response() -> Response {
    tracing::warn!(status = 408, "request timed out");
    GuardError::new(ErrorKind::RequestTimeout).into_response()
}

/// A 408 the inner service answered itself (a handler's own, not the
/// generic one) is made generic, as every error is; anything else passes.
pub(crate) fn generic_timeout(response: Response) -> Response {
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

    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::header;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;

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
