//! Logging that keeps secrets out and ids straight, and a timeout that
//! answers the generic 408.
//!
//! * [`SensitiveHeaders`]: marks `Authorization`, `Proxy-Authorization`,
//!   `Cookie`, `Set-Cookie` and the headers you add as sensitive, so a
//!   `Debug` dump of the headers (tower-http's `TraceLayer`, a
//!   `tracing::debug!(?headers)`) prints `Sensitive` instead of the value
//!   and HTTP/2 never puts them in its compression table.
//! * [`RequestSpanLayer`]: runs each request inside a `request` span
//!   carrying the method, the path (scrubbed) and the client's
//!   `X-Request-Id`. Every event logged while serving the request, the
//!   error model's `request failed error_id=…` among them, carries those
//!   fields, so a client's id and the server's error id sit on the same log
//!   line. The client's id is only ever logged: the error id in the body is
//!   always generated on the server ([`guard_core::ErrorId`]).
//! * [`RequestTimeoutLayer`]: a timeout answering
//!   `408 {"error":"request_timeout"}` instead of an empty 408.
//!
//! ```
//! use std::time::Duration;
//!
//! use axum::Router;
//! use guard_axum::trace::{RequestSpanLayer, RequestTimeoutLayer, SensitiveHeaders};
//!
//! let sensitive = SensitiveHeaders::new().with_header("x-api-key")?;
//! let app: Router = Router::new()
//!     .layer(sensitive.response_layer())
//!     .layer(RequestTimeoutLayer::new(Duration::from_secs(30)))
//!     .layer(RequestSpanLayer::new())
//!     .layer(sensitive.request_layer());
//! # Ok::<(), guard_axum::trace::TraceConfigError>(())
//! ```
//!
//! # What reaches the log
//!
//! The detail of an internal error is scrubbed by the error model before it
//! is logged ([`guard_core::scrub`]); this module adds only the span fields.
//! The path is scrubbed too (a reset token in `/reset/{token}` is masked)
//! and cut to 256 bytes; the query string is never logged. A client request
//! id is logged only if it is 1 to 128 characters of letters, digits and
//! `-_.:+/=`; any other value is logged as `[invalid]`, so a client cannot
//! forge log fields with spaces or quotes, nor flood the log.

mod sensitive;
mod span;
mod timeout;

use http::header::HeaderName;

pub use sensitive::{
    ALWAYS_SENSITIVE, MarkSensitive, MarkSensitiveFuture, MarkSensitiveLayer, SensitiveHeaders,
};
pub(crate) use sensitive::{SensitiveNames, mark_sensitive};
pub use span::{REQUEST_ID_HEADER, RequestSpan, RequestSpanLayer};
pub use timeout::{RequestTimeout, RequestTimeoutLayer, TimeoutFuture};
pub(crate) use timeout::{generic_timeout, timeout_response};

/// A refused logging setting; a configuration mistake, reported when the
/// router is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceConfigError {
    /// Not a valid HTTP header name.
    #[error("`{name}` is not a valid header name; use lowercase letters, digits and `-`")]
    InvalidHeaderName {
        /// The name as given.
        name: String,
    },
}

fn parse_name(name: &str) -> Result<HeaderName, TraceConfigError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| TraceConfigError::InvalidHeaderName {
        name: name.to_owned(),
    })
}
