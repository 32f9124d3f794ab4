//! Cross-site request forgery: a state-changing request that a browser
//! sends on another site's behalf, with this site's cookies attached.
//!
//! A multipart upload, a form POST and a body-less POST (logout) are
//! CORS-simple requests: any page can make a victim's browser send them, and
//! only the cookie's `SameSite` attribute stands in the way (`Lax` lets a
//! top-level form POST through within two minutes of login in some
//! browsers, and is not set by every deployment). So for an unsafe method
//! whose credentials are cookies, the request must show that it comes from
//! this site:
//!
//! 1. `Sec-Fetch-Site: same-origin` (set by the browser, which no page can
//!    forge) is accepted at once;
//! 2. otherwise exactly one `Origin` header must be the service's own origin
//!    (its host and port equal to the request's `Host`, or `:authority`)
//!    or one of the trusted origins (the CORS allowlist's exact origins,
//!    and any configured for a proxy that rewrites `Host`);
//! 3. anything else is refused: a foreign origin, `Origin: null` (sandboxed
//!    frames, `file:` pages, cross-origin redirects), a malformed or
//!    repeated header, and no `Origin` at all, since every browser in use
//!    sends one on unsafe requests. A non-browser client that sends cookies
//!    must send its `Origin` too.
//!
//! A request with no `Cookie` header carries no ambient credential, so it
//! is not checked: it cannot be a forgery of the user's session (and its
//! authentication fails on its own if the route needs one).
//!
//! A public route needs no credential but may create one: a login or
//! sign-up form that another site's page posts signs the victim's browser
//! in to the attacker's account (login CSRF). Under a cookie authenticator
//! public routes are checked too, by [`CsrfPolicy::check_public`]: a
//! request without `Cookie` is checked as well, and one that shows no sign
//! of a browser (neither `Origin` nor `Sec-Fetch-Site`: curl, a server)
//! passes, unless it sends a `Referer` that names another origin. [`RouteSpec::check_cross_site`](crate::RouteSpec::check_cross_site)
//! picks the variant by the route's access; a route no browser calls opts
//! out with `csrf = "none: <reason>"`.
//!
//! This is the algorithm of Go's `http.CrossOriginProtection` and of the
//! Fetch Metadata guidance, made stricter on a missing `Origin`; no
//! maintained Rust crate implements it for tower (`axum_csrf` is a
//! double-submit token scheme that needs the page's cooperation), which is
//! why it is written here. It is framework-agnostic: the faces call
//! [`RouteSpec::check_cross_site`](crate::RouteSpec::check_cross_site)
//! with the policy and the request's method, URI and headers.

use http::{HeaderMap, Method, Uri, header};

use crate::cors::{CorsConfigError, CorsPolicy, Origin};

/// The origins a cookie-authenticated, state-changing request may come
/// from. See the [module docs](self).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrfPolicy {
    trusted: Vec<Origin>,
}

/// Why a request was refused: for the log only, every refusal answers the
/// same 403 `{"error":"forbidden"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrfRefusal {
    /// No `Origin` header and no `Sec-Fetch-Site: same-origin`.
    #[error("cookie-authenticated unsafe request without an Origin header")]
    MissingOrigin,
    /// `Origin` sent more than once.
    #[error("more than one Origin header")]
    RepeatedOrigin,
    /// `Origin: null` or a value that is not a serialized http(s) origin.
    #[error("Origin header is null or not an origin")]
    OpaqueOrigin,
    /// An origin that is neither this service nor trusted.
    #[error("cross-site request: Origin is not this service nor a trusted origin")]
    CrossSite,
}

/// Whether a method changes state by convention (everything but GET, HEAD,
/// OPTIONS and TRACE), and so needs the check.
#[must_use]
pub fn is_unsafe_method(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

impl CsrfPolicy {
    /// Trusts the service's own origin only.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Also trusts `origin` (`https://app.example.com`): a front end on
    /// another origin, or the public origin when a proxy rewrites `Host`.
    /// Exact origins only, parsed as for CORS.
    ///
    /// # Errors
    ///
    /// The origin is not exactly `scheme://host[:port]`, is `*` or `null`, or
    /// is plain http on a host that is not loopback.
    pub fn trust_origin(mut self, origin: &str) -> Result<Self, CorsConfigError> {
        let origin = Origin::from_config(origin)?;
        if !self.trusted.contains(&origin) {
            self.trusted.push(origin);
        }
        Ok(self)
    }

    /// Also trusts the exact origins a CORS policy allows. A policy that
    /// admits any origin adds nothing: it allows reads without credentials,
    /// which says nothing about who may send a cookie.
    #[must_use]
    pub fn trust_cors(mut self, cors: &CorsPolicy) -> Self {
        for origin in cors.origins() {
            if !self.trusted.contains(origin) {
                self.trusted.push(origin.clone());
            }
        }
        self
    }

    /// The trusted origins besides the service's own.
    #[must_use]
    pub fn trusted(&self) -> &[Origin] {
        &self.trusted
    }

    /// Decides one request (see the [module docs](self)). Safe methods and
    /// requests without a `Cookie` header always pass.
    ///
    /// # Errors
    ///
    /// Why the request looks cross-site; answer it with 403.
    pub fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), CsrfRefusal> {
        if !is_unsafe_method(method) || !headers.contains_key(header::COOKIE) {
            return Ok(());
        }
        if fetch_site(headers) == FetchSite::SameOrigin {
            return Ok(());
        }
        self.check_origin(uri, headers)
    }

    /// Decides a request that needs no credential but may create one: a
    /// login or sign-up form, which a page on another site can post so that
    /// the victim's browser is signed in to the attacker's account (login
    /// CSRF; a `SameSite=Lax` cookie set by a top-level navigation is kept).
    /// Unlike [`Self::check`], a request without `Cookie` is checked too;
    /// and one that shows no sign of a browser (neither `Origin` nor
    /// `Sec-Fetch-Site`) passes, since a script has no victim's browser to
    /// borrow, unless its `Referer` names another origin (or is not an
    /// http(s) URL). Anything else is decided as by [`Self::check`].
    ///
    /// ```
    /// use guard_core::csrf::CsrfPolicy;
    /// use http::{HeaderMap, HeaderValue, Method, Uri};
    ///
    /// let policy = CsrfPolicy::new();
    /// let uri = Uri::from_static("/login");
    /// let mut headers = HeaderMap::new();
    /// headers.insert("host", HeaderValue::from_static("app.example.com"));
    /// assert!(policy.check_public(&Method::POST, &uri, &headers).is_ok());
    /// headers.insert("origin", HeaderValue::from_static("https://evil.example"));
    /// assert!(policy.check_public(&Method::POST, &uri, &headers).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// Why the request looks cross-site; answer it with 403.
    pub fn check_public(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), CsrfRefusal> {
        if !is_unsafe_method(method) {
            return Ok(());
        }
        match fetch_site(headers) {
            FetchSite::SameOrigin => Ok(()),
            FetchSite::Absent if !headers.contains_key(header::ORIGIN) => {
                // No browser sign but a `Referer`: what it names is still
                // evidence, and a foreign one is refused.
                match headers.get(header::REFERER) {
                    None => Ok(()),
                    Some(referer) => {
                        let origin = referer_origin(referer).ok_or(CsrfRefusal::OpaqueOrigin)?;
                        self.judge(&origin, uri, headers)
                    }
                }
            }
            _ => self.check_origin(uri, headers),
        }
    }

    /// Exactly one `Origin`, this service's own or a trusted one.
    fn check_origin(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), CsrfRefusal> {
        let mut origins = headers.get_all(header::ORIGIN).iter();
        let (Some(origin), None) = (origins.next(), origins.next()) else {
            return Err(if headers.contains_key(header::ORIGIN) {
                CsrfRefusal::RepeatedOrigin
            } else {
                CsrfRefusal::MissingOrigin
            });
        };
        let origin = Origin::from_request(origin).ok_or(CsrfRefusal::OpaqueOrigin)?;
        self.judge(&origin, uri, headers)
    }

    /// Whether `origin` is this service's own or a trusted one.
    fn judge(&self, origin: &Origin, uri: &Uri, headers: &HeaderMap) -> Result<(), CsrfRefusal> {
        // The request target's authority when it has one (an absolute-form
        // target, HTTP/2's `:authority`): RFC 9112, 3.2.2 has a server use
        // it and ignore `Host`. Otherwise `Host`.
        let own = uri
            .authority()
            .map(http::uri::Authority::as_str)
            .or_else(|| {
                headers
                    .get(header::HOST)
                    .and_then(|host| host.to_str().ok())
            });
        if own.is_some_and(|own| same_authority(origin, own)) || self.trusted.contains(origin) {
            Ok(())
        } else {
            Err(CsrfRefusal::CrossSite)
        }
    }
}

/// The origin of a `Referer` URL (`https://evil.example/page?x` →
/// `https://evil.example`), parsed as an `Origin` header would be; `None`
/// for anything else.
fn referer_origin(referer: &http::HeaderValue) -> Option<Origin> {
    let text = referer.to_str().ok()?;
    let (_, rest) = text.split_once("://")?;
    let end = text.len() - rest.len() + rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Origin::from_request(&http::HeaderValue::from_str(&text[..end]).ok()?)
}

/// What `Sec-Fetch-Site` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FetchSite {
    /// Not sent.
    Absent,
    /// Exactly one `same-origin`.
    SameOrigin,
    /// Anything else: another value, or the header repeated (a browser
    /// sends it once; which line would a proxy read?).
    Other,
}

fn fetch_site(headers: &HeaderMap) -> FetchSite {
    let mut sites = headers.get_all("sec-fetch-site").iter();
    match (sites.next(), sites.next()) {
        (None, _) => FetchSite::Absent,
        (Some(site), None) if site.as_bytes() == b"same-origin" => FetchSite::SameOrigin,
        _ => FetchSite::Other,
    }
}

/// Whether `origin` names the host and port of a `Host` value
/// (`example.com`, `example.com:8443`, `[::1]:3000`). The scheme is not in
/// `Host`; a page on the same host and port is this service whatever it
/// says, and a browser sets `Host` itself.
fn same_authority(origin: &Origin, host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, "")) => (&host[..ip.len() + 2], None),
            Some((ip, port)) => match port.strip_prefix(':') {
                Some(port) => (&host[..ip.len() + 2], Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    let port = match port {
        Some(port) => match port.parse::<u16>() {
            Ok(port) => port,
            Err(_) => return false,
        },
        None if origin.scheme() == "https" => 443,
        None => 80,
    };
    name.eq_ignore_ascii_case(origin.host()) && port == origin.port()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn check(
        policy: &CsrfPolicy,
        method: Method,
        pairs: &[(&str, &str)],
    ) -> Result<(), CsrfRefusal> {
        policy.check(&method, &Uri::from_static("/logout"), &headers(pairs))
    }

    const COOKIE: (&str, &str) = ("cookie", "id=abc");

    #[test]
    fn own_origin_and_same_origin_fetch_metadata_pass() {
        let policy = CsrfPolicy::new();
        for pairs in [
            &[
                COOKIE,
                ("host", "app.example.com"),
                ("origin", "https://app.example.com"),
            ][..],
            &[
                COOKIE,
                ("host", "app.example.com"),
                ("origin", "http://app.example.com"),
            ],
            &[
                COOKIE,
                ("host", "APP.example.com:443"),
                ("origin", "https://app.example.com"),
            ],
            &[
                COOKIE,
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3000"),
            ],
            &[
                COOKIE,
                ("host", "[::1]:3000"),
                ("origin", "http://[::1]:3000"),
            ],
            &[COOKIE, ("sec-fetch-site", "same-origin")],
        ] {
            assert_eq!(check(&policy, Method::POST, pairs), Ok(()), "{pairs:?}");
        }
    }

    #[test]
    fn foreign_null_missing_and_repeated_origins_are_refused() {
        let policy = CsrfPolicy::new();
        let host = ("host", "app.example.com");
        for (pairs, want) in [
            (
                vec![COOKIE, host, ("origin", "https://evil.example")],
                CsrfRefusal::CrossSite,
            ),
            // Another port or a look-alike host is another origin.
            (
                vec![COOKIE, host, ("origin", "https://app.example.com:8443")],
                CsrfRefusal::CrossSite,
            ),
            (
                vec![
                    COOKIE,
                    host,
                    ("origin", "https://app.example.com.evil.example"),
                ],
                CsrfRefusal::CrossSite,
            ),
            (
                vec![
                    COOKIE,
                    ("host", "127.0.0.1:3000"),
                    ("origin", "http://127.0.0.1:3001"),
                ],
                CsrfRefusal::CrossSite,
            ),
            // A sibling subdomain is same-site, not same-origin.
            (
                vec![
                    COOKIE,
                    host,
                    ("sec-fetch-site", "same-site"),
                    ("origin", "https://blog.example.com"),
                ],
                CsrfRefusal::CrossSite,
            ),
            // Fetch metadata saying cross-site is not overruled by a lie elsewhere.
            (
                vec![COOKIE, host, ("sec-fetch-site", "cross-site")],
                CsrfRefusal::MissingOrigin,
            ),
            (
                vec![COOKIE, host, ("origin", "null")],
                CsrfRefusal::OpaqueOrigin,
            ),
            (
                vec![COOKIE, host, ("origin", "https://app.example.com/path")],
                CsrfRefusal::OpaqueOrigin,
            ),
            (vec![COOKIE, host], CsrfRefusal::MissingOrigin),
            (
                vec![
                    COOKIE,
                    host,
                    ("origin", "https://app.example.com"),
                    ("origin", "https://evil.example"),
                ],
                CsrfRefusal::RepeatedOrigin,
            ),
            // No Host to compare with: only trusted origins would do.
            (
                vec![COOKIE, ("origin", "https://app.example.com")],
                CsrfRefusal::CrossSite,
            ),
            // A repeated Sec-Fetch-Site is not a browser's: the Origin decides.
            (
                vec![
                    COOKIE,
                    host,
                    ("sec-fetch-site", "same-origin"),
                    ("sec-fetch-site", "same-origin"),
                    ("origin", "https://evil.example"),
                ],
                CsrfRefusal::CrossSite,
            ),
            (
                vec![
                    COOKIE,
                    host,
                    ("sec-fetch-site", "cross-site"),
                    ("sec-fetch-site", "same-origin"),
                ],
                CsrfRefusal::MissingOrigin,
            ),
        ] {
            assert_eq!(check(&policy, Method::POST, &pairs), Err(want), "{pairs:?}");
        }
        for method in [Method::PUT, Method::PATCH, Method::DELETE] {
            let pairs = [COOKIE, host, ("origin", "https://evil.example")];
            assert!(check(&policy, method, &pairs).is_err());
        }
    }

    #[test]
    fn an_absolute_form_target_names_the_service_not_host() {
        // RFC 9112, 3.2.2: the target's authority wins over `Host`.
        let policy = CsrfPolicy::new();
        let uri = Uri::from_static("http://app.example.com/logout");
        let own = headers(&[
            COOKIE,
            ("host", "evil.example"),
            ("origin", "http://app.example.com"),
        ]);
        assert_eq!(policy.check(&Method::POST, &uri, &own), Ok(()));
        let evil = headers(&[
            COOKIE,
            ("host", "app.example.com"),
            ("origin", "http://evil.example"),
        ]);
        assert_eq!(
            policy.check(
                &Method::POST,
                &Uri::from_static("http://evil.example/logout"),
                &evil
            ),
            Ok(())
        );
        assert_eq!(
            policy.check(&Method::POST, &uri, &evil),
            Err(CsrfRefusal::CrossSite)
        );
    }

    #[test]
    fn safe_methods_and_cookieless_requests_are_not_checked() {
        let policy = CsrfPolicy::new();
        let evil = ("origin", "https://evil.example");
        for method in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            assert_eq!(check(&policy, method, &[COOKIE, evil]), Ok(()));
        }
        assert_eq!(check(&policy, Method::POST, &[evil]), Ok(()));
        assert_eq!(
            check(
                &policy,
                Method::POST,
                &[("authorization", "Bearer x"), evil]
            ),
            Ok(())
        );
    }

    #[test]
    fn trusted_origins_come_from_config_and_exact_cors_origins() {
        let cors = CorsPolicy::builder()
            .allow_origin("https://front.example.com")
            .unwrap()
            .build()
            .unwrap();
        let policy = CsrfPolicy::new()
            .trust_origin("https://public.example.com")
            .unwrap()
            .trust_cors(&cors);
        let internal = ("host", "10.0.0.5:3000");
        for origin in ["https://public.example.com", "https://front.example.com"] {
            assert_eq!(
                check(
                    &policy,
                    Method::POST,
                    &[COOKIE, internal, ("origin", origin)]
                ),
                Ok(())
            );
        }
        assert_eq!(
            check(
                &policy,
                Method::POST,
                &[COOKIE, internal, ("origin", "http://public.example.com")]
            ),
            Err(CsrfRefusal::CrossSite),
            "scheme is part of a trusted origin"
        );
        for bad in [
            "*",
            "null",
            "https://*.example.com",
            "http://public.example.com",
            "example.com",
        ] {
            assert!(CsrfPolicy::new().trust_origin(bad).is_err(), "{bad}");
        }
        let any = CorsPolicy::builder()
            .allow_any_origin_without_credentials()
            .build()
            .unwrap();
        assert!(CsrfPolicy::new().trust_cors(&any).trusted().is_empty());
    }

    #[test]
    fn public_check_refuses_cross_site_browsers_without_a_cookie_and_lets_scripts_pass() {
        let policy = CsrfPolicy::new();
        let public = |pairs: &[(&str, &str)]| {
            policy.check_public(&Method::POST, &Uri::from_static("/login"), &headers(pairs))
        };
        let host = ("host", "app.example.com");
        for pairs in [
            &[host][..],
            &[host, ("origin", "https://app.example.com")],
            &[host, ("sec-fetch-site", "same-origin")],
            &[
                host,
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://evil.example"),
            ],
            // A Referer alone names the page the request came from.
            &[host, ("referer", "https://app.example.com/login?next=/")],
            &[host, ("referer", "http://app.example.com")],
        ] {
            assert_eq!(public(pairs), Ok(()), "{pairs:?}");
        }
        for (pairs, refusal) in [
            (
                &[host, ("origin", "https://evil.example")][..],
                CsrfRefusal::CrossSite,
            ),
            (&[host, ("origin", "null")], CsrfRefusal::OpaqueOrigin),
            (
                &[host, ("sec-fetch-site", "cross-site")],
                CsrfRefusal::MissingOrigin,
            ),
            (
                &[
                    host,
                    ("sec-fetch-site", "same-site"),
                    ("origin", "https://www.example.com"),
                ],
                CsrfRefusal::CrossSite,
            ),
            (
                &[
                    host,
                    ("origin", "https://app.example.com"),
                    ("origin", "https://evil.example"),
                ],
                CsrfRefusal::RepeatedOrigin,
            ),
            (
                &[host, ("referer", "https://evil.example/app.example.com")],
                CsrfRefusal::CrossSite,
            ),
            (
                &[host, ("referer", "https://app.example.com.evil.example/")],
                CsrfRefusal::CrossSite,
            ),
            (
                &[host, ("referer", "https://app.example.com@evil.example/")],
                CsrfRefusal::OpaqueOrigin,
            ),
            (
                &[host, ("referer", "android-app://x")],
                CsrfRefusal::OpaqueOrigin,
            ),
        ] {
            assert_eq!(public(pairs), Err(refusal), "{pairs:?}");
        }
        // Safe methods are never refused.
        let get = policy.check_public(
            &Method::GET,
            &Uri::from_static("/login"),
            &headers(&[host, ("origin", "https://evil.example")]),
        );
        assert_eq!(get, Ok(()));
    }
}
