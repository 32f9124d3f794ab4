//! Attack requests generated from a router's report (feature `testing`).
//!
//! Given a built [`GuardedApp`] (which carries its [`RouteReport`]), two logged-in clients and one
//! resource per user, [`AttackSuite`] sends, for every guarded route, the
//! requests an attacker would send, and reports which route failed which
//! check:
//!
//! | route declares | request | expected |
//! |---|---|---|
//! | `auth` | no credentials | 401 `{"error":"unauthenticated"}` |
//! | `owner` | user A's credentials, user B's id (on a `body = T` route with the body `{}`, since the body is validated before the lookup) | 404, byte-identical to a nonexistent id's 404 |
//! | `body = T` | an unknown field; an identity field (`owner_id`) | 400 |
//! | `upload(...)` | a JSON body instead of multipart | 415 |
//! | a rate | a burst past it, each request with a forged `X-Forwarded-For` | 429 with `Retry-After` |
//! | the CSRF check (`csrf: origin` in the report) | user A's credentials from another site's page | 403 `{"error":"forbidden"}` |
//!
//! Every other request is sent as from the service's own page
//! (`Sec-Fetch-Site: same-origin`), so a cookie-authenticated route answers
//! its real refusal rather than the cross-site one.
//! The requests go through the router in-process (tower `oneshot`) from one
//! socket peer that no proxy configuration trusts, so the forged header must
//! not change the rate-limit key.
//!
//! ```ignore
//! let failures = AttackSuite::new(app)
//!     .user_a(|req| req.header("cookie", &cookie_a))
//!     .user_b(|req| req.header("cookie", &cookie_b))
//!     .resource("project", "1", "2") // A's project 1, B's project 2
//!     .run()
//!     .await;
//! assert!(failures.is_empty(), "{failures:#?}");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::GuardedApp;
use axum::body::Body;
use axum::extract::ConnectInfo;
use guard_core::rate::{QuotaSpec, RateSpec};
use guard_core::report::{CSRF_ORIGIN, RouteEntry, RouteReport};
use http::request::Builder;
use http::{HeaderMap, Request, StatusCode, header};
use tower::ServiceExt as _;

type Credentials = Arc<dyn Fn(Builder) -> Builder + Send + Sync>;

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `"GET /api/projects/{project}"`.
    pub route: String,
    /// What was tried (`"no credentials"`, `"another user's id"`, …).
    pub check: &'static str,
    /// What came back instead.
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.route, self.check, self.detail)
    }
}

/// Fetch metadata of a request from the service's own page.
const SAME_ORIGIN: &[(&str, &str)] = &[("sec-fetch-site", "same-origin")];
/// What a browser sends when another site's page submits to the service.
const CROSS_SITE: &[(&str, &str)] = &[
    ("sec-fetch-site", "cross-site"),
    ("origin", "https://guard-attack.invalid"),
];

/// The attack requests for a whole router.
#[must_use]
pub struct AttackSuite {
    router: GuardedApp,
    report: RouteReport,
    user_a: Option<Credentials>,
    user_b: Option<Credentials>,
    /// path parameter → (user A's id, user B's id)
    resources: HashMap<String, (String, String)>,
    peer: SocketAddr,
}

impl fmt::Debug for AttackSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttackSuite")
            .field("routes", &self.report.routes.len())
            .field("resources", &self.resources)
            .finish_non_exhaustive()
    }
}

/// A response, read whole.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn describe(&self) -> String {
        format!(
            "{} {}",
            self.status.as_u16(),
            String::from_utf8_lossy(&self.body)
        )
    }
}

impl AttackSuite {
    /// Attacks the built `app`, route by route from its own report.
    pub fn new(app: GuardedApp) -> Self {
        Self {
            report: app.report().clone(),
            router: app,
            user_a: None,
            user_b: None,
            resources: HashMap::new(),
            peer: SocketAddr::from(([203, 0, 113, 10], 40_000)),
        }
    }

    /// How user A's requests carry credentials (a cookie, a bearer token).
    pub fn user_a(
        mut self,
        credentials: impl Fn(Builder) -> Builder + Send + Sync + 'static,
    ) -> Self {
        self.user_a = Some(Arc::new(credentials));
        self
    }

    /// How user B's requests carry credentials.
    pub fn user_b(
        mut self,
        credentials: impl Fn(Builder) -> Builder + Send + Sync + 'static,
    ) -> Self {
        self.user_b = Some(Arc::new(credentials));
        self
    }

    /// A resource of each user for an owner path parameter.
    pub fn resource(
        mut self,
        param: &str,
        user_a_id: impl Into<String>,
        user_b_id: impl Into<String>,
    ) -> Self {
        self.resources
            .insert(param.to_owned(), (user_a_id.into(), user_b_id.into()));
        self
    }

    /// Runs every check on every route and returns the failures (empty when
    /// every refusal held).
    pub async fn run(self) -> Vec<Failure> {
        let mut failures = Vec::new();
        for route in &self.report.routes {
            self.attack(route, &mut failures).await;
        }
        failures
    }

    async fn attack(&self, route: &RouteEntry, failures: &mut Vec<Failure>) {
        let name = format!("{} {}", route.method, route.path);
        let mut fail = |check: &'static str, detail: String| {
            failures.push(Failure {
                route: name.clone(),
                check,
                detail,
            });
        };
        let own_path = self.path(&route.path, |(a, _)| a.clone());
        if route.access == "auth" {
            let reply = self.send(&route.method, &own_path, None, None, None).await;
            if reply.status != StatusCode::UNAUTHORIZED
                || reply.body != br#"{"error":"unauthenticated"}"#
            {
                fail("no credentials", reply.describe());
            }
        }
        if !route.owner.is_empty() {
            match &self.user_a {
                None => fail(
                    "another user's id",
                    "no credentials for user A were given".to_owned(),
                ),
                Some(a) => {
                    let foreign = self.path(&route.path, |(_, b)| b.clone());
                    let missing = self.path(&route.path, |_| "999999999".to_owned());
                    // The body is validated before the lookup: without one
                    // the probe would stop at the 415.
                    let body = route.body.as_ref().map(|_| "{}");
                    let foreign_reply = self
                        .send(&route.method, &foreign, Some(a), body, None)
                        .await;
                    let missing_reply = self
                        .send(&route.method, &missing, Some(a), body, None)
                        .await;
                    if foreign_reply.status != StatusCode::NOT_FOUND {
                        fail("another user's id", foreign_reply.describe());
                    } else if foreign_reply.body != missing_reply.body
                        || without_date(&foreign_reply.headers)
                            != without_date(&missing_reply.headers)
                    {
                        fail(
                            "another user's id answers like a nonexistent one",
                            format!(
                                "{} vs {}",
                                foreign_reply.describe(),
                                missing_reply.describe()
                            ),
                        );
                    }
                }
            }
        }
        if route.csrf.as_deref() == Some(CSRF_ORIGIN) {
            match &self.user_a {
                None => fail(
                    "a cross-site request",
                    "no credentials for user A were given".to_owned(),
                ),
                Some(a) => {
                    let reply = self
                        .send_from(&route.method, &own_path, Some(a), None, None, CROSS_SITE)
                        .await;
                    if reply.status != StatusCode::FORBIDDEN
                        || reply.body != br#"{"error":"forbidden"}"#
                    {
                        fail(
                            "a cross-site request with user A's cookie",
                            reply.describe(),
                        );
                    }
                }
            }
        }
        let credentials = if route.access == "auth" {
            self.user_a.as_ref()
        } else {
            None
        };
        if route.body.is_some() {
            for (check, body) in [
                (
                    "an unknown field in the body",
                    r#"{"guard_attack_unknown_field":1}"#,
                ),
                ("an identity field in the body", r#"{"owner_id":1}"#),
            ] {
                let allowed = route
                    .allowed_identity_fields
                    .iter()
                    .any(|f| body.contains(f.as_str()));
                if allowed {
                    continue;
                }
                let reply = self
                    .send(&route.method, &own_path, credentials, Some(body), None)
                    .await;
                if reply.status != StatusCode::BAD_REQUEST {
                    fail(check, reply.describe());
                }
            }
        }
        if route.upload.is_some() {
            let reply = self
                .send(&route.method, &own_path, credentials, Some("{}"), None)
                .await;
            if reply.status != StatusCode::UNSUPPORTED_MEDIA_TYPE {
                fail("a JSON body on an upload route", reply.describe());
            }
        }
        if let Some(burst) = largest_burst(route) {
            self.burst(route, &own_path, credentials, burst, &mut fail)
                .await;
        }
    }

    /// Sends up to twice the largest burst (plus slack for what earlier
    /// checks spent), each with a different forged `X-Forwarded-For`, and
    /// expects a 429 with `Retry-After` before the end.
    async fn burst(
        &self,
        route: &RouteEntry,
        path: &str,
        credentials: Option<&Credentials>,
        burst: u32,
        fail: &mut impl FnMut(&'static str, String),
    ) {
        let body = route
            .body
            .as_ref()
            .map(|_| r#"{"guard_attack_unknown_field":1}"#);
        let attempts = burst.saturating_mul(2).saturating_add(5).min(10_000);
        for n in 0..attempts {
            let forged = format!("198.18.{}.{}", (n / 250) % 250, n % 250 + 1);
            let reply = self
                .send(&route.method, path, credentials, body, Some(&forged))
                .await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                if !reply.headers.contains_key(header::RETRY_AFTER) {
                    fail(
                        "a burst past the rate",
                        "429 without Retry-After".to_owned(),
                    );
                }
                return;
            }
        }
        fail(
            "a burst past the rate with forged X-Forwarded-For",
            format!("{attempts} requests and no 429"),
        );
    }

    fn path(&self, template: &str, pick: impl Fn(&(String, String)) -> String) -> String {
        template
            .split('/')
            .map(|segment| {
                match segment
                    .strip_prefix('{')
                    .and_then(|s| s.strip_suffix('}'))
                    .map(|s| s.trim_start_matches('*'))
                {
                    Some(param) => self
                        .resources
                        .get(param)
                        .map_or_else(|| "guard-attack".to_owned(), &pick),
                    None => segment.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Sends as from the service's own page.
    async fn send(
        &self,
        method: &str,
        path: &str,
        credentials: Option<&Credentials>,
        body: Option<&str>,
        forwarded_for: Option<&str>,
    ) -> Reply {
        self.send_from(method, path, credentials, body, forwarded_for, SAME_ORIGIN)
            .await
    }

    async fn send_from(
        &self,
        method: &str,
        path: &str,
        credentials: Option<&Credentials>,
        body: Option<&str>,
        forwarded_for: Option<&str>,
        site: &[(&str, &str)],
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in site {
            builder = builder.header(*name, *value);
        }
        if let Some(credentials) = credentials {
            builder = credentials(builder);
        }
        if let Some(forged) = forwarded_for {
            builder = builder.header("x-forwarded-for", forged);
        }
        let request = match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_owned())),
            None => builder.body(Body::empty()),
        };
        let mut request = match request {
            Ok(request) => request,
            Err(err) => return error_reply(&format!("cannot build the request: {err}")),
        };
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let headers = response.headers().clone();
        match axum::body::to_bytes(response.into_body(), 1024 * 1024).await {
            Ok(body) => Reply {
                status,
                headers,
                body: body.to_vec(),
            },
            Err(err) => error_reply(&format!("cannot read the body: {err}")),
        }
    }
}

fn error_reply(message: &str) -> Reply {
    Reply {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        headers: HeaderMap::new(),
        body: message.as_bytes().to_vec(),
    }
}

/// The headers that must match between two 404s: all but the date and the
/// remaining rate budget, which differ from one request to the next anyway.
fn without_date(headers: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    let mut list: Vec<_> = headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "date" | "ratelimit"))
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    list.sort();
    list
}

/// The largest burst among the route's rates and quota, if any: the burst
/// must outlast every limit, since only some of them may apply to the
/// requests it sends.
fn largest_burst(route: &RouteEntry) -> Option<u32> {
    route
        .rates
        .iter()
        .filter_map(|rate| {
            if rate.kind == "quota" {
                QuotaSpec::parse(&rate.spec).ok().map(|q| q.count().get())
            } else {
                RateSpec::parse(&rate.spec).ok().map(|r| r.burst().get())
            }
        })
        .max()
}
