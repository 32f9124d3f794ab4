//! Session-cookie authentication on tower-sessions.

use guard_core::auth::BoxFuture;
use guard_core::principal::PrincipalData;
use guard_core::{Authenticator, GuardError, Principal};
use http::request::Parts;
use tower_sessions::Session;

/// The session key the principal is stored under.
const PRINCIPAL_KEY: &str = "guard.principal";

/// Authenticates from a server-side session (tower-sessions).
///
/// The router must run tower-sessions' `SessionManagerLayer`; add it with
/// [`crate::GuardedRouter::layer`]. Keep the cookie `HttpOnly` and `Secure`
/// (tower-sessions' defaults). Its default `SameSite=Strict` means a link
/// from another site arrives logged out; many apps set `SameSite::Lax`
/// instead (the example does), which sends the cookie on top-level
/// navigations from other sites, so `SameSite` is not the CSRF defence here:
/// because this authenticator [uses cookies](Authenticator::uses_cookies),
/// every POST, PUT, PATCH and DELETE to an `auth` route must come from the
/// service's own origin or a trusted one (see [`guard_core::csrf`] and
/// [`crate::GuardedRouter::csrf_trusted_origins`]), whatever `SameSite`
/// says. A missing, unknown or expired session is 401; a failing session
/// store is a 500 (never a 401 that would look like a logout).
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionAuth;

impl SessionAuth {
    /// Session authentication.
    #[must_use]
    pub fn new() -> Self {
        Self
    }
}

impl Authenticator for SessionAuth {
    fn authenticate<'a>(
        &'a self,
        parts: &'a mut Parts,
    ) -> BoxFuture<'a, Result<Option<Principal>, GuardError>> {
        Box::pin(async move {
            let Some(session) = parts.extensions.get::<Session>() else {
                return Err(GuardError::internal(
                    "SessionAuth needs tower-sessions' SessionManagerLayer around the router",
                ));
            };
            let data = session.get::<PrincipalData>(PRINCIPAL_KEY).await?;
            Ok(data.map(Principal::from))
        })
    }

    fn describe(&self) -> String {
        "session cookie (tower-sessions)".to_owned()
    }

    fn uses_cookies(&self) -> bool {
        true
    }
}

/// Logs a principal in: cycles the session id first (so a session id fixed
/// by an attacker before login is worthless), then stores the principal.
pub async fn login(session: &Session, principal: &Principal) -> Result<(), GuardError> {
    session.cycle_id().await?;
    session.insert(PRINCIPAL_KEY, principal.data()).await?;
    Ok(())
}

/// Logs out: deletes the session from the store and clears the cookie.
pub async fn logout(session: &Session) -> Result<(), GuardError> {
    session.flush().await?;
    Ok(())
}
