//! Sign-up, login, logout and the current user.
//!
//! Sign-up and login never tell an attacker whether an email is registered:
//! sign-up answers the same 201 for a new and an existing email, and login
//! answers the same 401 for an unknown email and a wrong password, after
//! the same argon2 work.
//!
//! Password work is bounded three ways: guard-axum's
//! [`PasswordHasher`](guard_axum::password::PasswordHasher) runs at most one
//! hash per core and answers 503 with `Retry-After` when its short queue is
//! full; per-IP limits count an IPv6 client's /64 and its /48; and
//! [`route_ceilings`] caps each route over all callers together.

use std::num::NonZeroU32;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use guard_axum::extract::Valid;
use guard_axum::rate_limit::{LimitOverride, LimitsConfig, RouteKeyError};
use guard_axum::rate_limit::{RateKey, RateSpec};
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

/// The route-wide ceilings of sign-up and login, over every caller
/// together: whatever addresses a flood comes from, these routes start at
/// most this many password hashes (a burst, then the rate). An operator's
/// `--limits` file overrides them field by field.
///
/// # Errors
///
/// Never for these keys; the type is the router's.
pub fn route_ceilings() -> Result<LimitsConfig, RouteKeyError> {
    let ceiling = |spec: RateSpec| LimitOverride {
        rate_route: Some(spec),
        ..LimitOverride::default()
    };
    LimitsConfig::new()
        .set("POST /api/signup", ceiling(SIGNUP_CEILING))?
        .set("POST /api/login", ceiling(LOGIN_CEILING))
}

/// 2 sign-ups a second, 30 at once.
const SIGNUP_CEILING: RateSpec = rate(120, 30);
/// 10 logins a second, 60 at once: a fifth of two cores' argon2 time.
const LOGIN_CEILING: RateSpec = rate(600, 60);

const fn rate(per_minute: u32, burst: u32) -> RateSpec {
    match (NonZeroU32::new(per_minute), NonZeroU32::new(burst)) {
        (Some(count), Some(burst)) => RateSpec::per_minute(count).with_burst(burst),
        _ => panic!("a ceiling is at least one request"),
    }
}

#[secure_route(public = "account sign-up", rate_ip = "10/hour", body = Credentials)]
pub async fn signup(
    State(state): State<AppState>,
    Valid(body): Valid<Credentials>,
) -> Result<(StatusCode, Json<Value>), GuardError> {
    let hash = state.hasher.hash(body.password).await?;
    // An existing email is not an error the client sees: same status, same body.
    sqlx::query(
        "INSERT INTO users (email, password_hash) VALUES (?, ?) ON CONFLICT(email) DO NOTHING",
    )
    .bind(RateKey::fold_identifier(&body.email))
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
    // The e-mail as the limit counted it: looked up by the same value.
    let email = limit.check(&body.email).await?;
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = ?")
            .bind(email)
            .fetch_optional(&state.db)
            .await?;
    let id = match row {
        Some((id, hash)) => state
            .hasher
            .verify(body.password, &hash)
            .await?
            .then_some(id),
        None => {
            state.hasher.verify_dummy(body.password).await?;
            None
        }
    };
    let Some(id) = id else {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

    use guard_axum::rate_limit::RateLimits;

    use super::*;

    #[test]
    fn sign_up_and_login_have_ceilings_an_operator_file_can_change() {
        let defaults = route_ceilings().unwrap();
        let ceiling = |config: &LimitsConfig, path: &str| {
            config
                .resolve("POST", path, RateLimits::new(), false)
                .route
                .map(|r| r.value.to_string())
        };
        assert_eq!(
            ceiling(&defaults, "/api/login").as_deref(),
            Some("600/min, burst = 60")
        );
        assert_eq!(
            ceiling(&defaults, "/api/signup").as_deref(),
            Some("120/min, burst = 30")
        );
        assert_eq!(ceiling(&defaults, "/api/projects"), None);
        let file: LimitsConfig =
            toml::from_str(r#""POST /api/login" = { rate_route = "60/min" }"#).unwrap();
        let merged = file.or(defaults);
        assert_eq!(ceiling(&merged, "/api/login").as_deref(), Some("60/min"));
        assert_eq!(
            ceiling(&merged, "/api/signup").as_deref(),
            Some("120/min, burst = 30")
        );
    }
}
