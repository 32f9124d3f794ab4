//! CORS from a policy that cannot be built dangerous: [`cors_layer`].
//!
//! The policy is guard-core's [`CorsPolicy`], whose builder refuses `*`
//! with credentials, the `null` origin, pattern origins, plain-http origins
//! in production and "echo any origin with credentials"
//! ([`CorsConfigError`]). This module turns it into tower-http's
//! [`CorsLayer`], which answers preflights.
//!
//! ```
//! use guard_axum::cors::{CorsPolicy, cors_layer};
//!
//! let policy = CorsPolicy::builder()
//!     .allow_origin("https://app.example.com")?
//!     .allow_methods(["GET", "POST"])?
//!     .allow_headers(["content-type", "authorization"])?
//!     .allow_credentials(true)
//!     .build()?;
//! let app: axum::Router = axum::Router::new().layer(cors_layer(&policy));
//! # Ok::<(), guard_axum::cors::CorsConfigError>(())
//! ```
//!
//! # What a browser sees
//!
//! * An allowed origin gets `Access-Control-Allow-Origin` set to exactly the
//!   `Origin` it sent (and `Access-Control-Allow-Credentials: true` when the
//!   policy allows credentials), with `Vary: Origin,
//!   Access-Control-Request-Method, Access-Control-Request-Headers` so caches
//!   keep answers for different origins apart.
//! * Any other origin (a look-alike host, another scheme or port, `null`,
//!   something malformed) gets neither header; the browser then withholds
//!   the response from the page. The request itself still reaches the
//!   handler, as it would without CORS: CORS protects the reader, the guards
//!   protect the route.
//! * Every `OPTIONS` request is answered by the layer as a preflight (200,
//!   empty body) and never reaches a route, so a path with no `OPTIONS`
//!   handler still preflights instead of answering the router's 405. A
//!   refused origin's preflight gets no `Access-Control-Allow-Origin`, so
//!   the browser does not send the real request.
//!
//! # Where to install it
//!
//! Outside the panic catcher and the timeout (so their generic 500 and 408
//! carry the CORS headers and the page can read the error id), inside the
//! security headers layer (so preflight answers carry those).

use guard_core::cors::AllowList;
use http::{HeaderName, Method};
use tower_http::cors::{
    AllowCredentials, AllowHeaders, AllowMethods, AllowOrigin, CorsLayer, ExposeHeaders,
};

pub use guard_core::cors::{CorsConfigError, CorsPolicy, CorsPolicyBuilder, Origin, OriginMode};

/// Builds tower-http's CORS layer from a [`CorsPolicy`].
///
/// Exact origins are matched by [`CorsPolicy::allows_origin`] (parsed
/// scheme, host and port; never string prefixes or suffixes), and the
/// request's own `Origin` is echoed only when it matches. Credentials are
/// granted only alongside an allowed origin. The policy's builder has
/// already refused every combination tower-http would panic on (credentials
/// with `*`), so the layer never panics.
pub fn cors_layer(policy: &CorsPolicy) -> CorsLayer {
    let origin_policy = policy.clone();
    let allows = move |origin: &http::HeaderValue, _: &http::request::Parts| {
        origin_policy.allows_origin(origin)
    };
    let allow_origin = match policy.origin_mode() {
        // `*`, not an echo: the answer is the same for every origin and
        // caches may share it.
        OriginMode::AnyWithoutCredentials => AllowOrigin::any(),
        // Exact and mirrored: `allows_origin` knows both, and a mode added
        // later is matched by the policy's own rule rather than allowed.
        _ => AllowOrigin::predicate(allows.clone()),
    };
    let mut layer = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods(methods(policy.methods()))
        .allow_headers(allow_headers(policy.allowed_headers()))
        .expose_headers(expose_headers(policy.exposed_headers()));
    if policy.allows_credentials() {
        // A predicate rather than `yes()`: a refused origin gets no CORS
        // header at all, not a lone `Allow-Credentials: true`.
        layer = layer.allow_credentials(AllowCredentials::predicate(allows));
    }
    if let Some(max_age) = policy.max_age() {
        layer = layer.max_age(max_age);
    }
    layer
}

fn methods(list: &AllowList<Method>) -> AllowMethods {
    match list {
        AllowList::Any => AllowMethods::any(),
        AllowList::Only(methods) => AllowMethods::list(methods.iter().cloned()),
    }
}

fn allow_headers(list: &AllowList<HeaderName>) -> AllowHeaders {
    match list {
        AllowList::Any => AllowHeaders::any(),
        AllowList::Only(names) => AllowHeaders::list(names.iter().cloned()),
    }
}

fn expose_headers(list: &AllowList<HeaderName>) -> ExposeHeaders {
    match list {
        AllowList::Any => ExposeHeaders::any(),
        AllowList::Only(names) => ExposeHeaders::list(names.iter().cloned()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use http::{HeaderMap, Request, StatusCode, header};
    use tower::ServiceExt as _;

    use super::*;

    const APP: &str = "https://app.example.com";

    fn credentialed() -> CorsPolicy {
        CorsPolicy::builder()
            .allow_origin(APP)
            .unwrap()
            .allow_origin("https://admin.example.com:8443")
            .unwrap()
            .allow_methods(["GET", "POST", "DELETE"])
            .unwrap()
            .allow_headers(["content-type", "authorization"])
            .unwrap()
            .expose_headers(["retry-after"])
            .unwrap()
            .allow_credentials(true)
            .max_age(Duration::from_secs(600))
            .build()
            .unwrap()
    }

    fn app(policy: &CorsPolicy) -> Router {
        Router::new()
            .route("/items", get(|| async { "items" }))
            .layer(cors_layer(policy))
    }

    async fn send(app: &Router, request: Request<Body>) -> (StatusCode, HeaderMap) {
        let response = app.clone().oneshot(request).await.unwrap();
        (response.status(), response.headers().clone())
    }

    fn get_from(origin: &str) -> Request<Body> {
        Request::get("/items")
            .header(header::ORIGIN, origin)
            .body(Body::empty())
            .unwrap()
    }

    fn preflight(origin: &str) -> Request<Body> {
        Request::options("/items")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "DELETE")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn reflects_only_configured_origins_compared_parsed() {
        let app = app(&credentialed());
        let table = [
            (APP, true),
            ("https://APP.example.com", true),
            ("https://app.example.com:443", true),
            ("https://admin.example.com:8443", true),
            ("https://app.example.com.evil.com", false),
            ("https://evil-app.example.com", false),
            ("https://evilapp.example.com", false),
            ("http://app.example.com", false),
            ("https://app.example.com:8443", false),
            ("https://admin.example.com", false),
            ("null", false),
            ("https://app.example.com/", false),
            ("https://app.example.com@evil.com", false),
            ("wss://app.example.com", false),
            ("", false),
        ];
        for (origin, allowed) in table {
            let (status, headers) = send(&app, get_from(origin)).await;
            assert_eq!(status, StatusCode::OK, "{origin}");
            let reflected = headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN);
            let credentials = headers.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
            if allowed {
                assert_eq!(reflected.unwrap(), origin, "{origin}: echoed exactly");
                assert_eq!(credentials.unwrap(), "true", "{origin}");
                assert_eq!(
                    headers[header::ACCESS_CONTROL_EXPOSE_HEADERS],
                    "retry-after"
                );
            } else {
                assert_eq!(reflected, None, "{origin} was allowed");
                assert_eq!(credentials, None, "{origin} got credentials");
            }
            let vary: Vec<_> = headers.get_all(header::VARY).iter().collect();
            assert!(
                vary.iter()
                    .any(|v| v.to_str().unwrap().to_ascii_lowercase().contains("origin")),
                "{origin}: no Vary: Origin"
            );
        }
    }

    #[tokio::test]
    async fn answers_preflight_for_allowed_origins_only() {
        let app = app(&credentialed());
        let (status, headers) = send(&app, preflight(APP)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], APP);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_METHODS],
            "GET,POST,DELETE"
        );
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type,authorization"
        );
        assert_eq!(headers[header::ACCESS_CONTROL_MAX_AGE], "600");

        for refused in [
            "https://app.example.com.evil.com",
            "https://evil-example.com",
            "null",
            "http://app.example.com",
        ] {
            let (_, headers) = send(&app, preflight(refused)).await;
            assert_eq!(
                headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN),
                None,
                "{refused}"
            );
            assert_eq!(
                headers.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
                None,
                "{refused}"
            );
        }
    }

    #[tokio::test]
    async fn any_origin_without_credentials_answers_a_star() {
        let policy = CorsPolicy::builder()
            .allow_any_origin_without_credentials()
            .build()
            .unwrap();
        let (_, headers) = send(&app(&policy), get_from("https://anyone.example")).await;
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(headers.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS), None);
    }

    #[tokio::test]
    async fn mirrored_origin_never_carries_credentials() {
        let policy = CorsPolicy::builder()
            .mirror_request_origin_without_credentials()
            .build()
            .unwrap();
        let (_, headers) = send(&app(&policy), get_from("https://anyone.example")).await;
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://anyone.example"
        );
        assert_eq!(headers.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS), None);
    }

    #[tokio::test]
    async fn safelisted_only_policy_sends_no_method_or_header_lists() {
        let policy = CorsPolicy::builder()
            .allow_origin(APP)
            .unwrap()
            .build()
            .unwrap();
        let (_, headers) = send(&app(&policy), preflight(APP)).await;
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], APP);
        for name in [
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::ACCESS_CONTROL_MAX_AGE,
        ] {
            assert_eq!(headers.get(&name), None, "{name}");
        }
    }
}
