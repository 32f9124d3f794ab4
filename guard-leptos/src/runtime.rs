//! The guards of server functions: the HTTP path (a route of the
//! [`GuardedRouter`] per server function, behind the same guards as any
//! route) and the direct server-side call (the same checks, run in the
//! function body from the request's parts in the Leptos context).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::response::{IntoResponse as _, Response};
use guard_axum::__private::identifier_limit;
use guard_axum::__private::{Admitted, Incoming};
use guard_axum::extract::client_rate_key;
use guard_axum::rate_limit::{MemoryBackend, RateBackend, RateGuard};
use guard_axum::{GuardedRouter, IdentifierLimit};
use guard_core::rate::{LimitsConfig, Policy, PolicySet, RateKey};
use guard_core::report::RouteReport;
use guard_core::validate::{FieldDetail, InputError, StrictOptions};
use guard_core::{Authenticator, GenericBody, GuardError, Principal, RouteSpec};
use http::request::Parts;
use http::{Method, header};

use crate::error::{GENERIC_MARK, GuardedError};

/// Whether a sent id is its type's own spelling ([`canonical_id`]).
#[doc(hidden)]
pub type CanonicalId = fn(&str) -> bool;

/// One guarded server function, as `#[secure_server_fn]` registers it.
#[doc(hidden)]
#[derive(Debug)]
pub struct Registered {
    /// `<F as ServerFn>::PATH`.
    pub path: &'static str,
    /// The declared guards.
    pub spec: &'static RouteSpec,
    /// Routes the function on a router, behind its guards.
    pub attach: fn(GuardedRouter, &'static str, &Method) -> GuardedRouter,
    /// The argument names the function takes, for the strict decoding.
    pub fields: &'static [&'static str],
    /// The strict decoding of a JSON call into the argument struct: unknown
    /// and identity fields at any depth, as for a route's JSON body.
    pub json: fn(&[u8], &StrictOptions) -> Result<(), InputError>,
    /// Problems of the argument types (identity fields), at build time.
    pub problems: fn(&'static [&'static str]) -> Vec<String>,
    /// The `owner = "…"` argument's name and whether a sent id is its id
    /// type's own spelling ([`canonical_id`]): `+1` or `01` for `1` is the
    /// same 404 as a route's `Owned<T>` gives, so one resource has one id.
    pub owner: Option<(&'static str, CanonicalId)>,
    /// Identity fields the function may take (`allow_identity(...)`).
    pub allowed_identity: &'static [&'static str],
    /// The `Content-Type` the input codec decodes (`None` for a protocol
    /// other than `Http`): a body sent as anything else is refused, since
    /// the codec would decode it without the strict check of its names.
    pub media: fn() -> Option<&'static str>,
}

inventory::collect!(Registered);

/// Every guarded server function linked into the binary.
fn registered() -> impl Iterator<Item = &'static Registered> {
    inventory::iter::<Registered>.into_iter()
}

fn find(path: &str) -> Option<&'static Registered> {
    registered().find(|r| r.path == path)
}

/// Every server function linked into the binary that has no guard spec,
/// as `METHOD path`: what [`ServerFns::install`] refuses.
#[must_use]
pub fn unguarded_server_fns() -> Vec<String> {
    let mut unguarded: Vec<String> = server_fn::axum::server_fn_paths()
        .filter(|(path, _)| find(path).is_none())
        .map(|(path, method)| format!("{method} {path}"))
        .collect();
    unguarded.sort();
    unguarded
}

/// The router could not take the server functions; every problem listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFnsError {
    problems: Vec<String>,
}

impl ServerFnsError {
    /// Each problem, one sentence each.
    #[must_use]
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for ServerFnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the server functions cannot be served:")?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerFnsError {}

/// An authenticator shared by the router (HTTP path) and the direct calls.
#[derive(Clone)]
struct SharedAuth(Arc<dyn Authenticator>);

impl Authenticator for SharedAuth {
    fn authenticate<'a>(
        &'a self,
        parts: &'a mut Parts,
    ) -> guard_core::auth::BoxFuture<'a, Result<Option<Principal>, GuardError>> {
        self.0.authenticate(parts)
    }

    fn authenticate_now(&self, parts: &Parts) -> Option<Result<Option<Principal>, GuardError>> {
        self.0.authenticate_now(parts)
    }

    fn describe(&self) -> String {
        self.0.describe()
    }

    fn uses_cookies(&self) -> bool {
        self.0.uses_cookies()
    }
}

type ContextFn = Arc<dyn Fn() + Send + Sync>;

/// A scope and its policies.
type SetKey = (String, Vec<Policy>);

/// Hands out one policy set per scope and policies, so the router's route
/// and the direct calls of one server function decide on the same state:
/// the memory backend gives every `policy_set` call stores of its own (a
/// shared store agrees by scope anyway).
#[derive(Debug)]
struct OneSetPerScope {
    inner: Arc<dyn RateBackend>,
    sets: Mutex<HashMap<SetKey, Arc<dyn PolicySet>>>,
}

impl RateBackend for OneSetPerScope {
    fn policy_set(&self, scope: &str, policies: Vec<Policy>) -> Arc<dyn PolicySet> {
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        sets.entry((scope.to_owned(), policies.clone()))
            .or_insert_with(|| self.inner.policy_set(scope, policies))
            .clone()
    }

    fn identifier_key(&self, namespace: &str, identifier: &str) -> RateKey {
        self.inner.identifier_key(namespace, identifier)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

fn one_set_per_scope(backend: Arc<dyn RateBackend>) -> Arc<dyn RateBackend> {
    Arc::new(OneSetPerScope {
        inner: backend,
        sets: Mutex::default(),
    })
}

/// The server functions of an app and what their guards share with the
/// router: the authenticator, the rate-limit backend, the Leptos context
/// each call gets.
///
/// ```ignore
/// let app = ServerFns::new(SessionAuth::new())
///     .context(move || leptos::prelude::provide_context(pool.clone()))
///     .install(GuardedRouter::new())?   // every server fn guarded, or an error naming each
///     .route("/", get(page))
///     .layer(session_layer)
///     .build()?;
/// ```
#[derive(Clone)]
#[must_use]
pub struct ServerFns {
    inner: Arc<Inner>,
}

struct Inner {
    authenticator: SharedAuth,
    backend: Arc<dyn RateBackend>,
    context: ContextFn,
    /// Rate guards of the direct calls, per server function path; built
    /// with the same route names as the router's, so the budgets are one.
    rates: Mutex<HashMap<&'static str, Option<Arc<RateGuard>>>>,
    /// The router's operator overrides (`GuardedRouter::rate_limits`),
    /// taken at `install`, so a direct call is limited as the route is.
    limits: Mutex<LimitsConfig>,
}

impl fmt::Debug for ServerFns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerFns")
            .field("authenticator", &self.inner.authenticator.describe())
            .field("backend", &self.inner.backend)
            .finish_non_exhaustive()
    }
}

impl ServerFns {
    /// Server functions authenticated by `authenticator` (also the
    /// router's), limited in memory.
    pub fn new(authenticator: impl Authenticator) -> Self {
        Self {
            inner: Arc::new(Inner {
                authenticator: SharedAuth(Arc::new(authenticator)),
                backend: one_set_per_scope(Arc::new(MemoryBackend::new())),
                context: Arc::new(|| {}),
                rates: Mutex::default(),
                limits: Mutex::default(),
            }),
        }
    }

    fn with(self, edit: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            authenticator: shared.authenticator.clone(),
            backend: shared.backend.clone(),
            context: shared.context.clone(),
            rates: Mutex::default(),
            limits: Mutex::new(
                shared
                    .limits
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            ),
        });
        edit(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The rate-limit backend (memory by default; Redis to share limits
    /// across instances); also given to the router.
    pub fn rate_backend(self, backend: Arc<dyn RateBackend>) -> Self {
        self.with(|inner| inner.backend = one_set_per_scope(backend))
    }

    /// What every server-function call gets in its Leptos context (the
    /// database pool), on the HTTP path; page renders provide their own.
    pub fn context(self, provide: impl Fn() + Send + Sync + 'static) -> Self {
        self.with(|inner| inner.context = Arc::new(provide))
    }

    /// Provides this app's server-function context in the current owner
    /// (for a page render's `render_app_to_stream_with_context`).
    pub fn provide_context(&self) {
        (self.inner.context)();
    }

    /// Routes every guarded server function on `router` behind its guards,
    /// sets the router's authenticator and rate backend to these, and puts
    /// what direct calls need on every request.
    ///
    /// # Errors
    ///
    /// Every server function linked into the binary without
    /// `#[secure_server_fn]`, and every guarded one whose arguments the
    /// strict decoding refuses (an identity field like `user_id`), all at
    /// once.
    pub fn install(&self, router: GuardedRouter) -> Result<GuardedRouter, ServerFnsError> {
        let mut problems: Vec<String> = unguarded_server_fns()
            .into_iter()
            .map(|f| {
                format!("server function {f} has no guards; annotate it with `#[secure_server_fn(auth)]` or `#[secure_server_fn(public = \"<reason>\")]`")
            })
            .collect();
        let mut routes: Vec<(&'static Registered, Method)> = Vec::new();
        for (path, method) in server_fn::axum::server_fn_paths() {
            if let Some(reg) = find(path) {
                for problem in (reg.problems)(reg.allowed_identity) {
                    problems.push(format!(
                        "server function {method} {path} ({}): {problem}",
                        reg.spec.handler()
                    ));
                }
                routes.push((reg, method));
            }
        }
        if !problems.is_empty() {
            problems.sort();
            return Err(ServerFnsError { problems });
        }
        routes.sort_by_key(|(reg, _)| reg.path);
        // The direct calls' limits follow the router's overrides from now
        // on; guards built under earlier ones are dropped.
        *self
            .inner
            .limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = router.limits_config().clone();
        self.inner
            .rates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        let mut router = router
            .authenticator(self.inner.authenticator.clone())
            .rate_backend(self.inner.backend.clone());
        for (reg, method) in routes {
            router = (reg.attach)(router, reg.path, &method);
        }
        Ok(router.layer(axum::Extension(self.clone())))
    }

    /// The report rows of the server functions alone (what
    /// `GuardedApp::report` lists among the routes).
    #[must_use]
    pub fn report(&self) -> RouteReport {
        match self.install(GuardedRouter::new()) {
            Ok(router) => {
                let mut report = router.report();
                report.routes.retain(|r| r.kind.is_some());
                report
            }
            Err(_) => RouteReport::default(),
        }
    }

    fn rate_guard(&self, reg: &'static Registered, method: &Method) -> Option<Arc<RateGuard>> {
        let mut rates = self
            .inner
            .rates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        rates
            .entry(reg.path)
            .or_insert_with(|| {
                let limits = self
                    .inner
                    .limits
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .resolve(
                        method.as_str(),
                        reg.path,
                        reg.spec.rate_limits(),
                        reg.spec.requires_auth(),
                    );
                (!limits.is_empty()).then(|| {
                    Arc::new(RateGuard::new(
                        &format!("{method} {}", reg.path),
                        limits,
                        self.inner.backend.clone(),
                    ))
                })
            })
            .clone()
    }

    /// The direct call's guards, in the route's order: per-IP limit,
    /// authentication (401), per-account limit and quota (429), roles
    /// (403). A public function's per-identifier limit is handed back for
    /// [`crate::limit_identifier`]; its per-IP budget is spent here already
    /// (a direct call has no end of response to spend it at), so a body
    /// that checks an identifier spends the caller's twice: the safe side.
    async fn enforce_direct(
        &self,
        reg: &'static Registered,
        parts: &mut Parts,
    ) -> Result<(Option<Principal>, Option<IdentifierLimit>), GuardError> {
        let method = server_fn::axum::server_fn_paths()
            .find(|(path, _)| *path == reg.path)
            .map_or(Method::POST, |(_, m)| m);
        let rate = self.rate_guard(reg, &method);
        let ip = match &rate {
            Some(rate) => {
                let (_, ip) = client_rate_key(&parts.extensions)?;
                rate.precheck(ip).await.map_err(|r| r.into_error())?;
                Some(ip)
            }
            None => None,
        };
        if !reg.spec.requires_auth() {
            let mut identifier = None;
            if let (Some(rate), Some(ip)) = (&rate, ip) {
                rate.check(ip, None, None)
                    .await
                    .map_err(|r| r.into_error())?;
                if rate.limits().identifier.is_some() {
                    identifier = Some(identifier_limit(rate.clone(), ip));
                }
            }
            return Ok((None, identifier));
        }
        let auth = &self.inner.authenticator;
        let found = match auth.authenticate_now(parts) {
            Some(found) => found,
            None => auth.authenticate(parts).await,
        };
        let principal = match found {
            Ok(Some(principal)) => principal,
            Ok(None) | Err(_) => {
                if let (Some(rate), Some(ip)) = (&rate, ip) {
                    drop(rate.charge(ip).await);
                }
                return Err(match found {
                    Err(err) if err.status().is_server_error() => err,
                    _ => GuardError::unauthenticated(),
                });
            }
        };
        if let (Some(rate), Some(ip)) = (&rate, ip) {
            let account = Some(rate.account_key(principal.id()));
            rate.check(ip, account, None)
                .await
                .map_err(|r| r.into_error())?;
        }
        reg.spec.authorize(&principal)?;
        Ok((Some(principal), None))
    }
}

/// Marks a request whose server-function route already ran its guards.
#[derive(Clone, Copy, Debug)]
struct HttpAdmitted(&'static str);

/// Routes a guarded server function (used by the generated `attach`).
#[doc(hidden)]
pub fn attach<H>(router: GuardedRouter, path: &'static str, method: &Method) -> GuardedRouter
where
    H: guard_axum::__private::SecureHandler<(), ()> + Default,
{
    use guard_axum::routing;
    let handler = || H::default();
    let methods = match *method {
        Method::GET => routing::get(handler),
        Method::PUT => routing::put(handler),
        Method::PATCH => routing::patch(handler),
        Method::DELETE => routing::delete(handler),
        _ => routing::post(handler),
    };
    router.route(path, methods)
}

/// The HTTP path of a guarded server function: the route's guards
/// (`Incoming::admit`: client IP and per-IP limit, CSRF, authentication,
/// per-account limit and quota, roles), the strict check of the argument
/// names, then the server function through `leptos_axum`, whose errors
/// come back generic.
#[doc(hidden)]
pub async fn serve<S: Send + 'static>(incoming: Incoming<S>, path: &'static str) -> Response {
    let Some(reg) = find(path) else {
        return GuardError::internal(format_args!("server function {path} is not registered"))
            .into_response();
    };
    let Admitted {
        mut parts,
        body,
        guards,
        pass,
        ..
    } = match incoming.admit().await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };
    let limit = usize::try_from(reg.spec.effective_body_limit()).unwrap_or(usize::MAX);
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let refusal = GuardError::payload_too_large().into_response();
            return guards.finish(reg.spec, pass, refusal).await;
        }
    };
    let detail = parts
        .extensions
        .get::<FieldDetail>()
        .copied()
        .unwrap_or_default();
    if let Err(refusal) = crate::args::check_media(reg, &parts, &bytes) {
        return guards.finish(reg.spec, pass, refusal.into_response()).await;
    }
    if let Err(err) = crate::args::check_keys(reg, &parts, &bytes) {
        let refusal = err.into_guard_error(detail).into_response();
        return guards.finish(reg.spec, pass, refusal).await;
    }
    if let Err(refusal) = crate::args::check_owner_id(reg, &parts, &bytes) {
        return guards.finish(reg.spec, pass, refusal.into_response()).await;
    }
    parts.extensions.insert(HttpAdmitted(reg.path));
    let context = parts
        .extensions
        .get::<ServerFns>()
        .map(|fns| fns.inner.context.clone());
    let request = http::Request::from_parts(parts, Body::from(bytes));
    let provide = move || {
        if let Some(context) = &context {
            context();
        }
    };
    let mut response = leptos_axum::handle_server_fns_with_context(provide, request)
        .await
        .into_response();
    if response.headers_mut().remove(GENERIC_MARK).is_some() {
        response.extensions_mut().insert(GenericBody);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
    }
    guards.finish(reg.spec, pass, response).await
}

/// What the guards of one call established: the principal, for the body
/// and for the owner-scoped loads.
#[derive(Debug, Clone)]
pub struct Checked {
    principal: Option<Principal>,
    /// The per-identifier limit of a public function with a `rate`.
    identifier: Option<IdentifierLimit>,
}

impl Checked {
    /// The authenticated principal (`None` on a public server function).
    #[must_use]
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// Loads `T` by `id` within the principal's owner scope: absent and
    /// not-yours are the same 404.
    ///
    /// # Errors
    ///
    /// 404 when the resource is not in scope; 401 without a principal; the
    /// loader's own error.
    pub async fn owned<T>(&self, id: &T::Id) -> Result<guard_axum::Owned<T>, GuardedError>
    where
        T: guard_axum::OwnedResource<crate::Context>,
        T::Id: fmt::Display,
    {
        let principal = self
            .principal
            .as_ref()
            .ok_or_else(GuardError::unauthenticated)?;
        let params = [(T::PARAM.to_owned(), id.to_string())];
        Ok(guard_axum::Owned::<T>::load(&crate::Context, principal, &params).await?)
    }

    /// The per-identifier limit (see [`crate::limit_identifier`]).
    pub(crate) fn identifier_limit(&self) -> Option<&IdentifierLimit> {
        self.identifier.as_ref()
    }
}

/// Runs the guards of a server function at the start of its body.
///
/// On the HTTP path the route already ran them (the request carries the
/// mark and the principal); a direct server-side call (a page render
/// calling the function) runs them here, from the page request's parts in
/// the Leptos context. No request context at all fails closed (500).
#[doc(hidden)]
pub async fn enter(path: &'static str) -> Result<Checked, GuardedError> {
    let Some(reg) = find(path) else {
        return Err(
            GuardError::internal(format_args!("server function {path} is not registered")).into(),
        );
    };
    let Some(mut parts) = leptos::prelude::use_context::<Parts>() else {
        return Err(GuardError::internal(format_args!(
            "guarded server function {} called without a request in the Leptos context",
            reg.spec.handler()
        ))
        .into());
    };
    let (principal, identifier) = if parts
        .extensions
        .get::<HttpAdmitted>()
        .is_some_and(|admitted| admitted.0 == reg.path)
    {
        (
            parts.extensions.get::<Principal>().cloned(),
            parts.extensions.get::<IdentifierLimit>().cloned(),
        )
    } else {
        let Some(fns) = parts.extensions.get::<ServerFns>().cloned() else {
            return Err(GuardError::internal(format_args!(
                "guarded server function {} called on a request outside `ServerFns::install`'s router",
                reg.spec.handler()
            ))
            .into());
        };
        fns.enforce_direct(reg, &mut parts).await?
    };
    let checked = Checked {
        principal,
        identifier,
    };
    leptos::prelude::provide_context(checked.clone());
    Ok(checked)
}

/// The refusal of argument `arg` whose `validator` rules failed: its
/// fields' paths start with the argument's name (`changes.title`), as the
/// strict decoding names them (`changes.debug`), so one field has one name.
#[doc(hidden)]
pub fn invalid(arg: &str, err: InputError) -> GuardedError {
    let err = match err {
        InputError::Fields(fields) => InputError::Fields(
            fields
                .into_iter()
                .map(|(path, codes)| {
                    let joined = if path.is_empty() {
                        arg.to_owned()
                    } else if path.starts_with('[') {
                        format!("{arg}{path}")
                    } else {
                        format!("{arg}.{path}")
                    };
                    (joined, codes)
                })
                .collect(),
        ),
        other => other,
    };
    err.into_guard_error(FieldDetail::default()).into()
}

/// Whether `raw` is the id type's own spelling of an id: it parses, and
/// prints back as itself (`1`, not `+1` or `01`). The rule is
/// [`guard_axum::extract::parse_id`]'s, the one `Owned<T>` applies on
/// routes.
#[doc(hidden)]
pub fn canonical_id<T: guard_axum::Resource>(raw: &str) -> bool {
    guard_axum::extract::parse_id::<T>(raw).is_some()
}

/// Build-time problems of a server function's argument struct.
#[doc(hidden)]
pub fn args_problems<T: serde::de::DeserializeOwned>(
    allowed: &'static [&'static str],
) -> Vec<String> {
    match StrictOptions::new().allow_identity_fields(allowed.iter().copied()) {
        Ok(options) => guard_core::validate::body_type_problems::<T>(&options),
        Err(err) => vec![err.to_string()],
    }
}
