//! A CORS policy that cannot be built dangerous: [`CorsPolicy`].
//!
//! CORS misconfigurations that ship are few and always the same: `*` with
//! credentials, the `null` origin, origins written as patterns or matched as
//! strings (so `https://example.com.evil.com` or `https://evil-example.com`
//! gets in), plain-http origins in production, and "echo whatever origin
//! asked" with credentials (tower-http's `very_permissive()`). Each of those
//! is a [`CorsConfigError`] here, returned when the policy is built, with a
//! message that names the fix.
//!
//! ```
//! use guard_core::cors::CorsPolicy;
//! use http::HeaderValue;
//!
//! let policy = CorsPolicy::builder()
//!     .allow_origin("https://app.example.com")?
//!     .allow_methods(["GET", "POST", "PATCH"])?
//!     .allow_headers(["content-type", "authorization"])?
//!     .allow_credentials(true)
//!     .build()?;
//!
//! assert!(policy.allows_origin(&HeaderValue::from_static("https://APP.example.com:443")));
//! assert!(!policy.allows_origin(&HeaderValue::from_static("https://app.example.com.evil.com")));
//! # Ok::<(), guard_core::cors::CorsConfigError>(())
//! ```
//!
//! # Matching
//!
//! Origins are compared parsed, never as strings: scheme, host (lowercased,
//! internationalised names in their ASCII `xn--` form) and port (the
//! scheme's default when absent, so `:443` on https is the same origin).
//! A request's `Origin` must be a serialized origin as browsers send it,
//! `scheme://host[:port]` with nothing after; anything else, including
//! `null`, matches nothing. A configured origin may end in one `/` (it is
//! what a browser's address bar gives when copied) but carry no other path.
//!
//! # Production mode
//!
//! On by default. Plain-http origins are refused outright unless the host is
//! loopback (`localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`), and those
//! only with [`production(false)`](CorsPolicyBuilder::production), for local
//! development against a dev server.
//!
//! # Applying it
//!
//! The framework face configures its CORS layer from the accessors: with
//! tower-http, `AllowOrigin::predicate` over a clone of the policy calling
//! [`allows_origin`](CorsPolicy::allows_origin) for
//! [`OriginMode::Exact`], `AllowOrigin::any()` for
//! [`OriginMode::AnyWithoutCredentials`], `AllowOrigin::mirror_request()`
//! for [`OriginMode::MirrorWithoutCredentials`]; methods and headers from
//! [`AllowList`]. Preflight handling is the layer's.

mod error;
mod origin;

use std::fmt;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};

pub use error::CorsConfigError;
pub use origin::Origin;

/// A cross-origin resource sharing policy, built only through
/// [`CorsPolicy::builder`], which refuses every dangerous configuration.
#[derive(Clone, Debug)]
pub struct CorsPolicy {
    origins: Origins,
    methods: AllowList<Method>,
    allow_headers: AllowList<HeaderName>,
    expose_headers: AllowList<HeaderName>,
    credentials: bool,
    max_age: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Origins {
    Exact(Vec<Origin>),
    Any,
    Mirror,
}

/// Which origins a [`CorsPolicy`] admits, for the framework face to pick its
/// layer configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OriginMode {
    /// Only the listed [`origins`](CorsPolicy::origins), compared parsed.
    Exact,
    /// Any origin, answered with `Access-Control-Allow-Origin: *`; never with
    /// credentials.
    AnyWithoutCredentials,
    /// Any origin, echoed back (with `Vary: Origin`); never with credentials.
    MirrorWithoutCredentials,
}

/// A list of allowed methods or headers, or any (`*`, never with
/// credentials).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowList<T> {
    /// `*`.
    Any,
    /// Exactly these; empty means the CORS-safelisted ones only.
    Only(Vec<T>),
}

impl<T> AllowList<T> {
    fn is_any(&self) -> bool {
        matches!(self, Self::Any)
    }
}

impl CorsPolicy {
    /// Starts a policy: no origin, no credentials, production mode, only
    /// CORS-safelisted methods and headers.
    pub fn builder() -> CorsPolicyBuilder {
        CorsPolicyBuilder::default()
    }

    /// Whether a request with this `Origin` header may read the response.
    ///
    /// In [`OriginMode::Exact`], true only when the header is a serialized
    /// origin equal, parsed, to a configured one; `null`, a different
    /// scheme or port, a look-alike host and anything malformed are false.
    /// In the any-origin modes, always true.
    pub fn allows_origin(&self, origin: &HeaderValue) -> bool {
        match &self.origins {
            Origins::Exact(list) => Origin::from_request(origin).is_some_and(|o| list.contains(&o)),
            Origins::Any | Origins::Mirror => true,
        }
    }

    /// Which origins the policy admits.
    pub fn origin_mode(&self) -> OriginMode {
        match self.origins {
            Origins::Exact(_) => OriginMode::Exact,
            Origins::Any => OriginMode::AnyWithoutCredentials,
            Origins::Mirror => OriginMode::MirrorWithoutCredentials,
        }
    }

    /// The allowed origins in [`OriginMode::Exact`]; empty otherwise.
    pub fn origins(&self) -> &[Origin] {
        match &self.origins {
            Origins::Exact(list) => list,
            Origins::Any | Origins::Mirror => &[],
        }
    }

    /// `Access-Control-Allow-Methods`.
    pub fn methods(&self) -> &AllowList<Method> {
        &self.methods
    }

    /// `Access-Control-Allow-Headers`.
    pub fn allowed_headers(&self) -> &AllowList<HeaderName> {
        &self.allow_headers
    }

    /// `Access-Control-Expose-Headers`.
    pub fn exposed_headers(&self) -> &AllowList<HeaderName> {
        &self.expose_headers
    }

    /// `Access-Control-Allow-Credentials`.
    pub fn allows_credentials(&self) -> bool {
        self.credentials
    }

    /// `Access-Control-Max-Age`, if set.
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// A one-line summary for the route report, e.g. `origins
    /// https://app.example.com; methods GET, POST; request headers
    /// content-type; exposed headers none; credentials allowed; max-age 600s`.
    pub fn describe(&self) -> String {
        fn list<T: AsRef<str>>(l: &AllowList<T>) -> String {
            match l {
                AllowList::Any => "*".to_owned(),
                AllowList::Only(v) if v.is_empty() => "none".to_owned(),
                AllowList::Only(v) => v.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", "),
            }
        }
        let origins = match &self.origins {
            Origins::Exact(v) => format!(
                "origins {}",
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Origins::Any => "any origin (*)".to_owned(),
            Origins::Mirror => "any origin (mirrored)".to_owned(),
        };
        let methods = match &self.methods {
            AllowList::Only(v) if v.is_empty() => "safelisted only".to_owned(),
            other => list(other),
        };
        let mut out = format!(
            "{origins}; methods {methods}; request headers {}; exposed headers {}; credentials {}",
            list(&self.allow_headers),
            list(&self.expose_headers),
            if self.credentials {
                "allowed"
            } else {
                "not allowed"
            },
        );
        if let Some(age) = self.max_age {
            out.push_str(&format!("; max-age {}s", age.as_secs()));
        }
        out
    }
}

impl fmt::Display for CorsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Builds a [`CorsPolicy`]; see [`CorsPolicy::builder`]. Settings that can
/// be wrong on their own fail at once; combinations fail in
/// [`build`](Self::build).
#[derive(Clone, Debug)]
#[must_use]
pub struct CorsPolicyBuilder {
    origins: Vec<Origin>,
    any: Option<Origins>,
    methods: AllowList<Method>,
    allow_headers: AllowList<HeaderName>,
    expose_headers: AllowList<HeaderName>,
    credentials: bool,
    max_age: Option<Duration>,
    production: bool,
}

impl Default for CorsPolicyBuilder {
    fn default() -> Self {
        Self {
            origins: Vec::new(),
            any: None,
            methods: AllowList::Only(Vec::new()),
            allow_headers: AllowList::Only(Vec::new()),
            expose_headers: AllowList::Only(Vec::new()),
            credentials: false,
            max_age: None,
            production: true,
        }
    }
}

impl CorsPolicyBuilder {
    /// Allows one exact origin, `https://host[:port]`.
    ///
    /// # Errors
    ///
    /// [`WildcardOrigin`](CorsConfigError::WildcardOrigin) for `*`,
    /// [`NullOrigin`](CorsConfigError::NullOrigin),
    /// [`PatternOrigin`](CorsConfigError::PatternOrigin) for anything with
    /// `*`, regex characters or a leading dot,
    /// [`OriginHasPath`](CorsConfigError::OriginHasPath),
    /// [`OriginHasUserinfo`](CorsConfigError::OriginHasUserinfo),
    /// [`UnsupportedScheme`](CorsConfigError::UnsupportedScheme),
    /// [`InsecureOrigin`](CorsConfigError::InsecureOrigin) for http on a
    /// non-loopback host, [`InvalidOrigin`](CorsConfigError::InvalidOrigin).
    pub fn allow_origin(mut self, origin: impl AsRef<str>) -> Result<Self, CorsConfigError> {
        let origin = Origin::from_config(origin.as_ref())?;
        if !self.origins.contains(&origin) {
            self.origins.push(origin);
        }
        Ok(self)
    }

    /// Allows several exact origins; see [`allow_origin`](Self::allow_origin).
    ///
    /// # Errors
    ///
    /// The first origin [`allow_origin`](Self::allow_origin) refuses.
    pub fn allow_origins<I>(self, origins: I) -> Result<Self, CorsConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        origins.into_iter().try_fold(self, Self::allow_origin)
    }

    /// Allows any origin with `Access-Control-Allow-Origin: *`, for a public
    /// API read without cookies or auth headers. [`build`](Self::build)
    /// refuses it with credentials.
    pub fn allow_any_origin_without_credentials(mut self) -> Self {
        self.any = Some(Origins::Any);
        self
    }

    /// Allows any origin by echoing the request's back (with `Vary: Origin`),
    /// for clients that mishandle `*`. [`build`](Self::build) refuses it with
    /// credentials: that is `very_permissive()`, every site acting as the user.
    pub fn mirror_request_origin_without_credentials(mut self) -> Self {
        self.any = Some(Origins::Mirror);
        self
    }

    /// Sets the methods a preflight allows (uppercased, as browsers send
    /// them); `"*"` for any (refused with credentials). GET, HEAD and POST
    /// need no listing.
    ///
    /// # Errors
    ///
    /// [`InvalidMethod`](CorsConfigError::InvalidMethod), and
    /// [`ForbiddenMethod`](CorsConfigError::ForbiddenMethod) for TRACE, TRACK
    /// and CONNECT.
    pub fn allow_methods<I>(mut self, methods: I) -> Result<Self, CorsConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut list = Vec::new();
        for method in methods {
            let method = method.as_ref();
            if method == "*" {
                self.methods = AllowList::Any;
                return Ok(self);
            }
            let parsed =
                Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| {
                    CorsConfigError::InvalidMethod {
                        method: method.to_owned(),
                    }
                })?;
            if parsed == Method::TRACE || parsed == Method::CONNECT || parsed.as_str() == "TRACK" {
                return Err(CorsConfigError::ForbiddenMethod {
                    method: parsed.to_string(),
                });
            }
            if !list.contains(&parsed) {
                list.push(parsed);
            }
        }
        self.methods = AllowList::Only(list);
        Ok(self)
    }

    /// Sets the request headers a preflight allows; `"*"` for any (refused
    /// with credentials, and never covering `Authorization`).
    ///
    /// # Errors
    ///
    /// [`InvalidHeaderName`](CorsConfigError::InvalidHeaderName).
    pub fn allow_headers<I>(mut self, headers: I) -> Result<Self, CorsConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.allow_headers = parse_header_list(headers)?;
        Ok(self)
    }

    /// Sets the response headers the page's script may read beyond the
    /// safelisted ones; `"*"` for any (refused with credentials).
    ///
    /// # Errors
    ///
    /// [`InvalidHeaderName`](CorsConfigError::InvalidHeaderName).
    pub fn expose_headers<I>(mut self, headers: I) -> Result<Self, CorsConfigError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.expose_headers = parse_header_list(headers)?;
        Ok(self)
    }

    /// Whether the browser may send cookies and auth headers and let the
    /// page read the answer (default false).
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// How long a browser may cache a preflight answer. Browsers cap it
    /// (Chromium at two hours, Firefox at one day).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Production mode (default on) refuses plain-http origins, loopback
    /// included. Turn it off only in development builds, e.g.
    /// `.production(!cfg!(debug_assertions))`.
    pub fn production(mut self, production: bool) -> Self {
        self.production = production;
        self
    }

    /// Checks the combination and builds the policy.
    ///
    /// # Errors
    ///
    /// [`NoOrigins`](CorsConfigError::NoOrigins),
    /// [`ConflictingOrigins`](CorsConfigError::ConflictingOrigins),
    /// [`CredentialsWithAnyOrigin`](CorsConfigError::CredentialsWithAnyOrigin),
    /// [`CredentialsWithMirroredOrigin`](CorsConfigError::CredentialsWithMirroredOrigin),
    /// [`CredentialsWithWildcard`](CorsConfigError::CredentialsWithWildcard)
    /// for `*` methods or headers, and
    /// [`HttpOriginInProduction`](CorsConfigError::HttpOriginInProduction).
    pub fn build(self) -> Result<CorsPolicy, CorsConfigError> {
        let origins = match (self.any, self.origins.is_empty()) {
            (None, true) => return Err(CorsConfigError::NoOrigins),
            (Some(_), false) => return Err(CorsConfigError::ConflictingOrigins),
            (Some(any), true) => any,
            (None, false) => Origins::Exact(self.origins),
        };
        if self.credentials {
            match origins {
                Origins::Any => return Err(CorsConfigError::CredentialsWithAnyOrigin),
                Origins::Mirror => return Err(CorsConfigError::CredentialsWithMirroredOrigin),
                Origins::Exact(_) => {}
            }
            let wildcards = [
                (self.methods.is_any(), "methods"),
                (self.allow_headers.is_any(), "request headers"),
                (self.expose_headers.is_any(), "exposed headers"),
            ];
            if let Some((_, list)) = wildcards.into_iter().find(|(any, _)| *any) {
                return Err(CorsConfigError::CredentialsWithWildcard { list });
            }
        }
        if let Origins::Exact(list) = &origins
            && self.production
            && let Some(http) = list.iter().find(|o| !o.https)
        {
            return Err(CorsConfigError::HttpOriginInProduction {
                origin: http.to_string(),
            });
        }
        Ok(CorsPolicy {
            origins,
            methods: self.methods,
            allow_headers: self.allow_headers,
            expose_headers: self.expose_headers,
            credentials: self.credentials,
            max_age: self.max_age,
        })
    }
}

fn parse_header_list<I>(headers: I) -> Result<AllowList<HeaderName>, CorsConfigError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut list = Vec::new();
    for name in headers {
        let name = name.as_ref();
        if name == "*" {
            return Ok(AllowList::Any);
        }
        let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            CorsConfigError::InvalidHeaderName {
                name: name.to_owned(),
            }
        })?;
        if !list.contains(&parsed) {
            list.push(parsed);
        }
    }
    Ok(AllowList::Only(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Check = fn(&CorsConfigError) -> bool;

    #[test]
    fn refuses_dangerous_combinations_at_build() {
        let https = || {
            CorsPolicy::builder()
                .allow_origin("https://app.example.com")
                .unwrap()
        };
        let table: [(CorsPolicyBuilder, CorsConfigError); 9] = [
            (CorsPolicy::builder(), CorsConfigError::NoOrigins),
            (
                https().allow_any_origin_without_credentials(),
                CorsConfigError::ConflictingOrigins,
            ),
            (
                CorsPolicy::builder()
                    .allow_any_origin_without_credentials()
                    .allow_credentials(true),
                CorsConfigError::CredentialsWithAnyOrigin,
            ),
            (
                CorsPolicy::builder()
                    .mirror_request_origin_without_credentials()
                    .allow_credentials(true),
                CorsConfigError::CredentialsWithMirroredOrigin,
            ),
            (
                https()
                    .allow_methods(["*"])
                    .unwrap()
                    .allow_credentials(true),
                CorsConfigError::CredentialsWithWildcard { list: "methods" },
            ),
            (
                https()
                    .allow_headers(["*"])
                    .unwrap()
                    .allow_credentials(true),
                CorsConfigError::CredentialsWithWildcard {
                    list: "request headers",
                },
            ),
            (
                https()
                    .expose_headers(["*"])
                    .unwrap()
                    .allow_credentials(true),
                CorsConfigError::CredentialsWithWildcard {
                    list: "exposed headers",
                },
            ),
            (
                CorsPolicy::builder()
                    .allow_origin("http://localhost:3000")
                    .unwrap(),
                CorsConfigError::HttpOriginInProduction {
                    origin: "http://localhost:3000".to_owned(),
                },
            ),
            (
                CorsPolicy::builder()
                    .allow_origin("http://127.0.0.1:5173")
                    .unwrap()
                    .production(true),
                CorsConfigError::HttpOriginInProduction {
                    origin: "http://127.0.0.1:5173".to_owned(),
                },
            ),
        ];
        for (builder, expected) in table {
            let described = format!("{builder:?}");
            assert_eq!(builder.build().unwrap_err(), expected, "{described}");
        }
    }

    #[test]
    fn refuses_bad_methods_and_headers() {
        let b = CorsPolicy::builder;
        let table: [(Result<CorsPolicyBuilder, CorsConfigError>, Check); 5] = [
            (b().allow_methods(["GET", "TRACE"]), |e| {
                matches!(e, CorsConfigError::ForbiddenMethod { .. })
            }),
            (b().allow_methods(["connect"]), |e| {
                matches!(e, CorsConfigError::ForbiddenMethod { .. })
            }),
            (b().allow_methods(["TRACK"]), |e| {
                matches!(e, CorsConfigError::ForbiddenMethod { .. })
            }),
            (b().allow_methods(["GE T"]), |e| {
                matches!(e, CorsConfigError::InvalidMethod { .. })
            }),
            (b().allow_headers(["x bad"]), |e| {
                matches!(e, CorsConfigError::InvalidHeaderName { .. })
            }),
        ];
        for (result, is_expected) in table {
            let err = result.unwrap_err();
            assert!(is_expected(&err), "{err:?}");
        }
    }

    #[test]
    fn allows_loopback_http_outside_production() {
        let origins = [
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:5173",
            "http://app.localhost",
        ];
        for origin in origins {
            let policy = CorsPolicy::builder()
                .production(false)
                .allow_origin(origin)
                .unwrap()
                .build()
                .unwrap();
            assert!(
                policy.allows_origin(&HeaderValue::from_str(origin).unwrap()),
                "{origin}"
            );
            assert!(!policy.allows_origin(&HeaderValue::from_static("https://localhost:3000")));
        }
    }

    #[test]
    fn any_origin_modes_admit_every_origin_without_credentials() {
        let any = CorsPolicy::builder()
            .allow_any_origin_without_credentials()
            .build()
            .unwrap();
        let mirror = CorsPolicy::builder()
            .mirror_request_origin_without_credentials()
            .build()
            .unwrap();
        assert_eq!(any.origin_mode(), OriginMode::AnyWithoutCredentials);
        assert_eq!(mirror.origin_mode(), OriginMode::MirrorWithoutCredentials);
        for policy in [any, mirror] {
            assert!(policy.allows_origin(&HeaderValue::from_static("https://anything.test")));
            assert!(!policy.allows_credentials());
            assert!(policy.origins().is_empty());
        }
    }

    #[test]
    fn exposes_its_configuration_and_describes_it() {
        let policy = CorsPolicy::builder()
            .allow_origins([
                "https://app.example.com",
                "https://admin.example.com:8443",
                "https://app.example.com/",
            ])
            .unwrap()
            .allow_methods(["get", "POST", "PATCH", "GET"])
            .unwrap()
            .allow_headers(["Content-Type", "authorization"])
            .unwrap()
            .expose_headers(["x-request-id"])
            .unwrap()
            .allow_credentials(true)
            .max_age(Duration::from_secs(600))
            .build()
            .unwrap();
        assert_eq!(policy.origin_mode(), OriginMode::Exact);
        assert_eq!(policy.origins().len(), 2, "duplicates collapse");
        assert_eq!(
            policy.methods(),
            &AllowList::Only(vec![Method::GET, Method::POST, Method::PATCH])
        );
        assert!(policy.allows_credentials());
        assert_eq!(policy.max_age(), Some(Duration::from_secs(600)));
        assert_eq!(
            policy.describe(),
            "origins https://app.example.com, https://admin.example.com:8443; methods GET, POST, PATCH; \
             request headers content-type, authorization; exposed headers x-request-id; \
             credentials allowed; max-age 600s"
        );
        let public = CorsPolicy::builder()
            .allow_any_origin_without_credentials()
            .allow_methods(["*"])
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            public.to_string(),
            "any origin (*); methods *; request headers none; exposed headers none; credentials not allowed"
        );
    }
}
