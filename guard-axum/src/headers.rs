//! Security headers on every response: [`SecurityHeadersLayer`].
//!
//! The layer applies a [`SecurityHeaders`] (guard-core's
//! `SecurityHeaders`, the OWASP API profile by default) to every response
//! that passes through it: successes, the model's generic errors, axum's
//! 404 and 405 fallbacks, extractor rejections, CORS preflight answers,
//! timeouts and caught panics. Installed outermost (as `GuardedRouter` does),
//! no response leaves without them.
//!
//! ```
//! use axum::Router;
//! use guard_axum::headers::{SecurityHeaders, SecurityHeadersLayer};
//!
//! // The defaults, with a CSP for a router that serves a small HTML page.
//! let policy = SecurityHeaders::default()
//!     .content_security_policy("default-src 'self'; frame-ancestors 'none'")?;
//! let app: Router = Router::new().layer(SecurityHeadersLayer::new(policy));
//! # Ok::<(), guard_axum::headers::HeaderPolicyError>(())
//! ```
//!
//! # Who wins: the policy or the handler
//!
//! The policy overwrites a handler's value of every header it sets, except
//! `Cache-Control`, `Content-Security-Policy` and `Content-Type`, which
//! describe the content and are left as the handler set them (a page route
//! needs its own CSP; a public asset may be cached). A header the policy
//! does not set (say `Cross-Origin-Embedder-Policy`) is never touched. The
//! `Cache-Control: no-store` the guards put on authenticated responses is
//! therefore kept.
//!
//! # Cost
//!
//! The header values are built once, into a ready map, when the layer is;
//! per response the layer copies that map and moves the handler's few
//! headers into it (see [`guard_core::headers::PreparedSecurityHeaders`]):
//! no parsing, no formatting, no hashing of the policy's names.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Layer, Service};

use guard_core::headers::PreparedSecurityHeaders;
pub use guard_core::headers::{DEFAULT_PERMISSIONS_POLICY, HeaderPolicyError, SecurityHeaders};
use http::HeaderName;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};

use crate::rate_limit::headers::{RATELIMIT, RATELIMIT_POLICY};

/// The policy prepared for the responses the framework's handlers give:
/// JSON, with or without the guards' `RateLimit` pair and the
/// authenticated `Cache-Control`, with or without `Content-Length`.
pub(crate) fn prepare(policy: SecurityHeaders) -> PreparedSecurityHeaders {
    let shapes: [&[HeaderName]; 5] = [
        &[],
        &[CONTENT_TYPE],
        &[CONTENT_TYPE, CACHE_CONTROL],
        &[CONTENT_TYPE, RATELIMIT_POLICY.clone(), RATELIMIT.clone()],
        &[
            CONTENT_TYPE,
            RATELIMIT_POLICY.clone(),
            RATELIMIT.clone(),
            CACHE_CONTROL,
        ],
    ];
    shapes.iter().fold(policy.prepare(), |prepared, names| {
        let mut sized = names.to_vec();
        sized.push(CONTENT_LENGTH);
        prepared.with_shape(names).with_shape(&sized)
    })
}

/// Applies a [`SecurityHeaders`] to every response of the wrapped
/// service; see the [module docs](self) for which header wins.
///
/// It refuses nothing: it never changes a status or a body, and an error of
/// the inner service passes through unchanged (axum services have none).
#[derive(Clone)]
pub struct SecurityHeadersLayer {
    policy: Arc<PreparedSecurityHeaders>,
}

impl SecurityHeadersLayer {
    /// A layer applying `policy`. Build the policy from
    /// [`SecurityHeaders::default`] and override single headers, so
    /// changing one never drops the others.
    #[must_use]
    pub fn new(policy: SecurityHeaders) -> Self {
        Self {
            policy: Arc::new(prepare(policy)),
        }
    }

    /// The policy this layer applies.
    #[must_use]
    pub fn policy(&self) -> &SecurityHeaders {
        self.policy.policy()
    }
}

impl Default for SecurityHeadersLayer {
    /// The OWASP API profile: see [`guard_core::headers`].
    fn default() -> Self {
        Self::new(SecurityHeaders::default())
    }
}

impl fmt::Debug for SecurityHeadersLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityHeadersLayer")
            .field("policy", &self.policy)
            .finish()
    }
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeadersService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeadersService {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// The service of [`SecurityHeadersLayer`].
#[derive(Clone)]
pub struct SecurityHeadersService<S> {
    inner: S,
    policy: Arc<PreparedSecurityHeaders>,
}

impl<S> SecurityHeadersService<S> {
    /// Wraps `inner`, applying `policy` to its responses.
    pub fn new(inner: S, policy: SecurityHeaders) -> Self {
        Self {
            inner,
            policy: Arc::new(prepare(policy)),
        }
    }

    /// The policy this service applies.
    pub fn policy(&self) -> &SecurityHeaders {
        self.policy.policy()
    }
}

impl<S: fmt::Debug> fmt::Debug for SecurityHeadersService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityHeadersService")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SecurityHeadersService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        ResponseFuture {
            inner: self.inner.call(request),
            policy: Arc::clone(&self.policy),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`SecurityHeaders`]: the inner future, then the
    /// policy applied to its response.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        policy: Arc<PreparedSecurityHeaders>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = match this.inner.poll(cx) {
            Poll::Ready(Ok(response)) => response,
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => return Poll::Pending,
        };
        // The guards have already set `Cache-Control` on authenticated
        // responses; `apply_to` never removes a handler's `Cache-Control`.
        this.policy.apply_to(response.headers_mut(), false);
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::Router;
    use axum::body::Body;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use guard_core::GuardError;
    use http::{HeaderMap, HeaderValue, StatusCode, header};
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;

    /// The core's default policy, whose own tests pin every value.
    fn defaults() -> Vec<(http::HeaderName, HeaderValue)> {
        SecurityHeaders::default()
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }

    /// A few defaults written out, so a silent change in the core fails here
    /// too.
    const SPOT_VALUES: [(&str, &str); 3] = [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
    ];

    fn assert_defaults(headers: &HeaderMap, what: &str) {
        let defaults = defaults();
        assert_eq!(defaults.len(), 9, "the OWASP API profile has nine headers");
        for (name, value) in &defaults {
            let all: Vec<_> = headers.get_all(name).iter().collect();
            assert_eq!(all, [value], "{what}: {name}");
        }
        for (name, value) in SPOT_VALUES {
            assert_eq!(headers[name], value, "{what}: {name}");
        }
    }

    async fn handler_sets_its_own() -> impl IntoResponse {
        (
            [
                (header::X_FRAME_OPTIONS, "ALLOWALL"),
                (header::REFERRER_POLICY, "unsafe-url"),
                (header::CONTENT_SECURITY_POLICY, "default-src 'self'"),
                (header::CACHE_CONTROL, "public, max-age=60"),
                (header::CONTENT_TYPE, "text/html"),
                (
                    http::HeaderName::from_static("cross-origin-embedder-policy"),
                    "require-corp",
                ),
            ],
            "<p>hi</p>",
        )
    }

    fn app(layer: SecurityHeadersLayer) -> Router {
        Router::new()
            .route("/plain", get(|| async { "ok" }))
            .route("/own", get(handler_sets_its_own))
            .route("/err", get(|| async { GuardError::forbidden() }))
            .route(
                "/no-store",
                get(|| async { ([(header::CACHE_CONTROL, "no-store")], "mine") }),
            )
            .fallback(|| async { GuardError::not_found() })
            .layer(layer)
    }

    async fn call(app: &Router, uri: &str) -> (StatusCode, HeaderMap, String) {
        let response = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn every_response_carries_the_default_headers() {
        let app = app(SecurityHeadersLayer::default());
        let table = [
            ("/plain", 200, "ok"),
            ("/err", 403, r#"{"error":"forbidden"}"#),
            ("/missing", 404, r#"{"error":"not_found"}"#),
        ];
        for (uri, status, body) in table {
            let (got_status, headers, got_body) = call(&app, uri).await;
            assert_eq!(got_status.as_u16(), status, "{uri}");
            assert_eq!(got_body, body, "{uri}: the layer changed the body");
            assert_defaults(&headers, uri);
            assert!(!headers.contains_key(header::CACHE_CONTROL), "{uri}");
        }
    }

    #[tokio::test]
    async fn policy_headers_overwrite_the_handlers_except_content_headers() {
        let (_, headers, body) = call(&app(SecurityHeadersLayer::default()), "/own").await;
        assert_eq!(body, "<p>hi</p>");
        let table = [
            // Enforced: a handler's value is replaced.
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            // Describe the content: the handler's value is kept.
            ("content-security-policy", "default-src 'self'"),
            ("cache-control", "public, max-age=60"),
            ("content-type", "text/html"),
            // Not part of the policy: untouched.
            ("cross-origin-embedder-policy", "require-corp"),
        ];
        for (name, value) in table {
            let all: Vec<_> = headers.get_all(name).iter().collect();
            assert_eq!(all, [value], "{name}");
        }
    }

    #[tokio::test]
    async fn keeps_the_no_store_of_authenticated_responses() {
        let (_, headers, _) = call(&app(SecurityHeadersLayer::default()), "/no-store").await;
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_defaults(&headers, "/no-store");
    }

    #[tokio::test]
    async fn a_custom_policy_overrides_one_header_and_keeps_the_others() {
        let policy = SecurityHeaders::default()
            .content_security_policy("default-src 'self'")
            .unwrap()
            .set("cross-origin-resource-policy", "same-site")
            .unwrap();
        let (_, headers, _) = call(&app(SecurityHeadersLayer::new(policy)), "/plain").await;
        assert_eq!(headers["content-security-policy"], "default-src 'self'");
        assert_eq!(headers["cross-origin-resource-policy"], "same-site");
        for (name, value) in defaults() {
            if !matches!(
                name.as_str(),
                "content-security-policy" | "cross-origin-resource-policy"
            ) {
                assert_eq!(headers[&name], value, "{name}");
            }
        }
    }

    #[tokio::test]
    async fn wraps_any_tower_service_and_passes_its_errors_through() {
        let ok =
            tower::service_fn(|_: Request<()>| async { Ok::<_, &'static str>(Response::new(())) });
        let response = SecurityHeadersLayer::default()
            .layer(ok)
            .oneshot(Request::new(()))
            .await
            .unwrap();
        assert_defaults(response.headers(), "service_fn");

        let failing =
            tower::service_fn(|_: Request<()>| async { Err::<Response<()>, _>("inner failed") });
        let err = SecurityHeadersService::new(failing, SecurityHeaders::default())
            .oneshot(Request::new(()))
            .await
            .unwrap_err();
        assert_eq!(err, "inner failed");

        assert_eq!(
            SecurityHeadersLayer::default()
                .policy()
                .get(&header::X_FRAME_OPTIONS),
            Some(&HeaderValue::from_static("DENY"))
        );
    }
}
