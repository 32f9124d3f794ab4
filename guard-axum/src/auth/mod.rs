//! Authenticators: how a request's session or token becomes a
//! [`Principal`](guard_core::Principal).
//!
//! * [`SessionAuth`] (feature `sessions`): a server-side session on
//!   tower-sessions, with its secure cookie defaults (`HttpOnly`, `Secure`,
//!   `SameSite=Strict`). Log in with [`login`], which cycles the session id.
//! * [`BearerAuth`]: `Authorization: Bearer <token>` checked by a
//!   [`TokenVerifier`]: [`ApiKeys`], or any async closure (for JWTs).
//! * [`RequireAuth`]: the same guard as a plain tower layer, for routers
//!   built without the macro.
//!
//! Every failure to authenticate is the same 401 `{"error":"unauthenticated"}`:
//! the client is not told whether the cookie was missing, unknown or expired.

mod bearer;
mod layer;
#[cfg(feature = "sessions")]
mod session;

pub use bearer::{ApiKeyError, ApiKeys, BearerAuth, TokenVerifier};
pub use guard_core::Authenticator;
pub use layer::{RequireAuth, RequireAuthLayer};
#[cfg(feature = "sessions")]
pub use session::{SessionAuth, login, logout};
