//! Command-line and environment configuration. Bad configuration stops the
//! service at start with a clear message.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// A multi-tenant projects API guarded by guard-axum.
#[derive(Debug, Clone, Parser)]
#[command(name = "projects-api", version)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "PROJECTS_API_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// SQLite database file (created if missing), or `sqlite::memory:`.
    #[arg(long, env = "PROJECTS_API_DATABASE", default_value = "projects-api.db")]
    pub database: String,

    /// Print the route report and exit, writing nothing: no secret file, no
    /// database, no upload directory, no Redis contacted.
    #[arg(long)]
    pub print_routes: bool,

    /// Send the session cookie without `Secure`, so it works over plain
    /// HTTP on localhost (curl, local development). Never in production.
    #[arg(long, env = "PROJECTS_API_INSECURE_COOKIES")]
    pub insecure_cookies: bool,

    /// A reverse proxy whose `X-Forwarded-For` is believed (CIDR; repeat).
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    pub trusted_proxies: Vec<String>,

    /// A browser origin allowed by CORS (exact, e.g. `https://app.example.com`; repeat).
    #[arg(long = "allowed-origin", value_name = "URL")]
    pub allowed_origins: Vec<String>,

    /// Share rate limits and quotas through this Redis (`redis://127.0.0.1:6379`).
    #[arg(long, env = "PROJECTS_API_REDIS")]
    pub redis: Option<String>,

    /// TOML file overriding routes' rates and quotas, keyed by `"METHOD /path"`.
    #[arg(long, value_name = "FILE")]
    pub limits: Option<PathBuf>,

    /// Private directory for uploaded files (never served directly).
    #[arg(
        long,
        env = "PROJECTS_API_UPLOAD_DIR",
        default_value = "projects-api-uploads"
    )]
    pub upload_dir: PathBuf,

    /// File holding the secret that signs download links (and keys shared
    /// rate limits); generated with owner-only permissions on first start.
    /// `PROJECTS_API_SIGNING_SECRET` (at least 32 bytes) takes precedence.
    #[arg(long, default_value = "projects-api.secret")]
    pub secret_file: PathBuf,

    /// The most projects one account may own; creating one more is 403
    /// `{"error":"quota_exceeded"}`.
    #[arg(long, env = "PROJECTS_API_MAX_PROJECTS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_projects: u32,

    /// The most bytes of uploaded files one account may keep, in MiB; an
    /// upload past it is 403 `{"error":"quota_exceeded"}` and is not kept.
    #[arg(long, env = "PROJECTS_API_STORAGE_QUOTA_MIB", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub storage_quota_mib: u32,

    /// Let link previews reach 127.0.0.1 on this port (end-to-end tests only).
    #[arg(long, hide = true)]
    pub preview_test_port: Option<u16>,
}

impl Config {
    /// The configuration `build` opens: under `--print-routes` the
    /// database is an in-memory one, whatever `--database` says, so that
    /// nothing is created on disk.
    pub(crate) fn effective(&self) -> Self {
        let mut config = self.clone();
        if config.print_routes {
            config.database = "sqlite::memory:".to_owned();
        }
        config
    }

    /// The configuration for tests: an in-memory database, plain-HTTP
    /// cookies, uploads and the secret under `dir`.
    #[must_use]
    pub fn for_tests(dir: &std::path::Path) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database: "sqlite::memory:".to_owned(),
            print_routes: false,
            insecure_cookies: true,
            trusted_proxies: Vec::new(),
            allowed_origins: Vec::new(),
            redis: None,
            limits: None,
            upload_dir: dir.join("uploads"),
            secret_file: dir.join("secret"),
            max_projects: 1000,
            storage_quota_mib: 1024,
            preview_test_port: None,
        }
    }
}
