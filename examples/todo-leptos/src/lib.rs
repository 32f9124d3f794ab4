//! A small server-rendered Leptos app on SQLite: users, sessions and todos
//! owned by users, whose server functions are all guarded with
//! `#[secure_server_fn]`.
//!
//! [`app`] builds the whole service: the page at `/` (rendered on the
//! server, calling the server functions directly) and every server function
//! at its `/api/…` path, behind the same guards as any `GuardedRouter`
//! route.

pub mod accounts;
pub mod page;
pub mod todos;

use std::sync::Arc;

use guard_axum::auth::SessionAuth;
use guard_axum::password::PasswordHasher;
use guard_axum::rate_limit::{LimitsConfig, RateBackend};
use guard_axum::routing::get;
use guard_axum::{GuardError, GuardedApp, GuardedRouter};
use guard_leptos::{ServerFns, ServerFnsError};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;

/// What server functions reach through the Leptos context: the pool and the
/// password hasher.
#[derive(Clone, Debug)]
pub struct Db(pub SqlitePool, pub PasswordHasher);

impl Db {
    /// The app's database, from the Leptos context of the current call.
    ///
    /// # Errors
    ///
    /// The generic 500 when the context has none (a wiring bug).
    pub fn from_context() -> Result<Self, GuardError> {
        leptos::prelude::use_context::<Self>()
            .ok_or_else(|| GuardError::internal("no database in the Leptos context"))
    }
}

/// How the app runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// SQLite URL (`sqlite://todo-leptos.db`, `sqlite::memory:`).
    pub database: String,
    /// Drop the cookie's `Secure` attribute (plain HTTP on localhost only).
    pub insecure_cookies: bool,
    /// The admins' e-mails: the accounts that have the `admin` role, and
    /// no other. Sign-up never grants it (an e-mail address is not
    /// verified here, so whoever signed up first with an address would
    /// own its role): a listed account is made at startup, with
    /// [`Config::admin_password`], when it does not exist yet.
    pub admin_emails: Vec<String>,
    /// The password of a listed admin account made at startup
    /// (`TODO_LEPTOS_ADMIN_PASSWORD`); startup fails without it when such
    /// an account has to be made.
    pub admin_password: Option<String>,
    /// Where rate limits count (memory when `None`; Redis to share them).
    pub rate_backend: Option<Arc<dyn RateBackend>>,
    /// Operator overrides of the server functions' rates and quotas, keyed
    /// by `"POST /api/…"`; direct calls are limited by them as well.
    pub rate_limits: LimitsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database: "sqlite://todo-leptos.db".to_owned(),
            insecure_cookies: false,
            admin_emails: Vec::new(),
            admin_password: None,
            rate_backend: None,
            rate_limits: LimitsConfig::new(),
        }
    }
}

/// Why the app did not start.
#[derive(Debug)]
pub enum StartError {
    /// The database could not be opened or migrated.
    Database(sqlx::Error),
    /// The migrations failed.
    Migrate(sqlx::migrate::MigrateError),
    /// A server function is unguarded or has identity-field arguments.
    ServerFns(ServerFnsError),
    /// The router refused its configuration.
    Router(guard_axum::BuildError),
    /// An admin account could not be made.
    Admin(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Database(e) => write!(f, "database: {e}"),
            Self::Migrate(e) => write!(f, "migrations: {e}"),
            Self::ServerFns(e) => write!(f, "{e}"),
            Self::Router(e) => write!(f, "{e}"),
            Self::Admin(e) => write!(f, "admin account: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// The built app and what its tests reach into.
#[derive(Debug)]
pub struct App {
    /// The guarded service.
    pub app: GuardedApp,
    /// The database.
    pub db: Db,
    /// The server functions' guards, for direct calls.
    pub server_fns: ServerFns,
}

/// Opens the database and builds the service.
///
/// # Errors
///
/// The database, an unguarded server function (named), or the router.
pub async fn app(config: Config) -> Result<App, StartError> {
    let options: SqliteConnectOptions = config
        .database
        .parse::<SqliteConnectOptions>()
        .map_err(StartError::Database)?
        .create_if_missing(true);
    // One connection for an in-memory database: each would be its own.
    let max = if config.database.contains(":memory:") {
        1
    } else {
        4
    };
    let pool = SqlitePoolOptions::new()
        .max_connections(max)
        .connect_with(options)
        .await
        .map_err(StartError::Database)?;
    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .map_err(StartError::Migrate)?;
    let sessions = SqliteStore::new(pool.clone());
    sessions.migrate().await.map_err(StartError::Database)?;
    let hasher = PasswordHasher::new();
    grant_admins(&pool, &hasher, &config).await?;
    let db = Db(pool.clone(), hasher);
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name("sid")
        .with_secure(!config.insecure_cookies)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::hours(12),
        ));
    let context_db = db.clone();
    let mut server_fns = ServerFns::new(SessionAuth::new()).context(move || {
        leptos::prelude::provide_context(context_db.clone());
    });
    if let Some(backend) = config.rate_backend.clone() {
        server_fns = server_fns.rate_backend(backend);
    }
    let router = server_fns
        .install(GuardedRouter::new().rate_limits(config.rate_limits.clone()))
        .map_err(StartError::ServerFns)?
        .route("/", get(page::page))
        .layer(axum::Extension(server_fns.clone()))
        .layer(session_layer);
    let app = router.build().map_err(StartError::Router)?;
    Ok(App {
        app,
        db,
        server_fns,
    })
}

/// Gives the `admin` role to the listed e-mails' accounts and takes it from
/// every other one (an address dropped from the list is no admin after the
/// restart), making a listed account that does not exist yet. When an
/// account loses the role, every session ends: a session carries its roles,
/// and which session is whose is not stored apart from them.
async fn grant_admins(
    pool: &sqlx::SqlitePool,
    hasher: &PasswordHasher,
    config: &Config,
) -> Result<(), StartError> {
    let listed: Vec<String> = config
        .admin_emails
        .iter()
        .map(|email| guard_axum::rate_limit::RateKey::fold_identifier(email))
        .collect();
    let mut tx = pool.begin().await.map_err(StartError::Database)?;
    let were: Vec<(String,)> = sqlx::query_as("SELECT email FROM users WHERE is_admin = 1")
        .fetch_all(&mut *tx)
        .await
        .map_err(StartError::Database)?;
    if were.iter().any(|(email,)| !listed.contains(email)) {
        // tower-sessions-sqlx-store's table (`SqliteStore::new`'s default).
        sqlx::query("DELETE FROM tower_sessions")
            .execute(&mut *tx)
            .await
            .map_err(StartError::Database)?;
    }
    sqlx::query("UPDATE users SET is_admin = 0")
        .execute(&mut *tx)
        .await
        .map_err(StartError::Database)?;
    for email in listed {
        let marked = sqlx::query("UPDATE users SET is_admin = 1 WHERE email = ?")
            .bind(&email)
            .execute(&mut *tx)
            .await
            .map_err(StartError::Database)?;
        if marked.rows_affected() > 0 {
            continue;
        }
        let Some(password) = config.admin_password.clone() else {
            return Err(StartError::Admin(format!(
                "{email} has no account yet; set TODO_LEPTOS_ADMIN_PASSWORD to make it"
            )));
        };
        accounts::check_credentials(&email, &password)
            .map_err(|_| StartError::Admin(format!("{email}: {}", accounts::CREDENTIAL_RULES)))?;
        let hash = hasher
            .hash(password)
            .await
            .map_err(|e| StartError::Admin(e.to_string()))?;
        sqlx::query("INSERT INTO users (email, password_hash, is_admin) VALUES (?, ?, 1)")
            .bind(&email)
            .bind(hash)
            .execute(&mut *tx)
            .await
            .map_err(StartError::Database)?;
    }
    tx.commit().await.map_err(StartError::Database)
}
