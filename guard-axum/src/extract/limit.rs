//! The body size limit: one setting for the strict extractor and axum's own.

use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use guard_core::GuardError;
use guard_core::upload::{ByteSize, ByteSizeError};
use http::{Extensions, HeaderMap, Request, header};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
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

/// Reads at most `limit` bytes of `body`.
///
/// A `Content-Length` over the limit is refused before reading anything;
/// otherwise [`Limited`] counts the chunks as they arrive and the read stops
/// at the first chunk that would cross the limit, so a 10 MB body sent
/// slowly costs at most `limit` plus one chunk.
///
/// # Errors
///
/// 413 over the limit; 400 when the body fails mid-stream (the client went
/// away, or the framing is broken).
pub(crate) async fn read_body_limited(
    headers: &HeaderMap,
    body: Body,
    limit: BodyLimit,
) -> Result<Bytes, GuardError> {
    let BodyLimit(max) = limit;
    let declared = declared_length(headers)?;
    if declared.is_some_and(|len| len > max as u64) {
        return Err(GuardError::payload_too_large());
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<LengthLimitError>() => Err(GuardError::payload_too_large()),
        Err(err) => {
            tracing::debug!(error = %err, "request body failed while reading");
            Err(GuardError::invalid_input())
        }
    }
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

    /// A body sent as `chunks` pieces of ten bytes, counting the pieces read.
    fn chunked(chunks: usize, read: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Body {
        let read = std::sync::Arc::clone(read);
        Body::from_stream(futures_util::stream::iter((0..chunks).map(move |_| {
            read.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, std::io::Error>(Bytes::from_static(b"0123456789"))
        })))
    }

    #[tokio::test]
    async fn reads_up_to_the_cap_and_refuses_past_it_without_reading_on() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        // (chunks of ten bytes, cap, expected length or status, chunks read)
        let table: [(usize, usize, Result<usize, u16>, usize); 4] = [
            (3, 30, Ok(30), 3),
            (3, 29, Err(413), 3),
            (100, 25, Err(413), 3),
            (0, 1, Ok(0), 0),
        ];
        for (chunks, cap, want, pulled) in table {
            let read = Arc::new(AtomicUsize::new(0));
            let got =
                read_body_limited(&HeaderMap::new(), chunked(chunks, &read), BodyLimit(cap)).await;
            let got = got.map(|b| b.len()).map_err(|e| {
                assert_eq!(e.public_body(), r#"{"error":"payload_too_large"}"#);
                e.status().as_u16()
            });
            assert_eq!(got, want, "{chunks} chunks, cap {cap}");
            assert_eq!(
                read.load(Ordering::SeqCst),
                pulled,
                "{chunks} chunks, cap {cap}"
            );
        }
    }

    #[tokio::test]
    async fn a_declared_length_over_the_cap_is_refused_before_reading() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        let read = Arc::new(AtomicUsize::new(0));
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("31"));
        let err = read_body_limited(&headers, chunked(3, &read), BodyLimit(30))
            .await
            .unwrap_err();
        assert_eq!(err.public_body(), r#"{"error":"payload_too_large"}"#);
        assert_eq!(read.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_body_that_fails_mid_stream_is_a_generic_400() {
        let body = Body::from_stream(futures_util::stream::iter([
            Ok(Bytes::from_static(b"{\"a\"")),
            Err(std::io::Error::other(
                "connection reset by alice@example.com",
            )),
        ]));
        let err = read_body_limited(&HeaderMap::new(), body, BodyLimit(64))
            .await
            .unwrap_err();
        assert_eq!(err.public_body(), r#"{"error":"invalid_input"}"#);
    }

    #[test]
    fn parses_the_byte_size_grammar() {
        assert_eq!(BodyLimit::parse("1MiB"), Ok(BodyLimit(1024 * 1024)));
        assert_eq!(BodyLimit::parse("64KiB"), Ok(BodyLimit::DEFAULT));
        assert!(BodyLimit::parse("0KiB").is_err());
        assert!(BodyLimit::parse("1mb").is_err());
    }
}
