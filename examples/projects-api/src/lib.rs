//! The example service: a multi-tenant projects API on SQLite that uses
//! every guard of guard-axum. [`build`] builds the guarded app from a [`Config`]; `main` serves it.
//!
//! | route | guards |
//! |---|---|
//! | `GET /healthz` | public, reason given |
//! | `POST /api/signup` | public; per-IP rate; validated body; argon2 |
//! | `POST /api/login` | public; per-IP rate; validated body; one answer for every failure |
//! | `POST /api/logout`, `GET /api/me` | auth |
//! | `GET /api/projects` | auth; paged (`?after=&limit=`) |
//! | `POST /api/projects` | auth; validated body; rate; per-account project quota |
//! | `GET/PATCH/DELETE /api/projects/{project}` | auth; owner-scoped |
//! | `POST /api/projects/{project}/files` | auth; owner-scoped; upload png/jpeg/pdf ≤ 5 MiB; rate; per-account storage quota |
//! | `GET /api/projects/{project}/files/{file}` | auth; owner-scoped; a signed download URL |
//! | `GET /files/{token}` | public by signature |
//! | `POST /api/link-preview` | auth; SSRF-guarded fetch; rate and daily quota |

pub mod accounts;
mod config;
pub mod files;
pub mod preview;
mod print_routes;
pub mod projects;
mod secret;
mod state;

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr as _;

use std::sync::Arc;
use std::time::Duration;

use guard_axum::auth::SessionAuth;
use guard_axum::cors::CorsPolicy;
use guard_axum::fetch::{SafeClient, UrlPolicy};
use guard_axum::rate_limit::ClientIpConfig;
use guard_axum::rate_limit::{LimitsConfig, RedisBackend};
use guard_axum::routing::{get, post};
use guard_axum::upload::{LocalStore, UploadStore, UrlSigner};
use guard_axum::{GuardedApp, GuardedRouter, RouteReport, secure_route};
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
    /// The built app, state applied.
    pub app: GuardedApp,
    /// The route-by-route report.
    pub report: RouteReport,
    /// The most connections one IP address may hold open:
    /// [`CONNECTIONS_PER_IP`] when clients connect directly, none behind a
    /// `--trusted-proxy` (every connection would be the proxy's).
    pub connections_per_ip: Option<NonZeroUsize>,
}

/// The per-IP connection cap of a service that clients reach directly: far
/// above a browser's six per host or an office behind one NAT address, far
/// below the file descriptors one client could otherwise hold with idle
/// connections, each kept up to [`HEADER_READ_TIMEOUT`].
pub const CONNECTIONS_PER_IP: NonZeroUsize = NonZeroUsize::new(128).unwrap();

/// How long a client may take over a request's headers: a client sending
/// one header line every few seconds (slowloris) is disconnected once it
/// has taken this long. guard-axum's default, spelled out so that the
/// service's setting is read here and does not move with the library.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a shutdown waits for the requests in flight before it closes
/// their connections.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

impl Service {
    /// Serves on a listener with guard-axum's hardened server: the socket
    /// peer reaches the client-IP guard, and a connection whose request
    /// headers take longer than [`HEADER_READ_TIMEOUT`] is closed.
    ///
    /// # Errors
    ///
    /// None in practice: accept errors are retried, not returned.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> Result<(), StartError> {
        self.serve_until(listener, std::future::pending()).await
    }

    /// [`Service::serve`] until `signal` completes: then it stops
    /// accepting, lets the requests in flight finish for up to
    /// [`SHUTDOWN_TIMEOUT`], and returns.
    ///
    /// # Errors
    ///
    /// None in practice: accept errors are retried, not returned.
    pub async fn serve_until<F>(
        self,
        listener: tokio::net::TcpListener,
        signal: F,
    ) -> Result<(), StartError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut serve = self
            .app
            .serve(listener)
            .header_read_timeout(HEADER_READ_TIMEOUT);
        if let Some(max) = self.connections_per_ip {
            serve = serve.max_connections_per_ip(max);
        }
        serve
            .with_graceful_shutdown(signal)
            .shutdown_timeout(SHUTDOWN_TIMEOUT)
            .await
            .map_err(|e| StartError::new(format!("server: {e}")))
    }
}

#[secure_route(public = "load balancer health check")]
async fn health() -> &'static str {
    "ok"
}

/// The link-preview client: `http` and `https` on ports 80 and 443 to public
/// addresses only, so it must refuse by address, not by scheme.
fn fetcher(config: &Config) -> Result<SafeClient, StartError> {
    let bad = |e: &dyn std::fmt::Display| StartError::new(format!("link-preview client: {e}"));
    let mut policy = UrlPolicy::new()
        .allow_http()
        .ports([80, 443])
        .map_err(|e| bad(&e))?;
    if let Some(port) = config.preview_test_port {
        policy = policy
            .allow_port(port)
            .map(|p| p.allow_addresses(std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST)))
            .map_err(|e| bad(&e))?;
    }
    SafeClient::builder(policy)
        .timeout(Duration::from_secs(3))
        .connect_timeout(Duration::from_secs(2))
        .max_response_bytes(1024 * 1024)
        .build()
        .map_err(|e| bad(&e))
}

/// Connects the database, runs migrations, and builds the guarded router.
pub async fn build(config: &Config) -> Result<Service, StartError> {
    let config = &config.effective();
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

    // `--print-routes` writes nothing: no secret file, no upload directory.
    let (secret, store) = if config.print_routes {
        let secret = secret::load_or_ephemeral(&config.secret_file)?;
        (secret, print_routes::upload_store())
    } else {
        let secret = secret::load_or_create(&config.secret_file)?;
        let store = LocalStore::new(&config.upload_dir).map_err(|e| {
            StartError::new(format!("--upload-dir {}: {e}", config.upload_dir.display()))
        })?;
        (secret, UploadStore::new(store))
    };
    let signer =
        UrlSigner::new(&secret).map_err(|e| StartError::new(format!("signing secret: {e}")))?;
    let quotas = state::Quotas::new(config.max_projects, config.storage_quota_mib);
    let state = AppState::new(db, store, signer, fetcher(config)?, quotas).await?;
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name("sid")
        .with_secure(!config.insecure_cookies)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::hours(12),
        ));

    let mut guarded = GuardedRouter::new()
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
        .route("/api/projects/{project}/files", post(files::upload))
        .route("/api/projects/{project}/files/{file}", get(files::link))
        .route("/files/{token}", get(files::download))
        .route("/api/link-preview", post(preview::link_preview))
        .authenticator(SessionAuth::new())
        .upload_store(state.store.clone())
        .layer(session_layer);
    if !config.trusted_proxies.is_empty() {
        let mut client_ip = ClientIpConfig::new().from_x_forwarded_for();
        for cidr in &config.trusted_proxies {
            client_ip = client_ip
                .trust_proxy(cidr)
                .map_err(|e| StartError::new(format!("--trusted-proxy {cidr}: {e}")))?;
        }
        guarded = guarded.client_ip(client_ip);
    }
    if !config.allowed_origins.is_empty() {
        let cors = CorsPolicy::builder()
            .allow_origins(&config.allowed_origins)
            .and_then(|b| {
                b.allow_credentials(true)
                    .production(!config.insecure_cookies)
                    .build()
            })
            .map_err(|e| StartError::new(format!("--allowed-origin: {e}")))?;
        guarded = guarded.cors(cors);
    }
    if let Some(url) = &config.redis {
        // `--print-routes` contacts no Redis: connecting would claim the
        // prefix for its throwaway secret.
        let backend = if config.print_routes {
            print_routes::redis_backend()
        } else {
            let backend = RedisBackend::connect(url, &secret)
                .await
                .map_err(|e| StartError::new(format!("--redis: {e}")))?;
            Arc::new(backend)
        };
        guarded = guarded.rate_backend(backend);
    }
    // The sign-up and login ceilings, under the operator's overrides.
    let mut limits = accounts::route_ceilings().map_err(|e| StartError::new(e.to_string()))?;
    if let Some(path) = &config.limits {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StartError::new(format!("--limits {}: {e}", path.display())))?;
        let file: LimitsConfig = toml::from_str(&text)
            .map_err(|e| StartError::new(format!("--limits {}: {e}", path.display())))?;
        limits = file.or(limits);
    }
    guarded = guarded.rate_limits(limits);
    let app = guarded
        .build()
        .map_err(|e| StartError::new(e.to_string()))?;
    Ok(Service {
        report: app.report().clone(),
        app: app.with_state(state),
        connections_per_ip: config
            .trusted_proxies
            .is_empty()
            .then_some(CONNECTIONS_PER_IP),
    })
}
