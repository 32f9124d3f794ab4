//! [`GuardedRouter`]: routes of guarded handlers only, with router-wide
//! layers applied when the router is built.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, Route};
use guard_core::csrf::{CsrfPolicy, is_unsafe_method};
use guard_core::report::{CSRF_ORIGIN, RouteEntry, RouteReport};
use guard_core::{Authenticator, GuardError};
use tower::{Layer, Service};

use crate::app::GuardedApp;
use crate::cors::{CorsPolicy, cors_layer};
use crate::extract::{AllowIdentityFields, BodyLimit, DefaultBodyCapLayer};
use crate::guards::Guards;
use crate::handler::{Guarded, GuardedFn, SecureHandler};
use crate::headers::{SecurityHeaderPolicy, SecurityHeadersLayer};
use crate::rate_limit::{
    ClientIpLayer, FailMode, LimitSource, LimitsConfig, MemoryBackend, RateBackend, RateGuard,
    ResolvedLimits,
};
use crate::routing::{Entry, IntoGuardedMethodRouter};
use crate::trace::{RequestSpanLayer, RequestTimeoutLayer, SensitiveHeaders};
use crate::upload::{UploadLimits, UploadStore};
use guard_core::RouteSpec;
use guard_core::client_ip::ClientIpConfig;
use guard_core::report::RateEntry;
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
/// returns a [`GuardedApp`], which takes no more routes (so none can end up
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
    headers: SecurityHeaderPolicy,
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
            headers: SecurityHeaderPolicy::default(),
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
    /// to `auth` routes under a cookie authenticator, besides the service's
    /// own origin (the request's `Host`) and the CORS policy's exact
    /// origins: for a front end on another origin, or for the public origin
    /// when a proxy rewrites `Host`. A request from any other origin gets
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

    /// The cross-site request check every `auth` route of this router runs,
    /// if its authenticator uses cookies.
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

    /// Whether `spec`'s unsafe requests are checked for cross-site forgery.
    fn csrf_checked(&self, spec: &RouteSpec) -> bool {
        spec.requires_auth()
            && spec.csrf_exemption().is_none()
            && self
                .authenticator
                .as_ref()
                .is_some_and(|auth| auth.uses_cookies())
    }

    /// The report's `csrf` cell of one route.
    fn csrf_entry(&self, method: &str, spec: &RouteSpec) -> Option<String> {
        let unsafe_method = http::Method::from_bytes(method.as_bytes())
            .map_or(true, |method| is_unsafe_method(&method));
        if self.csrf_checked(spec) && unsafe_method {
            Some(CSRF_ORIGIN.to_owned())
        } else {
            spec.csrf_exemption()
                .map(|reason| format!("none: {reason}"))
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

    /// Where rate-limit decisions are made: in memory (the default) or a
    /// shared backend such as `rate_limit::RedisBackend` (feature `redis`)
    /// for many instances.
    pub fn rate_backend(mut self, backend: Arc<dyn RateBackend>) -> Self {
        self.configured.push("rate_backend");
        self.rate_backend = Some(backend);
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
    /// `SecurityHeaderPolicy::default().set(…)?` rather than starting empty.
    pub fn security_headers(mut self, policy: SecurityHeaderPolicy) -> Self {
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

    /// Adds every route of `other` (its guarded handlers, services and
    /// fallback), as axum's `Router::merge`. Router-wide settings belong to
    /// the outermost router: a merged router that sets any (an
    /// authenticator, a layer, CORS, …) is a build problem, since they
    /// would silently not apply.
    pub fn merge(self, other: GuardedRouter<S>) -> Self {
        self.absorb("", other, "merged")
    }

    /// Adds every route of `other` under `prefix` (`/api` + `/users/{id}`
    /// = `/api/users/{id}`; `other`'s `/` becomes `/api`), as axum's
    /// `Router::nest`, each keeping its guards and appearing in the report
    /// with its full path. `other` must set no router-wide settings, and
    /// its fallback, if any, is a build problem (it would answer only for
    /// `prefix`; set the fallback on the outer router).
    pub fn nest(self, prefix: &str, other: GuardedRouter<S>) -> Self {
        self.absorb(prefix, other, "nested")
    }

    fn absorb(mut self, prefix: &str, mut other: GuardedRouter<S>, how: &str) -> Self {
        if !prefix.is_empty()
            && let Some(problem) = prefix_problem(prefix)
        {
            self.compose_problems.push(problem);
            return self;
        }
        if !other.configured.is_empty() {
            other.configured.dedup();
            self.compose_problems.push(format!(
                "a {how} router sets {}; router-wide settings go on the outermost router only",
                other
                    .configured
                    .iter()
                    .map(|name| format!("`.{name}(...)`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        self.compose_problems.append(&mut other.compose_problems);
        for (path, entries) in other.routes {
            let path = join(prefix, &path);
            match self.routes.iter_mut().find(|(p, _)| *p == path) {
                Some((_, existing)) => existing.extend(entries),
                None => self.routes.push((path, entries)),
            }
        }
        for mut service in other.services {
            service.path = join(prefix, &service.path);
            self.services.push(service);
        }
        if let Some(fallback) = other.fallback {
            if prefix.is_empty() && self.fallback.is_none() {
                self.fallback = Some(fallback);
            } else {
                self.compose_problems.push(format!(
                    "the fallback {} of a {how} router would be lost; set one fallback on the outermost router",
                    fallback.spec.handler()
                ));
            }
        }
        self
    }

    /// Mounts a service that is not a guarded handler (static files, a
    /// metrics exporter, another framework's app) at `path` and everything
    /// below it, as axum's `Router::nest_service`. It is public: say why in
    /// `reason`, which the report shows. It still runs inside the
    /// router-wide stack (security headers, timeout, panic catcher, body
    /// cap, CORS, client IP), but no guard of a route applies to it; put a
    /// service that needs a session behind a guarded handler instead.
    pub fn nest_service<T>(mut self, path: &str, reason: &'static str, service: T) -> Self
    where
        T: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        T::Response: IntoResponse,
        T::Future: Send + 'static,
    {
        if let Some(problem) = prefix_problem(path) {
            self.compose_problems.push(problem);
            return self;
        }
        if reason.trim().is_empty() {
            self.compose_problems.push(format!(
                "the service at `{path}` needs a reason it is public: `.nest_service(\"{path}\", \"<reason>\", service)`"
            ));
        }
        let name = std::any::type_name::<T>();
        self.services.push(ServiceEntry {
            path: path.to_owned(),
            spec: RouteSpec::public(name, "service", reason),
            mount: Box::new(move |router: Router<S>, path: &str| {
                router.nest_service(path, service)
            }),
        });
        self
    }

    /// Answers requests no route matches with a guarded handler (by
    /// default the generic 404). Its guards run as for any route; it cannot
    /// declare `owner` (there is no path parameter to load).
    pub fn fallback<H, M>(mut self, handler: H) -> Self
    where
        H: GuardedFn<M, S>,
        M: 'static,
    {
        let handler = handler.into_handler();
        if let Some(first) = &self.fallback {
            self.compose_problems.push(format!(
                "the router has two fallbacks ({} and {}); keep one",
                first.spec.handler(),
                H::Handler::SPEC.handler()
            ));
            return self;
        }
        self.fallback = Some(FallbackEntry {
            spec: H::Handler::SPEC,
            attach: Box::new(move |router: Router<S>, guards| {
                router.fallback(Guarded::new(handler, guards))
            }),
        });
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

    /// The route-by-route report of what [`GuardedRouter::build`] would serve.
    #[must_use]
    pub fn report(&self) -> RouteReport {
        let mut settings = vec![(
            "authenticator".to_owned(),
            self.authenticator
                .as_ref()
                .map_or_else(|| "none".to_owned(), |a| a.describe()),
        )];
        settings.push((
            "cors".to_owned(),
            self.cors.as_ref().map_or_else(
                || "none (cross-origin reads refused by browsers)".to_owned(),
                CorsPolicy::describe,
            ),
        ));
        settings.push((
            "security headers".to_owned(),
            self.headers
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ));
        settings.push((
            "request timeout".to_owned(),
            self.timeout
                .map_or_else(|| "none".to_owned(), |t| format!("{} ms", t.as_millis())),
        ));
        settings.extend(self.settings.iter().cloned());
        settings.push((
            "rate limits".to_owned(),
            self.rate_backend.as_ref().map_or_else(
                || "in memory (this process only)".to_owned(),
                |b| b.describe(),
            ),
        ));
        let routes = self
            .routes
            .iter()
            .flat_map(|(path, entries)| {
                entries.iter().map(move |e| {
                    let mut entry = RouteEntry::new(e.method.as_str(), path, e.spec);
                    entry.rates =
                        rate_entries(&self.resolved_limits(e.method.as_str(), path, e.spec));
                    entry.csrf = self.csrf_entry(e.method.as_str(), e.spec);
                    entry
                })
            })
            .collect::<Vec<_>>();
        let mut routes = routes;
        routes.extend(self.services.iter().map(|service| {
            RouteEntry::new(FALLBACK_METHOD, &service_path(&service.path), &service.spec)
        }));
        if let Some(fallback) = &self.fallback {
            let mut entry = RouteEntry::new(FALLBACK_METHOD, FALLBACK_PATH, fallback.spec);
            entry.rates =
                rate_entries(&self.resolved_limits(FALLBACK_METHOD, FALLBACK_PATH, fallback.spec));
            entry.csrf = self.csrf_entry(FALLBACK_METHOD, fallback.spec);
            routes.push(entry);
        }
        RouteReport::new(settings, routes)
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = self.compose_problems.clone();
        if let Some(fallback) = &self.fallback {
            let spec = fallback.spec;
            if spec.requires_auth() && self.authenticator.is_none() {
                problems.push(format!(
                    "the fallback ({}) requires auth but no authenticator is configured; call `.authenticator(...)`",
                    spec.handler()
                ));
            }
            if !spec.owner_params().is_empty() {
                problems.push(format!(
                    "the fallback ({}) declares `owner`, but a fallback has no path parameter to load",
                    spec.handler()
                ));
            }
            if spec.upload_spec().is_some() {
                problems.push(format!(
                    "the fallback ({}) accepts uploads; give uploads a route of their own",
                    spec.handler()
                ));
            }
        }
        let mut mounted = BTreeMap::new();
        for service in &self.services {
            if let Some(other) = mounted.insert(shape(&service.path), &service.path) {
                problems.push(format!(
                    "services at `{other}` and `{}` are mounted at the same path; keep one",
                    service.path
                ));
            }
            if self.routes.iter().any(|(path, _)| {
                shape(path) == shape(&service.path)
                    || path.starts_with(&format!("{}/", service.path))
            }) {
                problems.push(format!(
                    "the service at `{}` overlaps routes under the same path; mount it at a path of its own",
                    service.path
                ));
            }
        }
        let mut shapes = BTreeMap::new();
        for (path, entries) in &self.routes {
            if let Some(problem) = path_problem(path) {
                problems.push(problem);
            }
            if let Some(other) = shapes.insert(shape(path), path) {
                problems.push(format!(
                    "route paths `{other}` and `{path}` match the same requests; use one parameter name"
                ));
            }
            let mut seen = BTreeMap::new();
            for entry in entries {
                let method = entry.method.as_str();
                if let Some(first) = seen.insert(method, entry.spec.handler()) {
                    problems.push(format!(
                        "{method} {path} is routed twice ({first} and {}); keep one",
                        entry.spec.handler()
                    ));
                }
                if entry.spec.requires_auth() && self.authenticator.is_none() {
                    problems.push(format!(
                        "{method} {path} ({}) requires auth but no authenticator is configured; call `.authenticator(...)`",
                        entry.spec.handler()
                    ));
                }
                problems.extend(entry.spec.check(method, path));
                if let Some(upload) = entry.spec.upload_spec() {
                    if let Err(err) = UploadLimits::from_spec(&upload) {
                        problems.push(format!("{method} {path} ({}): {err}", entry.spec.handler()));
                    }
                    if self.upload_store.is_none() {
                        problems.push(format!(
                            "{method} {path} ({}) accepts uploads but no upload store is configured; call `.upload_store(...)`",
                            entry.spec.handler()
                        ));
                    }
                }
            }
        }
        problems.extend(
            self.limits
                .problems(self.routes.iter().flat_map(|(path, entries)| {
                    entries
                        .iter()
                        .map(move |e| (e.method.as_str(), path.as_str(), e.spec.rate_limits()))
                })),
        );
        problems
    }

    /// Builds the guarded app, or lists every problem at once.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] listing every misconfiguration found.
    pub fn build(mut self) -> Result<GuardedApp<S>, BuildError> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(BuildError { problems });
        }
        let report = self.report();
        let backend = self
            .rate_backend
            .clone()
            .unwrap_or_else(|| Arc::new(MemoryBackend::new()));
        let csrf = self.csrf_policy();
        // `csrf` is `Some` only under a cookie authenticator.
        let csrf_for = |spec: &RouteSpec| {
            csrf.clone()
                .filter(|_| spec.requires_auth() && spec.csrf_exemption().is_none())
        };
        let mut router = Router::new();
        for (path, entries) in std::mem::take(&mut self.routes) {
            let mut methods = MethodRouter::new();
            for entry in entries {
                let method = entry.method.as_str();
                let limits = self.resolved_limits(method, &path, entry.spec);
                let rate = (!limits.is_empty()).then(|| {
                    RateGuard::new(&format!("{method} {path}"), limits, backend.clone())
                        .fail_mode(self.rate_fail_mode)
                });
                let guards = Guards::new(
                    self.authenticator.clone(),
                    rate,
                    csrf_for(entry.spec),
                    self.route_extensions(method, entry.spec),
                );
                methods = (entry.attach)(methods, guards);
            }
            router = router.route(&path, methods);
        }
        for service in std::mem::take(&mut self.services) {
            router = (service.mount)(router, &service.path);
        }
        router = match self.fallback.take() {
            Some(fallback) => {
                let limits = self.resolved_limits(FALLBACK_METHOD, FALLBACK_PATH, fallback.spec);
                let rate = (!limits.is_empty()).then(|| {
                    RateGuard::new(
                        &format!("{FALLBACK_METHOD} {FALLBACK_PATH}"),
                        limits,
                        backend.clone(),
                    )
                    .fail_mode(self.rate_fail_mode)
                });
                let guards = Guards::new(
                    self.authenticator.clone(),
                    rate,
                    csrf_for(fallback.spec),
                    self.route_extensions(FALLBACK_METHOD, fallback.spec),
                );
                (fallback.attach)(router, guards)
            }
            None => router.fallback(|| async { GuardError::not_found() }),
        };
        router = router.method_not_allowed_fallback(|| async { GuardError::method_not_allowed() });
        // Marking `Set-Cookie` sensitive goes innermost, so a user's
        // TraceLayer already sees it marked; without user layers it joins
        // the one stack below instead of boxing every route once more.
        let sensitive_responses = self.sensitive.response_layer();
        let sensitive_responses = if self.layers.is_empty() {
            Some(sensitive_responses)
        } else {
            router = router.layer(sensitive_responses);
            None
        };
        for layer in self.layers {
            router = layer(router);
        }
        // One stack, outermost first, applied with a single `Router::layer`:
        // axum boxes every route once per `layer` call, so six calls cost six
        // boxings on every request. Security headers are outermost so every
        // response, preflights included, carries them; CORS sits outside the
        // timeout and the panic catcher so a browser can read those errors'
        // ids and a preflight never reaches the 405 fallback; the client IP
        // is resolved before any guard reads it.
        let stack = tower::ServiceBuilder::new()
            .layer(SecurityHeadersLayer::new(self.headers))
            .layer(self.sensitive.request_layer())
            .layer(RequestSpanLayer::new())
            .option_layer(self.cors.as_ref().map(cors_layer))
            .option_layer(self.timeout.map(RequestTimeoutLayer::new))
            .option_layer(self.client_ip.take().map(ClientIpLayer::new))
            // The default cap for any body a route reads without declaring
            // one (64 KiB, not axum's 2 MB); routes that declare a body,
            // an upload or a limit set their own.
            .layer(DefaultBodyCapLayer::new(
                usize::try_from(guard_core::spec::DEFAULT_BODY_LIMIT).unwrap_or(usize::MAX),
            ))
            // Back to axum's body type for the layers outside the catcher.
            .map_response(|response: http::Response<_>| response.map(axum::body::Body::new))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                panic_response,
            ))
            .option_layer(sensitive_responses);
        let router = router.layer(stack);
        Ok(GuardedApp::new(router, report))
    }
}

/// The limits in force, as the report lists them.
fn rate_entries(limits: &ResolvedLimits) -> Vec<RateEntry> {
    let entry = |kind: &str, spec: String, source: LimitSource| RateEntry {
        kind: kind.to_owned(),
        spec,
        source: source.as_str().to_owned(),
    };
    let mut rates = Vec::new();
    for (kind, rate) in [
        ("rate_ip", limits.ip),
        ("rate_account", limits.account),
        ("rate_identifier", limits.identifier),
        ("rate_route", limits.route),
    ] {
        if let Some(rate) = rate {
            rates.push(entry(kind, rate.value.to_string(), rate.source));
        }
    }
    if let Some(quota) = limits.quota {
        rates.push(entry("quota", quota.value.to_string(), quota.source));
    }
    rates
}

/// A caught panic becomes the generic 500; its message is logged, scrubbed,
/// under the error id the client sees.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    GuardError::internal(format_args!("handler panicked: {message}")).into_response()
}

/// `prefix` + `path`, as axum nests them (`/api` + `/` = `/api`).
fn join(prefix: &str, path: &str) -> String {
    match path {
        "/" if !prefix.is_empty() => prefix.to_owned(),
        _ => format!("{prefix}{path}"),
    }
}

/// How the report shows a mounted service: its path and everything below.
fn service_path(path: &str) -> String {
    format!("{}/{{*rest}}", path.trim_end_matches('/'))
}

/// What axum refuses (by panicking) in a `nest` or `nest_service` path.
fn prefix_problem(prefix: &str) -> Option<String> {
    if prefix == "/" || prefix.is_empty() {
        return Some(format!(
            "cannot nest at `{prefix}`; use `merge` (or `fallback`) for the root"
        ));
    }
    if prefix.ends_with('/') {
        return Some(format!("nest path `{prefix}` must not end with `/`"));
    }
    if prefix.contains("{*") {
        return Some(format!("nest path `{prefix}` cannot contain a wildcard"));
    }
    path_problem(prefix)
}

/// A path with its parameter names erased: two paths of the same shape
/// conflict (axum panics on them).
fn shape(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg.strip_prefix("{*") {
            Some(_) => "{*}",
            None if seg.starts_with('{') => "{}",
            None => seg,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The path rules axum 0.8 enforces by panicking, checked first so the
/// router reports them instead.
fn path_problem(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return Some(format!("route path `{path}` must start with `/`"));
    }
    for segment in path.split('/') {
        if segment.starts_with(':') || segment.starts_with('*') {
            return Some(format!(
                "route path `{path}` uses the old `{segment}` syntax; axum 0.8 writes parameters as `{{name}}` and wildcards as `{{*name}}`"
            ));
        }
        let opens = segment.matches('{').count();
        let closes = segment.matches('}').count();
        if opens != closes
            || opens > 1
            || (opens == 1 && !(segment.starts_with('{') && segment.ends_with('}')))
        {
            return Some(format!(
                "route path `{path}`: segment `{segment}` must be a whole `{{name}}` parameter"
            ));
        }
    }
    None
}
