//! [`CorsConfigError`]: every refused CORS configuration, each message
//! naming the fix.

/// A refused CORS configuration. Each is a configuration mistake reported
/// when the router is built, never while serving; the message names the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorsConfigError {
    /// `*` given as an origin.
    #[error(
        "`*` is not an origin; list exact origins with `allow_origin`, or call `allow_any_origin_without_credentials()` for a public API that uses no cookies or auth headers"
    )]
    WildcardOrigin,
    /// The `null` origin.
    #[error(
        "the `null` origin is refused: sandboxed iframes, `file:` pages and cross-origin redirects all send it, so allowing it allows any site; list the exact origins instead"
    )]
    NullOrigin,
    /// An origin written as a pattern (`*.example.com`, a regex, a leading dot).
    #[error(
        "`{origin}` looks like a pattern; origins are matched exactly (patterns are how `example.com.evil.com` gets in), so list each one, e.g. `https://app.example.com`"
    )]
    PatternOrigin {
        /// The origin as given.
        origin: String,
    },
    /// Not parseable as `scheme://host[:port]`.
    #[error("`{origin}` is not a valid origin ({reason}); write it as `https://host[:port]`")]
    InvalidOrigin {
        /// The origin as given.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A scheme other than `http`/`https`.
    #[error(
        "`{origin}` has scheme `{scheme}`; only https origins (and http on loopback during development) can be allowed"
    )]
    UnsupportedScheme {
        /// The origin as given.
        origin: String,
        /// Its scheme.
        scheme: String,
    },
    /// A user name or password in the origin.
    #[error(
        "`{origin}` contains a user name or password; an origin is only `scheme://host[:port]`"
    )]
    OriginHasUserinfo {
        /// The origin as given.
        origin: String,
    },
    /// A path, query or fragment in the origin.
    #[error(
        "`{origin}` has a path, query or fragment; an origin is only `scheme://host[:port]`, drop everything after the host and port"
    )]
    OriginHasPath {
        /// The origin as given.
        origin: String,
    },
    /// Plain http on a host that is not loopback.
    #[error(
        "`{origin}` is plain http; use https (http is accepted only for localhost and 127.0.0.1 with `production(false)`)"
    )]
    InsecureOrigin {
        /// The origin as given.
        origin: String,
    },
    /// Plain http on loopback, in production mode.
    #[error(
        "`{origin}` is plain http and the policy is in production mode; remove it, or call `production(false)` in development builds only"
    )]
    HttpOriginInProduction {
        /// The origin.
        origin: String,
    },
    /// No origin at all.
    #[error(
        "no origin is allowed; add `allow_origin(\"https://...\")`, or install no CORS layer (same-origin requests need none)"
    )]
    NoOrigins,
    /// Exact origins and any-origin both requested.
    #[error(
        "exact origins and any-origin were both configured; keep the exact origins, or only the any-origin mode"
    )]
    ConflictingOrigins,
    /// Credentials with `*` as origin.
    #[error(
        "credentials with any origin would let every site act as the signed-in user; list exact origins with `allow_origin`, or disable credentials"
    )]
    CredentialsWithAnyOrigin,
    /// Credentials with the request's origin echoed back.
    #[error(
        "echoing the request's origin with credentials (tower-http's `very_permissive()`) lets every site act as the signed-in user; list exact origins with `allow_origin`"
    )]
    CredentialsWithMirroredOrigin,
    /// Credentials with `*` for methods or headers.
    #[error(
        "`*` for {list} is refused with credentials (browsers treat it as a literal name then); list the {list} explicitly"
    )]
    CredentialsWithWildcard {
        /// `"methods"`, `"request headers"` or `"exposed headers"`.
        list: &'static str,
    },
    /// Not a valid HTTP method.
    #[error("`{method}` is not a valid HTTP method")]
    InvalidMethod {
        /// The method as given.
        method: String,
    },
    /// TRACE, TRACK or CONNECT.
    #[error(
        "`{method}` is refused: TRACE and TRACK reflect the request (cross-site tracing) and CONNECT opens tunnels; allow only the methods the API serves"
    )]
    ForbiddenMethod {
        /// The method.
        method: String,
    },
    /// Not a valid header name.
    #[error("`{name}` is not a valid header name")]
    InvalidHeaderName {
        /// The name as given.
        name: String,
    },
}
