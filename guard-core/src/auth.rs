//! The authenticator contract: how a request's session or token becomes a
//! [`Principal`].
//!
//! An authenticator reads credentials the *server* controls (a session the
//! server stored, a token it can verify). It never reads the principal from
//! the body, the path or the query.

use std::future::Future;
use std::pin::Pin;

use crate::error::GuardError;
use crate::principal::Principal;

/// A boxed, sendable future, as [`Authenticator`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Resolves the principal of a request.
///
/// * `Ok(Some(p))`: authenticated as `p`.
/// * `Ok(None)`: no credentials, or credentials that are invalid, expired or
///   revoked. The guard answers 401 with the generic body; the reason is not
///   told to the client.
/// * `Err(e)`: the authenticator itself failed (its store is down); the
///   guard answers with `e`, normally a 500 or 503, never a 401 that would
///   look like a logout.
pub trait Authenticator: Send + Sync + 'static {
    /// Resolves the principal from the request's head.
    fn authenticate<'a>(
        &'a self,
        parts: &'a mut http::request::Parts,
    ) -> BoxFuture<'a, Result<Option<Principal>, GuardError>>;

    /// Resolves the principal without a future, for authenticators that
    /// need no I/O (an in-memory key table): the guards ask here first and
    /// call [`Self::authenticate`] only on `None`, which saves boxing a
    /// future on every request. The default is `None`. An implementation
    /// must answer exactly as `authenticate` would.
    fn authenticate_now(
        &self,
        parts: &http::request::Parts,
    ) -> Option<Result<Option<Principal>, GuardError>> {
        let _ = parts;
        None
    }

    /// A short name for the route report (`"session cookie"`, `"bearer token"`).
    fn describe(&self) -> String;

    /// Whether the credential is a cookie, which a browser attaches on its
    /// own to requests any site makes it send. Then every unsafe request
    /// (POST, PUT, PATCH, DELETE) is checked for cross-site forgery
    /// ([`crate::csrf`]; on a public route only a browser's request, which
    /// says where it comes from) unless the route opts out with
    /// `csrf = "none: <reason>"`. Default `false` (a bearer token or API key
    /// is sent only by code that holds it).
    fn uses_cookies(&self) -> bool {
        false
    }
}
