//! The security headers every response carries: [`SecurityHeaders`].
//!
//! The defaults are the API profile of the OWASP Secure Headers Project: a
//! JSON API is never a document to render, frame, or grant device access
//! to, so everything a browser could do with a response is switched off.
//!
//! | header | default |
//! |---|---|
//! | `Content-Security-Policy` | `default-src 'none'; frame-ancestors 'none'` |
//! | `X-Content-Type-Options` | `nosniff` |
//! | `Referrer-Policy` | `no-referrer` |
//! | `Strict-Transport-Security` | `max-age=63072000; includeSubDomains` (two years) |
//! | `X-Frame-Options` | `DENY` |
//! | `Cross-Origin-Opener-Policy` | `same-origin` |
//! | `Cross-Origin-Resource-Policy` | `same-origin` |
//! | `Permissions-Policy` | every powerful feature denied, see [`DEFAULT_PERMISSIONS_POLICY`] |
//! | `X-Permitted-Cross-Domain-Policies` | `none` |
//! | `Cache-Control` | `no-store`, on authenticated responses only ([`SecurityHeaders::cache_control_for_authenticated`]) |
//!
//! # Who wins: the policy or the handler
//!
//! The policy's headers overwrite whatever a handler set, except the three in
//! [`SecurityHeaders::HANDLER_MAY_OVERRIDE`]: `Cache-Control`,
//! `Content-Security-Policy` and `Content-Type`. Those describe the content
//! (a route serving HTML needs its own CSP, a public asset may be cached),
//! so a handler that set one did so deliberately. Everything else is
//! enforced on every response, because a handler that sets
//! `X-Frame-Options: ALLOWALL` is far more often a copy-paste than a
//! decision. [`SecurityHeaders::apply_to`] implements the rule; the layer in
//! the framework face only calls it.
use std::time::Duration;

use http::header::{
    self, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue,
    REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};

/// The default `Permissions-Policy`: every powerful feature a browser can
/// grant a document, denied to all origins (`()`). An API response needs
/// none of them; a route serving a page that does sets its own with
/// [`SecurityHeaders::set`].
pub const DEFAULT_PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), bluetooth=(), \
camera=(), clipboard-read=(), clipboard-write=(), display-capture=(), encrypted-media=(), \
fullscreen=(), gamepad=(), geolocation=(), gyroscope=(), hid=(), identity-credentials-get=(), \
idle-detection=(), interest-cohort=(), local-fonts=(), magnetometer=(), microphone=(), midi=(), \
payment=(), picture-in-picture=(), publickey-credentials-create=(), \
publickey-credentials-get=(), screen-wake-lock=(), serial=(), storage-access=(), sync-xhr=(), \
usb=(), web-share=(), xr-spatial-tracking=()";

const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");
const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");
const CROSS_ORIGIN_RESOURCE_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-resource-policy");
const X_PERMITTED_CROSS_DOMAIN_POLICIES: HeaderName =
    HeaderName::from_static("x-permitted-cross-domain-policies");

/// Two years, the value the HSTS preload list and OWASP recommend.
const DEFAULT_HSTS_MAX_AGE: Duration = Duration::from_secs(63_072_000);
/// The minimum `max-age` the HSTS preload list accepts.
const HSTS_PRELOAD_MIN_MAX_AGE: Duration = Duration::from_secs(31_536_000);

/// The set of security headers applied to every response, precomputed so
/// applying it is a handful of map inserts.
///
/// Start from [`SecurityHeaders::default`] (the OWASP API profile in the
/// [module docs](self)) and override single headers: changing one never
/// drops the others.
///
/// ```
/// use guard_core::headers::SecurityHeaders;
///
/// let headers = SecurityHeaders::default()
///     .content_security_policy("default-src 'self'; frame-ancestors 'none'")?
///     .set("cross-origin-resource-policy", "same-site")?;
/// assert_eq!(headers.iter().count(), SecurityHeaders::default().iter().count());
/// # Ok::<(), guard_core::headers::HeaderPolicyError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
    authenticated_cache_control: HeaderValue,
}

/// A refused header setting. These are configuration mistakes, reported when
/// the router is built; none occurs while serving a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderPolicyError {
    /// Not a valid HTTP header name.
    #[error("`{name}` is not a valid header name; use lowercase letters, digits and `-`")]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// Not a valid header value: control characters such as a line break.
    #[error(
        "the value for `{name}` is not a valid header value; remove line breaks and control characters"
    )]
    InvalidValue {
        /// The header it was meant for.
        name: HeaderName,
    },
    /// An empty value, which browsers treat as absent or invalid.
    #[error("the value for `{name}` is empty; call `remove` to drop a header instead")]
    EmptyValue {
        /// The header it was meant for.
        name: HeaderName,
    },
    /// A header that must not be set on every response.
    #[error("`{name}` cannot be part of the security header policy: {reason}")]
    Forbidden {
        /// The header refused.
        name: HeaderName,
        /// Why, and where to set it instead.
        reason: &'static str,
    },
    /// `preload` asked for without what the HSTS preload list requires.
    #[error(
        "HSTS preload requires includeSubDomains and a max-age of at least one year (31536000 seconds)"
    )]
    HstsPreloadRequirements,
}

impl Default for SecurityHeaders {
    /// The OWASP API profile; see the [module docs](self).
    fn default() -> Self {
        let headers = vec![
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
            ),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (
                STRICT_TRANSPORT_SECURITY,
                hsts_value(DEFAULT_HSTS_MAX_AGE, true, false),
            ),
            (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                CROSS_ORIGIN_OPENER_POLICY,
                HeaderValue::from_static("same-origin"),
            ),
            (
                CROSS_ORIGIN_RESOURCE_POLICY,
                HeaderValue::from_static("same-origin"),
            ),
            (
                PERMISSIONS_POLICY,
                HeaderValue::from_static(DEFAULT_PERMISSIONS_POLICY),
            ),
            (
                X_PERMITTED_CROSS_DOMAIN_POLICIES,
                HeaderValue::from_static("none"),
            ),
        ];
        Self {
            headers,
            authenticated_cache_control: HeaderValue::from_static("no-store"),
        }
    }
}

impl SecurityHeaders {
    /// Headers a handler may set for itself: when the handler's response
    /// already has one, [`apply_to`](Self::apply_to) leaves it alone. All
    /// other policy headers overwrite the handler's.
    pub const HANDLER_MAY_OVERRIDE: [HeaderName; 3] =
        [CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE];

    /// Whether a handler's own value of `name` wins over the policy's; see
    /// [`HANDLER_MAY_OVERRIDE`](Self::HANDLER_MAY_OVERRIDE).
    pub fn handler_may_override(name: &HeaderName) -> bool {
        Self::HANDLER_MAY_OVERRIDE.contains(name)
    }

    /// Sets one header, replacing the policy's value if it has one and
    /// keeping every other header.
    ///
    /// # Errors
    ///
    /// [`InvalidName`](HeaderPolicyError::InvalidName),
    /// [`InvalidValue`](HeaderPolicyError::InvalidValue) (control characters),
    /// [`EmptyValue`](HeaderPolicyError::EmptyValue), and
    /// [`Forbidden`](HeaderPolicyError::Forbidden) for headers that cannot be
    /// the same on every response: framing and connection headers
    /// (`Content-Length`, `Transfer-Encoding`, `Connection`, …),
    /// `Content-Type`, `Set-Cookie`, and the `Access-Control-*` headers
    /// (use [`CorsPolicy`](crate::cors::CorsPolicy)).
    pub fn set<V>(mut self, name: impl AsRef<str>, value: V) -> Result<Self, HeaderPolicyError>
    where
        V: TryInto<HeaderValue>,
    {
        let name = parse_name(name.as_ref())?;
        if let Some(reason) = forbidden_reason(&name) {
            return Err(HeaderPolicyError::Forbidden { name, reason });
        }
        let Ok(value) = value.try_into() else {
            return Err(HeaderPolicyError::InvalidValue { name });
        };
        if value.as_bytes().iter().all(|b| b.is_ascii_whitespace()) {
            return Err(HeaderPolicyError::EmptyValue { name });
        }
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, slot)) => *slot = value,
            None => self.headers.push((name, value)),
        }
        Ok(self)
    }

    /// Drops a header from the policy. Discouraged: each default closes a
    /// class of browser attack, and a route that needs a different value
    /// should [`set`](Self::set) one rather than send none. Removing a header
    /// the policy does not have, or an invalid name, changes nothing.
    #[must_use]
    pub fn remove(mut self, name: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        self.headers
            .retain(|(n, _)| !n.as_str().eq_ignore_ascii_case(name));
        self
    }

    /// Sets `Content-Security-Policy`, for example for a router that serves
    /// HTML. A handler can also set its own; see the [module docs](self).
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set): an invalid or empty value.
    pub fn content_security_policy(
        self,
        policy: impl TryInto<HeaderValue>,
    ) -> Result<Self, HeaderPolicyError> {
        self.set(CONTENT_SECURITY_POLICY, policy)
    }

    /// Sets `Strict-Transport-Security`. A `max_age` of zero tells browsers to
    /// forget the host's HSTS state, which is how a deployment backs out.
    ///
    /// # Errors
    ///
    /// [`HstsPreloadRequirements`](HeaderPolicyError::HstsPreloadRequirements)
    /// when `preload` is asked for without `include_subdomains` or with a
    /// `max_age` under a year: the preload list rejects such a header, and a
    /// site submitted with it would not be preloaded.
    pub fn hsts(
        mut self,
        max_age: Duration,
        include_subdomains: bool,
        preload: bool,
    ) -> Result<Self, HeaderPolicyError> {
        if preload && (!include_subdomains || max_age < HSTS_PRELOAD_MIN_MAX_AGE) {
            return Err(HeaderPolicyError::HstsPreloadRequirements);
        }
        let value = hsts_value(max_age, include_subdomains, preload);
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| *n == STRICT_TRANSPORT_SECURITY)
        {
            Some((_, slot)) => *slot = value,
            None => self.headers.push((STRICT_TRANSPORT_SECURITY, value)),
        }
        Ok(self)
    }

    /// Sets the `Cache-Control` value sent on authenticated responses
    /// (default `no-store`, so no shared or browser cache keeps a user's data).
    ///
    /// # Errors
    ///
    /// As [`set`](Self::set): an invalid or empty value.
    pub fn authenticated_cache_control(
        mut self,
        value: impl TryInto<HeaderValue>,
    ) -> Result<Self, HeaderPolicyError> {
        let Ok(value) = value.try_into() else {
            return Err(HeaderPolicyError::InvalidValue {
                name: CACHE_CONTROL,
            });
        };
        if value.as_bytes().iter().all(|b| b.is_ascii_whitespace()) {
            return Err(HeaderPolicyError::EmptyValue {
                name: CACHE_CONTROL,
            });
        }
        self.authenticated_cache_control = value;
        Ok(self)
    }

    /// The `Cache-Control` header for responses to an authenticated request,
    /// kept apart from [`iter`](Self::iter) because it does not go on every
    /// response.
    pub fn cache_control_for_authenticated(&self) -> (&HeaderName, &HeaderValue) {
        (&CACHE_CONTROL, &self.authenticated_cache_control)
    }

    /// The headers set on every response, in a stable order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&HeaderName, &HeaderValue)> {
        self.headers.iter().map(pair_refs)
    }

    /// The policy's value of one header, if it sets it.
    pub fn get(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Applies the policy to a response's headers by the rule in the
    /// [module docs](self): policy headers replace the handler's (all its
    /// values), except those in
    /// [`HANDLER_MAY_OVERRIDE`](Self::HANDLER_MAY_OVERRIDE) that the handler
    /// set; `authenticated` adds [the cache header](Self::cache_control_for_authenticated)
    /// unless the handler set `Cache-Control`.
    pub fn apply_to(&self, response_headers: &mut HeaderMap, authenticated: bool) {
        // One growth of the map instead of several as the headers go in.
        response_headers.reserve(self.headers.len() + 1);
        for (name, value) in &self.headers {
            if Self::handler_may_override(name) && response_headers.contains_key(name) {
                continue;
            }
            response_headers.insert(name.clone(), value.clone());
        }
        if authenticated && !response_headers.contains_key(CACHE_CONTROL) {
            response_headers.insert(CACHE_CONTROL, self.authenticated_cache_control.clone());
        }
    }
}

impl SecurityHeaders {
    /// The policy made ready for many responses: see
    /// [`PreparedSecurityHeaders`]. The shapes of the responses a JSON
    /// handler answers with (no header, `Content-Type`, each with or
    /// without `Content-Length`) are prepared too; add others with
    /// [`PreparedSecurityHeaders::with_shape`].
    #[must_use]
    pub fn prepare(self) -> PreparedSecurityHeaders {
        let mut template = HeaderMap::with_capacity(self.headers.len() + TEMPLATE_ROOM);
        for (name, value) in &self.headers {
            template.insert(name.clone(), value.clone());
        }
        let rules = self
            .headers
            .iter()
            .map(|(name, _)| (name.clone(), Self::handler_may_override(name)))
            .collect();
        PreparedSecurityHeaders {
            policy: self,
            template,
            rules,
            shapes: Vec::new(),
        }
        .with_shape(&[])
        .with_shape(&[CONTENT_TYPE])
    }
}

/// Room left in the prepared map for the handler's own headers (content
/// type and length, rate-limit and cache headers), so they go in without
/// growing it.
const TEMPLATE_ROOM: usize = 8;

/// A [`SecurityHeaders`] policy with its headers already in a map, for a
/// layer that applies it to every response.
///
/// [`apply_to`](Self::apply_to) has the result of
/// [`SecurityHeaders::apply_to`] (same headers, same values, same rule for
/// who wins), but when the handler's response has no more headers than the
/// policy, it starts from a copy of the prepared map and moves the
/// handler's few headers into it, instead of inserting the policy's nine
/// into the handler's map one by one: a copy is two allocations and no
/// hashing, where each insert hashes, probes and may grow the map.
///
/// A response whose header names are exactly those of a prepared *shape*
/// (in order, one value each: `Content-Type`, then `Content-Length`, say)
/// costs less again: the shape's map already holds the policy's headers and
/// an entry for each of the handler's, so the handler's values are moved
/// into place without hashing anything and without growing the map (the
/// copy of a map has no room to spare, and its first new header makes it
/// reallocate).
#[derive(Debug, Clone)]
pub struct PreparedSecurityHeaders {
    policy: SecurityHeaders,
    template: HeaderMap,
    /// Each policy header, and whether a handler's value of it wins.
    rules: Vec<(HeaderName, bool)>,
    shapes: Vec<Shape>,
}

/// The map for responses whose headers are exactly `names`, in order.
#[derive(Debug, Clone)]
struct Shape {
    names: Vec<HeaderName>,
    /// One entry per handler header that is kept, in the handler's order,
    /// then the policy's headers the handler does not override. The
    /// handler's slots come first so filling them walks only them.
    template: HeaderMap,
    /// Per handler header: whether its value is kept (else the policy's
    /// wins).
    kept: Vec<bool>,
}

impl Shape {
    /// Replaces the response's headers (names as this shape's, one value
    /// each, then `extra`) with the shape's map, the kept values moved in.
    fn fill(&self, response_headers: &mut HeaderMap, extra: Option<HeaderValue>) {
        let handler = std::mem::replace(response_headers, self.template.clone());
        let mut slots = response_headers.values_mut();
        let values = handler.into_iter().map(|(_, value)| value).chain(extra);
        for (value, kept) in values.zip(&self.kept) {
            if *kept && let Some(slot) = slots.next() {
                *slot = value;
            }
        }
    }
}

/// Stand-in value of a shape's handler entries, overwritten before the
/// response leaves.
const PLACEHOLDER: HeaderValue = HeaderValue::from_static("");

impl PreparedSecurityHeaders {
    /// The policy.
    #[must_use]
    pub fn policy(&self) -> &SecurityHeaders {
        &self.policy
    }

    /// Also prepares the map for responses whose headers are exactly
    /// `names`, in this order, one value each (for instance `Content-Type`,
    /// `RateLimit-Policy`, `RateLimit`, `Cache-Control`, as a rate-limited
    /// authenticated JSON route answers). Names repeated, or a shape
    /// already prepared, are ignored.
    #[must_use]
    pub fn with_shape(mut self, names: &[HeaderName]) -> Self {
        let repeated = names
            .iter()
            .enumerate()
            .any(|(i, name)| names.iter().skip(i + 1).any(|other| other == name));
        if repeated || self.shapes.iter().any(|shape| shape.names == names) {
            return self;
        }
        let kept: Vec<bool> = names
            .iter()
            .map(|name| self.keep(name) != Keep::Drop)
            .collect();
        let mut template = HeaderMap::with_capacity(self.template.len() + names.len());
        for (name, kept) in names.iter().zip(&kept) {
            if *kept {
                template.insert(name.clone(), PLACEHOLDER);
            }
        }
        for (name, value) in &self.policy.headers {
            // A policy header the handler's value replaces comes from the
            // handler, in the handler's place.
            let replaced = names.contains(name) && self.keep(name) == Keep::Replace;
            if !replaced {
                template.insert(name.clone(), value.clone());
            }
        }
        self.shapes.push(Shape {
            names: names.to_vec(),
            template,
            kept,
        });
        self
    }

    /// Applies the policy, exactly as [`SecurityHeaders::apply_to`] does.
    pub fn apply_to(&self, response_headers: &mut HeaderMap, authenticated: bool) {
        if !authenticated && self.apply_shaped(response_headers) {
            return;
        }
        if response_headers.len() > self.template.len() {
            self.policy.apply_to(response_headers, authenticated);
            return;
        }
        let handler = std::mem::replace(response_headers, self.template.clone());
        // `into_iter` names a header on its first value only; later values
        // of the same header follow with `None`.
        let mut current: Option<(HeaderName, Keep)> = None;
        for (name, value) in handler {
            if let Some(name) = name {
                let keep = self.keep(&name);
                current = Some((name, keep));
                let Some((name, keep)) = &current else {
                    continue;
                };
                match keep {
                    Keep::Drop => {}
                    Keep::Replace => {
                        response_headers.insert(name.clone(), value);
                    }
                    Keep::Add => {
                        response_headers.append(name.clone(), value);
                    }
                }
            } else if let Some((name, Keep::Replace | Keep::Add)) = &current {
                response_headers.append(name.clone(), value);
            }
        }
        if authenticated && !response_headers.contains_key(CACHE_CONTROL) {
            response_headers.insert(
                CACHE_CONTROL,
                self.policy.authenticated_cache_control.clone(),
            );
        }
    }

    /// Adds `name: value` unless the handler set `name`, then applies the
    /// policy as [`apply_to`](Self::apply_to) does: for a header the
    /// server adds on its way out anyway (`Content-Length`), so that a
    /// prepared shape ending in it takes the value straight into its
    /// place, with no insert into the handler's map.
    pub fn apply_with(
        &self,
        response_headers: &mut HeaderMap,
        authenticated: bool,
        name: HeaderName,
        value: HeaderValue,
    ) {
        if !authenticated && let Some(shape) = self.shape_of(response_headers, Some(&name)) {
            shape.fill(response_headers, Some(value));
            return;
        }
        if !response_headers.contains_key(&name) {
            response_headers.insert(name, value);
        }
        self.apply_to(response_headers, authenticated);
    }

    /// The shaped path of [`apply_to`](Self::apply_to); `false` when no
    /// prepared shape has exactly the response's header names.
    fn apply_shaped(&self, response_headers: &mut HeaderMap) -> bool {
        match self.shape_of(response_headers, None) {
            Some(shape) => {
                shape.fill(response_headers, None);
                true
            }
            None => false,
        }
    }

    /// The prepared shape whose names are exactly the response's, then
    /// `extra` if given.
    fn shape_of(&self, response_headers: &HeaderMap, extra: Option<&HeaderName>) -> Option<&Shape> {
        let len = response_headers.len();
        // `len` counts values and `keys_len` names: equal, there is one
        // value per name.
        if response_headers.keys_len() != len {
            return None;
        }
        let want = len + usize::from(extra.is_some());
        self.shapes.iter().find(|shape| {
            shape.names.len() == want
                && response_headers
                    .keys()
                    .zip(&shape.names)
                    .all(|(name, expected)| name == expected)
                && extra.is_none_or(|name| shape.names.last() == Some(name))
        })
    }

    /// What happens to a handler's header of this name.
    fn keep(&self, name: &HeaderName) -> Keep {
        match self.rules.iter().find(|(rule, _)| rule == name) {
            // The policy sets it and the handler may not: the policy's.
            Some((_, false)) => Keep::Drop,
            // The handler's value wins over the policy's.
            Some((_, true)) => Keep::Replace,
            None => Keep::Add,
        }
    }
}

/// The fate of one handler header in [`PreparedSecurityHeaders::apply_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Drop,
    Replace,
    Add,
}

impl<'a> IntoIterator for &'a SecurityHeaders {
    type Item = (&'a HeaderName, &'a HeaderValue);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (HeaderName, HeaderValue)>,
        fn(&'a (HeaderName, HeaderValue)) -> (&'a HeaderName, &'a HeaderValue),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.headers.iter().map(pair_refs as fn(_) -> _)
    }
}

fn pair_refs((name, value): &(HeaderName, HeaderValue)) -> (&HeaderName, &HeaderValue) {
    (name, value)
}

fn parse_name(name: &str) -> Result<HeaderName, HeaderPolicyError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| HeaderPolicyError::InvalidName {
        name: name.to_owned(),
    })
}

fn forbidden_reason(name: &HeaderName) -> Option<&'static str> {
    const FRAMING: [HeaderName; 7] = [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
        header::UPGRADE,
        header::TE,
        header::TRAILER,
        header::HOST,
    ];
    if FRAMING.contains(name) || matches!(name.as_str(), "keep-alive" | "proxy-connection") {
        Some(
            "it describes the message framing or the connection, which the server sets per response",
        )
    } else if *name == CONTENT_TYPE {
        Some("it describes each response's body; the handler sets it")
    } else if *name == header::SET_COOKIE {
        Some("a cookie sent on every response is a session bug; set cookies in the handler")
    } else if name.as_str().starts_with("access-control-") {
        Some("CORS headers depend on the request's origin; configure a `CorsPolicy` instead")
    } else {
        None
    }
}

fn hsts_value(max_age: Duration, include_subdomains: bool, preload: bool) -> HeaderValue {
    let mut value = format!("max-age={}", max_age.as_secs());
    if include_subdomains {
        value.push_str("; includeSubDomains");
    }
    if preload {
        value.push_str("; preload");
    }
    // Digits, letters, `=`, `;` and spaces: always a valid header value.
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("max-age=63072000"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_of<'a>(h: &'a SecurityHeaders, name: &str) -> Option<&'a str> {
        h.iter()
            .find(|(n, _)| n.as_str() == name)
            .and_then(|(_, v)| v.to_str().ok())
    }

    #[test]
    fn default_is_the_owasp_api_profile() {
        let h = SecurityHeaders::default();
        let expected = [
            (
                "content-security-policy",
                "default-src 'none'; frame-ancestors 'none'",
            ),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            (
                "strict-transport-security",
                "max-age=63072000; includeSubDomains",
            ),
            ("x-frame-options", "DENY"),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-resource-policy", "same-origin"),
            ("permissions-policy", DEFAULT_PERMISSIONS_POLICY),
            ("x-permitted-cross-domain-policies", "none"),
        ];
        assert_eq!(h.iter().len(), expected.len());
        for (name, value) in expected {
            assert_eq!(value_of(&h, name), Some(value), "{name}");
        }
        let (name, value) = h.cache_control_for_authenticated();
        assert_eq!(
            (name.as_str(), value.to_str().ok()),
            ("cache-control", Some("no-store"))
        );
        assert_eq!(
            value_of(&h, "cache-control"),
            None,
            "only on authenticated responses"
        );
    }

    #[test]
    fn permissions_policy_denies_powerful_features() {
        for feature in [
            "camera",
            "microphone",
            "geolocation",
            "payment",
            "usb",
            "interest-cohort",
        ] {
            assert!(
                DEFAULT_PERMISSIONS_POLICY.contains(&format!("{feature}=()")),
                "{feature}"
            );
        }
        assert!(HeaderValue::from_str(DEFAULT_PERMISSIONS_POLICY).is_ok());
    }

    #[test]
    fn set_overrides_one_header_and_keeps_the_others() {
        let default = SecurityHeaders::default();
        let h = SecurityHeaders::default()
            .set("X-Frame-Options", "SAMEORIGIN")
            .unwrap()
            .content_security_policy("default-src 'self'")
            .unwrap();
        assert_eq!(h.iter().len(), default.iter().len());
        assert_eq!(value_of(&h, "x-frame-options"), Some("SAMEORIGIN"));
        assert_eq!(
            value_of(&h, "content-security-policy"),
            Some("default-src 'self'")
        );
        assert_eq!(value_of(&h, "referrer-policy"), Some("no-referrer"));
        // Order is stable: the overridden header keeps its place.
        let names: Vec<_> = h.iter().map(|(n, _)| n.clone()).collect();
        let default_names: Vec<_> = default.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, default_names);
    }

    #[test]
    fn set_adds_a_new_header() {
        let h = SecurityHeaders::default()
            .set("cross-origin-embedder-policy", "require-corp")
            .unwrap();
        assert_eq!(h.iter().len(), SecurityHeaders::default().iter().len() + 1);
        assert_eq!(
            value_of(&h, "cross-origin-embedder-policy"),
            Some("require-corp")
        );
    }

    fn kind(e: &HeaderPolicyError) -> &'static str {
        match e {
            HeaderPolicyError::InvalidName { .. } => "invalid name",
            HeaderPolicyError::InvalidValue { .. } => "invalid value",
            HeaderPolicyError::EmptyValue { .. } => "empty",
            HeaderPolicyError::Forbidden { .. } => "forbidden",
            HeaderPolicyError::HstsPreloadRequirements => "preload",
        }
    }

    #[test]
    fn set_refuses_invalid_and_dangerous_settings() {
        let cases = [
            ("bad name", "x", "invalid name"),
            ("", "x", "invalid name"),
            (
                "x-frame-options",
                "DENY\r\nSet-Cookie: a=b",
                "invalid value",
            ),
            ("x-frame-options", "", "empty"),
            ("referrer-policy", "   ", "empty"),
            ("Content-Length", "0", "forbidden"),
            ("transfer-encoding", "chunked", "forbidden"),
            ("set-cookie", "a=b", "forbidden"),
            ("access-control-allow-origin", "*", "forbidden"),
            ("content-type", "application/json", "forbidden"),
        ];
        for (name, value, expected) in cases {
            let err = SecurityHeaders::default().set(name, value).unwrap_err();
            assert_eq!(kind(&err), expected, "{name}: {value:?} gave {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn forbidden_error_names_the_fix() {
        let err = SecurityHeaders::default()
            .set("access-control-allow-origin", "*")
            .unwrap_err();
        assert!(err.to_string().contains("CorsPolicy"), "{err}");
    }

    #[test]
    fn hsts_builds_its_value_and_checks_preload() {
        let year = Duration::from_secs(31_536_000);
        let ok = [
            (year, false, false, "max-age=31536000"),
            (year, true, false, "max-age=31536000; includeSubDomains"),
            (
                year,
                true,
                true,
                "max-age=31536000; includeSubDomains; preload",
            ),
            (Duration::ZERO, false, false, "max-age=0"),
        ];
        for (age, sub, preload, expected) in ok {
            let h = SecurityHeaders::default().hsts(age, sub, preload).unwrap();
            assert_eq!(value_of(&h, "strict-transport-security"), Some(expected));
        }
        let refused = [
            (year, false, true),
            (Duration::from_secs(86_400), true, true),
        ];
        for (age, sub, preload) in refused {
            assert_eq!(
                SecurityHeaders::default()
                    .hsts(age, sub, preload)
                    .unwrap_err(),
                HeaderPolicyError::HstsPreloadRequirements
            );
        }
    }

    #[test]
    fn remove_drops_only_the_named_header() {
        let h = SecurityHeaders::default()
            .remove("X-Frame-Options")
            .remove("not a header");
        assert_eq!(h.iter().len(), SecurityHeaders::default().iter().len() - 1);
        assert_eq!(value_of(&h, "x-frame-options"), None);
        assert!(h.get(&X_CONTENT_TYPE_OPTIONS).is_some());
    }

    #[test]
    fn apply_enforces_policy_headers_over_the_handlers() {
        let mut response = HeaderMap::new();
        response.append(X_FRAME_OPTIONS, HeaderValue::from_static("ALLOWALL"));
        response.append(X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
        response.insert(REFERRER_POLICY, HeaderValue::from_static("unsafe-url"));
        SecurityHeaders::default().apply_to(&mut response, false);
        let frame: Vec<_> = response.get_all(X_FRAME_OPTIONS).iter().collect();
        assert_eq!(frame, [&HeaderValue::from_static("DENY")]);
        assert_eq!(response[REFERRER_POLICY], "no-referrer");
        for (name, value) in &SecurityHeaders::default() {
            assert_eq!(response.get(name), Some(value), "{name}");
        }
        assert!(!response.contains_key(CACHE_CONTROL));
    }

    #[test]
    fn apply_keeps_the_handlers_content_headers() {
        let mut response = HeaderMap::new();
        response.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'"),
        );
        response.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        response.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        SecurityHeaders::default().apply_to(&mut response, true);
        assert_eq!(response[CONTENT_SECURITY_POLICY], "default-src 'self'");
        assert_eq!(response[CACHE_CONTROL], "public, max-age=60");
        assert_eq!(response[CONTENT_TYPE], "text/html");
        assert_eq!(response[X_FRAME_OPTIONS], "DENY");
    }

    #[test]
    fn apply_adds_no_store_to_authenticated_responses_only() {
        let table = [(true, Some("no-store")), (false, None)];
        for (authenticated, expected) in table {
            let mut response = HeaderMap::new();
            SecurityHeaders::default().apply_to(&mut response, authenticated);
            assert_eq!(
                response.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()),
                expected,
                "authenticated = {authenticated}"
            );
        }
        let custom = SecurityHeaders::default()
            .authenticated_cache_control("private, no-store, max-age=0")
            .unwrap();
        let mut response = HeaderMap::new();
        custom.apply_to(&mut response, true);
        assert_eq!(response[CACHE_CONTROL], "private, no-store, max-age=0");
        assert!(
            SecurityHeaders::default()
                .authenticated_cache_control("")
                .is_err()
        );
    }

    #[test]
    fn prepared_policies_apply_exactly_as_the_policy_does() {
        let custom = SecurityHeaders::default()
            .remove("x-frame-options")
            .set("x-extra", "1")
            .unwrap();
        let many: Vec<(HeaderName, &'static str)> = (0..20)
            .map(|n| (HeaderName::try_from(format!("x-h{n}")).unwrap(), "v"))
            .collect();
        let responses: Vec<Vec<(HeaderName, &'static str)>> = vec![
            vec![],
            vec![(CONTENT_TYPE, "application/json")],
            vec![
                (CONTENT_TYPE, "text/html"),
                (CONTENT_SECURITY_POLICY, "default-src 'self'"),
                (CACHE_CONTROL, "public, max-age=60"),
            ],
            vec![
                (X_FRAME_OPTIONS, "ALLOWALL"),
                (X_FRAME_OPTIONS, "SAMEORIGIN"),
                (REFERRER_POLICY, "unsafe-url"),
                (header::SET_COOKIE, "a=1"),
                (header::SET_COOKIE, "b=2"),
                (header::CONTENT_LENGTH, "12"),
            ],
            vec![
                (CONTENT_SECURITY_POLICY, "a"),
                (CONTENT_SECURITY_POLICY, "b"),
                (HeaderName::from_static("x-extra"), "handler"),
            ],
            many,
        ];
        for policy in [SecurityHeaders::default(), custom] {
            // Every response's names as a prepared shape too (a repeated
            // name is ignored), so both paths are compared to the policy.
            let shaped = responses.iter().fold(policy.clone().prepare(), |p, r| {
                let names: Vec<HeaderName> = r.iter().map(|(n, _)| n.clone()).collect();
                p.with_shape(&names)
            });
            for prepared in [policy.clone().prepare(), shaped] {
                for handler in &responses {
                    for authenticated in [false, true] {
                        let mut expected = HeaderMap::new();
                        for (name, value) in handler {
                            expected.append(name.clone(), HeaderValue::from_static(value));
                        }
                        let mut actual = expected.clone();
                        policy.apply_to(&mut expected, authenticated);
                        prepared.apply_to(&mut actual, authenticated);
                        assert_eq!(
                            sorted(&actual),
                            sorted(&expected),
                            "{handler:?}, authenticated = {authenticated}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn apply_with_adds_the_header_unless_the_handler_set_it() {
        let policy = SecurityHeaders::default();
        let prepared = policy
            .clone()
            .prepare()
            .with_shape(&[CONTENT_TYPE, header::CONTENT_LENGTH]);
        let responses: [&[(HeaderName, &'static str)]; 4] = [
            // Shaped with the length: it goes into its slot.
            &[(CONTENT_TYPE, "application/json")],
            // The handler's own length wins.
            &[
                (CONTENT_TYPE, "application/json"),
                (header::CONTENT_LENGTH, "3"),
            ],
            // No shape: inserted, then applied.
            &[(X_FRAME_OPTIONS, "ALLOWALL"), (header::ETAG, "\"1\"")],
            &[],
        ];
        for handler in responses {
            for authenticated in [false, true] {
                let mut expected = HeaderMap::new();
                for (name, value) in handler {
                    expected.append(name.clone(), HeaderValue::from_static(value));
                }
                let mut actual = expected.clone();
                if !expected.contains_key(header::CONTENT_LENGTH) {
                    expected.insert(header::CONTENT_LENGTH, HeaderValue::from_static("15"));
                }
                policy.apply_to(&mut expected, authenticated);
                prepared.apply_with(
                    &mut actual,
                    authenticated,
                    header::CONTENT_LENGTH,
                    HeaderValue::from_static("15"),
                );
                assert_eq!(
                    sorted(&actual),
                    sorted(&expected),
                    "{handler:?}, authenticated = {authenticated}"
                );
            }
        }
    }

    #[test]
    fn a_shape_matches_only_its_names_in_its_order() {
        let prepared = SecurityHeaders::default()
            .prepare()
            .with_shape(&[CONTENT_TYPE, CACHE_CONTROL]);
        let mut matching = HeaderMap::new();
        matching.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        matching.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let mut reversed = HeaderMap::new();
        reversed.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        reversed.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut two_values = HeaderMap::new();
        two_values.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        two_values.append(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(prepared.apply_shaped(&mut matching));
        assert_eq!(matching.len(), 11);
        assert_eq!(matching[CACHE_CONTROL], "no-store");
        assert_eq!(matching[CONTENT_TYPE], "application/json");
        assert_eq!(matching[X_FRAME_OPTIONS], "DENY");
        assert!(!prepared.apply_shaped(&mut reversed));
        assert!(!prepared.apply_shaped(&mut two_values));
        assert_eq!(two_values.len(), 2, "an unmatched map is left alone");
    }

    fn sorted(headers: &HeaderMap) -> Vec<(String, Vec<String>)> {
        let mut all: Vec<(String, Vec<String>)> = headers
            .keys()
            .map(|name| {
                let values = headers
                    .get_all(name)
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect();
                (name.as_str().to_owned(), values)
            })
            .collect();
        all.sort();
        all
    }

    #[test]
    fn handler_may_override_only_content_headers() {
        let table = [
            (CACHE_CONTROL, true),
            (CONTENT_SECURITY_POLICY, true),
            (CONTENT_TYPE, true),
            (X_FRAME_OPTIONS, false),
            (STRICT_TRANSPORT_SECURITY, false),
            (PERMISSIONS_POLICY, false),
        ];
        for (name, may) in table {
            assert_eq!(SecurityHeaders::handler_may_override(&name), may, "{name}");
        }
    }
}
