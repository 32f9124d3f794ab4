//! `projects-api`: runs the example service. See the crate docs and README.

use clap::Parser as _;
use projects_api::{Config, build};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    // Logs on stderr: stdout carries the `--print-routes` report alone.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::parse();
    if let Err(err) = run(config).await {
        eprintln!("projects-api: {err}");
        std::process::exit(1);
    }
}

async fn run(config: Config) -> Result<(), projects_api::StartError> {
    // With `--print-routes`, `build` writes nothing and connects nowhere.
    let service = build(&config).await?;
    println!("{}", service.report.to_text());
    if config.print_routes {
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| {
            projects_api::StartError::new(format!("cannot listen on {}: {e}", config.addr))
        })?;
    tracing::info!(addr = %config.addr, "listening");
    service
        .serve_until(listener, guard_axum::serve::shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}
