//! [`GuardedRouter`]: routes of guarded handlers only, with router-wide
//! layers applied when the router is built.
//!
//! `mod.rs` holds the router and its settings, `compose.rs` merging,
//! nesting, mounted services and the fallback, `build.rs` the checks, the
//! report and the build, `path.rs` the path rules axum enforces.

mod build;
mod compose;
mod length;
mod path;
mod stack;

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::Route;
use guard_core::Authenticator;
use guard_core::csrf::{CsrfPolicy, is_unsafe_method};
use guard_core::report::{CSRF_ORIGIN, RouteEntry};
use tower::{Layer, Service};

use crate::cors::CorsPolicy;
use crate::extract::{AllowIdentityFields, BodyLimit};
use crate::guards::Guards;
use crate::headers::SecurityHeaders;
use crate::rate_limit::{FailMode, LimitsConfig, RateBackend, ResolvedLimits};
use crate::routing::{Entry, IntoGuardedMethodRouter};
use crate::trace::SensitiveHeaders;
use crate::upload::{UploadLimits, UploadStore};
use guard_core::RouteSpec;
use guard_core::client_ip::ClientIpConfig;
use guard_core::validate::FieldDetail;

/// The default cap on a request's time.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

type RouterLayer<S> = Box<dyn FnOnce(Router<S>) -> Router<S> + Send>;

/// A router that takes guarded handlers only.
///
/// Router-wide layers given with [`GuardedRouter::layer`] are applied when
/// the router is built, after every route is added, so no route can end up
/// outside them (axum's `Router::layer` wraps only the routes added before
/// it, a known cause of unauthenticated routes). [`GuardedRouter::build`]
/// returns a [`GuardedApp`](crate::GuardedApp), which takes no more routes (so none can end up
/// outside the guards), or a [`BuildError`] listing every problem at once.
/// Compose routers before building with [`GuardedRouter::merge`],
/// [`GuardedRouter::nest`], [`GuardedRouter::nest_service`] and
/// [`GuardedRouter::fallback`].
///
/// The router always adds: a generic 404 fallback, a generic 405 for a known
/// path with an unrouted method, a panic catcher that answers the generic
/// 500 with an error id, a request timeout (408), the security headers on
/// every response, sensitive headers marked for logs, a request span that
/// logs a client's `X-Request-Id` beside (never as) the error id, and CORS
/// when a policy is given.
#[must_use]
pub struct GuardedRouter<S = ()> {
    routes: Vec<(String, Vec<Entry<S>>)>,
    authenticator: Option<Arc<dyn Authenticator>>,
    layers: Vec<RouterLayer<S>>,
    settings: Vec<(String, String)>,
    headers: SecurityHeaders,
    cors: Option<CorsPolicy>,
    timeout: Option<Duration>,
    sensitive: SensitiveHeaders,
    limits: LimitsConfig,
    rate_backend: Option<Arc<dyn RateBackend>>,
    rate_fail_mode: FailMode,
    client_ip: Option<ClientIpConfig>,
    upload_store: Option<UploadStore>,
    field_detail: FieldDetail,
    /// Public services mounted with [`GuardedRouter::nest_service`].
    services: Vec<ServiceEntry<S>>,
    /// The guarded fallback, for paths no route matches.
    fallback: Option<FallbackEntry<S>>,
    /// Router-wide settings called on this router, by name: a router
    /// merged or nested into another must have none (they would be lost).
    configured: Vec<&'static str>,
    /// Problems found while composing, reported by `build`.
    compose_problems: Vec<String>,
    /// Origins besides the service's own that cookie-authenticated unsafe
    /// requests may come from (the CORS allowlist's are added at build).
    csrf: CsrfPolicy,
}

/// Mounts a service at the path given (its final one, after any `nest`).
type MountService<S> = Box<dyn FnOnce(Router<S>, &str) -> Router<S> + Send>;
type AttachFallback<S> = Box<dyn FnOnce(Router<S>, Guards) -> Router<S> + Send>;

struct ServiceEntry<S> {
    path: String,
    spec: RouteSpec,
    mount: MountService<S>,
}

struct FallbackEntry<S> {
    spec: &'static RouteSpec,
    attach: AttachFallback<S>,
}

/// The method and path the report gives a router's fallback.
const FALLBACK_METHOD: &str = "ANY";
const FALLBACK_PATH: &str = "/{*fallback}";

/// Whether requests of `method` to a route of `spec` get the cross-site
/// request check under a cookie authenticator: every route that did not
/// opt out, public or `auth`, of an unsafe method (the fallback's `ANY`
/// included; its safe requests pass the check itself). One rule for the
/// build and the report, so a row says `csrf: origin checked` exactly where
/// the check runs.
fn csrf_checked(method: &str, spec: &RouteSpec) -> bool {
    let unsafe_method = http::Method::from_bytes(method.as_bytes())
        .map_or(true, |method| is_unsafe_method(&method));
    unsafe_method && spec.csrf_checked_under_cookies()
}

impl<S> fmt::Debug for GuardedRouter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedRouter")
            .field(
                "routes",
                &self.routes.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            )
            .field(
                "authenticator",
                &self.authenticator.as_ref().map(|a| a.describe()),
            )
            .finish_non_exhaustive()
    }
}

impl<S> Default for GuardedRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

/// The router could not be built; every problem is listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    problems: Vec<String>,
}

impl BuildError {
    /// Each problem, one sentence naming the route or setting.
    #[must_use]
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "the router has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}

impl<S> GuardedRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// An empty router.
    pub fn new() -> Self {
        Self {
            routes: Vec::new(),
            authenticator: None,
            layers: Vec::new(),
            settings: Vec::new(),
            headers: SecurityHeaders::default(),
            cors: None,
            timeout: Some(DEFAULT_TIMEOUT),
            sensitive: SensitiveHeaders::new(),
            limits: LimitsConfig::new(),
            rate_backend: None,
            rate_fail_mode: FailMode::Closed,
            client_ip: None,
            upload_store: None,
            field_detail: FieldDetail::default(),
            services: Vec::new(),
            fallback: None,
            configured: Vec::new(),
            compose_problems: Vec::new(),
            csrf: CsrfPolicy::new(),
        }
    }

    /// Trusts these origins (`https://app.example.com`) for unsafe requests
    /// under a cookie authenticator (to `auth` and public routes alike),
    /// besides the service's own origin (the request's `Host`) and the CORS
    /// policy's exact origins: for a front end on another origin, or for
    /// the public origin when a proxy rewrites `Host`. A request from any other origin gets
    /// 403 `{"error":"forbidden"}` before authentication (see
    /// [`guard_core::csrf`]). An origin that is not exactly
    /// `scheme://host[:port]` is a build problem.
    pub fn csrf_trusted_origins<I>(mut self, origins: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.configured.push("csrf_trusted_origins");
        for origin in origins {
            let origin = origin.as_ref();
            match std::mem::take(&mut self.csrf).trust_origin(origin) {
                Ok(policy) => self.csrf = policy,
                Err(err) => {
                    self.compose_problems
                        .push(format!("csrf trusted origin `{origin}`: {err}"));
                }
            }
        }
        self
    }

    /// The cross-site request check every route of an unsafe method of this
    /// router runs (unless it opted out), if its authenticator uses cookies.
    fn csrf_policy(&self) -> Option<Arc<CsrfPolicy>> {
        let cookies = self.authenticator.as_ref()?.uses_cookies();
        cookies.then(|| {
            let policy = self.csrf.clone();
            Arc::new(match &self.cors {
                Some(cors) => policy.trust_cors(cors),
                None => policy,
            })
        })
    }

    /// Marks a report row whose unsafe requests are checked for cross-site
    /// forgery, public or `auth` (the build attaches the check to exactly
    /// these rows); an exempt row already says why (`RouteEntry::new`).
    fn mark_csrf(&self, entry: &mut RouteEntry, spec: &RouteSpec) {
        let cookies = self
            .authenticator
            .as_ref()
            .is_some_and(|auth| auth.uses_cookies());
        if cookies && csrf_checked(&entry.method, spec) {
            entry.csrf = Some(CSRF_ORIGIN.to_owned());
        }
    }

    /// Where `upload(...)` routes store files; required when any route
    /// declares an upload.
    pub fn upload_store(mut self, store: UploadStore) -> Self {
        self.configured.push("upload_store");
        self.upload_store = Some(store);
        self
    }

    /// Whether a 400 lists the failing field names and validation codes
    /// (the default) or is the bare `{"error":"invalid_input"}`.
    pub fn field_detail(mut self, detail: FieldDetail) -> Self {
        self.configured.push("field_detail");
        self.field_detail = detail;
        self
    }

    /// Per-route settings the extractors read from the request's extensions:
    /// the body cap, the identity fields the body may carry, the upload
    /// limits and store.
    fn route_extensions(&self, method: &str, spec: &RouteSpec) -> http::Extensions {
        let mut extensions = http::Extensions::new();
        let reads_body = spec.body_spec().is_some()
            || spec.upload_spec().is_some()
            || spec.declared_body_limit().is_some()
            || !guard_core::spec::method_has_no_body(method);
        // Query and path errors need it on every route, bodiless ones too.
        if self.field_detail != FieldDetail::default() {
            extensions.insert(self.field_detail);
        }
        if !reads_body {
            // Nothing else to hand the extractors: with the default field
            // detail, no per-request copy at all.
            return extensions;
        }
        let mut limit = spec.effective_body_limit();
        if let Some(upload) = spec.upload_spec()
            && let Ok(limits) = UploadLimits::from_spec(&upload)
        {
            // The multipart envelope around the file may exceed the file's cap.
            limit = limit.max(limits.body_limit());
            extensions.insert(limits);
            if let Some(store) = &self.upload_store {
                extensions.insert(store.clone());
            }
        }
        BodyLimit(usize::try_from(limit).unwrap_or(usize::MAX)).apply_to(&mut extensions);
        if let Some(body) = spec.body_spec()
            && !body.allowed_identity_fields.is_empty()
        {
            extensions.insert(AllowIdentityFields(body.allowed_identity_fields));
        }
        extensions
    }

    /// Operator overrides of routes' rates and quotas, keyed by
    /// `"METHOD /path"`; an override naming no route is a build problem.
    pub fn rate_limits(mut self, limits: LimitsConfig) -> Self {
        self.configured.push("rate_limits");
        self.limits = limits;
        self
    }

    /// The operator overrides set by [`rate_limits`](Self::rate_limits)
    /// (empty by default), for a face that enforces the same routes' limits
    /// outside the router (guard-leptos' direct server-function calls).
    #[must_use]
    pub fn limits_config(&self) -> &LimitsConfig {
        &self.limits
    }

    /// Where rate-limit decisions are made: in memory (the default) or a
    /// shared backend such as `rate_limit::RedisBackend` (feature `redis`)
    /// for many instances. Handed over by value like the authenticator and
    /// the upload store; an `Arc` of a backend is a backend, to share one.
    pub fn rate_backend(mut self, backend: impl RateBackend) -> Self {
        self.configured.push("rate_backend");
        self.rate_backend = Some(Arc::new(backend));
        self
    }

    /// What a route does when its rate backend fails: [`FailMode::Closed`]
    /// (the default: 503 `{"error":"unavailable"}`) or [`FailMode::Open`].
    pub fn rate_fail_mode(mut self, mode: FailMode) -> Self {
        self.configured.push("rate_fail_mode");
        self.rate_fail_mode = mode;
        self
    }

    /// How the client IP is found: the socket peer by default; behind a
    /// reverse proxy, configure its CIDRs here so its `X-Forwarded-For` is
    /// believed (and nobody else's). The server must be run with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn client_ip(mut self, config: ClientIpConfig) -> Self {
        self.configured.push("client_ip");
        self.client_ip = Some(config);
        self
    }

    fn resolved_limits(&self, method: &str, path: &str, spec: &RouteSpec) -> ResolvedLimits {
        self.limits
            .resolve(method, path, spec.rate_limits(), spec.requires_auth())
    }

    /// Replaces the security-header policy (default: the OWASP API set,
    /// see [`crate::headers`]). Override single headers with
    /// `SecurityHeaders::default().set(…)?` rather than starting empty.
    pub fn security_headers(mut self, policy: SecurityHeaders) -> Self {
        self.configured.push("security_headers");
        self.headers = policy;
        self
    }

    /// Answers cross-origin requests by this policy (exact origins only;
    /// dangerous policies cannot be built). No policy: no CORS headers, so
    /// browsers refuse cross-origin reads.
    pub fn cors(mut self, policy: CorsPolicy) -> Self {
        self.configured.push("cors");
        self.cors = Some(policy);
        self
    }

    /// Caps the time a request may take: 408 `{"error":"request_timeout"}`
    /// past it. Default 30 s; `None` removes the cap.
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.configured.push("request_timeout");
        self.timeout = timeout;
        self
    }

    /// Headers kept out of logs besides `Authorization`, `Cookie`,
    /// `Set-Cookie` and `Proxy-Authorization`.
    pub fn sensitive_headers(mut self, headers: SensitiveHeaders) -> Self {
        self.configured.push("sensitive_headers");
        self.sensitive = headers;
        self
    }

    /// Adds guarded handlers for a path (axum 0.8 syntax: `/projects/{project}`).
    /// Adding the same path twice merges the methods; the same method twice
    /// is reported when the router is built.
    pub fn route(mut self, path: &str, methods: impl IntoGuardedMethodRouter<S>) -> Self {
        let entries = methods.into_guarded().entries;
        match self.routes.iter_mut().find(|(p, _)| p == path) {
            Some((_, existing)) => existing.extend(entries),
            None => self.routes.push((path.to_owned(), entries)),
        }
        self
    }

    /// Sets how `auth` routes resolve their principal.
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.configured.push("authenticator");
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// Adds a router-wide layer. Layers are applied when the router is built,
    /// around every route whatever the order of calls; the first added is the
    /// innermost.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.configured.push("layer");
        self.layers
            .push(Box::new(move |router| router.layer(layer)));
        self
    }

    /// Records a router-wide setting for the route report (`name: value`).
    pub fn describe(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.configured.push("describe");
        self.settings.push((name.into(), value.into()));
        self
    }
}
