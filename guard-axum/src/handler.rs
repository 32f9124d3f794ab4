//! Guarded handlers: the only kind [`crate::routing`] accepts.

use std::marker::PhantomData;

use axum::extract::Request;
use axum::handler::Handler;
use axum::response::Response;

use crate::guards::{Guards, Pass};
use guard_core::RouteSpec;

/// A boxed, sendable future: the core's, so a guarded handler and an
/// authenticator return the same type.
pub use guard_core::auth::BoxFuture;

/// A handler annotated with `#[secure_route(...)]`.
///
/// Implemented only by the macro's expansion. The framework runs the guards
/// the handler declared ([`SecureHandler::SPEC`]) before the handler sees
/// the request: [`SecureHandler::call`] receives an [`Incoming`] request,
/// whose only way to its parts and body is [`Incoming::admit`], which
/// enforces the guards. An impl written by hand therefore cannot skip them.
/// A plain `async fn` does not implement the trait, so routing one is a
/// compile error.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a guarded handler",
    label = "this handler has no `#[secure_route(...)]`",
    note = "annotate the handler: `#[secure_route(auth)]` for a route that needs a session or token, or `#[secure_route(public = \"<reason>\")]` for a deliberately public one"
)]
pub trait SecureHandler<M, S>:
    sealed::Sealed + Clone + Copy + Send + Sync + Sized + 'static
{
    /// The guards the handler declared.
    const SPEC: &'static RouteSpec;

    /// Admits the request through its guards, runs the handler's
    /// extractors and the handler.
    fn call(self, incoming: Incoming<S>) -> BoxFuture<'static, Response>;
}

pub(crate) mod sealed {
    /// Implemented by `#[secure_route]`'s expansion (through
    /// `__private::Sealed`); a marker, not a capability: the capability is
    /// that only [`super::Incoming::admit`] hands out the request.
    pub trait Sealed {}
}

/// A request on its way to a guarded handler, before its guards ran.
///
/// Its parts, body and the route's guards are reachable only through
/// [`Incoming::admit`].
#[must_use = "a request is answered only once it is admitted"]
pub struct Incoming<S> {
    request: Request,
    state: S,
    guards: Guards,
    spec: &'static RouteSpec,
}

impl<S> std::fmt::Debug for Incoming<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("method", self.request.method())
            .field("handler", &self.spec.handler())
            .finish_non_exhaustive()
    }
}

/// A request its guards admitted: what the handler's extractors read.
#[derive(Debug)]
#[non_exhaustive]
pub struct Admitted<S> {
    /// The request's head, with the principal and route settings inserted.
    pub parts: http::request::Parts,
    /// The request's body, unread.
    pub body: axum::body::Body,
    /// The router's state.
    pub state: S,
    /// The route's guards, for [`Guards::finish`].
    pub guards: Guards,
    /// What the guards decided, for [`Guards::finish`].
    pub pass: Pass,
}

impl<S> Incoming<S> {
    /// Runs the route's declared guards (client IP and per-IP limit,
    /// authentication, authorization, per-account limit and quota, CSRF,
    /// route settings).
    ///
    /// # Errors
    ///
    /// The ready refusal (generic body, status, `Retry-After`) when a guard
    /// refuses; the handler must answer with it unchanged.
    pub async fn admit(self) -> Result<Admitted<S>, Response> {
        let Self {
            request,
            state,
            guards,
            spec,
        } = self;
        let (mut parts, body) = request.into_parts();
        let pass = guards.enforce(spec, &mut parts).await?;
        Ok(Admitted {
            parts,
            body,
            state,
            guards,
            pass,
        })
    }

    /// The guards declared by the handler this request goes to.
    #[must_use]
    pub fn spec(&self) -> &'static RouteSpec {
        self.spec
    }
}

/// What `guard_axum::routing::get` and friends take: the name of a handler
/// annotated with `#[secure_route(...)]` (the macro makes `name` a function
/// returning the guarded handler).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a guarded handler",
    label = "this handler has no `#[secure_route(...)]`",
    note = "annotate the handler: `#[secure_route(auth)]` for a route that needs a session or token, or `#[secure_route(public = \"<reason>\")]` for a deliberately public one"
)]
pub trait GuardedFn<M, S> {
    /// The guarded handler.
    type Handler: SecureHandler<M, S>;

    /// Returns the guarded handler.
    fn into_handler(self) -> Self::Handler;
}

impl<F, H, M, S> GuardedFn<M, S> for F
where
    F: FnOnce() -> H,
    H: SecureHandler<M, S>,
{
    type Handler = H;

    fn into_handler(self) -> H {
        self()
    }
}

/// A guarded handler bound to its router's guards, as axum sees it.
pub(crate) struct Guarded<H, M> {
    handler: H,
    guards: Guards,
    _marker: PhantomData<fn() -> M>,
}

impl<H, M> Guarded<H, M> {
    pub(crate) fn new(handler: H, guards: Guards) -> Self {
        Self {
            handler,
            guards,
            _marker: PhantomData,
        }
    }
}

impl<H: Clone, M> Clone for Guarded<H, M> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            guards: self.guards.clone(),
            _marker: PhantomData,
        }
    }
}

/// Marker for axum's `Handler` impl of [`Guarded`].
#[derive(Debug)]
pub(crate) struct ViaGuards<M>(PhantomData<M>);

impl<H, M, S> Handler<ViaGuards<M>, S> for Guarded<H, M>
where
    H: SecureHandler<M, S>,
    S: Clone + Send + Sync + 'static,
    M: 'static,
{
    type Future = BoxFuture<'static, Response>;

    fn call(self, request: Request, state: S) -> Self::Future {
        self.handler.call(Incoming {
            request,
            state,
            guards: self.guards,
            spec: H::SPEC,
        })
    }
}
