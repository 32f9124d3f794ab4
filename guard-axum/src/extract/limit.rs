//! The body size limit: one setting for the strict extractor and axum's own.

use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use futures_util::StreamExt as _;
use guard_core::GuardError;
use guard_core::upload::{ByteSize, ByteSizeError};
use http::{Extensions, HeaderMap, Request, header};
use tower::{Layer, Service};

/// The most bytes a route reads from a request body; more is refused with
/// 413 `{"error":"payload_too_large"}` while streaming, before decoding, and
/// without reading the rest.
///
/// [`Valid`](super::Valid) reads it from the request's extensions (falling
/// back to [`BodyLimit::DEFAULT`], 64 KiB). Put it there with
/// [`BodyLimit::apply_to`] or [`BodyLimitLayer`], which also set axum's
/// [`DefaultBodyLimit`] to the same value, so `Bytes`, `String`, `Json` and
/// `Multipart` extractors on the route cannot read more either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BodyLimit(pub usize);

impl BodyLimit {
    /// 64 KiB: generous for JSON, small enough that a flood of bodies does
    /// not exhaust memory.
    pub const DEFAULT: Self = Self(64 * 1024);

    /// Parses `"1MiB"`, `"512KiB"`… (the grammar of [`ByteSize`]).
    ///
    /// # Errors
    ///
    /// [`ByteSizeError`] for anything else, including zero.
    pub fn parse(text: &str) -> Result<Self, ByteSizeError> {
        ByteSize::parse(text).map(Self::from)
    }

    /// The limit in force for a request: the one a guard or layer put in its
    /// extensions, else [`BodyLimit::DEFAULT`].
    #[must_use]
    pub fn of(extensions: &Extensions) -> Self {
        extensions.get::<Self>().copied().unwrap_or(Self::DEFAULT)
    }

    /// Makes this the limit of one request, for [`Valid`](super::Valid) and
    /// for axum's extractors ([`DefaultBodyLimit`]) alike.
    pub fn apply_to(self, extensions: &mut Extensions) {
        // axum's limit lives in an extension of a private type; `apply`
        // only takes a request, so apply it to an empty one and move it over.
        let mut carrier = Request::new(());
        DefaultBodyLimit::max(self.0).apply(&mut carrier);
        extensions.extend(carrier.into_parts().0.extensions);
        extensions.insert(self);
    }
}

impl Default for BodyLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl From<ByteSize> for BodyLimit {
    fn from(size: ByteSize) -> Self {
        Self(size.to_usize_saturating())
    }
}

/// The router-wide default cap: axum's [`DefaultBodyLimit`], set on the
/// requests that carry a body. A request whose body has already ended
/// (a `GET`, `Content-Length: 0`, an HTTP/2 request that ended its stream
/// with its headers) has nothing to cap, so it does not pay for the
/// extension. Routes that declare their own limit override this one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DefaultBodyCapLayer {
    limit: usize,
}

impl DefaultBodyCapLayer {
    pub(crate) fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for DefaultBodyCapLayer {
    type Service = DefaultBodyCap<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DefaultBodyCap {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`DefaultBodyCapLayer`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct DefaultBodyCap<S> {
    inner: S,
    limit: usize,
}

impl<S, B> Service<Request<B>> for DefaultBodyCap<S>
where
    S: Service<Request<B>>,
    B: axum::body::HttpBody,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if !req.body().is_end_stream() {
            DefaultBodyLimit::max(self.limit).apply(&mut req);
        }
        self.inner.call(req)
    }
}

/// Reads at most `limit` bytes of `body`.
///
/// A `Content-Length` over the limit is refused before reading anything;
/// otherwise chunks are counted as they arrive and the read stops at the
/// first chunk that would cross the limit, so a 10 MB body sent slowly
/// costs at most `limit` plus one chunk.
///
/// # Errors
///
/// 413 over the limit; 400 when the body fails mid-stream (the client went
/// away, or the framing is broken).
pub async fn read_body_limited(
    headers: &HeaderMap,
    body: Body,
    limit: BodyLimit,
) -> Result<Bytes, GuardError> {
    let BodyLimit(max) = limit;
    let declared = declared_length(headers)?;
    if declared.is_some_and(|len| len > max as u64) {
        return Err(GuardError::payload_too_large());
    }
    let capacity = declared.map_or(0, |len| usize::try_from(len).unwrap_or(max).min(max));
    let mut buf = Vec::with_capacity(capacity);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| {
            tracing::debug!(error = %err, "request body failed while reading");
            GuardError::invalid_input()
        })?;
        if chunk.len() > max.saturating_sub(buf.len()) {
            return Err(GuardError::payload_too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// The `Content-Length`, if any; several or a malformed one is a 400
/// (request smuggling relies on disagreeing lengths).
fn declared_length(headers: &HeaderMap) -> Result<Option<u64>, GuardError> {
    let mut values = headers.get_all(header::CONTENT_LENGTH).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(GuardError::invalid_input());
    }
    value
        .to_str()
        .ok()
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse().ok())
        .map(Some)
        .ok_or_else(GuardError::invalid_input)
}

/// A layer that applies one [`BodyLimit`] to every request it sees, for
/// [`Valid`](super::Valid) and axum's extractors alike (see
/// [`BodyLimit::apply_to`]).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    limit: BodyLimit,
}

impl BodyLimitLayer {
    /// A layer applying `limit`.
    #[must_use]
    pub fn new(limit: BodyLimit) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyLimitService {
            inner,
            limit: self.limit,
        }
    }
}

/// The service of [`BodyLimitLayer`].
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitService<S> {
    inner: S,
    limit: BodyLimit,
}

impl<S, B> Service<Request<B>> for BodyLimitService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        self.limit.apply_to(req.extensions_mut());
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    /// The `Content-Length` values sent, and the length or status expected.
    type Case = (&'static [&'static str], Result<Option<u64>, u16>);

    #[test]
    fn content_length_must_be_one_plain_number() {
        let table: [Case; 7] = [
            (&[], Ok(None)),
            (&["0"], Ok(Some(0))),
            (&["65536"], Ok(Some(65536))),
            (&["+5"], Err(400)),
            (&[" 5"], Err(400)),
            (&["99999999999999999999999"], Err(400)),
            (&["5", "5"], Err(400)),
        ];
        for (values, want) in table {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(header::CONTENT_LENGTH, HeaderValue::from_static(value));
            }
            let got = declared_length(&headers).map_err(|e| e.status().as_u16());
            assert_eq!(got, want, "{values:?}");
        }
    }

    #[test]
    fn parses_the_byte_size_grammar() {
        assert_eq!(BodyLimit::parse("1MiB"), Ok(BodyLimit(1024 * 1024)));
        assert_eq!(BodyLimit::parse("64KiB"), Ok(BodyLimit::DEFAULT));
        assert!(BodyLimit::parse("0KiB").is_err());
        assert!(BodyLimit::parse("1mb").is_err());
    }
}
