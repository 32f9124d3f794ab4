//! Security headers, the report.

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::common::{App, Reply, TempDir, assert_security_headers, bounded};
use crate::support::{TOO_MANY_REQUESTS, assert_retry_after, preview_body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_are_on_every_status() {
    bounded(async {
        let app = App::start().await;
        let alice = app.user("alice@example.com").await;
        let cookie = Some(alice.cookie.as_str());
        let mut seen = Vec::new();
        let mut check = |reply: Reply, status: u16| {
            assert_eq!(reply.status, status, "{}", reply.text());
            assert_security_headers(&reply);
            seen.push(status);
        };
        check(app.get("/healthz", None).await, 200);
        check(app.post_json("/api/projects", cookie, "{").await, 400);
        check(app.get("/api/me", None).await, 401);
        check(app.get("/nowhere", None).await, 404);
        check(app.get("/api/projects/12345", cookie).await, 404);
        check(
            app.send(Method::PUT, "/api/projects", cookie, None, &[])
                .await,
            405,
        );
        let big = format!(r#"{{"title":"{}"}}"#, "x".repeat(70_000));
        check(
            app.send_raw(
                "POST",
                "/api/projects",
                cookie,
                "application/json",
                big.as_bytes(),
                false,
            )
            .await,
            413,
        );
        check(
            app.send(
                Method::POST,
                "/api/projects",
                cookie,
                Some(("text/plain", b"{}".to_vec())),
                &[],
            )
            .await,
            415,
        );
        // The preview route allows 10 a minute: the 11th is 429.
        let body = preview_body("http://10.0.0.1/");
        for _ in 0..10 {
            check(app.post_json("/api/link-preview", cookie, &body).await, 400);
        }
        let limited = app.post_json("/api/link-preview", cookie, &body).await;
        assert_eq!(limited.text(), TOO_MANY_REQUESTS);
        assert_retry_after(&limited, 60);
        check(limited, 429);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, [200, 400, 401, 404, 405, 413, 415, 429]);
    })
    .await;
}

/// The report's rows as cells (columns are separated by two or more spaces).
fn report_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .take_while(|line| !line.is_empty())
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_report_lists_every_route_with_its_guards() {
    bounded(async {
        let dir = TempDir::new("report");
        let service = projects_api::build(&projects_api::Config::for_tests(dir.path()))
            .await
            .unwrap();
        let text = service.report.to_text();
        let rows = report_rows(&text);
        assert_eq!(rows[0], ["METHOD", "PATH", "ACCESS", "GUARDS", "HANDLER"]);
        let mut routes: Vec<(String, String)> = rows[1..]
            .iter()
            .map(|row| (row[0].clone(), row[1].clone()))
            .collect();
        routes.sort();
        let mut expected: Vec<(String, String)> = [
            ("GET", "/healthz"),
            ("POST", "/api/signup"),
            ("POST", "/api/login"),
            ("POST", "/api/logout"),
            ("GET", "/api/me"),
            ("GET", "/api/projects"),
            ("POST", "/api/projects"),
            ("GET", "/api/projects/{project}"),
            ("PATCH", "/api/projects/{project}"),
            ("DELETE", "/api/projects/{project}"),
            ("POST", "/api/projects/{project}/files"),
            ("GET", "/api/projects/{project}/files/{file}"),
            ("GET", "/files/{token}"),
            ("POST", "/api/link-preview"),
        ]
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
        expected.sort();
        assert_eq!(routes, expected, "{text}");

        let row = |method: &str, path: &str| -> Vec<String> {
            rows.iter()
                .find(|r| r[0] == method && r[1] == path)
                .cloned()
                .unwrap()
        };
        assert_eq!(
            row("POST", "/api/login"),
            [
                "POST",
                "/api/login",
                "public: login",
                "body: Credentials; body limit: 65536 B; rate_ip: 20/min; rate_identifier: 5/min; rate_route: 600/min, burst = 60 (override); csrf: origin checked",
                "login"
            ]
        );
        assert_eq!(
            row("PATCH", "/api/projects/{project}"),
            [
                "PATCH",
                "/api/projects/{project}",
                "auth",
                "owner: project; body: ProjectChanges; body limit: 65536 B; csrf: origin checked",
                "update"
            ]
        );
        assert_eq!(
            row("GET", "/api/projects/{project}/files/{file}"),
            [
                "GET",
                "/api/projects/{project}/files/{file}",
                "auth",
                "owner: project, file",
                "link"
            ]
        );
        assert_eq!(
            row("POST", "/api/projects/{project}/files"),
            [
                "POST",
                "/api/projects/{project}/files",
                "auth",
                "owner: project; body limit: 5242880 B; rate_ip: 30/min; rate_account: 30/min; upload: 5242880 B of png, jpeg, pdf; csrf: origin checked",
                "upload"
            ]
        );
        assert_eq!(
            row("POST", "/api/link-preview"),
            [
                "POST",
                "/api/link-preview",
                "auth",
                "body: PreviewRequest; body limit: 65536 B; rate_ip: 10/min; rate_account: 10/min; quota: 200/day [fixed window: up to 400 (2×) in any 24 h span across a window boundary]; fetches user URLs; csrf: origin checked",
                "link_preview"
            ]
        );
        assert_eq!(
            row("GET", "/files/{token}")[2],
            "public: download by signed, expiring URL"
        );
        assert!(
            text.contains("\nauthenticator: session cookie (tower-sessions)\n"),
            "{text}"
        );

        // The GET rows of cookie routes are not checked (safe methods).
        assert!(!row("GET", "/api/projects/{project}/files/{file}")[3].contains("csrf"));
        assert!(row("POST", "/api/logout")[3].contains("csrf: origin checked"));
        // Public unsafe routes are checked too (login CSRF); their GETs not.
        assert!(row("POST", "/api/signup")[3].contains("csrf: origin checked"));
        assert!(!row("GET", "/healthz")[3].contains("csrf"));

        // `projects-api --print-routes` prints the same report and exits.
        let bin_dir = TempDir::new("print-routes");
        let (uploads, secret) = (bin_dir.path().join("uploads"), bin_dir.path().join("secret"));
        let output = tokio::task::spawn_blocking(move || {
            run_bounded(
                std::process::Command::new(env!("CARGO_BIN_EXE_projects-api"))
                    .arg("--print-routes")
                    .args(["--database", "sqlite::memory:"])
                    .arg("--upload-dir")
                    .arg(uploads)
                    .arg("--secret-file")
                    .arg(secret)
                    .env("RUST_LOG", "off")
                    .env_remove("PROJECTS_API_SIGNING_SECRET")
                    .env_remove("PROJECTS_API_ADDR")
                    .env_remove("PROJECTS_API_REDIS"),
            )
        })
        .await
        .unwrap();
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(stdout.trim_end(), text.trim_end());
    })
    .await;
}

/// Runs a command to completion within 60 s (killed past that).
fn run_bounded(command: &mut std::process::Command) -> std::process::Output {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_header_lines_is_cut_off() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    bounded(async {
        let app = App::start().await;
        // Slowloris: a request line, then one more header line a second,
        // never the blank line that ends the headers. Without a header read
        // timeout the connection stays open for as long as the client likes.
        let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let mut answer = Vec::new();
        let closed_after = loop {
            let mut buf = [0_u8; 1024];
            match tokio::time::timeout(Duration::from_secs(1), conn.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => break started.elapsed(),
                Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                Err(_) => {
                    assert!(
                        started.elapsed() < Duration::from_secs(40),
                        "still open after {:?}",
                        started.elapsed()
                    );
                    if conn.write_all(b"X-Slow: 1\r\n").await.is_err() {
                        break started.elapsed();
                    }
                }
            }
        };
        assert!(
            closed_after < Duration::from_secs(15),
            "closed after {closed_after:?}"
        );
        // Nothing but, at most, hyper's bare timeout answer.
        let text = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    })
    .await;
}
