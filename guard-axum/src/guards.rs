//! The guards every guarded handler runs with, in the order of the request
//! flow (see the crate docs): client IP and the per-IP limit, the
//! cross-site request check (cookie authenticators), authentication, the
//! per-account limit and quota, authorization, then the per-route settings
//! the extractors read.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use guard_core::csrf::CsrfPolicy;
use guard_core::rate::RateKey;
use guard_core::{Authenticator, GenericBody, GuardError, Principal, RouteSpec};
use http::request::Parts;
use http::{HeaderValue, header};

use crate::handler::BoxFuture;
use crate::rate_limit::{RateGuard, RateHeaders, RateRefused, client_rate_key};

/// The guards of one route of a built router. Cloning is one reference
/// count.
#[derive(Clone)]
pub struct Guards(Arc<Inner>);

struct Inner {
    authenticator: Option<Arc<dyn Authenticator>>,
    rate: Option<Arc<RateGuard>>,
    /// The cross-site request check, on the routes of unsafe methods under
    /// a cookie authenticator that did not opt out, public ones included.
    csrf: Option<Arc<CsrfPolicy>>,
    extensions: http::Extensions,
}

impl std::fmt::Debug for Guards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guards")
            .field(
                "authenticator",
                &self.0.authenticator.as_ref().map(|a| a.describe()),
            )
            .field("rate", &self.0.rate)
            .finish_non_exhaustive()
    }
}

/// What the guards decided for one request, for [`Guards::finish`].
#[derive(Debug, Default)]
pub struct Pass {
    authenticated: bool,
    rate_headers: Option<RateHeaders>,
    identifier: Option<IdentifierLimit>,
}

/// The per-identifier limit of a public route (the login e-mail), which
/// only the handler can name: it takes this extractor and calls
/// [`IdentifierLimit::check`] once it has decoded the identifier. The
/// client's per-IP budget is spent in the same atomic decision, so one limit
/// refusing never spends the other; a handler that never calls it still
/// spends the per-IP budget when it answers.
#[derive(Clone, Debug)]
pub struct IdentifierLimit {
    guard: Arc<RateGuard>,
    ip: RateKey,
    spent: Arc<AtomicBool>,
}

impl IdentifierLimit {
    /// Decides the request against the route's limits for this identifier
    /// and hands back the identifier as the limit counted it: trimmed and
    /// lowercased by [`RateKey::fold_identifier`] (`str::to_lowercase`).
    /// Look the account up by that value, not by one folded again, or
    /// `ΟΔΟΣ@x` could reach an account its limit did not count (a
    /// per-character lowercase turns its final `Σ` into `σ`, not `ς`).
    ///
    /// The answer carries no `RateLimit` headers, allowed or refused: they
    /// would tell any client how much of an identifier's budget others have
    /// spent, so whether an account is in use (an unknown e-mail and a
    /// known one must answer alike). A refusal carries `Retry-After` only.
    ///
    /// # Errors
    ///
    /// 429 with `Retry-After` when a limit refuses; 503 when the backend is
    /// down and the route fails closed.
    pub async fn check(&self, identifier: &str) -> Result<String, GuardError> {
        self.spent.store(true, Ordering::SeqCst);
        let folded = RateKey::fold_identifier(identifier);
        let key = self.guard.folded_identifier_key(&folded);
        self.guard
            .check(self.ip, None, Some(key))
            .await
            .map_err(RateRefused::into_error)?;
        Ok(folded)
    }
}

/// An identifier limit on `guard` for the client `ip`, for a face that runs
/// the route's guards outside the router (guard-leptos' direct calls).
#[doc(hidden)]
pub fn identifier_limit(guard: Arc<RateGuard>, ip: RateKey) -> IdentifierLimit {
    IdentifierLimit {
        guard,
        ip,
        spent: Arc::default(),
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for IdentifierLimit {
    type Rejection = GuardError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, GuardError> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            GuardError::internal("IdentifierLimit taken on a route without `rate_identifier`")
        })
    }
}

impl Guards {
    pub(crate) fn new(
        authenticator: Option<Arc<dyn Authenticator>>,
        rate: Option<RateGuard>,
        csrf: Option<Arc<CsrfPolicy>>,
        extensions: http::Extensions,
    ) -> Self {
        Self(Arc::new(Inner {
            authenticator,
            rate: rate.filter(|r| !r.is_empty()).map(Arc::new),
            csrf,
            extensions,
        }))
    }

    /// Runs the guards a route declared. On refusal the response is ready
    /// (generic body, `Retry-After` and rate headers where they apply).
    ///
    /// Decided in the call ([`Self::enforce_now`]) when the limiter is in
    /// memory and the authenticator answers at once; the future then only
    /// hands the decision over.
    pub(crate) fn enforce(
        &self,
        spec: &'static RouteSpec,
        parts: &mut Parts,
    ) -> impl Future<Output = Result<Pass, Response>> {
        let step = self.enforce_now(spec, parts);
        async move {
            match step {
                Ok(pass) => Ok(pass),
                Err(Stop::Refused(refusal)) => Err(refusal),
                Err(Stop::Wait(wait)) => self.enforce_later(spec, parts, wait).await,
            }
        }
    }

    /// The guards in one synchronous pass, in the order of the request
    /// flow, as far as they can go without waiting: all the way when the
    /// limiter's backend [decides at once](RateGuard::decides_at_once) (the
    /// in-memory one) and the authenticator answers at once (a bearer
    /// token, an API key); else it stops where it must wait, for
    /// [`Self::enforce_later`].
    ///
    /// No future is built on that path: a guarded request then runs its
    /// guards as plain calls, not as nested state machines, which is less
    /// code for the instruction cache to hold under load (BENCHMARKS.md,
    /// "Tenth step").
    #[expect(
        clippy::result_large_err,
        reason = "the refusal is the response itself: boxing it would allocate for every refusal, and this is called in one place per request"
    )]
    pub(crate) fn enforce_now(
        &self,
        spec: &'static RouteSpec,
        parts: &mut Parts,
    ) -> Result<Pass, Stop> {
        let ip = match &self.0.rate {
            Some(rate) if rate.decides_at_once() => {
                let (_, ip) =
                    client_rate_key(&parts.extensions).map_err(IntoResponse::into_response)?;
                rate.precheck_now(ip).map_err(IntoResponse::into_response)?;
                Some((rate, ip))
            }
            Some(_) => return Err(Stop::Wait(Wait::Start)),
            None => None,
        };
        self.cross_site(spec, parts)
            .map_err(IntoResponse::into_response)?;
        let pass = if spec.requires_auth() {
            let Some(authenticator) = self.0.authenticator.as_deref() else {
                return Err(no_authenticator().into_response().into());
            };
            let Some(found) = authenticator.authenticate_now(parts) else {
                return Err(Stop::Wait(Wait::Auth(ip.map(|(_, ip)| ip))));
            };
            self.admit_now(spec, parts, found, ip)?
        } else {
            match ip {
                Some((rate, ip)) if rate.limits().identifier.is_some() => {
                    identifier_pass(rate, ip, parts)
                }
                Some((rate, ip)) => Pass {
                    rate_headers: rate
                        .check_now(ip, None, None)
                        .map_err(IntoResponse::into_response)?,
                    ..Pass::default()
                },
                None => Pass::default(),
            }
        };
        Ok(self.settle(parts, pass))
    }

    /// The rest of the guards from where [`Self::enforce_now`] stopped.
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps its arguments twice in its future"
    )]
    pub(crate) fn enforce_later<'a>(
        &'a self,
        spec: &'static RouteSpec,
        parts: &'a mut Parts,
        wait: Wait,
    ) -> impl Future<Output = Result<Pass, Response>> + 'a {
        async move {
            let pass = match wait {
                Wait::Auth(ip) => {
                    let found = match self.0.authenticator.as_deref() {
                        Some(authenticator) => authenticator.authenticate(parts).await,
                        None => Err(no_authenticator()),
                    };
                    let ip = self.0.rate.as_ref().zip(ip);
                    self.admit_now(spec, parts, found, ip)?
                }
                Wait::Start => self.enforce_async(spec, parts).await?,
            };
            Ok(self.settle(parts, pass))
        }
    }

    /// The guards as futures, for a limiter whose backend answers over the
    /// network (Redis).
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps its arguments twice in its future"
    )]
    fn enforce_async<'a>(
        &'a self,
        spec: &'static RouteSpec,
        parts: &'a mut Parts,
    ) -> impl Future<Output = Result<Pass, Response>> + 'a {
        async move {
            let ip = match &self.0.rate {
                Some(rate) => {
                    let (_, ip) =
                        client_rate_key(&parts.extensions).map_err(IntoResponse::into_response)?;
                    rate.precheck(ip)
                        .await
                        .map_err(IntoResponse::into_response)?;
                    Some((rate, ip))
                }
                None => None,
            };
            self.cross_site(spec, parts)
                .map_err(IntoResponse::into_response)?;
            if spec.requires_auth() {
                return self.enforce_auth(spec, parts, ip).await;
            }
            Ok(match ip {
                Some((rate, ip)) if rate.limits().identifier.is_some() => {
                    identifier_pass(rate, ip, parts)
                }
                Some((rate, ip)) => Pass {
                    rate_headers: rate
                        .check(ip, None, None)
                        .await
                        .map_err(IntoResponse::into_response)?,
                    ..Pass::default()
                },
                None => Pass::default(),
            })
        }
    }

    /// The cross-site request check, before authentication: a forged
    /// request never reaches the session store, nor a public handler (a
    /// login form posted from another site). Not charged to the client's
    /// budget: the client is the victim's browser.
    fn cross_site(&self, spec: &RouteSpec, parts: &Parts) -> Result<(), GuardError> {
        if let Some(csrf) = &self.0.csrf
            && let Err(refusal) =
                spec.check_cross_site(csrf, &parts.method, &parts.uri, &parts.headers)
        {
            tracing::info!(reason = %refusal, "cross-site request refused");
            return Err(GuardError::forbidden());
        }
        Ok(())
    }

    /// The route's settings, for the extractors.
    fn settle(&self, parts: &mut Parts, pass: Pass) -> Pass {
        if !self.0.extensions.is_empty() {
            parts.extensions.extend(self.0.extensions.clone());
        }
        pass
    }

    /// After authentication answered `found`, with a limiter that decides
    /// at once: the per-account limit and quota, then authorization; a
    /// failed authentication still costs the client.
    #[expect(
        clippy::result_large_err,
        reason = "the refusal is the response itself: boxing it would allocate for every refusal, and this is called in one place per request"
    )]
    fn admit_now(
        &self,
        spec: &'static RouteSpec,
        parts: &mut Parts,
        found: Result<Option<Principal>, GuardError>,
        ip: Option<(&Arc<RateGuard>, RateKey)>,
    ) -> Result<Pass, Response> {
        let principal = match found.and_then(|p| p.ok_or_else(GuardError::unauthenticated)) {
            Ok(principal) => principal,
            Err(refusal) => {
                let headers = ip.and_then(|(rate, ip)| rate.charge_now(ip));
                return Err(with_rate_headers(refusal, headers));
            }
        };
        let rate_headers = match ip {
            Some((rate, ip)) => rate
                .check_now(ip, Some(rate.principal_key(&principal)), None)
                .map_err(IntoResponse::into_response)?,
            None => None,
        };
        authorized(spec, parts, principal, rate_headers)
    }

    /// Authentication, the per-account limit and quota, authorization, as
    /// futures.
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps its arguments twice in its future"
    )]
    fn enforce_auth(
        &self,
        spec: &'static RouteSpec,
        parts: &mut Parts,
        ip: Option<(&Arc<RateGuard>, RateKey)>,
    ) -> impl Future<Output = Result<Pass, Response>> {
        async move {
            let principal = match authenticate(self.0.authenticator.as_deref(), parts).await {
                Ok(principal) => principal,
                // A failed login attempt still costs the client.
                Err(refusal) => return Err(charged(refusal, ip).await),
            };
            let rate_headers = match ip {
                // The per-account limit and quota come before authorization
                // (the design's order), so a principal probing routes its
                // roles forbid spends its budget like any other request.
                Some((rate, ip)) => rate
                    .check(ip, Some(rate.principal_key(&principal)), None)
                    .await
                    .map_err(IntoResponse::into_response)?,
                None => None,
            };
            authorized(spec, parts, principal, rate_headers)
        }
    }

    /// Applies what holds for every response of a guarded handler: a 5xx the
    /// handler built itself is replaced by the generic 500 (its body may
    /// carry internals), rate headers are added, and authenticated responses
    /// are `no-store`.
    ///
    /// Done at once, in the call, unless the per-IP budget of a route whose
    /// handler never checked its identifier limit is still to be spent:
    /// only that waits on the limiter, in a boxed future (a rare path), so
    /// the future returned is small where the handler future holds it.
    pub fn finish(&self, spec: &'static RouteSpec, pass: Pass, response: Response) -> Finish {
        let mut response = if response.status().is_server_error()
            && response.extensions().get::<GenericBody>().is_none()
        {
            GuardError::internal(format_args!(
                "handler {} answered {} with a body of its own; replaced by the generic body",
                spec.handler(),
                response.status()
            ))
            .into_response()
        } else {
            response
        };
        let Pass {
            authenticated,
            rate_headers,
            identifier,
        } = pass;
        // A handler that never asked still spends the client's per-IP
        // budget; those headers describe the client's own budget only.
        if let Some(limit) = identifier
            && !limit.spent.load(Ordering::SeqCst)
        {
            return Finish(Some(FinishInner::Charging(Box::pin(async move {
                if let Some(headers) = limit.guard.charge(limit.ip).await {
                    headers.apply(response.headers_mut());
                }
                finish_headers(&mut response, rate_headers, authenticated);
                response
            }))));
        }
        finish_headers(&mut response, rate_headers, authenticated);
        Finish(Some(FinishInner::Ready(response)))
    }
}

/// `refusal`, counted against the client's per-IP limit, with the headers.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` keeps its arguments twice in its future"
)]
fn charged(
    refusal: GuardError,
    ip: Option<(&Arc<RateGuard>, RateKey)>,
) -> impl Future<Output = Response> {
    async move {
        let headers = match ip {
            Some((rate, ip)) => rate.charge(ip).await,
            None => None,
        };
        with_rate_headers(refusal, headers)
    }
}

/// `refusal`'s response, with the `RateLimit` headers of its charge.
fn with_rate_headers(refusal: GuardError, headers: Option<RateHeaders>) -> Response {
    let mut response = refusal.into_response();
    if let Some(headers) = headers {
        headers.apply(response.headers_mut());
    }
    response
}

/// Authorization of an authenticated principal, after its limits allowed
/// the request: the refusal keeps the rate headers; an admitted principal
/// is put where the handler's extractors find it.
#[expect(
    clippy::result_large_err,
    reason = "the refusal is the response itself: boxing it would allocate for every refusal, and this is called in one place per request"
)]
fn authorized(
    spec: &'static RouteSpec,
    parts: &mut Parts,
    principal: Principal,
    rate_headers: Option<RateHeaders>,
) -> Result<Pass, Response> {
    if let Err(refusal) = spec.authorize(&principal) {
        return Err(with_rate_headers(refusal, rate_headers));
    }
    parts.extensions.insert(principal);
    Ok(Pass {
        authenticated: true,
        rate_headers,
        identifier: None,
    })
}

/// The pass of a public route with a per-identifier limit: the handler
/// decides with [`IdentifierLimit::check`] once it knows the identifier.
fn identifier_pass(rate: &Arc<RateGuard>, ip: RateKey, parts: &mut Parts) -> Pass {
    let limit = IdentifierLimit {
        guard: rate.clone(),
        ip,
        spent: Arc::default(),
    };
    parts.extensions.insert(limit.clone());
    Pass {
        identifier: Some(limit),
        ..Pass::default()
    }
}

/// Where [`Guards::enforce_now`] stopped: a refusal, ready, or a step that
/// has to wait.
pub(crate) enum Stop {
    /// The guards refused; answer with this response unchanged.
    Refused(Response),
    /// A guard has to wait; [`Guards::enforce_later`] goes on from there.
    Wait(Wait),
}

impl From<Response> for Stop {
    fn from(refusal: Response) -> Self {
        Self::Refused(refusal)
    }
}

/// The step a synchronous pass could not take.
pub(crate) enum Wait {
    /// The limiter's backend answers over the network: every guard runs as
    /// a future, from the start (nothing was asked of the backend yet).
    Start,
    /// The authenticator has to wait (a session store): the per-IP
    /// precheck (with this client key) and the cross-site check are done.
    Auth(Option<RateKey>),
}

/// The router refuses to build an `auth` route without an authenticator;
/// reaching one is a wiring bug, so the request fails closed.
fn no_authenticator() -> GuardError {
    GuardError::internal("auth route reached without an authenticator")
}

/// The rate headers, then `no-store` on an authenticated response.
fn finish_headers(response: &mut Response, rate_headers: Option<RateHeaders>, authenticated: bool) {
    if let Some(headers) = rate_headers {
        headers.apply(response.headers_mut());
    }
    if authenticated {
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
}

/// The response of [`Guards::finish`]: ready, or waiting on the limiter.
#[must_use = "the response is in the future"]
pub struct Finish(Option<FinishInner>);

enum FinishInner {
    Ready(Response),
    Charging(BoxFuture<'static, Response>),
}

impl std::fmt::Debug for Finish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finish").finish_non_exhaustive()
    }
}

impl Future for Finish {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        match self.0.take() {
            Some(FinishInner::Ready(response)) => Poll::Ready(response),
            Some(FinishInner::Charging(mut future)) => match future.as_mut().poll(cx) {
                Poll::Ready(response) => Poll::Ready(response),
                Poll::Pending => {
                    self.0 = Some(FinishInner::Charging(future));
                    Poll::Pending
                }
            },
            // Polled after it completed: a bug of the caller, answered as
            // an internal error rather than a panic.
            None => Poll::Ready(
                GuardError::internal("guards' finish polled after it completed").into_response(),
            ),
        }
    }
}

/// Resolves the principal or refuses with 401 (or the authenticator's own
/// failure). Shared by the macro's guards and the standalone layer.
pub(crate) async fn authenticate(
    authenticator: Option<&dyn Authenticator>,
    parts: &mut Parts,
) -> Result<Principal, GuardError> {
    let Some(authenticator) = authenticator else {
        return Err(no_authenticator());
    };
    let found = match authenticator.authenticate_now(parts) {
        Some(found) => found,
        None => authenticator.authenticate(parts).await,
    };
    found?.ok_or_else(GuardError::unauthenticated)
}
