//! The response future of [`RateLimit`](super::RateLimit).
//!
//! Three shapes, all without allocation but the last: a refusal decided on
//! the spot, the inner service's future with the `RateLimit` headers added
//! to its response, and (for a networked backend) a boxed future that awaits
//! the decision and then calls the inner service. Which one is private: the
//! type names none of them.

use std::fmt;
use std::future::{Future, Ready};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::response::Response;

use super::headers::RateHeaders;

/// A decision awaited from a networked backend, then the inner call.
type Pending<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send + 'static>>;

pin_project_lite::pin_project! {
    /// The future of [`RateLimit`](super::RateLimit): a ready refusal, the
    /// inner future with the `RateLimit` headers added to its response, or a
    /// decision still pending at a networked backend.
    pub struct ResponseFuture<F, E> {
        #[pin]
        kind: Kind<F, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, E> {
        Refused { response: Ready<Result<Response, E>> },
        Allowed { #[pin] inner: F, headers: Option<RateHeaders> },
        Pending { future: Pending<E> },
    }
}

impl<F, E> ResponseFuture<F, E> {
    /// A refusal decided on the spot.
    pub(super) fn refused(response: Response) -> Self {
        Self {
            kind: Kind::Refused {
                response: std::future::ready(Ok(response)),
            },
        }
    }

    /// The inner future; `headers` are added to its response.
    pub(super) fn allowed(inner: F, headers: Option<RateHeaders>) -> Self {
        Self {
            kind: Kind::Allowed { inner, headers },
        }
    }

    /// A decision still to be awaited, then the inner call.
    pub(super) fn pending(future: Pending<E>) -> Self {
        Self {
            kind: Kind::Pending { future },
        }
    }
}

impl<F, E> fmt::Debug for ResponseFuture<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Refused { response } => Pin::new(response).poll(cx),
            KindProj::Allowed { inner, headers } => {
                let result = ready!(inner.poll(cx));
                Poll::Ready(add_headers((result, headers.take())))
            }
            KindProj::Pending { future } => future.as_mut().poll(cx),
        }
    }
}

/// Adds the headers of an allowed decision to the inner service's response.
pub(super) fn add_headers<E>(
    (result, headers): (Result<Response, E>, Option<RateHeaders>),
) -> Result<Response, E> {
    result.map(|mut response| {
        if let Some(headers) = headers {
            headers.apply(response.headers_mut());
        }
        response
    })
}
