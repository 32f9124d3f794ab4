//! The client's address: [`ClientIpLayer`] resolves it once per request,
//! [`ClientIp`] extracts it.

use std::convert::Infallible;
use std::fmt;
use std::future::{Future, Ready};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::connect_info::MockConnectInfo;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use guard_core::GuardError;
use guard_core::client_ip::{ClientIpConfig, Ipv6KeyPrefix};
use guard_core::rate::{RateKey, rate_key_for_ip};
use http::Extensions;
use http::request::Parts;
use tower::{Layer, Service};

/// The client's IP address, as resolved by [`ClientIpLayer`] under its
/// [`ClientIpConfig`]: the socket peer, or the address a trusted proxy
/// reports. IPv4-mapped IPv6 is returned as IPv4.
///
/// Without the layer, the socket peer (as `ClientIpConfig::new()` would
/// resolve it). Without a socket peer at all (the app was not served with
/// `into_make_service_with_connect_info::<SocketAddr>()`), the extraction
/// fails closed: 500 `{"error":"internal","error_id":"…"}`, with a log line
/// naming the fix. It never guesses from headers.
///
/// ```
/// use axum::{Router, routing::get};
/// use guard_axum::extract::{ClientIp, ClientIpLayer};
/// use guard_axum::rate_limit::ClientIpConfig;
///
/// let config = ClientIpConfig::new().trust_proxy("10.0.0.0/8")?.from_x_forwarded_for();
/// let app: Router = Router::new()
///     .route("/ip", get(|ClientIp(ip): ClientIp| async move { ip.to_string() }))
///     .layer(ClientIpLayer::new(config));
/// // Serve with `app.into_make_service_with_connect_info::<std::net::SocketAddr>()`.
/// # Ok::<(), guard_axum::rate_limit::ClientIpConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

/// What [`ClientIpLayer`] stores: the address and its rate-limit key under
/// the layer's IPv6 prefix.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResolvedClientIp {
    pub(crate) ip: IpAddr,
    pub(crate) key: RateKey,
}

const MISSING_PEER: &str = "no socket peer address in the request: serve the app with \
     `into_make_service_with_connect_info::<std::net::SocketAddr>()` (or add \
     `MockConnectInfo` in tests); refusing rather than guessing the client IP";

/// The socket peer from axum's `ConnectInfo` (or `MockConnectInfo`).
fn peer(extensions: &Extensions) -> Option<SocketAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
        .or_else(|| {
            extensions
                .get::<MockConnectInfo<SocketAddr>>()
                .map(|MockConnectInfo(addr)| *addr)
        })
}

/// The client address and key: from [`ClientIpLayer`] if it ran, else the
/// socket peer keyed with the default IPv6 prefix; else 500.
pub(crate) fn resolved(extensions: &Extensions) -> Result<ResolvedClientIp, GuardError> {
    if let Some(resolved) = extensions.get::<ResolvedClientIp>() {
        return Ok(*resolved);
    }
    let ip = peer(extensions)
        .ok_or_else(|| GuardError::internal(MISSING_PEER))?
        .ip()
        .to_canonical();
    Ok(ResolvedClientIp {
        ip,
        key: rate_key_for_ip(ip, Ipv6KeyPrefix::DEFAULT),
    })
}

/// The client address and its rate-limit key (IPv6 masked to the
/// configured prefix), for guards written by hand: what [`ClientIpLayer`]
/// resolved, else the socket peer keyed by its /64.
///
/// # Errors
///
/// 500 `{"error":"internal","error_id":"…"}` when there is no socket peer
/// (see [`ClientIp`]).
pub fn client_rate_key(extensions: &Extensions) -> Result<(ClientIp, RateKey), GuardError> {
    resolved(extensions).map(|r| (ClientIp(r.ip), r.key))
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = GuardError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, GuardError> {
        resolved(&parts.extensions).map(|r| Self(r.ip))
    }
}

/// Resolves the client IP once per request and stores it for [`ClientIp`]
/// and the rate limits.
///
/// Requests without a socket peer are refused with 500 and a log line that
/// names `into_make_service_with_connect_info` (fail closed: never a guess).
/// Put it outside every layer that reads the client IP.
#[derive(Debug, Clone)]
pub struct ClientIpLayer {
    config: Arc<ClientIpConfig>,
}

impl ClientIpLayer {
    /// Resolves with `config`.
    #[must_use]
    pub fn new(config: ClientIpConfig) -> Self {
        Self {
            config: Arc::new(config),
        }
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &ClientIpConfig {
        &self.config
    }

    /// The address and key for one request, or the 500 refusal.
    pub(crate) fn resolve(&self, request: &Request) -> Result<ResolvedClientIp, GuardError> {
        let peer = peer(request.extensions()).ok_or_else(|| GuardError::internal(MISSING_PEER))?;
        let ip = self.config.resolve(peer.ip(), request.headers());
        Ok(ResolvedClientIp {
            ip,
            key: self.config.rate_key(ip),
        })
    }
}

impl<S> Layer<S> for ClientIpLayer {
    type Service = ClientIpService<S>;

    fn layer(&self, inner: S) -> ClientIpService<S> {
        ClientIpService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`ClientIpLayer`].
#[derive(Debug, Clone)]
pub struct ClientIpService<S> {
    inner: S,
    layer: ClientIpLayer,
}

impl<S> Service<Request> for ClientIpService<S>
where
    S: Service<Request, Response = Response>,
    S::Error: Into<Infallible>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ClientIpFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        match self.layer.resolve(&request) {
            Ok(resolved) => {
                // One entry: the `ClientIp` extractor reads it too.
                request.extensions_mut().insert(resolved);
                ClientIpFuture {
                    kind: Kind::Inner {
                        future: self.inner.call(request),
                    },
                }
            }
            Err(refusal) => ClientIpFuture {
                kind: Kind::Refused {
                    response: std::future::ready(Ok(refusal.into_response())),
                },
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ClientIpService`]: the inner service's, or
    /// the 500 refusal of a request without a socket peer.
    pub struct ClientIpFuture<F, E> {
        #[pin]
        kind: Kind<F, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, E> {
        Inner { #[pin] future: F },
        Refused { response: Ready<Result<Response, E>> },
    }
}

impl<F, E> fmt::Debug for ClientIpFuture<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIpFuture").finish_non_exhaustive()
    }
}

impl<F, E> Future for ClientIpFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Refused { response } => Pin::new(response).poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn request(peer: Option<&str>, xff: Option<&str>) -> Request {
        let mut builder = http::Request::builder().uri("/");
        if let Some(xff) = xff {
            builder = builder.header("x-forwarded-for", xff);
        }
        let mut request = builder.body(Body::empty()).unwrap();
        if let Some(peer) = peer {
            request
                .extensions_mut()
                .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        }
        request
    }

    #[test]
    fn resolves_through_trusted_proxies_only() {
        let layer = ClientIpLayer::new(
            ClientIpConfig::new()
                .trust_proxy("10.0.0.0/8")
                .unwrap()
                .from_x_forwarded_for(),
        );
        let table = [
            ("203.0.113.9:1000", Some("6.6.6.6"), "203.0.113.9"),
            (
                "10.0.0.2:1000",
                Some("6.6.6.6, 198.51.100.7"),
                "198.51.100.7",
            ),
            (
                "10.0.0.2:1000",
                Some("198.51.100.7, 10.0.0.3"),
                "198.51.100.7",
            ),
            ("10.0.0.2:1000", Some("not an address"), "10.0.0.2"),
            ("10.0.0.2:1000", None, "10.0.0.2"),
            ("[::ffff:192.0.2.1]:1000", None, "192.0.2.1"),
        ];
        for (peer, xff, want) in table {
            let resolved = layer.resolve(&request(Some(peer), xff)).unwrap();
            assert_eq!(
                resolved.ip,
                want.parse::<IpAddr>().unwrap(),
                "{peer} {xff:?}"
            );
        }
    }

    #[test]
    fn a_missing_peer_is_refused_not_guessed() {
        let layer = ClientIpLayer::new(ClientIpConfig::new());
        let refusal = layer.resolve(&request(None, Some("1.2.3.4"))).unwrap_err();
        assert_eq!(refusal.status(), 500);
        assert!(resolved(&Extensions::new()).is_err());
    }

    #[test]
    fn without_the_layer_the_peer_is_the_client_and_mock_connect_info_works() {
        let mut extensions = Extensions::new();
        extensions.insert(MockConnectInfo(
            "[2001:db8::1]:9".parse::<SocketAddr>().unwrap(),
        ));
        let resolved = resolved(&extensions).unwrap();
        assert_eq!(resolved.ip, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(
            resolved.key,
            rate_key_for_ip("2001:db8::ffff".parse().unwrap(), Ipv6KeyPrefix::DEFAULT)
        );
    }
}
