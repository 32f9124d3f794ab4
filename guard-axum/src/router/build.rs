//! The build: every problem at once, the report, and the routes wired
//! behind their guards and the router-wide stack.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::routing::MethodRouter;
use guard_core::GuardError;
use guard_core::report::{RouteEntry, RouteReport};

use crate::app::GuardedApp;
use crate::cors::{CorsPolicy, cors_layer};
use crate::guards::Guards;
use crate::rate_limit::{
    ClientIpLayer, LimitSource, MemoryBackend, RateBackend, RateGuard, ResolvedLimits,
};
use crate::trace::RequestSpanLayer;
use crate::upload::UploadLimits;
use guard_core::RouteSpec;
use guard_core::report::RateEntry;

use super::path::{path_problem, service_path, shape};
use super::stack::{BackLayer, FrontLayer};
use super::{BuildError, FALLBACK_METHOD, FALLBACK_PATH, GuardedRouter, csrf_checked};

impl<S> GuardedRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
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
                    self.mark_csrf(&mut entry, e.spec);
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
            self.mark_csrf(&mut entry, fallback.spec);
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
        // `csrf` is `Some` only under a cookie authenticator; a route of a
        // safe method would pass every request, so it gets no check to run.
        let csrf_for =
            |method: &str, spec: &RouteSpec| csrf.clone().filter(|_| csrf_checked(method, spec));
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
                    csrf_for(method, entry.spec),
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
                    csrf_for(FALLBACK_METHOD, fallback.spec),
                    self.route_extensions(FALLBACK_METHOD, fallback.spec),
                );
                (fallback.attach)(router, guards)
            }
            None => router.fallback(|| async { GuardError::not_found() }),
        };
        router = router.method_not_allowed_fallback(|| async { GuardError::method_not_allowed() });
        // Marking `Set-Cookie` sensitive goes innermost, so a user's
        // TraceLayer already sees it marked; without user layers it joins
        // the stack below instead of boxing every route once more.
        let mark_responses = self.layers.is_empty();
        if !mark_responses {
            router = router.layer(self.sensitive.response_layer());
        }
        for layer in self.layers {
            router = layer(router);
        }
        // One stack, applied with a single `Router::layer` (axum boxes every
        // route once per `layer` call), in two services with one future each
        // (see `stack.rs`). Outermost first: security headers, so every
        // response, preflights included, carries them; sensitive request
        // headers and the span; CORS, outside the timeout and the panic
        // catcher so a browser can read those errors' ids and a preflight
        // never reaches the 405 fallback; then the timeout, the client IP
        // (resolved before any guard reads it), the default body cap (64
        // KiB, not axum's 2 MB, for any body a route reads without
        // declaring a limit) and the panic catcher.
        let front = FrontLayer::new(self.headers, &self.sensitive, RequestSpanLayer::new());
        let back = BackLayer::new(
            self.timeout,
            self.client_ip.take().map(ClientIpLayer::new),
            usize::try_from(guard_core::spec::DEFAULT_BODY_LIMIT).unwrap_or(usize::MAX),
            mark_responses.then_some(&self.sensitive),
        );
        router = match self.cors.as_ref().map(cors_layer) {
            Some(cors) => router.layer((front, cors, back)),
            None => router.layer((front, back)),
        };
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
