//! Rate limits and usage ceilings, in memory.
//!
//! - [`RateSpec`] / [`QuotaSpec`]: the one grammar (`"10/min"`,
//!   `"5/s, burst = 10"`, `"1000/day"`) that `#[secure_route(rate = …)]`
//!   checks at compile time and configuration files use at run time.
//!   `"10/min"` is ten per minute with a burst of ten: never one request
//!   every ten minutes.
//! - [`RateLimiter`]: GCRA per [`RateKey`], one `u64` of state per key, with
//!   a hard cap on keys (a flood of distinct client addresses evicts the
//!   least-used entries and never grows memory past the cap). See
//!   [`StoreConfig`] for the eviction rule and its trade-off.
//! - [`QuotaLimiter`]: a hard ceiling per key per fixed, clock-aligned window.
//! - [`check_all`]: several limiters decided together, spending on all only
//!   when all allow, so the per-IP limit never eats the per-account budget.
//! - [`RateBackend`]: where a web face keeps the state of a route's
//!   policies, decided together: [`MemoryBackend`] (per process) or
//!   `RedisBackend` (feature `redis`, shared by every instance).
//! - [`LimitsConfig`]: an operator's overrides of a route's limits, resolved
//!   with the attribute's into [`ResolvedLimits`].
//! - [`Clock`]: time is passed in as nanoseconds; [`SystemClock`] for
//!   production, [`FakeClock`] for tests.
//!
//! Every refusal is a [`Decision::Denied`] carrying `retry_after`; the web
//! face answers it with 429, `Retry-After` and the IETF `RateLimit` headers
//! (`GuardError::too_many_requests(retry_after)`), and sends the
//! `remaining` / `reset_after` of an allowed decision in the same headers.
//!
//! ```
//! use std::time::Duration;
//! use guard_core::client_ip::Ipv6KeyPrefix;
//! use guard_core::rate::{
//!     check_all, rate_key_for_ip, Clock, FakeClock, Limit, RateKey, RateLimiter, RateSpec,
//! };
//!
//! let per_ip = RateLimiter::new("20/min".parse()?);
//! let per_login = RateLimiter::new("5/min".parse()?);
//! let clock = FakeClock::new(0);
//!
//! // A brute force against one login from rotating addresses is stopped by
//! // the per-identifier key, whatever the address.
//! let login = RateKey::for_identifier_folded("login", "alice@example.com");
//! let mut allowed = 0;
//! for n in 0..50_u8 {
//!     let ip = rate_key_for_ip([203, 0, 113, n].into(), Ipv6KeyPrefix::DEFAULT);
//!     let checks = [(Limit::from(&per_ip), ip), (Limit::from(&per_login), login)];
//!     allowed += usize::from(check_all(&checks, clock.now_ns()).decision.is_allowed());
//! }
//! assert_eq!(allowed, 5);
//! # Ok::<(), guard_core::rate::RateSpecError>(())
//! ```

mod backend;
mod clock;
mod gcra;
mod key;
mod limiter;
mod limits;
mod quota;
mod spec;
mod store;

#[doc(hidden)]
pub use backend::is_policy_name;
pub use backend::{
    BackendError, Decide, DecideResult, MemoryBackend, Policy, PolicyLimit, PolicyNameError,
    PolicySet, RateBackend,
};
#[cfg(feature = "redis")]
pub use backend::{MIN_SECRET_LEN, RedisBackend, RedisConfigError};
pub use clock::{Clock, FakeClock, SystemClock};
pub use gcra::{Decision, Gcra};
pub use key::{RateKey, rate_key_for_ip};
pub use limiter::{Limit, LimitRule, Limiter, RateLimiter, Verdict, check_all};
pub use limits::{
    IPV6_48_FACTOR, LimitOverride, LimitSource, LimitsConfig, RateLimits, ResolvedLimits, RouteKey,
    RouteKeyError, Sourced,
};
pub use quota::{FixedWindow, QuotaLimiter};
pub use spec::{QuotaSpec, RateSpec, RateSpecError, RateSpecProblem, RateUnit};
pub use store::{StoreConfig, StoreConfigError};
