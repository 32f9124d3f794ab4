//! What a fetch can fail with, and how each failure maps to a response.

use std::error::Error as StdError;
use std::fmt;

use crate::GuardError;
use crate::scrub::scrub;
use crate::ssrf::UrlRefusal;
use http::StatusCode;

use super::redirect::TooManyRedirects;

/// A boxed cause kept for the log, so the public API does not name reqwest's
/// or rustls' error types.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// Why [`SafeClient::get`](super::SafeClient::get) returned no response.
///
/// A failed fetch has two public faces: the URL may not be fetched (**400**
/// `{"error":"url_not_allowed"}`, for [`Refused`](Self::Refused) and
/// [`UnusableHost`](Self::UnusableHost) alike), or the upstream did not
/// deliver (**502**). `From<FetchError> for GuardError` does exactly that
/// mapping, so a handler can use `?`; a handler that maps by hand should
/// branch on [`is_not_allowed`](Self::is_not_allowed), not on the variant.
///
/// # No host-name oracle
///
/// Whether a host name resolved to an internal address, resolved to
/// nothing, or did not resolve at all is what the server's DNS knows about
/// the internal network. Answering those differently (a 400 for "resolves to
/// 10.0.0.5", a 502 for "no such name") lets a caller map internal names one
/// request at a time, so all of them are one [`UnusableHost`](Self::UnusableHost)
/// with one public answer, the same bytes as a refusal of the URL itself.
/// Which one it was is in the [`HostFailure`] (and the log), never in the
/// response. Refusals decided from the URL alone (scheme, port, credentials,
/// a refused name, a literal address) stay [`Refused`](Self::Refused) with
/// their reason: the caller already knows everything they say.
///
/// Deliberately not a `std::error::Error`: `GuardError` turns every error
/// type into a 500 with `?`, and this one must become a 400 or a 502 instead.
/// The inner [`UrlRefusal`], [`HostFailure`] and [`UpstreamError`] are errors.
#[derive(Debug)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL or a redirect hop is refused by the
    /// [`UrlPolicy`](crate::ssrf::UrlPolicy) from what it says alone,
    /// before any lookup. Nothing was sent to the refused place. Maps to 400
    /// `url_not_allowed`.
    Refused(UrlRefusal),
    /// The host name of the URL or of a redirect hop could not be used: it
    /// did not resolve (in time), resolved to no address, or resolved to an
    /// address the policy refuses. Nothing was sent to it. Maps to the same
    /// 400 `url_not_allowed` as [`Refused`](Self::Refused), byte for byte.
    UnusableHost(HostFailure),
    /// The upstream (whose addresses passed the policy) could not be
    /// reached or did not answer acceptably. Maps to 502.
    Upstream(UpstreamError),
}

/// Why a host name could not be used (see [`FetchError::UnusableHost`]).
///
/// For the log and for tests: the variants must not be told apart in a
/// response. `Display` and the source chain never contain the URL or the
/// host name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostFailure {
    /// The name resolved to no address, or to at least one address the
    /// policy refuses ([`UrlRefusal::NoAddresses`], [`UrlRefusal::Address`]
    /// or [`UrlRefusal::DeniedAddress`]).
    #[error("url host resolved to refused addresses")]
    Refused(#[source] UrlRefusal),
    /// The lookup failed (no such name, no answer) or did not finish within
    /// the client's connect timeout.
    #[error("url host did not resolve")]
    Unresolved(#[source] BoxError),
}

impl HostFailure {
    /// The policy's reason, when the name resolved to refused addresses.
    #[must_use]
    pub fn refusal(&self) -> Option<&UrlRefusal> {
        match self {
            Self::Refused(refusal) => Some(refusal),
            Self::Unresolved(_) => None,
        }
    }
}

/// The inner error's message with its causes: the rule for a refusal, what
/// happened to the host name, the failure for an upstream error; never the
/// URL. For the log: a host failure's detail must not reach a response.
impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(refusal) => fmt::Display::fmt(refusal, f),
            Self::UnusableHost(failure) => fmt::Display::fmt(&Chain(failure), f),
            Self::Upstream(upstream) => fmt::Display::fmt(upstream, f),
        }
    }
}

impl FetchError {
    /// Whether the public answer is 400 `url_not_allowed`: a refused URL or
    /// an unusable host name, deliberately one answer (see the
    /// [type docs](Self#no-host-name-oracle)). Otherwise it is a 502.
    #[must_use]
    pub fn is_not_allowed(&self) -> bool {
        matches!(self, Self::Refused(_) | Self::UnusableHost(_))
    }

    /// The refusal decided from the URL (or a redirect hop) alone, if this
    /// is one. A host name that resolved to refused addresses is a
    /// [`host_failure`](Self::host_failure) instead.
    #[must_use]
    pub fn refusal(&self) -> Option<&UrlRefusal> {
        match self {
            Self::Refused(refusal) => Some(refusal),
            Self::UnusableHost(_) | Self::Upstream(_) => None,
        }
    }

    /// What happened to the host name, if it could not be used.
    #[must_use]
    pub fn host_failure(&self) -> Option<&HostFailure> {
        match self {
            Self::UnusableHost(failure) => Some(failure),
            Self::Refused(_) | Self::Upstream(_) => None,
        }
    }

    /// The upstream failure, if this is one.
    #[must_use]
    pub fn upstream(&self) -> Option<&UpstreamError> {
        match self {
            Self::Upstream(upstream) => Some(upstream),
            Self::Refused(_) | Self::UnusableHost(_) => None,
        }
    }
}

impl From<UrlRefusal> for FetchError {
    fn from(refusal: UrlRefusal) -> Self {
        Self::Refused(refusal)
    }
}

impl From<HostFailure> for FetchError {
    fn from(failure: HostFailure) -> Self {
        Self::UnusableHost(failure)
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

/// 400 `{"error":"url_not_allowed"}` for a refused URL **and** for an
/// unusable host name (the same bytes: no error id, nothing of the cause), 502
/// `{"error":"bad_gateway","error_id":"…"}` for an upstream failure, whose
/// detail (with its cause chain, never the URL) is logged under the error id.
/// What made a host name unusable is logged (scrubbed), never answered.
impl From<FetchError> for GuardError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Refused(refusal) => {
                tracing::debug!(reason = %refusal, "outbound fetch refused");
                url_not_allowed()
            }
            FetchError::UnusableHost(failure) => {
                let detail = Chain(&failure).to_string();
                tracing::debug!(reason = %scrub(&detail), "outbound fetch refused: host name unusable");
                url_not_allowed()
            }
            FetchError::Upstream(upstream) => GuardError::bad_gateway(Chain(&upstream)),
        }
    }
}

/// The one public answer for every "this URL may not be fetched".
fn url_not_allowed() -> GuardError {
    GuardError::invalid_input().with_code("url_not_allowed")
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

/// Sorts a reqwest error into the policy's, the host name's and the
/// upstream's failures.
///
/// A failure raised inside reqwest (by the vetting resolver or the redirect
/// policy) comes back wrapped in reqwest's and hyper's errors; it is found by
/// walking the cause chain, so a refused address is never reported as a
/// connection failure. The resolver's [`HostFailure`] is outermost in its
/// chain, so it is found before the [`UrlRefusal`] it may wrap.
pub(crate) fn from_reqwest(error: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(&error);
    while let Some(cause) = source {
        if let Some(failure) = cause.downcast_ref::<HostFailure>() {
            return FetchError::UnusableHost(match failure {
                HostFailure::Refused(refusal) => HostFailure::Refused(refusal.clone()),
                // The boxed cause is reqwest's to keep; its text (with its
                // own causes) is what the log needs.
                HostFailure::Unresolved(cause) => {
                    HostFailure::Unresolved(Chain(&**cause).to_string().into())
                }
            });
        }
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
    // Every name goes through the vetting resolver, which reports its own
    // failures as `HostFailure`; a DNS error from anywhere else gets the same
    // answer rather than a 502 that would tell "no such name" apart.
    if error.is_dns() {
        return HostFailure::Unresolved(Box::new(error)).into();
    }
    let upstream = if error.is_timeout() {
        UpstreamError::Timeout
    } else if error.is_connect() {
        UpstreamError::Connect(Box::new(error))
    } else {
        UpstreamError::Request(Box::new(error))
    };
    upstream.into()
}

#[cfg(test)]
mod tests {
    use crate::ErrorKind;
    use crate::ssrf::AddressClass;

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
    fn every_unusable_host_has_the_one_answer_of_a_refused_url() {
        let answer = |error: FetchError| {
            let error = GuardError::from(error);
            (
                error.status(),
                error.public_body(),
                error.error_id(),
                error.retry_after(),
            )
        };
        let want = answer(FetchError::Refused(UrlRefusal::Scheme));
        assert_eq!(
            want,
            (
                StatusCode::BAD_REQUEST,
                r#"{"error":"url_not_allowed"}"#.to_owned(),
                None,
                None
            )
        );
        for failure in [
            HostFailure::Refused(UrlRefusal::Address {
                class: AddressClass::Loopback,
            }),
            HostFailure::Refused(UrlRefusal::Address {
                class: AddressClass::Private,
            }),
            HostFailure::Refused(UrlRefusal::DeniedAddress),
            HostFailure::Refused(UrlRefusal::NoAddresses),
            HostFailure::Unresolved(Box::new(std::io::Error::other("nxdomain"))),
            HostFailure::Unresolved(Box::new(std::io::Error::from(std::io::ErrorKind::TimedOut))),
        ] {
            let detail = failure.to_string();
            let error = FetchError::from(failure);
            assert!(error.is_not_allowed());
            assert_eq!(answer(error), want, "{detail}");
        }
        assert!(!FetchError::from(UpstreamError::Timeout).is_not_allowed());
    }

    #[test]
    fn chain_shows_every_cause() {
        let error = UpstreamError::Connect(Box::new(std::io::Error::other("connection refused")));
        assert_eq!(
            Chain(&error).to_string(),
            "upstream connection failed: connection refused"
        );
        // The detail of a host failure is in the error (for the log).
        let host = FetchError::from(HostFailure::Refused(UrlRefusal::Address {
            class: AddressClass::Loopback,
        }));
        assert_eq!(
            host.to_string(),
            "url host resolved to refused addresses: url address is not allowed (loopback)"
        );
        let host = FetchError::from(HostFailure::Unresolved("nxdomain".into()));
        assert_eq!(host.to_string(), "url host did not resolve: nxdomain");
    }

    #[test]
    fn accessors_tell_the_faces_apart() {
        let refused = FetchError::from(UrlRefusal::Scheme);
        assert_eq!(refused.refusal(), Some(&UrlRefusal::Scheme));
        assert!(refused.upstream().is_none() && refused.host_failure().is_none());
        assert!(refused.to_string().starts_with("url "));
        let host = FetchError::from(HostFailure::Refused(UrlRefusal::NoAddresses));
        assert!(host.refusal().is_none() && host.upstream().is_none());
        assert_eq!(
            host.host_failure().and_then(HostFailure::refusal),
            Some(&UrlRefusal::NoAddresses)
        );
        let upstream = FetchError::from(UpstreamError::Timeout);
        assert!(matches!(upstream.upstream(), Some(UpstreamError::Timeout)));
        assert!(upstream.refusal().is_none() && upstream.host_failure().is_none());
    }
}
