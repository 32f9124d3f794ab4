//! The response future of [`RateLimit`](super::RateLimit).
//!
//! Three shapes, all without allocation but the last: a refusal decided on
//! the spot, the inner service's future with the `RateLimit` headers added
//! to its response, and (for a networked backend) a boxed future that awaits
//! the decision and then calls the inner service.

use std::future::Ready;
use std::pin::Pin;

use axum::response::Response;
use futures_util::future::{Either, Join, Map};

use super::headers::RateHeaders;

/// The inner future with the headers of an allowed decision added to its
/// response.
pub type WithHeaders<F, E> = Map<
    Join<F, Ready<Option<RateHeaders>>>,
    fn((Result<Response, E>, Option<RateHeaders>)) -> Result<Response, E>,
>;

/// A decision awaited from a networked backend, then the inner call.
pub type Pending<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send + 'static>>;

/// The future of [`RateLimit`](super::RateLimit): a ready refusal, the inner
/// future with headers, or a pending decision.
pub type ResponseFuture<F, E> =
    Either<Ready<Result<Response, E>>, Either<WithHeaders<F, E>, Pending<E>>>;

/// Adds the headers of an allowed decision to the inner service's response.
pub(crate) fn add_headers<E>(
    (result, headers): (Result<Response, E>, Option<RateHeaders>),
) -> Result<Response, E> {
    result.map(|mut response| {
        if let Some(headers) = headers {
            headers.apply(response.headers_mut());
        }
        response
    })
}
