//! The service of [`RateLimitLayer`](super::RateLimitLayer).

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse as _, Response};
use tower::Service;

use super::future::{ResponseFuture, add_headers};
use super::layer::{Outcome, Shared};

/// Rate-limits the requests to `S`; built by
/// [`RateLimitLayer`](super::RateLimitLayer).
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> RateLimit<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S> fmt::Debug for RateLimit<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("policies", &self.shared.set.policies())
            .finish_non_exhaustive()
    }
}

impl<S> Service<Request> for RateLimit<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let key = match self.shared.key_for(&request) {
            Ok(key) => key,
            Err(refusal) => return ResponseFuture::refused(refusal.into_response()),
        };
        let (keys, n) = self.shared.keys(key);
        let decide = self.shared.set.check(keys.get(..n).unwrap_or_default());
        match decide.into_ready() {
            Ok(result) => match self.shared.outcome(result) {
                Outcome::Refuse(response) => ResponseFuture::refused(response),
                Outcome::Allow(headers) => {
                    ResponseFuture::allowed(self.inner.call(request), headers)
                }
            },
            Err(pending) => {
                // The clone that was polled ready serves this request (tower's rule).
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let shared = self.shared.clone();
                ResponseFuture::pending(Box::pin(async move {
                    match shared.outcome(pending.await) {
                        Outcome::Refuse(response) => Ok(response),
                        Outcome::Allow(headers) => {
                            let result = inner.call(request).await;
                            add_headers((result, headers))
                        }
                    }
                }))
            }
        }
    }
}
