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
    /// Accounts created with these e-mails are admins.
    pub admin_emails: Vec<String>,
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
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Database(e) => write!(f, "database: {e}"),
            Self::Migrate(e) => write!(f, "migrations: {e}"),
            Self::ServerFns(e) => write!(f, "{e}"),
            Self::Router(e) => write!(f, "{e}"),
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
    for email in &config.admin_emails {
        // Admins are marked when they sign up, and here for existing ones.
        sqlx::query("UPDATE users SET is_admin = 1 WHERE email = ?")
            .bind(guard_axum::rate_limit::RateKey::fold_identifier(email))
            .execute(&pool)
            .await
            .map_err(StartError::Database)?;
    }
    let db = Db(pool.clone(), PasswordHasher::new());
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name("sid")
        .with_secure(!config.insecure_cookies)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::hours(12),
        ));
    let context_db = db.clone();
    let admins = Arc::new(config.admin_emails.clone());
    let mut server_fns = ServerFns::new(SessionAuth::new()).context(move || {
        leptos::prelude::provide_context(context_db.clone());
        leptos::prelude::provide_context(page::Admins(admins.clone()));
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
