//! An HTTP client that connects only where a [`UrlPolicy`] allows: the
//! outbound half of the SSRF guard.
//!
//! A handler that fetches a URL it was given (a webhook, a link preview, an
//! import) must not become a proxy into the cloud metadata service, the admin
//! port on localhost or the private network. [`SafeClient`] fetches with
//! reqwest, and:
//!
//! * checks the URL with the policy before anything is sent: scheme, port,
//!   credentials, refused names, and any literal address (`127.1`,
//!   `2130706433`, `[::ffff:127.0.0.1]`) that is not globally reachable;
//! * resolves host names itself, once, vets **every** address (one refused
//!   address refuses the host) and lets reqwest connect only to the vetted
//!   ones: there is no second lookup for DNS rebinding to exploit;
//! * follows at most `max_redirects` redirects, each hop checked by the same
//!   policy and resolved by the same vetting resolver;
//! * bounds the total time, the connect time and the body size (reading
//!   stops at the limit);
//! * sends no ambient credentials: no cookie store, no default
//!   `Authorization`, no proxy from the environment, no `Referer` on
//!   redirects.
//!
//! ```no_run
//! use guard_core::GuardError;
//! use guard_core::fetch::SafeClient;
//! use guard_core::ssrf::{SafeUrl, UrlPolicy};
//!
//! # async fn preview(url: SafeUrl) -> Result<usize, GuardError> {
//! let client = SafeClient::builder(UrlPolicy::new())
//!     .max_response_bytes(256 * 1024)
//!     .build()
//!     .map_err(GuardError::internal)?;
//! // A refused URL or unusable host is a 400 `url_not_allowed`, an upstream
//! // failure a 502.
//! let page = client.get(&url).await?;
//! Ok(page.body.len())
//! # }
//! ```
//!
//! Build one client at startup and share it (it is cheap to clone): building
//! loads the system's trusted roots.
//!
//! # Errors and status codes
//!
//! | [`FetchError`] | when | maps to |
//! |---|---|---|
//! | `Refused(UrlRefusal)` | the URL or a redirect hop is refused by the policy from what it says: scheme, port, credentials, a refused name, a literal address | 400 `{"error":"url_not_allowed"}` |
//! | `UnusableHost(HostFailure)` | a host name did not resolve (within the connect timeout), resolved to no address, or resolved to a refused address | 400 `{"error":"url_not_allowed"}`, the same bytes |
//! | `Upstream(UpstreamError)` | connection, TLS, timeout, non-2xx status, body over the limit, too many redirects, once the addresses were vetted | 502 `{"error":"bad_gateway","error_id":"…"}` |
//!
//! The middle row is deliberately indistinguishable from the first: whether
//! a name exists in the server's DNS, and whether it points inside, is what
//! an attacker probing the internal network wants to learn, so every way a
//! host name can fail gets the one answer. The log says which it was.
//!
//! # Security
//!
//! * Host names are resolved as absolute names (`name.`), so resolver search
//!   domains cannot expand them; entries that exist only in `/etc/hosts` are
//!   therefore not found.
//! * Plain `http` is refused unless the policy allows it; with it, anyone on
//!   the path can read and alter the exchange.
//! * A successful response's headers and body come from an arbitrary server:
//!   treat them as untrusted input.
//! * Status and body do not tell an internal name from a missing one, but
//!   time still may: a lookup that is answered from a local cache is faster
//!   than one that goes to the network. Rate-limit the route (a preview or
//!   import route should be anyway) to keep such probing slow.

mod error;
mod redirect;
mod resolve;
mod response;
mod tls;

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use reqwest::Url;

pub use crate::ssrf::{AddressClass, CheckedUrl, SafeUrl, UrlPolicy, UrlPolicyError, UrlRefusal};
pub use error::{FetchConfigError, FetchError, HostFailure, UpstreamError};
pub use response::FetchedResponse;

use resolve::{LookupFn, VettedResolver};

/// The default limit on redirects followed.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;
/// The default limit on a response body, in bytes (2 MiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 2 * 1024 * 1024;
/// The default limit on a whole fetch: resolution, connection, redirects and
/// body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default limit on establishing one connection (TCP and TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// An HTTP client that only connects where its [`UrlPolicy`] allows.
///
/// Refuses every URL and redirect hop the policy refuses
/// ([`FetchError::Refused`]) and every host name that does not resolve to
/// addresses the policy allows ([`FetchError::UnusableHost`]), before sending
/// anything there, both a 400 `url_not_allowed`; reports every other failure
/// as [`FetchError::Upstream`] (a 502). See the [module docs](self).
#[derive(Debug, Clone)]
pub struct SafeClient {
    client: reqwest::Client,
    policy: Arc<UrlPolicy>,
    max_response_bytes: usize,
    timeout: Duration,
}

impl SafeClient {
    /// Starts a client that enforces `policy`, with the default limits.
    pub fn builder(policy: UrlPolicy) -> SafeClientBuilder {
        SafeClientBuilder::new(policy)
    }

    /// The policy this client enforces.
    pub fn policy(&self) -> &UrlPolicy {
        &self.policy
    }

    /// Fetches `url` with `GET` and reads the whole body.
    ///
    /// `url` is any string (a [`SafeUrl`] or a `CheckedUrl` included): it is
    /// checked against this client's policy, which may be stricter than the
    /// one a `SafeUrl` passed. Only a 2xx final response is returned.
    ///
    /// # Errors
    /// [`FetchError::Refused`] when the policy refuses the URL or a redirect
    /// hop; [`FetchError::UnusableHost`] when a host name did not resolve in
    /// time, or resolved to no address or to a refused one (nothing was sent
    /// in either case); [`FetchError::Upstream`] when the upstream could not
    /// be reached, timed out, answered a non-2xx status, sent a body over the
    /// limit, or redirected too often.
    pub async fn get(&self, url: impl AsRef<str>) -> Result<FetchedResponse, FetchError> {
        let checked = self.policy.check_url(url.as_ref()).inspect_err(|refusal| {
            tracing::info!(reason = %refusal, "outbound fetch refused");
        })?;
        // One deadline for everything, the vetting lookups and the body
        // included; reqwest's own timeout is set to the same value.
        tokio::time::timeout(self.timeout, self.fetch(checked.into_url()))
            .await
            .unwrap_or(Err(UpstreamError::Timeout.into()))
    }

    async fn fetch(&self, url: Url) -> Result<FetchedResponse, FetchError> {
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(error::from_reqwest)
            .inspect_err(|error| match error {
                FetchError::Refused(refusal) => {
                    tracing::info!(reason = %refusal, "outbound fetch refused at a redirect");
                }
                FetchError::UnusableHost(_) => {
                    let detail = error.to_string();
                    tracing::info!(
                        reason = %crate::scrub::scrub(&detail),
                        "outbound fetch refused: host name unusable"
                    );
                }
                FetchError::Upstream(_) => {}
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(UpstreamError::Status(status).into());
        }
        let body = response::read_capped(&mut response, self.max_response_bytes).await?;
        Ok(FetchedResponse {
            status,
            headers: std::mem::take(response.headers_mut()),
            body,
            final_url: response.url().clone(),
        })
    }
}

/// Configures a [`SafeClient`]; [`build`](Self::build) validates.
#[must_use]
pub struct SafeClientBuilder {
    policy: UrlPolicy,
    max_redirects: usize,
    max_response_bytes: usize,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    lookup: Option<LookupFn>,
}

impl std::fmt::Debug for SafeClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafeClientBuilder")
            .field("policy", &self.policy)
            .field("max_redirects", &self.max_redirects)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("custom_lookup", &self.lookup.is_some())
            .finish()
    }
}

impl SafeClientBuilder {
    fn new(policy: UrlPolicy) -> Self {
        Self {
            policy,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            user_agent: concat!("guard-axum/", env!("CARGO_PKG_VERSION")).to_owned(),
            lookup: None,
        }
    }

    /// Follows at most `max` redirects (default [`DEFAULT_MAX_REDIRECTS`]);
    /// one more is [`UpstreamError::TooManyRedirects`]. `0` follows none.
    pub fn max_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max;
        self
    }

    /// Fails a response whose body is longer than `max` bytes (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]) with [`UpstreamError::TooLarge`],
    /// reading no further than the limit.
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// Bounds a whole fetch, resolution, redirects and body included
    /// (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Bounds establishing each connection (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]), and separately each host-name lookup:
    /// a lookup still running after it is a [`FetchError::UnusableHost`],
    /// like a name that does not exist.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `User-Agent` sent (default `guard-axum/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Resolves host names with `lookup` instead of the system resolver: a
    /// DNS-over-HTTPS resolver, service discovery, or a fixed table in tests.
    ///
    /// Its answers are vetted exactly like the system's: an empty answer,
    /// any refused address, an error or no answer within the connect timeout
    /// makes the host a [`FetchError::UnusableHost`], and the client
    /// connects only to the addresses returned. `lookup` receives the host
    /// name as it appears in the URL.
    pub fn resolve_with<F, Fut>(mut self, lookup: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<Vec<IpAddr>>> + Send + 'static,
    {
        self.lookup = Some(Arc::new(move |host| Box::pin(lookup(host))));
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`FetchConfigError`] for a zero timeout or response limit, a user
    /// agent that is not a header value, or a TLS setup that failed (no
    /// trusted root certificate on the system).
    pub fn build(self) -> Result<SafeClient, FetchConfigError> {
        if self.timeout.is_zero() {
            return Err(FetchConfigError::ZeroTimeout);
        }
        if self.connect_timeout.is_zero() {
            return Err(FetchConfigError::ZeroConnectTimeout);
        }
        if self.max_response_bytes == 0 {
            return Err(FetchConfigError::ZeroResponseLimit);
        }
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| FetchConfigError::InvalidUserAgent)?;
        let tls = tls::client_config().map_err(|e| FetchConfigError::Tls(Box::new(e)))?;
        let policy = Arc::new(self.policy);

        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .dns_resolver(VettedResolver::new(
                Arc::clone(&policy),
                self.lookup,
                self.connect_timeout,
            ))
            .redirect(redirect::policy(Arc::clone(&policy), self.max_redirects))
            // The URL that redirected may carry a token in its path or query.
            .referer(false)
            // HTTP(S)_PROXY from the environment would route around the
            // address checks (the proxy connects, not the client).
            .no_proxy()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(user_agent)
            .build()
            .map_err(|e| FetchConfigError::Client(Box::new(e.without_url())))?;

        Ok(SafeClient {
            client,
            policy,
            max_response_bytes: self.max_response_bytes,
            timeout: self.timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_settings_that_cannot_work() {
        let build = |f: fn(SafeClientBuilder) -> SafeClientBuilder| {
            f(SafeClient::builder(UrlPolicy::new())).build().map(|_| ())
        };
        assert!(matches!(
            build(|b| b.timeout(Duration::ZERO)),
            Err(FetchConfigError::ZeroTimeout)
        ));
        assert!(matches!(
            build(|b| b.connect_timeout(Duration::ZERO)),
            Err(FetchConfigError::ZeroConnectTimeout)
        ));
        assert!(matches!(
            build(|b| b.max_response_bytes(0)),
            Err(FetchConfigError::ZeroResponseLimit)
        ));
        assert!(matches!(
            build(|b| b.user_agent("bad\r\nX-Injected: 1")),
            Err(FetchConfigError::InvalidUserAgent)
        ));
        assert!(build(|b| b.max_redirects(0)).is_ok());
    }

    #[test]
    fn builds_with_defaults_and_keeps_the_policy() {
        let client = SafeClient::builder(UrlPolicy::new().allow_http())
            .build()
            .unwrap();
        assert!(client.policy().check_url("http://example.com/").is_ok());
        assert_eq!(client.max_response_bytes, DEFAULT_MAX_RESPONSE_BYTES);
        assert_eq!(client.timeout, DEFAULT_TIMEOUT);
    }
}
