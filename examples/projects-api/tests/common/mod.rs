//! Test harness for the end-to-end tests: the real service on a real
//! loopback listener, a plain-HTTP client that follows no redirect and uses
//! no proxy, cookies handled by hand, and helpers for the exact answers.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use projects_api::{Config, build};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Every test is bounded: a hung server fails the test instead of hanging
/// the suite.
pub const TEST_BUDGET: Duration = Duration::from_secs(120);

/// Runs a test body under [`TEST_BUDGET`].
pub async fn bounded<F: Future<Output = ()>>(test: F) {
    if tokio::time::timeout(TEST_BUDGET, test).await.is_err() {
        panic!("test did not finish within {TEST_BUDGET:?}");
    }
}

/// A fresh directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "projects-api-e2e-{label}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One HTTP answer, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    #[track_caller]
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or_else(|_| {
            panic!(
                "a {} answer whose body is not UTF-8: {:?}",
                self.status,
                self.body.escape_ascii().to_string()
            )
        })
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts the status and the exact body bytes, showing both on failure.
    #[track_caller]
    pub fn expect(&self, status: u16, body: &str) -> &Self {
        assert_eq!(
            (self.status, String::from_utf8_lossy(&self.body).as_ref()),
            (status, body),
            "unexpected answer; headers: {:?}",
            self.headers
        );
        self
    }

    /// Asserts the status only (for bodies checked field by field).
    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {:?}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    /// Every header except `date`, sorted, for byte-for-byte comparisons of
    /// two answers.
    pub fn headers_without(&self, skip: &[&str]) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(name, _)| name.as_str() != "date" && !skip.contains(&name.as_str()))
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    // Escaped, so that any byte difference shows.
                    value.as_bytes().escape_ascii().to_string(),
                )
            })
            .collect();
        all.sort();
        all
    }

    /// The status, the headers but `date` (in order of name) and the body,
    /// byte for byte (escaped), for comparing two answers.
    pub fn fingerprint(&self) -> (u16, Vec<(String, String)>, String) {
        self.fingerprint_without(&[])
    }

    /// [`Self::fingerprint`] without the `skip` headers too.
    pub fn fingerprint_without(&self, skip: &[&str]) -> (u16, Vec<(String, String)>, String) {
        (
            self.status,
            self.headers_without(skip),
            self.body.escape_ascii().to_string(),
        )
    }
}

/// The default security header set of the framework (OWASP API profile).
pub const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// What a download sets instead, and the framework lets it.
pub const DOWNLOAD_CSP: &str = "default-src 'none'; sandbox";

/// Asserts the default security headers (the framework's default policy),
/// with `csp` as the expected `Content-Security-Policy`.
#[track_caller]
pub fn assert_security_headers_with_csp(reply: &Reply, csp: &str) {
    let policy = guard_axum::headers::SecurityHeaders::default();
    let csp = HeaderValue::from_str(csp).unwrap();
    for (name, value) in &policy {
        let value = if name == "content-security-policy" {
            &csp
        } else {
            value
        };
        let all: Vec<&HeaderValue> = reply.headers.get_all(name).iter().collect();
        assert_eq!(
            all,
            [value],
            "header {name} on a {} answer ({:?})",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    // A few written out, so a silent change of the default fails here too.
    for (name, value) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(reply.headers[name], value, "header {name}");
    }
}

/// Asserts the default security headers.
#[track_caller]
pub fn assert_security_headers(reply: &Reply) {
    assert_security_headers_with_csp(reply, DEFAULT_CSP);
}

/// A logged-in user: the `sid=…` pair to send back as `Cookie`.
#[derive(Debug, Clone)]
pub struct User {
    pub email: String,
    pub password: String,
    pub cookie: String,
    pub id: i64,
}

/// The running service.
#[derive(Debug)]
pub struct App {
    pub addr: SocketAddr,
    pub base: String,
    pub upload_dir: PathBuf,
    /// The served app (same state), for in-process requests.
    pub router: guard_axum::GuardedApp,
    /// Its route report.
    pub report: guard_axum::RouteReport,
    client: reqwest::Client,
    server: JoinHandle<()>,
    // Dropped last: the server task is aborted first.
    dir: TempDir,
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A plain-HTTP client: no proxy (an environment proxy must not see
/// loopback traffic), no redirects followed, bounded.
///
/// The workspace's reqwest is built with `rustls-no-provider`, which panics
/// without a crypto provider; it is handed a ring-backed configuration with
/// no roots, so it can never complete a TLS handshake (the tests speak plain
/// HTTP to 127.0.0.1 only).
pub fn http_client() -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        // A fresh connection per request: the server closes a connection
        // whose body it refused unread, and a pooled one could be that.
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

impl App {
    /// The service with `Config::for_tests`.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// The service with `Config::for_tests`, adjusted by `configure`.
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = TempDir::new("app");
        let mut config = Config::for_tests(dir.path());
        configure(&mut config);
        let upload_dir = config.upload_dir.clone();
        let service = build(&config).await.unwrap();
        let (router, report) = (service.app.clone(), service.report.clone());
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            service.serve(listener).await.unwrap();
        });
        Self {
            addr,
            base: format!("http://{addr}"),
            upload_dir,
            router,
            report,
            client: http_client(),
            server,
            dir,
        }
    }

    /// Sends one request and reads the whole answer. Every answer must carry
    /// the security headers (a successful download its own CSP).
    ///
    /// Like a browser on the service's own page, it sends `Origin` (the
    /// service's) with every request unless `headers` sets `origin`,
    /// `sec-fetch-site` or `referer` itself: cookie-authenticated POST, PUT, PATCH and
    /// DELETE requests are refused without one.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method_text = method.to_string();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some((content_type, bytes)) = body {
            if !content_type.is_empty() {
                request = request.header("content-type", content_type);
            }
            request = request.body(bytes);
        }
        let sets_origin = headers.iter().any(|(name, _)| {
            ["origin", "sec-fetch-site", "referer"]
                .iter()
                .any(|own| name.eq_ignore_ascii_case(own))
        });
        if !sets_origin {
            request = request.header("origin", self.base.as_str());
        }
        for (name, value) in headers {
            request = request.header(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method_text} {path}: {e:?}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap().to_vec();
        let reply = Reply {
            status,
            headers,
            body,
        };
        if path.starts_with("/files/") && status == 200 {
            assert_security_headers_with_csp(&reply, DOWNLOAD_CSP);
        } else {
            assert_security_headers(&reply);
        }
        reply
    }

    /// Sends a request over a raw socket, body included (`chunked` or with
    /// a `Content-Length`), ignoring a failed write, then reads the answer.
    ///
    /// For bodies the server refuses unread: it answers, then closes with
    /// the rest unread, and the kernel resets the connection. A full client
    /// (reqwest) sees the reset while still writing and reports that instead
    /// of the answer; the answer is in the receive buffer all the same.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        content_type: &str,
        body: &[u8],
        chunked: bool,
    ) -> Reply {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(cookie) = cookie {
            // From the service's own page, as `send` does.
            request.push_str(&format!("Cookie: {cookie}\r\nOrigin: {}\r\n", self.base));
        }
        let mut bytes;
        if chunked {
            request.push_str("Transfer-Encoding: chunked\r\n\r\n");
            bytes = request.into_bytes();
            for chunk in body.chunks(16 * 1024) {
                bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                bytes.extend_from_slice(chunk);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
        } else {
            request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            bytes = request.into_bytes();
            bytes.extend_from_slice(body);
        }
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
            let (mut read, mut write) = stream.into_split();
            let writer = tokio::spawn(async move {
                let _ = write.write_all(&bytes).await;
                // Keep the write half open until the answer is read.
                write
            });
            let mut response = Vec::new();
            let mut buf = vec![0_u8; 16 * 1024];
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => response.extend_from_slice(&buf[..n]),
                }
            }
            writer.abort();
            response
        };
        let response = tokio::time::timeout(Duration::from_secs(30), exchange)
            .await
            .unwrap_or_else(|_| panic!("{method} {path}: no answer within 30 s"));
        let reply = parse_response(&response).unwrap_or_else(|| {
            panic!(
                "{method} {path}: not an HTTP answer: {:?}",
                String::from_utf8_lossy(&response)
            )
        });
        assert_security_headers(&reply);
        reply
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.send(Method::GET, path, cookie, None, &[]).await
    }

    pub async fn delete(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.send(Method::DELETE, path, cookie, None, &[]).await
    }

    /// A request with a JSON body (`Content-Type: application/json`).
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        body: &str,
    ) -> Reply {
        self.send(
            method,
            path,
            cookie,
            Some(("application/json", body.as_bytes().to_vec())),
            &[],
        )
        .await
    }

    pub async fn post_json(&self, path: &str, cookie: Option<&str>, body: &str) -> Reply {
        self.json(Method::POST, path, cookie, body).await
    }

    pub async fn signup(&self, email: &str, password: &str) -> Reply {
        self.post_json("/api/signup", None, &credentials(email, password))
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post_json("/api/login", None, &credentials(email, password))
            .await
    }

    /// Signs up and logs in; asserts both succeed.
    pub async fn user(&self, email: &str) -> User {
        let password = format!("pw for {email} is long enough");
        self.signup(email, &password)
            .await
            .expect(201, r#"{"status":"created"}"#);
        let reply = self.login(email, &password).await;
        reply.expect_status(200);
        let id = reply.json()["id"].as_i64().unwrap();
        assert_eq!(reply.text(), format!(r#"{{"id":{id}}}"#));
        User {
            email: email.to_owned(),
            password,
            cookie: session_cookie(&reply),
            id,
        }
    }

    /// Creates a project as `user`; returns its id.
    pub async fn project(&self, user: &User, title: &str) -> i64 {
        let body = serde_json::json!({ "title": title }).to_string();
        let reply = self
            .post_json("/api/projects", Some(&user.cookie), &body)
            .await;
        reply.expect_status(201);
        let id = reply.json()["id"].as_i64().unwrap();
        assert_eq!(
            reply.json(),
            serde_json::json!({"id": id, "title": title, "description": null})
        );
        id
    }

    /// The user's project list, as its exact body.
    pub async fn project_list(&self, user: &User) -> String {
        let reply = self.get("/api/projects", Some(&user.cookie)).await;
        reply.expect_status(200);
        reply.text().to_owned()
    }

    /// Uploads `bytes` as the multipart field `file`.
    pub async fn upload(
        &self,
        user: &User,
        project: i64,
        file_name: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Reply {
        let (content_type, body) = multipart(file_name, content_type, bytes);
        self.send(
            Method::POST,
            &format!("/api/projects/{project}/files"),
            Some(&user.cookie),
            Some((&content_type, body)),
            &[],
        )
        .await
    }

    /// The upload directory's names once they are `want`, waiting up to
    /// 5 s: an uncommitted upload is deleted as its request's task drops
    /// it, which can be just after the answer is written.
    pub async fn upload_dir_settled(&self, want: &[String]) -> Vec<String> {
        for _ in 0..100 {
            let names = self.upload_dir_entries();
            if names == want {
                return names;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.upload_dir_entries()
    }

    /// Names in the upload directory (objects, metadata, partial writes).
    pub fn upload_dir_entries(&self) -> Vec<String> {
        let mut names: Vec<String> = match std::fs::read_dir(&self.upload_dir) {
            Ok(entries) => entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(err) => panic!("cannot list the upload dir: {err}"),
        };
        names.sort();
        names
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Parses one HTTP/1.1 answer (status line, headers, a `Content-Length`
/// body).
fn parse_response(bytes: &[u8]) -> Option<Reply> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            HeaderValue::from_str(value.trim()).ok()?,
        );
    }
    let mut body = bytes[end + 4..].to_vec();
    if let Some(length) = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
    {
        if body.len() < length {
            return None;
        }
        body.truncate(length);
    }
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// `{"email":…,"password":…}`.
pub fn credentials(email: &str, password: &str) -> String {
    serde_json::json!({ "email": email, "password": password }).to_string()
}

/// The session cookie a login answer set: the `sid=…` pair.
#[track_caller]
pub fn session_cookie(reply: &Reply) -> String {
    let set_cookie = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("sid="))
        .unwrap_or_else(|| panic!("no session cookie in {:?}", reply.headers));
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

/// A `multipart/form-data` body with one file part named `file`.
pub fn multipart(file_name: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "e2e-boundary-7d1f0c9a4b";
    let mut body = Vec::with_capacity(bytes.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A minimal real PNG: the signature, a 1×1 RGB `IHDR`, an `IDAT` and
/// `IEND`, each with its CRC.
pub fn tiny_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&1_u32.to_be_bytes());
    ihdr.extend_from_slice(&1_u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut png, b"IHDR", &ihdr);
    // zlib stream of one filter byte and one RGB pixel (stored block).
    png_chunk(
        &mut png,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0x00, 0xff, 0x00, 0x00, 0x03, 0x01, 0x01,
            0x00,
        ],
    );
    png_chunk(&mut png, b"IEND", &[]);
    png
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A loopback listener that counts the connections it accepts and answers
/// nothing: the witness that a refused fetch never left the server.
#[derive(Debug)]
pub struct ConnectionCounter {
    pub port: u16,
    count: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl ConnectionCounter {
    /// Listens on 127.0.0.1 on a free port, and on `[::1]` on the same port
    /// when the host has IPv6 loopback.
    pub async fn start() -> Self {
        let v4 = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = v4.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let mut tasks = vec![tokio::spawn(count_accepts(v4, Arc::clone(&count)))];
        if let Ok(v6) = TcpListener::bind(("::1", port)).await {
            tasks.push(tokio::spawn(count_accepts(v6, Arc::clone(&count))));
        }
        Self { port, count, tasks }
    }

    /// Connects once itself and checks that the connection is counted, so
    /// that a later zero means something. The count starts at one.
    pub async fn self_check(&self) {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        drop(stream);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.count.load(Ordering::SeqCst) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the witness counts nothing"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(self.count.load(Ordering::SeqCst), 1);
    }

    /// Connections accepted so far, after a moment for pending accepts.
    pub async fn count(&self) -> usize {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for ConnectionCounter {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn count_accepts(listener: TcpListener, count: Arc<AtomicUsize>) {
    while let Ok((stream, _)) = listener.accept().await {
        count.fetch_add(1, Ordering::SeqCst);
        drop(stream);
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1: `/` is a page titled `Hi`, and
/// `/redirect?to=<url>` answers 302 to `<url>`. Counts requests.
#[derive(Debug)]
pub struct PageServer {
    pub port: u16,
    hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl PageServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0_u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    let head = String::from_utf8_lossy(&head);
                    let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let response = match target.strip_prefix("/redirect?to=") {
                        Some(location) => format!(
                            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        ),
                        None => {
                            let page =
                                "<html><head><title>Hi</title></head><body>hello</body></html>";
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                                page.len()
                            )
                        }
                    };
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Self { port, hits, task }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
