//! [`RequestSpanLayer`]: each request inside a `request` span carrying the
//! method, the scrubbed path and the client's request id.

use std::borrow::Cow;
use std::task::{Context, Poll};

use guard_core::scrub::scrub;
use http::Request;
use http::header::{HeaderName, HeaderValue};
use tower::{Layer, Service};
use tracing::instrument::Instrumented;
use tracing::{Instrument as _, Level, Span};

use super::{TraceConfigError, parse_name};

/// The header a client's request id is read from by default.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client request id logged; longer ones are logged as `[invalid]`.
const MAX_CLIENT_REQUEST_ID: usize = 128;
/// Longest path logged, in bytes; the rest is cut.
const MAX_LOGGED_PATH: usize = 256;
/// Logged in place of a client request id that is not a plain token.
const INVALID: &str = "[invalid]";

/// Runs each request inside a `request` span with the fields `method`,
/// `path` (scrubbed, without the query) and `client_request_id` (the
/// client's `X-Request-Id`, when sent; `[invalid]` when it is not a plain
/// token of at most 128 characters). See the [module docs](super).
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

impl RequestSpanLayer {
    /// The span for one request, or `Span::none()` when no subscriber
    /// would record it (see [`RequestSpan`]).
    pub(crate) fn span_for<B>(&self, request: &Request<B>) -> Span {
        let span = request_span(self.level, request, &self.header);
        if span.is_disabled() {
            Span::none()
        } else {
            span
        }
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
    if span.is_disabled() {
        // Nothing records it: no need to look the client's id up.
        return span;
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

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
}
