//! What a fetch can fail with, and how each failure maps to a response.

use std::error::Error as StdError;
use std::fmt;

use guard_core::GuardError;
use guard_core::ssrf::UrlRefusal;
use http::StatusCode;

use super::redirect::TooManyRedirects;

/// A boxed cause kept for the log, so the public API does not name reqwest's
/// or rustls' error types.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// Why [`SafeClient::get`](super::SafeClient::get) returned no response.
///
/// The two variants are the two faces of a failed fetch: the caller asked for
/// something the policy forbids (**400** `url_not_allowed`), or the upstream
/// did not deliver (**502**). `From<FetchError> for GuardError` does exactly
/// that mapping, so a handler can use `?`.
///
/// Deliberately not a `std::error::Error`: `GuardError` turns every error
/// type into a 500 with `?`, and this one must become a 400 or a 502 instead.
/// The inner [`UrlRefusal`] and [`UpstreamError`] are errors.
#[derive(Debug)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL, a redirect hop, or an address a host name resolved to is
    /// refused by the [`UrlPolicy`](guard_core::ssrf::UrlPolicy). Nothing was
    /// sent to the refused place. Maps to 400 `url_not_allowed`.
    Refused(UrlRefusal),
    /// The upstream could not be reached or did not answer acceptably.
    /// Maps to 502.
    Upstream(UpstreamError),
}

/// The inner error's message: the rule for a refusal, the failure for an
/// upstream error; never the URL.
impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(refusal) => fmt::Display::fmt(refusal, f),
            Self::Upstream(upstream) => fmt::Display::fmt(upstream, f),
        }
    }
}

impl FetchError {
    /// The policy refusal, if this is one.
    #[must_use]
    pub fn refusal(&self) -> Option<&UrlRefusal> {
        match self {
            Self::Refused(refusal) => Some(refusal),
            Self::Upstream(_) => None,
        }
    }

    /// The upstream failure, if this is one.
    #[must_use]
    pub fn upstream(&self) -> Option<&UpstreamError> {
        match self {
            Self::Upstream(upstream) => Some(upstream),
            Self::Refused(_) => None,
        }
    }
}

impl From<UrlRefusal> for FetchError {
    fn from(refusal: UrlRefusal) -> Self {
        Self::Refused(refusal)
    }
}

impl From<UpstreamError> for FetchError {
    fn from(upstream: UpstreamError) -> Self {
        Self::Upstream(upstream)
    }
}

/// A fetch of an allowed URL that failed on the upstream's side.
///
/// `Display` never contains the URL (paths and queries often carry tokens);
/// the cause chain says what the transport reported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// The host name did not resolve.
    #[error("upstream host did not resolve")]
    Resolve(#[source] BoxError),
    /// The TCP connection or the TLS handshake failed.
    #[error("upstream connection failed")]
    Connect(#[source] BoxError),
    /// The total time, or the connect time, ran out.
    #[error("upstream timed out")]
    Timeout,
    /// The final response's status is not a success (2xx); its body was not
    /// read.
    #[error("upstream answered {0}")]
    Status(StatusCode),
    /// The body is larger than the client's limit; reading stopped there.
    #[error("upstream response exceeds {limit} bytes")]
    TooLarge {
        /// The client's `max_response_bytes`.
        limit: usize,
    },
    /// The upstream redirected more times than the client follows.
    #[error("upstream redirected more than {max} times")]
    TooManyRedirects {
        /// The client's `max_redirects`.
        max: usize,
    },
    /// Anything else the transport reported: a malformed response, a broken
    /// body, an unusable `Location`.
    #[error("upstream request failed")]
    Request(#[source] BoxError),
}

/// A [`SafeClient`](super::SafeClient) setting that cannot work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchConfigError {
    /// A total timeout of zero would fail every fetch.
    #[error("the fetch timeout must be greater than zero")]
    ZeroTimeout,
    /// A connect timeout of zero would fail every connection.
    #[error("the connect timeout must be greater than zero")]
    ZeroConnectTimeout,
    /// A response limit of zero would fail every response with a body.
    #[error("the maximum response size must be at least 1 byte")]
    ZeroResponseLimit,
    /// The user agent is not a valid header value.
    #[error("the user agent is not a valid header value")]
    InvalidUserAgent,
    /// The TLS configuration could not be built (e.g. no trusted root
    /// certificate could be loaded from the system).
    #[error("the TLS configuration could not be built")]
    Tls(#[source] BoxError),
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built")]
    Client(#[source] BoxError),
}

/// 400 `{"error":"url_not_allowed"}` for a refusal, 502
/// `{"error":"bad_gateway","error_id":"…"}` for an upstream failure, whose
/// detail (with its cause chain, never the URL) is logged under the error id.
impl From<FetchError> for GuardError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Refused(refusal) => {
                tracing::debug!(reason = %refusal, "outbound fetch refused");
                GuardError::invalid_input().with_code("url_not_allowed")
            }
            FetchError::Upstream(upstream) => GuardError::bad_gateway(Chain(&upstream)),
        }
    }
}

/// Displays an error and its causes, `a: b: c`.
struct Chain<'a>(&'a (dyn StdError + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Sorts a reqwest error into the policy's and the upstream's failures.
///
/// A refusal raised inside reqwest (by the vetting resolver or the redirect
/// policy) comes back wrapped in reqwest's and hyper's errors; it is found by
/// walking the cause chain, so a refused address is never reported as a
/// connection failure.
pub(crate) fn from_reqwest(error: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(&error);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<UrlRefusal>() {
            return FetchError::Refused(refusal.clone());
        }
        if let Some(TooManyRedirects { max }) = cause.downcast_ref::<TooManyRedirects>() {
            return UpstreamError::TooManyRedirects { max: *max }.into();
        }
        source = cause.source();
    }
    // The URL may carry secrets; the log gets the error without it.
    let error = error.without_url();
    let upstream = if error.is_timeout() {
        UpstreamError::Timeout
    } else if error.is_dns() {
        UpstreamError::Resolve(Box::new(error))
    } else if error.is_connect() {
        UpstreamError::Connect(Box::new(error))
    } else {
        UpstreamError::Request(Box::new(error))
    };
    upstream.into()
}

#[cfg(test)]
mod tests {
    use guard_core::ErrorKind;
    use guard_core::ssrf::AddressClass;

    use super::*;

    #[test]
    fn maps_refusals_to_400_url_not_allowed_and_upstream_failures_to_502() {
        let refused = GuardError::from(FetchError::Refused(UrlRefusal::Address {
            class: AddressClass::LinkLocal,
        }));
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_eq!(refused.code(), "url_not_allowed");
        assert_eq!(refused.public_body(), r#"{"error":"url_not_allowed"}"#);
        assert!(refused.error_id().is_none());

        for upstream in [
            UpstreamError::Timeout,
            UpstreamError::Status(StatusCode::INTERNAL_SERVER_ERROR),
            UpstreamError::TooLarge { limit: 10 },
            UpstreamError::TooManyRedirects { max: 5 },
            UpstreamError::Connect("connection refused".into()),
        ] {
            let error = GuardError::from(FetchError::Upstream(upstream));
            assert_eq!(error.kind(), ErrorKind::BadGateway);
            assert_eq!(error.status(), StatusCode::BAD_GATEWAY);
            assert!(error.error_id().is_some());
            assert!(error.public_body().starts_with(r#"{"error":"bad_gateway""#));
        }
    }

    #[test]
    fn chain_shows_every_cause() {
        let error = UpstreamError::Connect(Box::new(std::io::Error::other("connection refused")));
        assert_eq!(
            Chain(&error).to_string(),
            "upstream connection failed: connection refused"
        );
    }

    #[test]
    fn accessors_tell_the_two_faces_apart() {
        let refused = FetchError::from(UrlRefusal::Scheme);
        assert_eq!(refused.refusal(), Some(&UrlRefusal::Scheme));
        assert!(refused.upstream().is_none());
        let upstream = FetchError::from(UpstreamError::Timeout);
        assert!(refused.to_string().starts_with("url "));
        assert!(matches!(upstream.upstream(), Some(UpstreamError::Timeout)));
        assert!(upstream.refusal().is_none());
    }
}
