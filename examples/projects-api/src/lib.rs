//! The example service: a multi-tenant projects API on SQLite that uses
//! every guard of guard-axum. `app()` builds the router; `main` serves it.
//!
//! | route | guards |
//! |---|---|
//! | `GET /healthz` | public, reason given |
//! | `POST /api/signup` | public; per-IP rate; validated body; argon2 |
//! | `POST /api/login` | public; per-IP rate; validated body; one answer for every failure |
//! | `POST /api/logout`, `GET /api/me` | auth |
//! | `GET/POST /api/projects` | auth; validated body |
//! | `GET/PATCH/DELETE /api/projects/{project}` | auth; owner-scoped |

pub mod accounts;
mod config;
pub mod projects;
mod state;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr as _;

use axum::Router;
use guard_axum::auth::SessionAuth;
use guard_axum::routing::{get, post};
use guard_axum::{GuardedRouter, RouteReport, secure_route};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;

pub use config::Config;
pub use state::AppState;

/// The service could not start; the message says why.
#[derive(Debug)]
pub struct StartError(String);

impl StartError {
    /// A start failure with this message.
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// A built service: the router and its security report.
#[derive(Debug)]
pub struct Service {
    /// The axum router, state applied.
    pub router: Router,
    /// The route-by-route report.
    pub report: RouteReport,
}

impl Service {
    /// Serves on a listener, with the socket peer available to the
    /// client-IP guard.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> Result<(), StartError> {
        axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .map_err(|e| StartError::new(format!("server failed: {e}")))
    }
}

#[secure_route(public = "load balancer health check")]
async fn health() -> &'static str {
    "ok"
}

/// Connects the database, runs migrations, and builds the guarded router.
pub async fn build(config: &Config) -> Result<Service, StartError> {
    let options = SqliteConnectOptions::from_str(&config.database)
        .map_err(|e| StartError::new(format!("--database {}: {e}", config.database)))?
        .create_if_missing(true)
        .foreign_keys(true);
    // One connection for an in-memory database: each would be its own database.
    let max = if config.database.contains(":memory:") {
        1
    } else {
        8
    };
    let db = SqlitePoolOptions::new()
        .max_connections(max)
        .connect_with(options)
        .await
        .map_err(|e| StartError::new(format!("cannot open database {}: {e}", config.database)))?;
    sqlx::migrate!("./migrations")
        .run(&db)
        .await
        .map_err(|e| StartError::new(format!("database migration failed: {e}")))?;
    let sessions = SqliteStore::new(db.clone());
    sessions
        .migrate()
        .await
        .map_err(|e| StartError::new(format!("session store migration failed: {e}")))?;

    let state = AppState::new(db).await?;
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name("sid")
        .with_secure(!config.insecure_cookies)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::hours(12),
        ));

    let guarded = GuardedRouter::new()
        .route("/healthz", get(health))
        .route("/api/signup", post(accounts::signup))
        .route("/api/login", post(accounts::login))
        .route("/api/logout", post(accounts::logout))
        .route("/api/me", get(accounts::me))
        .route("/api/projects", get(projects::list).post(projects::create))
        .route(
            "/api/projects/{project}",
            get(projects::show)
                .patch(projects::update)
                .delete(projects::remove),
        )
        .authenticator(SessionAuth::new())
        .layer(session_layer);
    let (router, report) = guarded
        .build_with_report()
        .map_err(|e| StartError::new(e.to_string()))?;
    Ok(Service {
        router: router.with_state(state),
        report,
    })
}
