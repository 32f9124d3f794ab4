//! [`SensitiveHeaders`] and the layer that marks them on requests and
//! responses.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use http::header::{self, HeaderName};
use tower::{Layer, Service};

use super::{TraceConfigError, parse_name};

/// The headers [`SensitiveHeaders`] always marks: credentials and session
/// cookies, in both directions.
pub const ALWAYS_SENSITIVE: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
    header::SET_COOKIE,
];

/// The set of headers marked sensitive: [`ALWAYS_SENSITIVE`] plus those
/// added with [`with_header`](Self::with_header) (an `X-Api-Key`, a CSRF
/// token). Mark requests with [`request_layer`](Self::request_layer)
/// (outside anything that logs requests) and responses with
/// [`response_layer`](Self::response_layer) (inside anything that logs
/// responses).
///
/// Marking changes no byte on the wire; it makes `Debug` print
/// `Sensitive` and keeps the values out of HTTP/2 header compression.
#[derive(Clone, Debug)]
#[must_use]
pub struct SensitiveHeaders {
    names: Vec<HeaderName>,
}

impl Default for SensitiveHeaders {
    fn default() -> Self {
        Self {
            names: ALWAYS_SENSITIVE.to_vec(),
        }
    }
}

impl SensitiveHeaders {
    /// [`ALWAYS_SENSITIVE`] only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also marks `name`.
    ///
    /// # Errors
    ///
    /// [`TraceConfigError::InvalidHeaderName`] when `name` is not a valid
    /// header name.
    pub fn with_header(mut self, name: impl AsRef<str>) -> Result<Self, TraceConfigError> {
        let name = parse_name(name.as_ref())?;
        if !self.names.contains(&name) {
            self.names.push(name);
        }
        Ok(self)
    }

    /// The marked headers.
    pub fn names(&self) -> &[HeaderName] {
        &self.names
    }

    /// A layer marking these headers on requests.
    pub fn request_layer(&self) -> MarkSensitiveLayer {
        MarkSensitiveLayer {
            names: self.shared(),
            side: Side::Request,
        }
    }

    /// A layer marking these headers on responses.
    pub fn response_layer(&self) -> MarkSensitiveLayer {
        MarkSensitiveLayer {
            names: self.shared(),
            side: Side::Response,
        }
    }

    pub(crate) fn shared(&self) -> Arc<SensitiveNames> {
        Arc::new(SensitiveNames::new(&self.names))
    }
}

/// The names to mark, with a mask of their lengths: a header whose name's
/// length no listed name has (most of them: `Content-Type`, `Host`,
/// `Accept`) is passed over without comparing it to each name.
#[derive(Debug)]
pub(crate) struct SensitiveNames {
    names: Box<[HeaderName]>,
    /// Bit `len` set when a listed name is `len` bytes long; names of 63
    /// bytes or more share bit 63.
    lengths: u64,
}

impl SensitiveNames {
    fn new(names: &[HeaderName]) -> Self {
        Self {
            names: names.into(),
            lengths: names.iter().fold(0, |mask, name| mask | length_bit(name)),
        }
    }

    fn contains(&self, name: &HeaderName) -> bool {
        self.lengths & length_bit(name) != 0 && self.names.contains(name)
    }
}

fn length_bit(name: &HeaderName) -> u64 {
    1 << name.as_str().len().min(63)
}

/// Marks the [`SensitiveHeaders`] on requests or on responses (see
/// [`SensitiveHeaders::request_layer`] and
/// [`SensitiveHeaders::response_layer`]).
///
/// Written by hand rather than taken from tower-http, whose layers look up
/// every listed name in the map (a hash and a probe each, on every request
/// and response): this one walks the headers actually present, usually a
/// handful, and compares names, which costs a fraction of that.
#[derive(Clone, Debug)]
pub struct MarkSensitiveLayer {
    names: Arc<SensitiveNames>,
    side: Side,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

impl<S> Layer<S> for MarkSensitiveLayer {
    type Service = MarkSensitive<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MarkSensitive {
            inner,
            names: Arc::clone(&self.names),
            side: self.side,
        }
    }
}

/// The service of [`MarkSensitiveLayer`].
#[derive(Clone, Debug)]
pub struct MarkSensitive<S> {
    inner: S,
    names: Arc<SensitiveNames>,
    side: Side,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MarkSensitive<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = MarkSensitiveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let names = match self.side {
            Side::Request => {
                mark_sensitive(request.headers_mut(), &self.names);
                None
            }
            Side::Response => Some(Arc::clone(&self.names)),
        };
        MarkSensitiveFuture {
            inner: self.inner.call(request),
            names,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`MarkSensitive`].
    pub struct MarkSensitiveFuture<F> {
        #[pin]
        inner: F,
        // Set when the response is to be marked.
        names: Option<Arc<SensitiveNames>>,
    }
}

impl<F> fmt::Debug for MarkSensitiveFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MarkSensitiveFuture")
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for MarkSensitiveFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut result = std::task::ready!(this.inner.poll(cx));
        if let (Ok(response), Some(names)) = (&mut result, this.names.as_deref()) {
            mark_sensitive(response.headers_mut(), names);
        }
        Poll::Ready(result)
    }
}

/// Marks every value of every header in `names`.
pub(crate) fn mark_sensitive(headers: &mut http::HeaderMap, names: &SensitiveNames) {
    for (name, value) in headers.iter_mut() {
        if names.contains(name) {
            value.set_sensitive(true);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use http::HeaderValue;
    use tower::ServiceExt as _;

    use super::*;
    use crate::trace::RequestSpanLayer;

    #[test]
    fn the_length_mask_passes_over_no_listed_name() {
        let long_a = format!("x-{}", "a".repeat(70));
        let long_b = format!("x-{}", "b".repeat(80));
        let names = SensitiveHeaders::new()
            .with_header("X-Csrf-Token")
            .unwrap()
            .with_header(&long_a)
            .unwrap()
            .shared();
        let name = |s: &str| HeaderName::try_from(s).unwrap();
        for listed in [
            "authorization",
            "proxy-authorization",
            "cookie",
            "set-cookie",
            "x-csrf-token",
        ] {
            assert!(names.contains(&name(listed)), "{listed}");
        }
        assert!(names.contains(&name(&long_a)));
        // The same length as a listed name, or past 63 bytes like one: compared, not marked.
        for other in [
            "cache-control",
            "set-cookies",
            "content-type",
            "host",
            &long_b,
        ] {
            assert!(!names.contains(&name(other)), "{other}");
        }
    }

    #[test]
    fn sensitive_headers_always_include_credentials() {
        let headers = SensitiveHeaders::new()
            .with_header("X-Api-Key")
            .unwrap()
            .with_header("authorization")
            .unwrap();
        let names: Vec<_> = headers.names().iter().map(HeaderName::as_str).collect();
        assert_eq!(
            names,
            [
                "authorization",
                "proxy-authorization",
                "cookie",
                "set-cookie",
                "x-api-key"
            ]
        );
        assert_eq!(
            SensitiveHeaders::new().with_header("bad name").unwrap_err(),
            TraceConfigError::InvalidHeaderName {
                name: "bad name".into()
            }
        );
        assert!(RequestSpanLayer::new().request_id_header("x id").is_err());
    }

    #[tokio::test]
    async fn sensitive_headers_are_marked_both_ways() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let service = tower::service_fn(move |request: Request<()>| {
            let mut seen = record.lock().unwrap();
            for name in ["authorization", "cookie", "x-api-key", "accept"] {
                let value = request.headers().get(name).unwrap();
                seen.push((name, value.is_sensitive()));
            }
            let mut response = http::Response::new(());
            let headers = response.headers_mut();
            headers.insert(header::SET_COOKIE, HeaderValue::from_static("id=abc"));
            headers.append(header::SET_COOKIE, HeaderValue::from_static("theme=dark"));
            headers.insert(header::ETAG, HeaderValue::from_static("\"1\""));
            let all_cookies_marked = request
                .headers()
                .get_all(header::COOKIE)
                .iter()
                .all(HeaderValue::is_sensitive);
            seen.push(("every cookie", all_cookies_marked));
            async move { Ok::<_, std::convert::Infallible>(response) }
        });
        let sensitive = SensitiveHeaders::new().with_header("x-api-key").unwrap();
        let service = tower::ServiceBuilder::new()
            .layer(sensitive.request_layer())
            .layer(sensitive.response_layer())
            .service(service);
        let request = Request::get("/")
            .header(header::AUTHORIZATION, "Bearer abc")
            .header(header::COOKIE, "id=abc")
            .header(header::COOKIE, "theme=dark")
            .header("x-api-key", "k")
            .header(header::ACCEPT, "*/*")
            .body(())
            .unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [
                ("authorization", true),
                ("cookie", true),
                ("x-api-key", true),
                ("accept", false),
                ("every cookie", true)
            ]
        );
        let set_cookies = response.headers().get_all(header::SET_COOKIE);
        assert_eq!(set_cookies.iter().count(), 2);
        assert!(set_cookies.iter().all(HeaderValue::is_sensitive));
        assert!(!response.headers()[header::ETAG].is_sensitive());
        assert_eq!(
            format!("{:?}", response.headers()[header::SET_COOKIE]),
            "Sensitive"
        );
    }
}
