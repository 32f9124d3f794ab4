//! Where limiter state lives: the [`RateBackend`] trait and its decision
//! future, with the in-process [`MemoryBackend`] and (feature `redis`)
//! `RedisBackend`, shared by every instance of a service.
//!
//! Nothing here speaks HTTP: a web face turns a refusal into its 429 and a
//! [`BackendError`] into its fail mode (guard-axum's `FailMode`).

mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use memory::MemoryBackend;
#[cfg(feature = "redis")]
pub use redis::{MIN_SECRET_LEN, RedisBackend, RedisConfigError};

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::{QuotaSpec, RateKey, RateSpec, Verdict};
use crate::principal::{ACCOUNT_NAMESPACE, Principal};

/// What one policy limits: a rate (GCRA) or a usage ceiling (fixed window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyLimit {
    /// A rate with bursts, decided by GCRA.
    Rate(RateSpec),
    /// A hard ceiling per clock-aligned window.
    Quota(QuotaSpec),
}

impl fmt::Display for PolicyLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rate(spec) => write!(f, "{spec}"),
            Self::Quota(spec) => write!(f, "quota {spec}"),
        }
    }
}

/// A named limit inside a [`PolicySet`]. The name is the policy's name in
/// the `RateLimit-Policy` and `RateLimit` headers and part of its keys in a
/// shared store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Policy {
    name: Cow<'static, str>,
    limit: PolicyLimit,
}

/// A policy name that cannot be sent in a header or used in a store key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rate-limit policy name {0:?}: use 1 to 64 of the characters A-Z a-z 0-9 _ - . :")]
pub struct PolicyNameError(pub String);

impl Policy {
    /// A rate policy.
    ///
    /// # Errors
    ///
    /// [`PolicyNameError`] unless `name` is 1 to 64 characters of
    /// `A-Z a-z 0-9 _ - . :` (it is sent inside a structured-field string).
    pub fn rate(
        name: impl Into<Cow<'static, str>>,
        spec: RateSpec,
    ) -> Result<Self, PolicyNameError> {
        Self::new(name.into(), PolicyLimit::Rate(spec))
    }

    /// A usage-ceiling policy.
    ///
    /// # Errors
    ///
    /// As for [`Policy::rate`].
    pub fn quota(
        name: impl Into<Cow<'static, str>>,
        spec: QuotaSpec,
    ) -> Result<Self, PolicyNameError> {
        Self::new(name.into(), PolicyLimit::Quota(spec))
    }

    fn new(name: Cow<'static, str>, limit: PolicyLimit) -> Result<Self, PolicyNameError> {
        if is_policy_name(&name) {
            Ok(Self { name, limit })
        } else {
            Err(PolicyNameError(name.into_owned()))
        }
    }

    /// For names the caller has already checked (or built from checked
    /// parts): the web face's fixed policy names. Not public API.
    #[doc(hidden)]
    pub const fn fixed_owned(name: Cow<'static, str>, limit: PolicyLimit) -> Self {
        Self { name, limit }
    }

    /// The policy's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it limits.
    #[must_use]
    pub fn limit(&self) -> PolicyLimit {
        self.limit
    }
}

/// Whether `name` is a valid policy name (also the rule for a Redis key
/// prefix). For the web face's builders; not public API.
#[doc(hidden)]
pub fn is_policy_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// A shared store failed: unreachable, timed out, or answered nonsense. The
/// layer answers it according to its fail mode (guard-axum's `FailMode`);
/// the text goes to the log only.
#[derive(Debug, thiserror::Error)]
#[error("rate-limit backend failed: {detail}")]
pub struct BackendError {
    detail: String,
}

impl BackendError {
    /// An error with `detail` for the log.
    #[must_use]
    pub fn new(detail: impl fmt::Display) -> Self {
        Self {
            detail: detail.to_string(),
        }
    }
}

/// The outcome of one decision: which policy decided and how, indexed into
/// [`PolicySet::policies`].
pub type DecideResult = Result<Verdict, BackendError>;

/// A decision in progress: ready at once for the in-memory backend (no
/// allocation, no task switch), a boxed future for a networked store.
#[must_use = "a decision does nothing unless awaited"]
pub struct Decide(DecideInner);

enum DecideInner {
    Ready(Option<DecideResult>),
    Pending(Pin<Box<dyn Future<Output = DecideResult> + Send + 'static>>),
}

impl fmt::Debug for Decide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            DecideInner::Ready(result) => f.debug_tuple("Decide::Ready").field(result).finish(),
            DecideInner::Pending(_) => f.write_str("Decide::Pending"),
        }
    }
}

impl Decide {
    /// A decision already made.
    pub fn ready(result: DecideResult) -> Self {
        Self(DecideInner::Ready(Some(result)))
    }

    /// A decision still to be made by `future`.
    pub fn pending(future: impl Future<Output = DecideResult> + Send + 'static) -> Self {
        Self(DecideInner::Pending(Box::pin(future)))
    }

    /// The result if it is already known, or the decision back.
    ///
    /// # Errors
    ///
    /// `Err(self)` when the decision is still pending.
    pub fn into_ready(self) -> Result<DecideResult, Self> {
        match self.0 {
            DecideInner::Ready(Some(result)) => Ok(result),
            other => Err(Self(other)),
        }
    }
}

impl Future for Decide {
    type Output = DecideResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DecideResult> {
        match &mut self.0 {
            DecideInner::Ready(result) => {
                Poll::Ready(result.take().unwrap_or_else(|| {
                    Err(BackendError::new("decision polled after it completed"))
                }))
            }
            DecideInner::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

/// A group of policies that are always decided together, atomically.
///
/// `keys` is aligned with [`Self::policies`]: `keys[i]` is the key the
/// request is counted under for policy `i`, `None` where the policy does not
/// apply to this request (no account on a public route). Every applicable
/// policy is decided in one step; the request is counted by all of them
/// only if all allow, so a refusal by one never spends another's budget.
/// A `keys` slice of the wrong length is an error, never a guess.
pub trait PolicySet: Send + Sync + fmt::Debug {
    /// The policies, in the order `keys` follows.
    fn policies(&self) -> &[Policy];

    /// Decides a request and, when every applicable policy allows, counts it.
    fn check(&self, keys: &[Option<RateKey>]) -> Decide;

    /// What [`Self::check`] would decide, counting nothing.
    fn peek(&self, keys: &[Option<RateKey>]) -> Decide;

    /// Whether every [`Decide`] of this set is ready when returned (the
    /// in-memory backend): the guards then decide a request in one
    /// synchronous pass, without a future. Default `false`, which is always
    /// correct; a set that answers `true` and then returns a pending
    /// decision has that decision failed as a backend error.
    fn decides_at_once(&self) -> bool {
        false
    }
}

/// Where rate-limit state lives: in this process ([`MemoryBackend`],
/// the default) or in a store shared by every instance of the service
/// (`RedisBackend`, feature `redis`).
///
/// Chosen when the router (or guard-axum's `RateLimitLayer`) is built.
/// Object-safe: the layer holds an `Arc<dyn RateBackend>`.
pub trait RateBackend: Send + Sync + fmt::Debug + 'static {
    /// The state for `policies`, decided together. `scope` names the route
    /// or layer (`"POST /api/login"`); in a shared store two sets with the
    /// same scope and policy names share their budgets, which is how two
    /// instances of one service agree.
    fn policy_set(&self, scope: &str, policies: Vec<Policy>) -> Arc<dyn PolicySet>;

    /// The key for `identifier` (an account id, a login, a header value) in
    /// `namespace`. In memory it is keyed with a per-process secret; a shared
    /// store derives it from its configured shared secret, so every instance
    /// computes the same key and nobody without the secret can.
    fn identifier_key(&self, namespace: &str, identifier: &str) -> RateKey;

    /// The key of `principal`'s account: [`Self::identifier_key`] of its id
    /// in [`ACCOUNT_NAMESPACE`]. The in-process backend takes the key the
    /// principal keeps ([`Principal::account_key`]) instead of hashing the
    /// id on every request; a backend with keys of its own must leave this
    /// as it is or return exactly that key.
    fn account_key(&self, principal: &Principal) -> RateKey {
        self.identifier_key(ACCOUNT_NAMESPACE, principal.id())
    }

    /// A short description for the route report (`"memory"`, `"redis"`).
    fn describe(&self) -> String;
}

/// A shared backend is a backend: hand the same `Arc` to several routers
/// (or a `Arc<dyn RateBackend>` chosen at run time) where one is expected.
impl<T: RateBackend + ?Sized> RateBackend for Arc<T> {
    fn policy_set(&self, scope: &str, policies: Vec<Policy>) -> Arc<dyn PolicySet> {
        (**self).policy_set(scope, policies)
    }

    fn identifier_key(&self, namespace: &str, identifier: &str) -> RateKey {
        (**self).identifier_key(namespace, identifier)
    }

    fn account_key(&self, principal: &Principal) -> RateKey {
        (**self).account_key(principal)
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_are_restricted_to_header_and_key_safe_characters() {
        let spec = RateSpec::parse("1/s").unwrap();
        for good in ["ip", "login-v2", "a.b:c_d", &"x".repeat(64)] {
            assert!(Policy::rate(good.to_owned(), spec).is_ok(), "{good}");
        }
        for bad in [
            "",
            "with space",
            "quote\"",
            "back\\slash",
            "é",
            &"x".repeat(65),
        ] {
            assert!(Policy::rate(bad.to_owned(), spec).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_ready_decision_is_available_without_polling_and_polls_once() {
        let verdict = Verdict::combine([]);
        let decide = Decide::ready(Ok(verdict));
        assert!(matches!(decide.into_ready(), Ok(Ok(v)) if v == verdict));
        let pending = Decide::pending(async move { Ok(verdict) });
        assert!(pending.into_ready().is_err());
    }
}
