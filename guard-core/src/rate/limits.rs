//! A route's limits: the defaults its attribute declares ([`RateLimits`])
//! and the operator's overrides ([`LimitsConfig`]), resolved into the limits
//! in force with where each came from ([`ResolvedLimits`]).

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;

use super::{QuotaSpec, RateSpec};
use serde::{Deserialize, Serialize};

/// The limits a route declares: `#[secure_route(rate = "10/min", rate_ip =
/// "…", rate_account = "…", quota = "1000/day")]`.
///
/// - `rate` limits per client IP and, on an `auth` route, per account; on
///   a public route it also limits per identifier where the route names one
///   (the login e-mail), so one account cannot be brute-forced from many
///   addresses.
/// - `rate_ip` / `rate_account` replace `rate` for one side
///   (`rate_account` also sets the per-identifier limit).
/// - `quota` is a hard ceiling per account (per client IP on a public
///   route) per clock-aligned window.
///
/// A per-IP limit on an IPv6 client counts twice: under the client's key
/// (its /64 by default, see `ClientIpConfig::ipv6_prefix`) and under its
/// /48 with [`IPV6_48_FACTOR`] times the allowance, so a client holding a
/// /56 or a /48 (256 or 65 536 /64s) gets 16 clients' budget, not thousands.
/// IPv4 clients are counted per address only.
///
/// A route-wide ceiling over all callers together (`rate_route`, for login
/// and sign-up: it bounds the password-hashing work the route can cause)
/// comes from the operator's [`LimitOverride::rate_route`].
///
/// The attribute's limits are guard-core's `RateLimits`, the type the macro
/// writes into every `RouteSpec`.
pub use crate::spec::RateLimits;

/// An operator's override of one route's limits. Every field is optional;
/// a field given replaces the attribute's value.
///
/// `burst` applies to every rate of the route in force after the other
/// fields. Unknown fields are refused when loading, so a typo (`rat = …`)
/// fails at start-up instead of silently leaving the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverride {
    /// Replaces `rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateSpec>,
    /// Replaces `rate_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_ip: Option<RateSpec>,
    /// Replaces `rate_account`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_account: Option<RateSpec>,
    /// Replaces the burst of every rate in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<NonZeroU32>,
    /// Replaces `quota`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaSpec>,
    /// A ceiling over every caller of the route together (one key for the
    /// route): past it every client gets 429 `{"error":"too_many_requests"}`
    /// with `Retry-After`. For routes whose work is costly whoever asks
    /// (login, sign-up: a password hash each). `burst` does not apply to
    /// it; write its burst in the spec (`"600/min, burst = 100"`). It is
    /// never named in the `RateLimit` headers, which would tell every
    /// client how busy the route is: a response on which the ceiling is
    /// closer to refusing than the client's own limits carries none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_route: Option<RateSpec>,
}

impl LimitOverride {
    /// This override's fields, and `base`'s where this one has none.
    #[must_use]
    pub fn or(self, base: Self) -> Self {
        Self {
            rate: self.rate.or(base.rate),
            rate_ip: self.rate_ip.or(base.rate_ip),
            rate_account: self.rate_account.or(base.rate_account),
            burst: self.burst.or(base.burst),
            quota: self.quota.or(base.quota),
            rate_route: self.rate_route.or(base.rate_route),
        }
    }
}

/// How many times the per-IP allowance an IPv6 /48 gets in all (count and
/// burst), so the /64s of one /48 share 16 clients' budget.
pub const IPV6_48_FACTOR: u32 = 16;

/// A route key: `"POST /api/login"`, a method in capitals, one space, a path
/// as routed (`/projects/{project}`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RouteKey(String);

/// A route key that is not `"<METHOD> /<path>"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid route key {0:?}: expected `<METHOD> /<path>`, e.g. `POST /api/login`")]
pub struct RouteKeyError(pub String);

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

impl RouteKey {
    /// The key for `method` and `path`.
    ///
    /// # Errors
    ///
    /// [`RouteKeyError`] for an unknown method or a path not starting with `/`.
    pub fn new(method: &str, path: &str) -> Result<Self, RouteKeyError> {
        Self::try_from(format!("{method} {path}"))
    }

    /// `"POST /api/login"`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RouteKey {
    type Error = RouteKeyError;

    fn try_from(key: String) -> Result<Self, RouteKeyError> {
        let valid = key.split_once(' ').is_some_and(|(method, path)| {
            METHODS.contains(&method)
                && path.starts_with('/')
                && !path.chars().any(|c| c.is_whitespace() || c.is_control())
        });
        if valid {
            Ok(Self(key))
        } else {
            Err(RouteKeyError(key))
        }
    }
}

impl From<RouteKey> for String {
    fn from(key: RouteKey) -> Self {
        key.0
    }
}

impl fmt::Display for RouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Operator overrides by route, loaded from configuration without
/// recompiling:
///
/// ```
/// use guard_core::rate::{LimitsConfig, RateLimits};
///
/// // The TOML `"POST /api/login" = { rate = "5/min", burst = 10, quota = "100/day" }`
/// // deserializes to the same value.
/// let config: LimitsConfig = serde_json::from_str(
///     r#"{"POST /api/login": {"rate": "5/min", "burst": 10, "quota": "100/day"}}"#,
/// )?;
/// let attribute = RateLimits::new().rate("10/min".parse()?);
/// let limits = config.resolve("POST", "/api/login", attribute, false);
/// assert_eq!(
///     limits.to_string(),
///     "ip 5/min, burst = 10 (override), identifier 5/min, burst = 10 (override), quota 100/day (override)"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A malformed rate, an unknown field or a malformed route key fails
/// loading; a key naming no route is reported by [`LimitsConfig::problems`]
/// (the router refuses to build), never ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LimitsConfig {
    routes: BTreeMap<RouteKey, LimitOverride>,
}

impl LimitsConfig {
    /// No overrides.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Overrides `route` (`"POST /api/login"`).
    ///
    /// # Errors
    ///
    /// [`RouteKeyError`] for a malformed key.
    pub fn set(mut self, route: &str, limits: LimitOverride) -> Result<Self, RouteKeyError> {
        self.routes
            .insert(RouteKey::try_from(route.to_owned())?, limits);
        Ok(self)
    }

    /// These overrides, and `base`'s for what these leave unset, field by
    /// field: how an app keeps its own defaults (a login ceiling) under an
    /// operator's file, `file.or(defaults)`.
    #[must_use]
    pub fn or(mut self, base: Self) -> Self {
        for (key, over) in base.routes {
            let merged = match self.routes.remove(&key) {
                Some(mine) => mine.or(over),
                None => over,
            };
            self.routes.insert(key, merged);
        }
        self
    }

    /// The override for a route, if any.
    #[must_use]
    pub fn get(&self, method: &str, path: &str) -> Option<&LimitOverride> {
        self.routes
            .iter()
            .find(|(key, _)| key.0.split_once(' ') == Some((method, path)))
            .map(|(_, o)| o)
    }

    /// The limits in force on `method path`: the override's fields over the
    /// attribute's. Per-account limits exist only when `requires_auth`.
    #[must_use]
    pub fn resolve(
        &self,
        method: &str,
        path: &str,
        attribute: RateLimits,
        requires_auth: bool,
    ) -> ResolvedLimits {
        let none = LimitOverride::default();
        let over = self.get(method, path).unwrap_or(&none);
        let pick = |specific_o: Option<RateSpec>, specific_a: Option<RateSpec>| {
            let sourced = specific_o
                .or(over.rate)
                .map(|spec| Sourced::new(spec, LimitSource::Override))
                .or_else(|| {
                    specific_a
                        .or(attribute.rate)
                        .map(|spec| Sourced::new(spec, LimitSource::Attribute))
                });
            sourced.map(|s| match over.burst {
                Some(burst) => Sourced::new(s.value.with_burst(burst), LimitSource::Override),
                None => s,
            })
        };
        let ip = pick(over.rate_ip, attribute.per_ip);
        // An override's `rate_account` sets the identifier limit of a public
        // route (one key in the limits file for "the limit per who").
        let account = pick(over.rate_account, attribute.per_account);
        let identifier = pick(over.rate_account, attribute.per_identifier);
        let quota = over
            .quota
            .map(|q| Sourced::new(q, LimitSource::Override))
            .or_else(|| {
                attribute
                    .quota
                    .map(|q| Sourced::new(q, LimitSource::Attribute))
            });
        ResolvedLimits {
            ip,
            account: account.filter(|_| requires_auth),
            identifier: identifier.filter(|_| !requires_auth),
            quota,
            route: over
                .rate_route
                .map(|spec| Sourced::new(spec, LimitSource::Override)),
        }
    }

    /// What is wrong with the overrides for the given routes (`(method,
    /// path, attribute)`): a key naming no route, a burst on a route with no
    /// rate. One sentence each, for the router's build error.
    #[must_use]
    pub fn problems<'a>(
        &self,
        routes: impl IntoIterator<Item = (&'a str, &'a str, RateLimits)>,
    ) -> Vec<String> {
        let routes: Vec<_> = routes.into_iter().collect();
        let mut problems = Vec::new();
        for (key, over) in &self.routes {
            let Some((method, path)) = key.0.split_once(' ') else {
                continue;
            };
            let Some(&(_, _, attribute)) =
                routes.iter().find(|(m, p, _)| *m == method && *p == path)
            else {
                problems.push(format!(
                    "rate-limit override for `{key}` matches no route; check the method and the path as routed"
                ));
                continue;
            };
            let any_rate = over.rate.is_some()
                || over.rate_ip.is_some()
                || over.rate_account.is_some()
                || attribute.rate.is_some()
                || attribute.per_ip.is_some()
                || attribute.per_account.is_some()
                || attribute.per_identifier.is_some();
            if over.burst.is_some() && !any_rate {
                problems.push(format!(
                    "rate-limit override for `{key}` sets a burst but the route has no rate; add `rate`"
                ));
            }
        }
        problems
    }
}

/// Where a limit in force came from, for the route report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitSource {
    /// The route's attribute (`#[secure_route(rate = …)]`).
    Attribute,
    /// The operator's [`LimitsConfig`] (wholly or partly, e.g. its burst).
    Override,
}

impl LimitSource {
    /// `"attribute"` or `"override"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Attribute => "attribute",
            Self::Override => "override",
        }
    }
}

impl fmt::Display for LimitSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sourced<T> {
    /// The value in force.
    pub value: T,
    /// Its source.
    pub source: LimitSource,
}

impl<T> Sourced<T> {
    const fn new(value: T, source: LimitSource) -> Self {
        Self { value, source }
    }
}

/// The limits in force on one route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ResolvedLimits {
    /// Per client IP, checked before authentication; for an IPv6 client
    /// also per /48 with [`IPV6_48_FACTOR`] times this (see
    /// [`ResolvedLimits::ipv6_48`]).
    pub ip: Option<Sourced<RateSpec>>,
    /// Per account (`auth` routes).
    pub account: Option<Sourced<RateSpec>>,
    /// Per identifier the route names (public routes: the login e-mail).
    pub identifier: Option<Sourced<RateSpec>>,
    /// The usage ceiling, per account (per client IP on a public route).
    pub quota: Option<Sourced<QuotaSpec>>,
    /// Over every caller of the route together ([`LimitOverride::rate_route`]).
    pub route: Option<Sourced<RateSpec>>,
}

impl ResolvedLimits {
    /// Whether no limit is in force.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.ip.is_none()
            && self.account.is_none()
            && self.identifier.is_none()
            && self.quota.is_none()
            && self.route.is_none()
    }

    /// The allowance of an IPv6 client's /48 in all: the per-IP rate with
    /// count and burst times [`IPV6_48_FACTOR`] (saturating).
    #[must_use]
    pub fn ipv6_48(&self) -> Option<RateSpec> {
        self.ip.map(|ip| {
            let factor = NonZeroU32::MIN.saturating_add(IPV6_48_FACTOR - 1);
            RateSpec::new(ip.value.count().saturating_mul(factor), ip.value.unit())
                .with_burst(ip.value.burst().saturating_mul(factor))
        })
    }
}

impl fmt::Display for ResolvedLimits {
    /// `ip 10/min (attribute), account 10/min (attribute), quota 1000/day
    /// (override)`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rates = [
            ("ip", self.ip),
            ("account", self.account),
            ("identifier", self.identifier),
            ("route", self.route),
        ];
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            let text = if first { "" } else { ", " };
            first = false;
            f.write_str(text)
        };
        for (name, rate) in rates {
            if let Some(rate) = rate {
                sep(f)?;
                write!(f, "{name} {} ({})", rate.value, rate.source)?;
            }
        }
        if let Some(quota) = self.quota {
            sep(f)?;
            write!(f, "quota {} ({})", quota.value, quota.source)?;
        }
        if self.is_empty() {
            f.write_str("none")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(s: &str) -> RateSpec {
        s.parse().unwrap()
    }

    #[test]
    fn overrides_win_and_record_their_source() {
        let config: LimitsConfig = serde_json::from_str(
            r#"{
                "POST /api/login": {"rate": "5/min", "burst": 10, "quota": "100/day"},
                "GET /api/projects": {"rate_account": "100/min"}
            }"#,
        )
        .unwrap();
        let attribute = RateLimits::new().rate(rate("10/min"));
        let table = [
            (
                "POST",
                "/api/login",
                false,
                "ip 5/min, burst = 10 (override), identifier 5/min, burst = 10 (override), quota 100/day (override)",
            ),
            (
                "GET",
                "/api/projects",
                true,
                "ip 10/min (attribute), account 100/min (override)",
            ),
            (
                "GET",
                "/api/other",
                true,
                "ip 10/min (attribute), account 10/min (attribute)",
            ),
        ];
        for (method, path, auth, want) in table {
            let resolved = config.resolve(method, path, attribute, auth);
            assert_eq!(resolved.to_string(), want, "{method} {path}");
        }
        assert_eq!(
            config
                .resolve("GET", "/x", RateLimits::new(), true)
                .to_string(),
            "none"
        );
    }

    #[test]
    fn specific_fields_beat_general_ones_on_each_side() {
        let attribute = RateLimits::new()
            .rate(rate("10/min"))
            .rate_ip(rate("100/min"))
            .quota("1000/day".parse().unwrap());
        let config = LimitsConfig::new()
            .set(
                "GET /a",
                LimitOverride {
                    rate: Some(rate("20/min")),
                    ..LimitOverride::default()
                },
            )
            .unwrap();
        let resolved = config.resolve("GET", "/a", attribute, true);
        assert_eq!(
            resolved.to_string(),
            "ip 20/min (override), account 20/min (override), quota 1000/day (attribute)"
        );
        let untouched = LimitsConfig::new().resolve("GET", "/a", attribute, true);
        assert_eq!(
            untouched.to_string(),
            "ip 100/min (attribute), account 10/min (attribute), quota 1000/day (attribute)"
        );
    }

    #[test]
    fn loading_refuses_typos_bad_specs_and_bad_keys() {
        let table = [
            (
                r#"{"POST /api/login": {"rat": "5/min"}}"#,
                "unknown field `rat`",
            ),
            (
                r#"{"POST /api/login": {"rate": "5/minn"}}"#,
                "invalid rate \"5/minn\"",
            ),
            (r#"{"POST /api/login": {"burst": 0}}"#, "nonzero"),
            (r#"{"post /api/login": {}}"#, "invalid route key"),
            (r#"{"POST api/login": {}}"#, "invalid route key"),
            (r#"{"POST  /api/login": {}}"#, "invalid route key"),
        ];
        for (json, want) in table {
            let err = serde_json::from_str::<LimitsConfig>(json)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{json}: {err}");
        }
    }

    #[test]
    fn problems_name_overrides_for_missing_routes_and_bursts_without_rates() {
        let config = LimitsConfig::new()
            .set("POST /api/logn", LimitOverride::default())
            .unwrap()
            .set(
                "GET /health",
                LimitOverride {
                    burst: NonZeroU32::new(5),
                    ..LimitOverride::default()
                },
            )
            .unwrap()
            .set(
                "POST /api/login",
                LimitOverride {
                    burst: NonZeroU32::new(5),
                    ..LimitOverride::default()
                },
            )
            .unwrap();
        let routes = [
            ("POST", "/api/login", RateLimits::new().rate(rate("5/min"))),
            ("GET", "/health", RateLimits::new()),
        ];
        let problems = config.problems(routes);
        assert_eq!(
            problems,
            [
                "rate-limit override for `GET /health` sets a burst but the route has no rate; add `rate`",
                "rate-limit override for `POST /api/logn` matches no route; check the method and the path as routed",
            ]
        );
    }

    #[test]
    fn a_route_ceiling_comes_from_the_override_and_an_app_default_yields_to_the_file() {
        let defaults: LimitsConfig =
            serde_json::from_str(r#"{"POST /login": {"rate_route": "600/min"}}"#).unwrap();
        let file: LimitsConfig = serde_json::from_str(
            r#"{"POST /login": {"rate_ip": "5/min"}, "GET /x": {"rate": "1/s"}}"#,
        )
        .unwrap();
        let merged = file.or(defaults);
        let attribute = RateLimits::new().rate(rate("10/min"));
        assert_eq!(
            merged
                .resolve("POST", "/login", attribute, false)
                .to_string(),
            "ip 5/min (override), identifier 10/min (attribute), route 600/min (override)"
        );
        let stricter: LimitsConfig =
            serde_json::from_str(r#"{"POST /login": {"rate_route": "60/min"}}"#).unwrap();
        let limits = stricter
            .or(merged)
            .resolve("POST", "/login", attribute, false);
        assert_eq!(limits.route.map(|r| r.value), Some(rate("60/min")));
        assert_eq!(
            LimitsConfig::new()
                .resolve("POST", "/login", attribute, false)
                .route,
            None
        );
    }

    #[test]
    fn an_ipv6_48_gets_sixteen_times_the_per_ip_rate_and_burst() {
        let limits = LimitsConfig::new().resolve(
            "GET",
            "/",
            RateLimits::new().rate_ip(rate("10/min, burst = 20")),
            false,
        );
        assert_eq!(limits.ipv6_48(), Some(rate("160/min, burst = 320")));
        assert_eq!(ResolvedLimits::default().ipv6_48(), None);
    }

    #[test]
    fn overrides_serialize_back_to_the_same_configuration() {
        let json = r#"{"POST /api/login":{"rate":"5/min","burst":10,"quota":"100/day"}}"#;
        let config: LimitsConfig = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&config).unwrap(), json);
    }
}
