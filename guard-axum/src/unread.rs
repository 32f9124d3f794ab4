//! `Connection: close` on a response sent before its request's body was
//! read to the end.
//!
//! A guard that refuses a request (413, 401, 403, 429, …) answers without
//! reading the body, and hyper then closes the connection rather than read
//! an unbounded body it was never going to use. Without a header saying so,
//! a keep-alive client sends its next request on the connection and gets a
//! reset instead of an answer; RFC 9112 9.6 asks a server that closes to
//! send `Connection: close`. A request with no body costs nothing here.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Bytes, HttpBody};
use http::{HeaderValue, Request, Response, header};
use hyper::body::{Frame, Incoming, SizeHint};

pin_project_lite::pin_project! {
    /// A request body that records when it was read to its end.
    pub(crate) struct Tracked {
        #[pin]
        inner: Incoming,
        ended: Option<Arc<AtomicBool>>,
    }
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut this = self.project();
        let polled = this.inner.as_mut().poll_frame(cx);
        let at_end = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => this.inner.is_end_stream(),
            _ => false,
        };
        if at_end && let Some(ended) = this.ended {
            ended.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The connection's service: hands the app a [`Tracked`] body and marks
/// the response `Connection: close` when that body was left unread.
#[derive(Clone, Debug)]
pub(crate) struct CloseUnread<S>(pub(crate) S);

impl<S, B> tower::Service<Request<Incoming>> for CloseUnread<S>
where
    S: tower::Service<Request<Tracked>, Response = Response<B>>,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = CloseUnreadFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let (parts, inner) = request.into_parts();
        let ended = (!inner.is_end_stream()).then(|| Arc::new(AtomicBool::new(false)));
        let body = Tracked {
            inner,
            ended: ended.clone(),
        };
        CloseUnreadFuture {
            inner: self.0.call(Request::from_parts(parts, body)),
            ended,
        }
    }
}

pin_project_lite::pin_project! {
    /// The app's response future, then the header.
    pub(crate) struct CloseUnreadFuture<F> {
        #[pin]
        inner: F,
        ended: Option<Arc<AtomicBool>>,
    }
}

impl<F, B, E> Future for CloseUnreadFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx));
        if let (Ok(response), Some(ended)) = (&mut response, this.ended.as_ref())
            && !ended.load(Ordering::Acquire)
        {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Poll::Ready(response)
    }
}
