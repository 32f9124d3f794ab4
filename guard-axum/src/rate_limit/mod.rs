//! Rate limits and usage ceilings for axum: the client IP, the layer, the
//! per-route guard and the backends.
//!
//! - [`ClientIpLayer`] resolves the client address once per request (the
//!   socket peer, or what a trusted proxy reports; see
//!   [`ClientIpConfig`]) and
//!   [`ClientIp`] extracts it.
//! - [`RateLimitLayer`] limits any axum or tower service:
//!   `RateLimitLayer::new("10/min".parse()?).key(KeyBy::ClientIp)`.
//! - [`RateGuard`] holds one guarded route's limits (per IP, per account,
//!   per identifier, quota) and decides them in one atomic step; the guards
//!   of `#[secure_route(rate = …)]` call it.
//! - [`LimitsConfig`] lets an operator override any route's rate, burst or
//!   quota from configuration, and records where each limit came from.
//! - [`RateBackend`]: [`MemoryBackend`] (default, per process) or
//!   `RedisBackend` (feature `redis`, shared by every instance).
//!
//! A refusal is 429 `{"error":"too_many_requests"}` with `Retry-After`
//! (whole seconds, rounded up) and the IETF `RateLimit-Policy` /
//! `RateLimit` headers ([`headers`]); allowed responses carry the headers
//! too. When a shared backend is unreachable the answer follows
//! [`FailMode`]: 503 `{"error":"unavailable","error_id":"…"}` by default.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, body::Body, extract::connect_info::MockConnectInfo, routing::post};
//! use guard_axum::rate_limit::{KeyBy, MemoryBackend, RateLimitLayer};
//! use guard_core::rate::FakeClock;
//! use tower::ServiceExt as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let clock = FakeClock::new(0);
//! let app: Router = Router::new()
//!     .route("/login", post(|| async { "welcome" }))
//!     .layer(
//!         RateLimitLayer::new("2/min".parse()?)
//!             .name("login")?
//!             .key(KeyBy::ClientIp)
//!             .backend(MemoryBackend::new().clock(clock.clone())),
//!     )
//!     .layer(MockConnectInfo(std::net::SocketAddr::from(([203, 0, 113, 7], 4711))));
//!
//! let login = || axum::http::Request::post("/login").body(Body::empty()).unwrap();
//! for remaining in ["1", "0"] {
//!     let ok = app.clone().oneshot(login()).await?;
//!     assert_eq!(ok.status(), 200);
//!     assert!(ok.headers()["ratelimit"].to_str()?.contains(&format!(";r={remaining};")));
//! }
//! let refused = app.clone().oneshot(login()).await?;
//! assert_eq!(refused.status(), 429);
//! assert_eq!(refused.headers()["retry-after"], "30");
//! assert_eq!(refused.headers()["ratelimit-policy"], "\"login\";q=2;w=60");
//! assert_eq!(refused.headers()["ratelimit"], "\"login\";r=0;t=30");
//! clock.advance(Duration::from_secs(30));
//! assert_eq!(app.oneshot(login()).await?.status(), 200);
//! # Ok(()) }
//! ```
//!
//! # Security
//!
//! * Behind a proxy, configure it as trusted or every client shares the
//!   proxy's budget; never trust a header from an untrusted peer (the
//!   default ignores them).
//! * [`MemoryBackend`] limits per process: N instances allow N times the
//!   budget. Use `RedisBackend` (feature `redis`) behind a load balancer.
//! * [`KeyBy::Header`] is for headers a trusted proxy sets or that are
//!   verified before the layer; a client can rotate any other value.

mod future;
mod guard;
pub mod headers;
mod layer;
mod service;

pub use crate::extract::{
    ClientIp, ClientIpFuture, ClientIpLayer, ClientIpService, client_rate_key,
};
pub use future::ResponseFuture;
pub use guard::{RateGuard, RateRefused};
// The backends and the limits configuration need no HTTP: they live in
// guard-core, for every face.
pub use guard_core::rate::{
    BackendError, Decide, DecideResult, IPV6_48_FACTOR, LimitOverride, LimitSource, LimitsConfig,
    MemoryBackend, Policy, PolicyLimit, PolicyNameError, PolicySet, RateBackend, RateLimits,
    ResolvedLimits, RouteKey, RouteKeyError, Sourced,
};
// What an app names when it configures limits, so it depends on guard-axum
// alone.
pub use guard_core::client_ip::{ClientIpConfig, ClientIpConfigError};
#[cfg(feature = "redis")]
pub use guard_core::rate::{MIN_SECRET_LEN, RedisBackend, RedisConfigError};
pub use guard_core::rate::{QuotaSpec, RateKey, RateSpec};
pub use headers::RateHeaders;
pub use layer::{FailMode, KeyBy, KeyFn, RateLimitLayer};
pub use service::RateLimit;
