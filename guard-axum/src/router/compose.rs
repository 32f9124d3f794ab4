//! Composing routers before the build: `merge`, `nest`, `nest_service`
//! and `fallback`, each keeping its guards and its report rows.

use std::convert::Infallible;

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use tower::Service;

use crate::handler::{Guarded, GuardedFn, SecureHandler};
use guard_core::RouteSpec;

use super::path::{join, prefix_problem};
use super::{FallbackEntry, GuardedRouter, ServiceEntry};

impl<S> GuardedRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
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
}
