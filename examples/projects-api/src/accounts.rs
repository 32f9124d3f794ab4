//! Sign-up, login, logout and the current user.
//!
//! Sign-up and login never tell an attacker whether an email is registered:
//! sign-up answers the same 201 for a new and an existing email, and login
//! answers the same 401 for an unknown email and a wrong password, after
//! the same argon2 work.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use guard_axum::extract::Valid;
use guard_axum::{GuardError, IdentifierLimit, Principal, secure_route};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_sessions::Session;
use validator::Validate;

use crate::AppState;

/// `{email, password}` for sign-up and login.
#[derive(Deserialize, Validate)]
pub struct Credentials {
    #[validate(email, length(max = 254))]
    email: String,
    // Bounded above so one request cannot buy minutes of argon2 time.
    #[validate(length(min = 12, max = 1024))]
    password: String,
}

// The password never reaches a log through `{:?}`.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .finish()
    }
}

pub(crate) async fn hash_password(password: String) -> Result<String, GuardError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| GuardError::internal(format_args!("argon2 hash: {e}")))
    })
    .await?
}

async fn verify_password(password: String, hash: String) -> Result<bool, GuardError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| GuardError::internal(format_args!("stored hash: {e}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}

#[secure_route(public = "account sign-up", rate_ip = "10/hour", body = Credentials)]
pub async fn signup(
    State(state): State<AppState>,
    Valid(body): Valid<Credentials>,
) -> Result<(StatusCode, Json<Value>), GuardError> {
    let hash = hash_password(body.password).await?;
    // An existing email is not an error the client sees: same status, same body.
    sqlx::query(
        "INSERT INTO users (email, password_hash) VALUES (?, ?) ON CONFLICT(email) DO NOTHING",
    )
    .bind(body.email.trim().to_lowercase())
    .bind(hash)
    .execute(&state.db)
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"status": "created"}))))
}

/// One answer for every failure (unknown email, wrong password), after the
/// same argon2 work. Limited per client IP and per email: a brute force
/// against one account from many addresses is stopped by the email's limit.
#[secure_route(public = "login", rate_ip = "20/min", rate_identifier = "5/min", body = Credentials)]
pub async fn login(
    State(state): State<AppState>,
    session: Session,
    limit: IdentifierLimit,
    Valid(body): Valid<Credentials>,
) -> Result<Json<Value>, GuardError> {
    limit.check(&body.email).await?;
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = ?")
            .bind(body.email.trim().to_lowercase())
            .fetch_optional(&state.db)
            .await?;
    let (id, hash) = match row {
        Some((id, hash)) => (Some(id), hash),
        None => (None, state.dummy_hash.to_string()),
    };
    let matches = verify_password(body.password, hash).await?;
    let Some(id) = id.filter(|_| matches) else {
        return Err(GuardError::unauthenticated());
    };
    let principal = Principal::new(id.to_string());
    guard_axum::auth::login(&session, &principal).await?;
    Ok(Json(json!({"id": id})))
}

#[secure_route(auth)]
pub async fn logout(session: Session) -> Result<StatusCode, GuardError> {
    guard_axum::auth::logout(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[secure_route(auth)]
pub async fn me(user: Principal, State(state): State<AppState>) -> Result<Json<Value>, GuardError> {
    let id: i64 = user
        .id()
        .parse()
        .map_err(|_| GuardError::internal("session holds a non-numeric user id"))?;
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = ?")
        .bind(id)
        .fetch_optional(&state.db)
        .await?;
    // A session whose user was deleted is no session.
    let email = email.ok_or_else(GuardError::unauthenticated)?;
    Ok(Json(json!({"id": id, "email": email})))
}
