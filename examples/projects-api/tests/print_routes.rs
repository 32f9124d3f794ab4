//! `projects-api --print-routes` prints the report the service would serve
//! and writes nothing: no secret file, no database, no upload directory,
//! nothing in Redis.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

#[path = "../../../guard-axum/tests/support/redis_server.rs"]
mod redis_server;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use projects_api::{Config, build};
use redis_server::RedisServer;

/// A fresh empty directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "projects-api-print-routes-{label}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn entries(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary with `args`, in `cwd`, with none of the service's variables
/// from the environment; killed if it runs past 60 s.
fn run(cwd: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_projects-api"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("PROJECTS_API_SIGNING_SECRET")
        .env_remove("PROJECTS_API_ADDR")
        .env_remove("PROJECTS_API_DATABASE")
        .env_remove("PROJECTS_API_UPLOAD_DIR")
        .env_remove("PROJECTS_API_REDIS")
        .env_remove("PROJECTS_API_INSECURE_COOKIES")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the binary did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// The report of the service as it is served, built in a directory of its own.
async fn served_report(configure: impl FnOnce(&mut Config)) -> String {
    let dir = TempDir::new("served");
    let mut config = Config::for_tests(dir.path());
    config.insecure_cookies = false;
    configure(&mut config);
    let service = build(&config).await.unwrap();
    service.report.to_text()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
async fn print_routes_writes_nothing_with_the_default_relative_paths() {
    let cwd = TempDir::new("defaults");
    let output = run(cwd.path(), &["--print-routes"]);
    let printed = stdout(&output);
    // The default paths are relative to the working directory: nothing
    // there, not the database, the secret or the upload directory.
    assert_eq!(cwd.entries(), Vec::<PathBuf>::new());
    assert_eq!(printed.trim_end(), served_report(|_| {}).await.trim_end());
    assert!(printed.contains("\nrate limits: in memory (this process only)\n"));
    assert!(
        printed
            .lines()
            .any(|l| l.starts_with("POST") && l.contains(" /api/projects/{project}/files ")),
        "{printed}"
    );
}

#[tokio::test]
async fn print_routes_writes_nothing_at_the_paths_it_is_given() {
    let cwd = TempDir::new("cwd");
    let target = TempDir::new("pointed");
    let at = |name: &str| target.path().join(name).display().to_string();
    let (database, uploads, secret) = (at("app.db"), at("uploads"), at("secret"));
    let output = run(
        cwd.path(),
        &[
            "--print-routes",
            "--database",
            &database,
            "--upload-dir",
            &uploads,
            "--secret-file",
            &secret,
            "--trusted-proxy",
            "10.0.0.0/8",
        ],
    );
    let printed = stdout(&output);
    assert_eq!(cwd.entries(), Vec::<PathBuf>::new());
    assert_eq!(target.entries(), Vec::<PathBuf>::new());
    let served = served_report(|c| c.trusted_proxies = vec!["10.0.0.0/8".to_owned()]).await;
    assert_eq!(printed.trim_end(), served.trim_end());
}

#[tokio::test]
async fn print_routes_still_refuses_a_bad_configuration() {
    let cwd = TempDir::new("refused");
    std::fs::write(cwd.path().join("short.secret"), "too short").unwrap();
    let short = run(
        cwd.path(),
        &["--print-routes", "--secret-file", "short.secret"],
    );
    assert_eq!(short.status.code(), Some(1), "{short:?}");
    assert!(short.stdout.is_empty());
    let stderr = String::from_utf8(short.stderr).unwrap();
    assert!(
        stderr.contains("short.secret: the signing secret must be at least 32 bytes"),
        "{stderr}"
    );
    // A public network as a trusted proxy is refused, naming the opt-in.
    let public = run(
        cwd.path(),
        &["--print-routes", "--trusted-proxy", "0.0.0.0/1"],
    );
    assert_eq!(public.status.code(), Some(1), "{public:?}");
    let stderr = String::from_utf8(public.stderr).unwrap();
    assert!(
        stderr
            .contains("--trusted-proxy 0.0.0.0/1: trusting `0.0.0.0/1` trusts too many addresses"),
        "{stderr}"
    );
    assert_eq!(cwd.entries(), [cwd.path().join("short.secret")]);
}

/// `DBSIZE` over a raw RESP exchange (the example has no Redis client).
fn dbsize(port: u16) -> i64 {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(b"*1\r\n$6\r\nDBSIZE\r\n").unwrap();
    let mut reply = Vec::new();
    let mut byte = [0_u8; 1];
    while !reply.ends_with(b"\r\n") {
        conn.read_exact(&mut byte).unwrap();
        reply.push(byte[0]);
    }
    let text = std::str::from_utf8(&reply).unwrap();
    text.trim_end()
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected DBSIZE reply {text:?}"))
}

#[tokio::test]
async fn print_routes_with_redis_reports_it_without_contacting_it() {
    let required = std::env::var("GUARD_REQUIRE_REDIS").is_ok_and(|v| v == "1");
    let server = match RedisServer::spawn() {
        Ok(server) => server,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !required => {
            eprintln!(
                "SKIPPED: `redis-server` is not installed (Debian package `redis-server`); \
                 set GUARD_REQUIRE_REDIS=1 to fail instead"
            );
            return;
        }
        Err(err) => panic!("could not start `redis-server`: {err}"),
    };
    let url = server.url();
    let port: u16 = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let cwd = TempDir::new("redis");
    let printed = stdout(&run(cwd.path(), &["--print-routes", "--redis", &url]));
    assert_eq!(cwd.entries(), Vec::<PathBuf>::new());
    // Not even the secret's fingerprint: a throwaway secret would have
    // claimed the prefix and locked the real service out.
    assert_eq!(dbsize(port), 0);
    assert!(
        printed.contains("\nrate limits: redis (prefix guard:rl)\n"),
        "{printed}"
    );
    let served = served_report(|c| c.redis = Some(url.clone())).await;
    assert_eq!(printed.trim_end(), served.trim_end());
    // The served one did connect, and claimed the prefix.
    assert_eq!(dbsize(port), 1);
}
