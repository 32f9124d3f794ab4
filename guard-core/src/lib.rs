//! The framework-agnostic model of the guard framework: who is asking
//! ([`Principal`]), what a route demands ([`RouteSpec`]), how a refusal looks
//! ([`GuardError`]), and the policies the guards apply. Nothing here depends
//! on a web framework; `guard-axum` is the axum face of it.

pub mod auth;
pub mod client_ip;
pub mod cors;
pub mod csrf;
pub mod error;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod headers;
pub mod principal;
pub mod rate;
pub mod report;
pub mod scrub;
pub mod secret;
pub mod spec;
pub mod ssrf;
pub mod upload;
pub mod validate;

pub use auth::Authenticator;
pub use error::{ErrorId, ErrorKind, FieldErrors, GenericBody, GuardError};
pub use principal::{OwnerScope, Principal};
pub use report::RouteReport;
pub use spec::{Access, BodySpec, QuerySpec, RateLimits, RouteSpec, UploadSpec};
