//! `[TODO_LEPTOS_ADMIN_PASSWORD=…] cargo run -p todo-leptos -- [--insecure-cookies] [--admin EMAIL] [--database URL]`

use todo_leptos::{Config, app};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut config = Config {
        admin_password: std::env::var("TODO_LEPTOS_ADMIN_PASSWORD").ok(),
        ..Config::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--insecure-cookies" => config.insecure_cookies = true,
            "--admin" => config.admin_emails.extend(args.next()),
            "--database" => {
                if let Some(url) = args.next() {
                    config.database = url;
                }
            }
            other => return Err(format!("unknown argument {other}; the flags are --insecure-cookies, --admin EMAIL, --database URL").into()),
        }
    }
    let built = app(config).await?;
    println!("{}", built.app.report().to_text());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000");
    // guard-axum's server rather than `axum::serve`: it closes connections
    // whose headers take over 10 s (slowloris) and hands the socket peer to
    // the client-IP guard. Ctrl-C or SIGTERM stops it accepting and lets the
    // requests in flight finish for up to 30 s.
    built
        .app
        .serve(listener)
        .with_graceful_shutdown(guard_axum::serve::shutdown_signal())
        .shutdown_timeout(std::time::Duration::from_secs(30))
        .await?;
    Ok(())
}
