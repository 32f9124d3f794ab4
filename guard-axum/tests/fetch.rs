//! The SSRF-guarded client against real sockets on loopback: listeners that
//! count every accepted connection prove that a refused URL, redirect hop or
//! resolved address is never connected to. No test leaves the machine.

#![cfg(feature = "fetch")]
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "support/http.rs"]
mod http_support;
#[path = "support/log.rs"]
mod log_support;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use guard_axum::extract::ValidPath;
use guard_axum::fetch::{
    AddressClass, FetchError, HostFailure, SafeClient, SafeUrl, UpstreamError, UrlPolicy,
    UrlRefusal,
};
use guard_axum::routing::get;
use guard_axum::{GuardError, GuardedRouter, secure_route};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use http_support::send;
use log_support::global_log;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;

// ---------------------------------------------------------------------------
// A tiny HTTP/1.1 upstream that counts connections.

/// What the upstream does with one request.
enum Reply {
    /// Writes these bytes and closes.
    Raw(String),
    /// Reads the request, then never answers.
    Hang,
    /// A 200 delimited by close, with `total` bytes of body written in
    /// chunks until the client goes away; `written` counts what got out.
    Stream {
        total: usize,
        written: Arc<AtomicUsize>,
        done: Arc<AtomicBool>,
    },
}

/// One request as the route sees it.
struct Seen {
    path: String,
    port: u16,
}

struct Upstream {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    async fn start(bind: &str, route: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind(bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let route: Arc<dyn Fn(&Seen) -> Reply + Send + Sync> = Arc::new(route);
        let (count, log) = (Arc::clone(&accepted), Arc::clone(&heads));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(
                    stream,
                    addr.port(),
                    Arc::clone(&route),
                    Arc::clone(&log),
                ));
            }
        });
        Self {
            addr,
            accepted,
            heads,
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    port: u16,
    route: Arc<dyn Fn(&Seen) -> Reply + Send + Sync>,
    log: Arc<Mutex<Vec<String>>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        // A TLS ClientHello: answer like a plain-HTTP server would.
        if head.first() == Some(&0x16) {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    log.lock().unwrap().push(head.clone());
    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
    match route(&Seen { path, port }) {
        Reply::Raw(bytes) => {
            let _ = stream.write_all(bytes.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Reply::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
        Reply::Stream {
            total,
            written,
            done,
        } => {
            let chunk = vec![b'x'; 16 * 1024];
            let mut result = stream
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .await;
            while result.is_ok() && written.load(Ordering::SeqCst) < total {
                result = stream.write_all(&chunk).await;
                if result.is_ok() {
                    written.fetch_add(chunk.len(), Ordering::SeqCst);
                }
            }
            done.store(true, Ordering::SeqCst);
        }
    }
}

fn ok(body: &str) -> Reply {
    Reply::Raw(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
}

fn redirect(location: &str) -> Reply {
    redirect_with(location, "")
}

fn redirect_with(location: &str, extra_headers: &str) -> Reply {
    Reply::Raw(format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\n{extra_headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
    ))
}

fn status(code: u16) -> Reply {
    Reply::Raw(format!(
        "HTTP/1.1 {code} Whatever\r\nContent-Length: 5\r\nConnection: close\r\n\r\nerror"
    ))
}

// ---------------------------------------------------------------------------
// Policies and clients.

const LOCALHOST_V4: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Test-only: `http`, the given ports and 80, and exactly `127.0.0.1`.
fn test_policy(ports: &[u16]) -> UrlPolicy {
    open_ports(ports).allow_addresses(LOCALHOST_V4)
}

/// `http` and the given ports and 80, but no address allowance: refusals
/// under it are for the address (or name) itself, not the scheme or port.
fn open_ports(ports: &[u16]) -> UrlPolicy {
    ports
        .iter()
        .try_fold(UrlPolicy::new().allow_http(), |policy, port| {
            policy.allow_port(*port)
        })
        .unwrap()
}

fn client(policy: UrlPolicy) -> SafeClient {
    SafeClient::builder(policy)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// A lookup table standing in for DNS, counting its calls.
fn table_client(
    policy: UrlPolicy,
    table: &'static [(&'static str, &'static [&'static str])],
) -> (SafeClient, Arc<AtomicUsize>) {
    let lookups = Arc::new(AtomicUsize::new(0));
    let calls = Arc::clone(&lookups);
    let client = SafeClient::builder(policy)
        .timeout(Duration::from_secs(5))
        .resolve_with(move |host: String| {
            calls.fetch_add(1, Ordering::SeqCst);
            let answer = table
                .iter()
                .find(|(name, _)| *name == host)
                .map(|(_, ips)| ips.iter().map(|ip| ip.parse().unwrap()).collect());
            async move { answer.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "nxdomain")) }
        })
        .build()
        .unwrap();
    (client, lookups)
}

#[track_caller]
fn refused(result: Result<impl std::fmt::Debug, FetchError>) -> UrlRefusal {
    match result {
        Err(FetchError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A host name that could not be used, and why (for the log only).
#[track_caller]
fn unusable(result: Result<impl std::fmt::Debug, FetchError>) -> HostFailure {
    match result {
        Err(FetchError::UnusableHost(failure)) => failure,
        other => panic!("expected an unusable host, got {other:?}"),
    }
}

/// A host name that resolved to addresses the policy refuses, and the rule.
#[track_caller]
fn host_refused(result: Result<impl std::fmt::Debug, FetchError>) -> UrlRefusal {
    match unusable(result) {
        HostFailure::Refused(refusal) => refusal,
        other => panic!("expected refused addresses, got {other:?}"),
    }
}

#[track_caller]
fn upstream(result: Result<impl std::fmt::Debug, FetchError>) -> UpstreamError {
    match result {
        Err(FetchError::Upstream(error)) => error,
        other => panic!("expected an upstream error, got {other:?}"),
    }
}

fn addr(class: AddressClass) -> UrlRefusal {
    UrlRefusal::Address { class }
}

// ---------------------------------------------------------------------------
// Refused before any connection.

#[tokio::test]
async fn every_refused_url_aimed_at_a_local_listener_opens_no_connection() {
    let v4 = Upstream::start("127.0.0.1:0", |_| ok("reached")).await;
    let v6 = Upstream::start("[::1]:0", |_| ok("reached")).await;
    let (p, p6) = (v4.port(), v6.port());

    use AddressClass as C;
    use UrlRefusal as R;
    // Each URL with the reason an http-and-these-ports policy gives, so a
    // refusal for an accidental reason (the scheme) cannot pass.
    let table: Vec<(String, UrlRefusal)> = [
        ("http://127.0.0.1:{p}/", addr(C::Loopback)),
        ("http://localhost:{p}/", R::DeniedHost),
        ("http://LOCALHOST:{p}/", R::DeniedHost),
        ("http://localhost.:{p}/", R::DeniedHost),
        ("http://api.localhost:{p}/", R::DeniedHost),
        ("http://[::1]:{p6}/", addr(C::Loopback)),
        ("http://[0:0:0:0:0:0:0:1]:{p6}/", addr(C::Loopback)),
        ("http://2130706433:{p}/", addr(C::Loopback)),
        ("http://0x7f000001:{p}/", addr(C::Loopback)),
        ("http://017700000001:{p}/", addr(C::Loopback)),
        ("http://0x7f.1:{p}/", addr(C::Loopback)),
        ("http://127.1:{p}", addr(C::Loopback)),
        ("http://127.0.1:{p}/", addr(C::Loopback)),
        ("http://0177.0.0.1:{p}/", addr(C::Loopback)),
        ("http://127.0.0.1.:{p}/", addr(C::Loopback)),
        ("http://%31%32%37.0.0.1:{p}/", addr(C::Loopback)),
        ("http://１２７.０.０.１:{p}/", addr(C::Loopback)),
        ("http://[::ffff:127.0.0.1]:{p}/", addr(C::Loopback)),
        ("http://[::ffff:7f00:1]:{p}/", addr(C::Loopback)),
        ("http://[64:ff9b::7f00:1]:{p}/", addr(C::Loopback)),
        ("http://[::127.0.0.1]:{p}/", addr(C::Ipv4Compatible)),
        ("http://0.0.0.0:{p}/", addr(C::Unspecified)),
        ("http://0:{p}/", addr(C::Unspecified)),
        ("http://[::]:{p6}/", addr(C::Unspecified)),
        ("http:\\\\127.0.0.1:{p}\\", addr(C::Loopback)),
        ("http://127.0.0.1:{p}\\@example.com/", addr(C::Loopback)),
        ("http://127.0.0.1:{p}#@example.com/", addr(C::Loopback)),
        ("http://good.example@127.0.0.1:{p}/", R::Userinfo),
        ("http://user:pass@127.0.0.1:{p}/", R::Userinfo),
        ("gopher://127.0.0.1:{p}/_GET", R::Scheme),
        ("file:///etc/passwd", R::Scheme),
        ("http://127.0.0.1:1/", R::Port { port: 1 }),
    ]
    .into_iter()
    .map(|(url, why)| {
        let url = url
            .replace("{p6}", &p6.to_string())
            .replace("{p}", &p.to_string());
        (url, why)
    })
    .collect();

    let default = client(UrlPolicy::new());
    let open = client(open_ports(&[p, p6]));
    for (url, why) in &table {
        refused(default.get(url).await);
        assert_eq!(refused(open.get(url).await), *why, "{url}");
        // The https spelling is refused by the default policy too.
        if let Some(rest) = url.strip_prefix("http://") {
            refused(default.get(format!("https://{rest}")).await);
        }
    }
    assert_eq!(v4.accepted(), 0, "a refused URL reached the IPv4 listener");
    assert_eq!(v6.accepted(), 0, "a refused URL reached the IPv6 listener");

    // The listeners do count: an allowed fetch is the first connection each.
    let page = client(test_policy(&[p]))
        .get(format!("http://127.0.0.1:{p}/"))
        .await;
    assert_eq!(&page.unwrap().body[..], b"reached");
    let v6_policy = open_ports(&[p6]).allow_addresses("::1".parse::<IpAddr>().unwrap());
    let page = client(v6_policy).get(format!("http://[::1]:{p6}/")).await;
    assert_eq!(&page.unwrap().body[..], b"reached");
    assert_eq!((v4.accepted(), v6.accepted()), (1, 1));
}

#[tokio::test]
async fn host_names_are_refused_on_what_they_resolve_to() {
    let up = Upstream::start("127.0.0.1:0", |_| ok("reached")).await;
    let p = up.port();
    const TABLE: &[(&str, &[&str])] = &[
        ("loopback.test.example", &["127.0.0.1"]),
        // One good answer does not excuse a bad one: the host is refused whole.
        ("mixed.test.example", &["127.0.0.1", "127.0.0.2"]),
        ("mapped.test.example", &["::ffff:127.0.0.2"]),
        ("empty.test.example", &[]),
    ];

    // No address allowance: a name resolving to loopback is refused after
    // resolution, and `localhost` before it, by name.
    let (open, lookups) = table_client(open_ports(&[p]), TABLE);
    let url = format!("http://loopback.test.example:{p}/");
    assert_eq!(
        host_refused(open.get(&url).await),
        addr(AddressClass::Loopback)
    );
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        1,
        "refused after resolution"
    );
    let url = format!("http://localhost:{p}/");
    assert_eq!(refused(open.get(&url).await), UrlRefusal::DeniedHost);
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        1,
        "localhost is never looked up"
    );

    // Allowing exactly 127.0.0.1 (where the listener is) still refuses a name
    // that also answers another loopback address.
    let (strict, _) = table_client(test_policy(&[p]), TABLE);
    for (host, why) in [
        ("mixed.test.example", addr(AddressClass::Loopback)),
        ("mapped.test.example", addr(AddressClass::Loopback)),
        ("empty.test.example", UrlRefusal::NoAddresses),
    ] {
        let url = format!("http://{host}:{p}/");
        assert_eq!(host_refused(strict.get(&url).await), why, "{host}");
    }
    // A lookup failure is a failure of the host name too, not the upstream's.
    let url = format!("http://missing.test.example:{p}/");
    assert!(matches!(
        unusable(strict.get(&url).await),
        HostFailure::Unresolved(_)
    ));
    assert_eq!(up.accepted(), 0);

    // A SafeUrl is checked again by the client's own policy and resolver.
    let safe = SafeUrl::parse("https://hooks.example.com/T0/B0").unwrap();
    const HOOKS: &[(&str, &[&str])] = &[("hooks.example.com", &["127.0.0.1"])];
    let (default, _) = table_client(UrlPolicy::new(), HOOKS);
    assert_eq!(
        host_refused(default.get(&safe).await),
        addr(AddressClass::Loopback)
    );
}

#[tokio::test]
async fn an_allowed_fetch_connects_once_to_the_vetted_address() {
    let up = Upstream::start("127.0.0.1:0", |seen| {
        ok(&format!("hello from {}", seen.path))
    })
    .await;
    let p = up.port();
    const TABLE: &[(&str, &[&str])] = &[("app.test.example", &["127.0.0.1"])];
    let (client, lookups) = table_client(test_policy(&[p]), TABLE);

    let page = client
        .get(format!("http://app.test.example:{p}/page?x=1"))
        .await
        .unwrap();
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "text/plain");
    assert_eq!(&page.body[..], b"hello from /page?x=1");
    assert_eq!(
        page.final_url.as_str(),
        format!("http://app.test.example:{p}/page?x=1")
    );
    assert_eq!(lookups.load(Ordering::SeqCst), 1, "one lookup, no second");
    assert_eq!(up.accepted(), 1);

    // An IP literal never reaches the resolver.
    let page = client
        .get(format!("http://127.0.0.1:{p}/lit"))
        .await
        .unwrap();
    assert_eq!(&page.body[..], b"hello from /lit");
    assert_eq!(lookups.load(Ordering::SeqCst), 1);
    assert_eq!(up.accepted(), 2);
}

// ---------------------------------------------------------------------------
// Redirects.

#[tokio::test]
async fn redirects_to_internal_places_are_refused_before_connecting() {
    let inner = Upstream::start("[::1]:0", |_| ok("internal")).await;
    let inner_v4 = Upstream::start("127.0.0.2:0", |_| ok("internal")).await;
    let (p2, p3) = (inner.port(), inner_v4.port());
    let up = Upstream::start("127.0.0.1:0", move |seen| {
        let port = seen.port;
        match seen.path.as_str() {
            "/v6" => redirect(&format!("http://[::1]:{p2}/")),
            "/v4" => redirect(&format!("http://127.0.0.2:{p3}/")),
            "/mapped" => redirect(&format!("http://[::ffff:127.0.0.2]:{p3}/")),
            "/decimal" => redirect(&format!("http://2130706434:{p3}/")),
            "/name" => redirect(&format!("http://internal.test.example:{p2}/")),
            "/localhost" => redirect(&format!("http://localhost:{p2}/")),
            "/scheme" => redirect("file:///etc/passwd"),
            "/port" => redirect("http://127.0.0.1:1/"),
            "/metadata" => redirect("http://169.254.169.254/latest/meta-data/"),
            "/metadata-port" => redirect(&format!("http://169.254.169.254:{port}/latest/")),
            "/relative" => redirect("/final"),
            "/named-ok" => redirect(&format!("http://app.test.example:{port}/final")),
            "/final" => ok("final"),
            _ => status(404),
        }
    })
    .await;
    let p = up.port();
    const TABLE: &[(&str, &[&str])] = &[
        ("internal.test.example", &["::1"]),
        ("app.test.example", &["127.0.0.1"]),
    ];
    let (client, _) = table_client(test_policy(&[p, p2, p3]), TABLE);

    let mut requests = 0;
    // A hop to a host name is checked by name, then resolved by the same
    // vetting resolver as the first URL.
    let result = client.get(format!("http://127.0.0.1:{p}/name")).await;
    assert_eq!(host_refused(result), addr(AddressClass::Loopback));
    requests += 1;
    for (path, why) in [
        ("/v6", addr(AddressClass::Loopback)),
        ("/v4", addr(AddressClass::Loopback)),
        ("/mapped", addr(AddressClass::Loopback)),
        ("/decimal", addr(AddressClass::Loopback)),
        ("/localhost", UrlRefusal::DeniedHost),
        ("/port", UrlRefusal::Port { port: 1 }),
        ("/metadata", addr(AddressClass::LinkLocal)),
        ("/metadata-port", addr(AddressClass::LinkLocal)),
    ] {
        let result = client.get(format!("http://127.0.0.1:{p}{path}")).await;
        assert!(
            matches!(&result, Err(FetchError::Refused(_))),
            "{path}: {result:?}"
        );
        assert_eq!(refused(result), why, "{path}");
        requests += 1;
    }
    // A Location reqwest cannot follow at all is not followed: the 3xx is
    // the final answer, an upstream failure.
    let error = upstream(client.get(format!("http://127.0.0.1:{p}/scheme")).await);
    assert!(
        matches!(error, UpstreamError::Status(s) if s == StatusCode::FOUND),
        "{error:?}"
    );
    requests += 1;
    assert_eq!(inner.accepted(), 0, "a refused hop reached [::1]");
    assert_eq!(inner_v4.accepted(), 0, "a refused hop reached 127.0.0.2");
    assert_eq!(up.accepted(), requests);

    // Allowed hops are followed, a host name hop through the same resolver.
    for path in ["/relative", "/named-ok"] {
        let page = client
            .get(format!("http://127.0.0.1:{p}{path}"))
            .await
            .unwrap();
        assert_eq!(&page.body[..], b"final", "{path}");
        assert_eq!(page.final_url.path(), "/final");
    }
}

#[tokio::test]
async fn redirect_chains_are_capped() {
    let up = Upstream::start("127.0.0.1:0", |seen| {
        // /hop/N redirects to /hop/N+1 until /hop/3 answers; /loop/N never ends.
        let mut parts = seen.path.trim_start_matches('/').split('/');
        let (kind, n) = (
            parts.next(),
            parts.next().and_then(|n| n.parse::<u32>().ok()),
        );
        match (kind, n) {
            (Some("hop"), Some(3)) => ok("landed"),
            (Some(kind @ ("hop" | "loop")), Some(n)) => redirect(&format!("/{kind}/{}", n + 1)),
            _ => status(404),
        }
    })
    .await;
    let p = up.port();
    let three = SafeClient::builder(test_policy(&[p]))
        .max_redirects(3)
        .build()
        .unwrap();

    let page = three
        .get(format!("http://127.0.0.1:{p}/hop/0"))
        .await
        .unwrap();
    assert_eq!(&page.body[..], b"landed");
    assert_eq!(page.final_url.path(), "/hop/3");
    assert_eq!(up.accepted(), 4);

    let error = upstream(three.get(format!("http://127.0.0.1:{p}/loop/0")).await);
    assert!(
        matches!(error, UpstreamError::TooManyRedirects { max: 3 }),
        "{error:?}"
    );
    assert_eq!(up.accepted(), 8, "the first URL and exactly three hops");

    let none = SafeClient::builder(test_policy(&[p]))
        .max_redirects(0)
        .build()
        .unwrap();
    let error = upstream(none.get(format!("http://127.0.0.1:{p}/hop/2")).await);
    assert!(matches!(error, UpstreamError::TooManyRedirects { max: 0 }));
    assert_eq!(up.accepted(), 9);
}

#[tokio::test]
async fn no_ambient_credentials_are_sent_on_any_hop() {
    let up = Upstream::start("127.0.0.1:0", |seen| match seen.path.as_str() {
        "/first?token=SECRET" => redirect_with(
            "/second",
            "Set-Cookie: session=abc; Path=/\r\nWWW-Authenticate: Basic realm=\"x\"\r\n",
        ),
        _ => ok("second"),
    })
    .await;
    let p = up.port();
    let client = SafeClient::builder(test_policy(&[p]))
        .user_agent("webhook-bot/1.0")
        .build()
        .unwrap();
    let page = client
        .get(format!("http://127.0.0.1:{p}/first?token=SECRET"))
        .await
        .unwrap();
    assert_eq!(&page.body[..], b"second");

    let heads = up.heads();
    assert_eq!(heads.len(), 2);
    assert!(
        heads[1].starts_with("GET /second HTTP/1.1\r\n"),
        "{}",
        heads[1]
    );
    for head in &heads {
        let lower = head.to_ascii_lowercase();
        assert!(
            lower.contains("\r\nuser-agent: webhook-bot/1.0\r\n"),
            "{head}"
        );
        for header in [
            "cookie:",
            "authorization:",
            "proxy-authorization:",
            "referer:",
        ] {
            assert!(!lower.contains(header), "sent {header} in {head}");
        }
        assert!(
            !head[head.find("\r\n").unwrap()..].contains("SECRET"),
            "{head}"
        );
    }
}

// ---------------------------------------------------------------------------
// Limits.

#[tokio::test]
async fn response_bodies_are_capped_while_streaming() {
    const LIMIT: usize = 1024;
    const HUGE: usize = 64 * 1024 * 1024;
    let written = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (w, d) = (Arc::clone(&written), Arc::clone(&done));
    let up = Upstream::start("127.0.0.1:0", move |seen| match seen.path.as_str() {
        "/exact" => ok(&"a".repeat(LIMIT)),
        "/one-over" => ok(&"a".repeat(LIMIT + 1)),
        "/declared-huge" => Reply::Raw(
            "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\nConnection: close\r\n\r\n"
                .to_owned(),
        ),
        "/stream" => Reply::Stream {
            total: HUGE,
            written: Arc::clone(&w),
            done: Arc::clone(&d),
        },
        _ => status(404),
    })
    .await;
    let p = up.port();
    let client = SafeClient::builder(test_policy(&[p]))
        .max_response_bytes(LIMIT)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = |path: &str| format!("http://127.0.0.1:{p}{path}");

    let page = client.get(url("/exact")).await.unwrap();
    assert_eq!(page.body.len(), LIMIT);
    for path in ["/one-over", "/declared-huge", "/stream"] {
        let started = Instant::now();
        let error = upstream(client.get(url(path)).await);
        assert!(
            matches!(error, UpstreamError::TooLarge { limit: LIMIT }),
            "{path}: {error:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2), "{path}");
    }

    // The client hung up: the upstream's writes failed long before the end.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(done.load(Ordering::SeqCst), "the upstream is still writing");
    let sent = written.load(Ordering::SeqCst);
    assert!(
        sent < HUGE / 2,
        "the client kept reading: {sent} bytes sent"
    );
}

#[tokio::test]
async fn a_silent_upstream_times_out_quickly() {
    let up = Upstream::start("127.0.0.1:0", |_| Reply::Hang).await;
    let p = up.port();
    let client = SafeClient::builder(test_policy(&[p]))
        .timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = upstream(client.get(format!("http://127.0.0.1:{p}/")).await);
    assert!(matches!(error, UpstreamError::Timeout), "{error:?}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert_eq!(up.accepted(), 1);
}

#[tokio::test]
async fn error_statuses_and_broken_upstreams_are_upstream_failures() {
    let up = Upstream::start("127.0.0.1:0", |seen| match seen.path.as_str() {
        "/gone" => status(404),
        "/broken" => status(500),
        _ => Reply::Raw("this is not http\r\n\r\n".to_owned()),
    })
    .await;
    let p = up.port();
    let client = client(test_policy(&[p]));
    for (path, want) in [("/gone", 404), ("/broken", 500)] {
        let error = upstream(client.get(format!("http://127.0.0.1:{p}{path}")).await);
        assert!(
            matches!(error, UpstreamError::Status(s) if s.as_u16() == want),
            "{path}: {error:?}"
        );
    }
    let error = upstream(client.get(format!("http://127.0.0.1:{p}/garbage")).await);
    assert!(matches!(error, UpstreamError::Request(_)), "{error:?}");
    assert!(!error.to_string().contains("127.0.0.1"), "{error}");

    // Nothing listens on a closed port: a connection failure, not a refusal.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let q = closed.local_addr().unwrap().port();
    drop(closed);
    let client = SafeClient::builder(test_policy(&[q])).build().unwrap();
    let error = upstream(client.get(format!("http://127.0.0.1:{q}/")).await);
    assert!(matches!(error, UpstreamError::Connect(_)), "{error:?}");
}

#[tokio::test]
async fn https_goes_through_the_ring_tls_stack() {
    // A plain-HTTP listener: the handshake fails, proving the TLS stack is
    // configured (no crypto provider panic) and the failure is the upstream's.
    let up = Upstream::start("127.0.0.1:0", |_| ok("plain")).await;
    let p = up.port();
    let client = client(test_policy(&[p]));
    let error = upstream(client.get(format!("https://127.0.0.1:{p}/")).await);
    assert!(matches!(error, UpstreamError::Connect(_)), "{error:?}");
    assert_eq!(up.accepted(), 1);
}

// ---------------------------------------------------------------------------
// Through a guarded axum route: 400 `url_not_allowed` and 502.

static DEMO: OnceLock<(SafeClient, String)> = OnceLock::new();

/// The `{which}` path parameter.
#[derive(serde::Deserialize, validator::Validate)]
struct WhichParam {
    which: String,
}

#[secure_route(public = "outbound fetch demo", fetch)]
async fn fetch_demo(
    ValidPath(WhichParam { which }): ValidPath<WhichParam>,
) -> Result<String, GuardError> {
    let (client, base) = DEMO.get().ok_or_else(|| GuardError::internal("no demo"))?;
    let url = match which.as_str() {
        "metadata" => "http://169.254.169.254/latest/meta-data/iam/".to_owned(),
        "loopback" => "http://[::1]/admin?token=SECRET".to_owned(),
        "missing" => format!("{base}/missing?token=SECRET"),
        _ => format!("{base}/ok"),
    };
    let page = client.get(url).await?;
    Ok(String::from_utf8_lossy(&page.body).into_owned())
}

#[tokio::test]
async fn a_route_maps_refusals_to_400_and_upstream_failures_to_502() {
    let up = Upstream::start("127.0.0.1:0", |seen| match seen.path.as_str() {
        "/ok" => ok("fetched"),
        _ => status(404),
    })
    .await;
    let p = up.port();
    let base = format!("http://127.0.0.1:{p}");
    DEMO.set((client(test_policy(&[p])), base)).ok().unwrap();
    let app: guard_axum::GuardedApp = GuardedRouter::new()
        .route("/fetch/{which}", get(fetch_demo))
        .build()
        .unwrap();

    let call = |which: &str| {
        let request = Request::get(format!("/fetch/{which}"))
            .body(Body::empty())
            .unwrap();
        let app = app.clone();
        async move {
            let reply = send(&app, request).await;
            (reply.status, reply.body)
        }
    };

    assert_eq!(call("ok").await, (StatusCode::OK, "fetched".to_owned()));
    for which in ["metadata", "loopback"] {
        assert_eq!(
            call(which).await,
            (
                StatusCode::BAD_REQUEST,
                r#"{"error":"url_not_allowed"}"#.to_owned()
            ),
            "{which}"
        );
    }
    let (status, body) = call("missing").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = json["error_id"].as_str().unwrap();
    assert_eq!(
        body,
        format!(r#"{{"error":"bad_gateway","error_id":"{id}"}}"#)
    );
    assert_eq!(up.accepted(), 2);
}

// ---------------------------------------------------------------------------
// No internal host-name oracle: one answer for every host-name failure.

/// A client whose "DNS" is a table, with no address allowance: a name that
/// resolves to 127.0.0.1 is refused after resolution; a name missing from
/// the table fails like NXDOMAIN; `slow.test.example` never answers.
static LOOKUP: OnceLock<(SafeClient, u16)> = OnceLock::new();

/// The `{host}` path parameter.
#[derive(serde::Deserialize, validator::Validate)]
struct HostParam {
    host: String,
}

#[secure_route(public = "outbound fetch by host name", fetch)]
async fn lookup_demo(
    ValidPath(HostParam { host }): ValidPath<HostParam>,
) -> Result<String, GuardError> {
    let (client, port) = LOOKUP
        .get()
        .ok_or_else(|| GuardError::internal("no demo"))?;
    let page = client
        .get(format!("http://{host}:{port}/hook?token=SECRET"))
        .await?;
    Ok(String::from_utf8_lossy(&page.body).into_owned())
}

#[tokio::test]
async fn a_name_resolving_inside_and_a_name_that_does_not_resolve_get_the_same_bytes() {
    let log = global_log(tracing::Level::DEBUG);
    let up = Upstream::start("127.0.0.1:0", |_| ok("reached")).await;
    let p = up.port();
    let lookups = Arc::new(AtomicUsize::new(0));
    let calls = Arc::clone(&lookups);
    let client = SafeClient::builder(open_ports(&[p]))
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_millis(200))
        .resolve_with(move |host: String| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                let answer: &[&str] = match host.as_str() {
                    "internal.test.example" => &["127.0.0.1"],
                    "private.test.example" => &["10.0.0.5"],
                    "rebind.test.example" => &["93.184.215.14", "127.0.0.1"],
                    "metadata.test.example" => &["169.254.169.254"],
                    "empty.test.example" => &[],
                    "slow.test.example" => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        &["93.184.215.14"]
                    }
                    // `nonexistent.invalid` and every other name: NXDOMAIN.
                    _ => return Err(io::Error::new(io::ErrorKind::NotFound, "nxdomain")),
                };
                Ok(answer.iter().map(|ip| ip.parse().unwrap()).collect())
            }
        })
        .build()
        .unwrap();

    // The same client, directly: the two cases are different failures, kept
    // for the log, and neither is an upstream failure.
    let url = |host: &str| format!("http://{host}:{p}/hook?token=SECRET");
    assert_eq!(
        host_refused(client.get(url("internal.test.example")).await),
        addr(AddressClass::Loopback)
    );
    assert!(matches!(
        unusable(client.get(url("nonexistent.invalid")).await),
        HostFailure::Unresolved(_)
    ));
    let before = lookups.load(Ordering::SeqCst);

    LOOKUP.set((client, p)).ok().unwrap();
    let app: guard_axum::GuardedApp = GuardedRouter::new()
        .route("/lookup/{host}", get(lookup_demo))
        .build()
        .unwrap();
    let call = |host: &str| {
        let request = Request::get(format!("/lookup/{host}"))
            .body(Body::empty())
            .unwrap();
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let mut headers = response.headers().clone();
            headers.remove(http::header::DATE);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, headers, body)
        }
    };

    let internal = call("internal.test.example").await;
    let missing = call("nonexistent.invalid").await;
    assert_eq!(internal.0, StatusCode::BAD_REQUEST);
    assert_eq!(&internal.2[..], br#"{"error":"url_not_allowed"}"#);
    assert_eq!(missing.0, internal.0, "status");
    assert_eq!(missing.2, internal.2, "body bytes");
    assert_eq!(missing.1, internal.1, "headers");

    // Every other way a host name can fail, and a refusal the URL alone
    // decides (which tells the caller nothing it did not send), answer the
    // very same bytes.
    for host in [
        "private.test.example",
        "rebind.test.example",
        "metadata.test.example",
        "empty.test.example",
        "slow.test.example",
        "other-missing.test.example",
        "localhost",
        "10.0.0.5",
    ] {
        let started = Instant::now();
        let reply = call(host).await;
        assert_eq!(
            (reply.0, &reply.1, &reply.2),
            (internal.0, &internal.1, &internal.2),
            "{host}"
        );
        assert!(started.elapsed() < Duration::from_secs(2), "{host}");
    }
    // Six names looked up (two resolved, by table, before the routes ran);
    // `localhost` and the literal never reach the resolver.
    assert_eq!(lookups.load(Ordering::SeqCst) - before, 2 + 6);
    assert_eq!(up.accepted(), 0, "nothing was connected to");

    // The difference is in the log, without the URL or its token.
    let text = log.text();
    assert!(
        text.contains(
            "url host resolved to refused addresses: url address is not allowed (loopback)"
        ),
        "{text}"
    );
    assert!(
        text.contains("url host did not resolve: nxdomain"),
        "{text}"
    );
    assert!(
        text.contains("url host did not resolve: lookup timed out"),
        "{text}"
    );
    assert!(!text.contains("SECRET"), "{text}");
}
