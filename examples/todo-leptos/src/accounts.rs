//! Sign-up, login and logout: public server functions limited per client.

use guard_axum::auth::{login as start_session, logout as end_session};
use guard_axum::rate_limit::RateKey;
use guard_axum::{GuardError, Principal};
use guard_leptos::{GuardedError, secure_server_fn};
use leptos::prelude::*;
use tower_sessions::Session;

use crate::Db;

fn session() -> Result<Session, GuardedError> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Session>().cloned())
        .ok_or_else(|| {
            GuardError::internal("no session layer in front of the server functions").into()
        })
}

/// What an account's e-mail and password must be, for startup's errors.
pub(crate) const CREDENTIAL_RULES: &str =
    "the e-mail must be an address of at most 254 bytes and the password 10 to 256 characters";

/// A well-formed address (validator's HTML5 e-mail rule, which refuses
/// `@`, spaces and control characters) and a password of 10 to 256
/// characters; 400 otherwise.
pub(crate) fn check_credentials(email: &str, password: &str) -> Result<(), GuardedError> {
    use validator::ValidateEmail as _;
    let email_ok = email.len() <= 254 && email.validate_email();
    let password_ok = (10..=256).contains(&password.chars().count());
    if email_ok && password_ok {
        Ok(())
    } else {
        Err(GuardError::invalid_input().into())
    }
}

/// Creates an account (the same answer whether or not the e-mail is taken).
/// The e-mail is stored folded (trimmed, lowercased) as `login` looks it up:
/// `" Carol@Example.com "` is `carol@example.com`, never a second account.
#[secure_server_fn(public = "anyone may sign up", rate_ip = "10/hour")]
#[server]
pub async fn signup(email: String, password: String) -> Result<(), GuardedError> {
    let email = RateKey::fold_identifier(&email);
    check_credentials(&email, &password)?;
    let db = Db::from_context()?;
    let hash = db.1.hash(password).await?;
    // Never an admin: that role is the operator's list alone (`Config`).
    sqlx::query(
        "INSERT INTO users (email, password_hash, is_admin) VALUES (?, ?, 0) ON CONFLICT (email) DO NOTHING",
    )
    .bind(email)
    .bind(hash)
    .execute(&db.0)
    .await?;
    Ok(())
}

/// Logs in: a session cookie on success, the same 401 for an unknown
/// e-mail and a wrong password. A form posted from another site (login
/// CSRF) is refused with 403 by the route's own cross-site check before
/// this runs, as for every public server function under the session cookie.
#[secure_server_fn(public = "the login form", rate = "10/min")]
#[server]
pub async fn login(email: String, password: String) -> Result<(), GuardedError> {
    // 10/min per e-mail from any client, beside 10/min per client: a
    // password guessed from many addresses is still limited.
    let email = guard_leptos::limit_identifier(&email).await?;
    let db = Db::from_context()?;
    let row: Option<(i64, String, bool)> =
        sqlx::query_as("SELECT id, password_hash, is_admin FROM users WHERE email = ?")
            .bind(&email)
            .fetch_optional(&db.0)
            .await?;
    let Some((id, hash, is_admin)) = row else {
        db.1.verify_dummy(password).await?;
        return Err(GuardError::unauthenticated().into());
    };
    if !db.1.verify(password, &hash).await? {
        return Err(GuardError::unauthenticated().into());
    }
    let mut principal = Principal::new(id.to_string());
    if is_admin {
        principal = principal.with_roles(["admin"]);
    }
    start_session(&session()?, &principal).await?;
    Ok(())
}

/// Ends the caller's session.
#[secure_server_fn(auth)]
#[server]
pub async fn logout() -> Result<(), GuardedError> {
    end_session(&session()?).await?;
    Ok(())
}
