//! [`RateLimitLayer`]: a rate limit on any axum or tower service.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use guard_core::rate::{
    BackendError, DecideResult, Decision, Policy, PolicyLimit, PolicyNameError, PolicySet,
    QuotaSpec, RateBackend, RateKey, RateSpec, is_policy_name,
};
use guard_core::{GuardError, Principal};
use http::HeaderName;
use tower::Layer;

use super::headers::{HeaderPlan, RateHeaders};
use super::service::RateLimit;
use crate::extract::client_ip::resolved;

/// What to do when the backend cannot decide (a shared store is down).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum FailMode {
    /// Refuse with 503 `{"error":"unavailable","error_id":"…"}`, the detail
    /// logged under the id. The default: a limit that silently stops holding
    /// is how login brute force gets through an outage.
    #[default]
    Closed,
    /// Let the request through without `RateLimit` headers, logging a
    /// warning per request. For routes where availability matters more than
    /// the limit.
    Open,
}

/// What a request is counted under.
///
/// A request for which the key cannot be found (no such header, no
/// principal, the function returns `None`) is counted under its client IP
/// instead, so omitting a header never escapes the limit.
#[derive(Clone)]
#[non_exhaustive]
pub enum KeyBy {
    /// The client IP (IPv6 by its /64 by default), as resolved by
    /// [`ClientIpLayer`](super::ClientIpLayer) or, without it, the socket
    /// peer. Requests with neither are refused with 500 (see
    /// [`ClientIp`](super::ClientIp)).
    ClientIp,
    /// A header's value. Only for a header that a trusted proxy sets or that
    /// is verified before this layer: a client can otherwise send a fresh
    /// value per request and get a fresh budget each time.
    Header(HeaderName),
    /// The authenticated [`Principal`]'s id (put this layer inside the
    /// authentication layer); anonymous requests count under their IP.
    Principal,
    /// Any function of the request; the value is hashed, never stored.
    Fn(Arc<KeyFn>),
}

/// The function of [`KeyBy::Fn`].
pub type KeyFn = dyn Fn(&Request) -> Option<String> + Send + Sync;

impl KeyBy {
    /// [`KeyBy::Fn`] from a closure.
    pub fn function(f: impl Fn(&Request) -> Option<String> + Send + Sync + 'static) -> Self {
        Self::Fn(Arc::new(f))
    }
}

impl fmt::Debug for KeyBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientIp => f.write_str("ClientIp"),
            Self::Header(name) => f.debug_tuple("Header").field(name).finish(),
            Self::Principal => f.write_str("Principal"),
            Self::Fn(_) => f.write_str("Fn(..)"),
        }
    }
}

/// Rate-limits every request through it, on any axum or tower service,
/// without `#[secure_route]`.
///
/// Over the limit: 429 `{"error":"too_many_requests"}` with `Retry-After`
/// (seconds, rounded up) and the `RateLimit-Policy` / `RateLimit` headers;
/// allowed responses carry the same headers with the remaining budget
/// (see [`headers`](super::headers)). Backend down: see [`FailMode`]. A
/// layer's budget is shared by every route it wraps.
///
/// ```
/// use axum::{Router, routing::get};
/// use guard_axum::rate_limit::{KeyBy, RateLimitLayer};
///
/// let app: Router = Router::new()
///     .route("/search", get(|| async { "results" }))
///     .layer(RateLimitLayer::new("10/min".parse()?).key(KeyBy::ClientIp));
/// # Ok::<(), guard_core::rate::RateSpecError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct RateLimitLayer {
    pub(crate) shared: Arc<Shared>,
}

/// What every clone of the layer and its services share.
#[derive(Clone)]
pub(crate) struct Shared {
    name: Cow<'static, str>,
    spec: RateSpec,
    quota: Option<QuotaSpec>,
    key: KeyBy,
    backend: Arc<dyn RateBackend>,
    fail_mode: FailMode,
    pub(crate) set: Arc<dyn PolicySet>,
    plan: HeaderPlan,
}

impl fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        f.debug_struct("RateLimitLayer")
            .field("name", &s.name)
            .field("spec", &s.spec.to_string())
            .field("quota", &s.quota.map(|q| q.to_string()))
            .field("key", &s.key)
            .field("backend", &s.backend.describe())
            .field("fail_mode", &s.fail_mode)
            .finish()
    }
}

impl RateLimitLayer {
    /// Limits to `spec` per client IP, in memory, policy name `"default"`.
    pub fn new(spec: RateSpec) -> Self {
        let backend: Arc<dyn RateBackend> = Arc::new(guard_core::rate::MemoryBackend::new());
        let name = Cow::Borrowed("default");
        let (set, plan) = build(&*backend, &name, spec, None);
        Self {
            shared: Arc::new(Shared {
                name,
                spec,
                quota: None,
                key: KeyBy::ClientIp,
                backend,
                fail_mode: FailMode::Closed,
                set,
                plan,
            }),
        }
    }

    /// Names the policy (headers) and its keys in a shared store: give
    /// every layer on one shared backend its own name, and the same name to
    /// the same limit in every instance of the service.
    ///
    /// # Errors
    ///
    /// [`PolicyNameError`] unless 1 to 64 of `A-Z a-z 0-9 _ - . :`.
    pub fn name(self, name: impl Into<Cow<'static, str>>) -> Result<Self, PolicyNameError> {
        let name = name.into();
        if !is_policy_name(&name) {
            return Err(PolicyNameError(name.into_owned()));
        }
        Ok(self.rebuild(|s| s.name = name))
    }

    /// Counts requests under `key` (default [`KeyBy::ClientIp`]).
    pub fn key(self, key: KeyBy) -> Self {
        self.edit(|s| s.key = key)
    }

    /// Adds a usage ceiling on the same key, decided atomically with the
    /// rate (a refusal by one spends nothing in the other).
    pub fn quota(self, quota: QuotaSpec) -> Self {
        self.rebuild(|s| s.quota = Some(quota))
    }

    /// Keeps state in `backend` instead of this process's memory.
    pub fn backend(self, backend: impl RateBackend) -> Self {
        self.shared_backend(Arc::new(backend))
    }

    /// Keeps state in a backend shared with other layers (one Redis
    /// connection for the whole app).
    pub fn shared_backend(self, backend: Arc<dyn RateBackend>) -> Self {
        self.rebuild(|s| s.backend = backend)
    }

    /// What to answer when the backend fails (default [`FailMode::Closed`]).
    pub fn fail_mode(self, mode: FailMode) -> Self {
        self.edit(|s| s.fail_mode = mode)
    }

    fn edit(mut self, f: impl FnOnce(&mut Shared)) -> Self {
        f(Arc::make_mut(&mut self.shared));
        self
    }

    /// Applies `f` and recreates the limiter state, which depends on it.
    fn rebuild(self, f: impl FnOnce(&mut Shared)) -> Self {
        self.edit(|s| {
            f(s);
            let (set, plan) = build(&*s.backend, &s.name, s.spec, s.quota);
            s.set = set;
            s.plan = plan;
        })
    }
}

fn build(
    backend: &dyn RateBackend,
    name: &str,
    spec: RateSpec,
    quota: Option<QuotaSpec>,
) -> (Arc<dyn PolicySet>, HeaderPlan) {
    let mut policies = vec![Policy::fixed_owned(
        Cow::Owned(name.to_owned()),
        PolicyLimit::Rate(spec),
    )];
    if let Some(quota) = quota {
        policies.push(Policy::fixed_owned(
            Cow::Owned(format!("{name}-quota")),
            PolicyLimit::Quota(quota),
        ));
    }
    let plan = HeaderPlan::new(&policies);
    let scope = format!("layer:{name}");
    (backend.policy_set(&scope, policies), plan)
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit::new(inner, self.shared.clone())
    }
}

/// What the service does with a request after the decision.
pub(crate) enum Outcome {
    Allow(Option<RateHeaders>),
    Refuse(Response),
}

impl Shared {
    /// The key for `request`, or the 500 refusal when even the client IP is
    /// unknown.
    pub(crate) fn key_for(&self, request: &Request) -> Result<RateKey, GuardError> {
        let value = match &self.key {
            KeyBy::ClientIp => None,
            KeyBy::Header(name) => request.headers().get(name).map(|v| {
                (
                    Cow::Owned(format!("header:{name}")),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            }),
            KeyBy::Principal => request
                .extensions()
                .get::<Principal>()
                .map(|p| (Cow::Borrowed("account"), p.id().to_owned())),
            KeyBy::Fn(f) => f(request).map(|v| (Cow::Borrowed("key"), v)),
        };
        if let Some((namespace, value)) = value {
            return Ok(self.backend.identifier_key(&namespace, &value));
        }
        resolved(request.extensions()).map(|r| r.key)
    }

    /// The keys for the set: the rate, then the quota if any.
    pub(crate) fn keys(&self, key: RateKey) -> ([Option<RateKey>; 2], usize) {
        (
            [Some(key), Some(key)],
            if self.quota.is_some() { 2 } else { 1 },
        )
    }

    pub(crate) fn outcome(&self, result: DecideResult) -> Outcome {
        match result {
            Ok(verdict) => {
                let headers = self.plan.headers(&verdict, |_| true);
                match verdict.decision {
                    Decision::Allowed { .. } => Outcome::Allow(headers),
                    Decision::Denied { retry_after } => {
                        tracing::debug!(policy = %self.name, "rate limited");
                        let mut response =
                            GuardError::too_many_requests(retry_after).into_response();
                        if let Some(headers) = headers {
                            headers.apply(response.headers_mut());
                        }
                        Outcome::Refuse(response)
                    }
                }
            }
            Err(error) => match fail(self.fail_mode, &self.name, &error) {
                Ok(()) => Outcome::Allow(None),
                Err(refusal) => Outcome::Refuse(refusal.into_response()),
            },
        }
    }
}

/// The answer to a backend failure under `mode`: the 503 refusal (the
/// detail logged under its error id), or `Ok` after a warning.
pub(crate) fn fail(mode: FailMode, policy: &str, error: &BackendError) -> Result<(), GuardError> {
    match mode {
        FailMode::Closed => Err(GuardError::unavailable(format_args!(
            "rate limit {policy}: {error}"
        ))),
        FailMode::Open => {
            tracing::warn!(policy, %error, "rate-limit backend failed; request allowed (FailMode::Open)");
            Ok(())
        }
    }
}
