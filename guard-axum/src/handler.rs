//! Guarded handlers: the only kind [`crate::routing`] accepts.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use axum::extract::Request;
use axum::handler::Handler;
use axum::response::Response;

use crate::guards::Guards;
use guard_core::RouteSpec;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A handler annotated with `#[secure_route(...)]`.
///
/// Implemented only by the macro's expansion: the guards it declared run
/// before any of the handler's own extractors. A plain `async fn` does not
/// implement it, so routing one is a compile error.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a guarded handler",
    label = "this handler has no `#[secure_route(...)]`",
    note = "annotate the handler: `#[secure_route(auth)]` for a route that needs a session or token, or `#[secure_route(public = \"<reason>\")]` for a deliberately public one"
)]
pub trait SecureHandler<M, S>: Clone + Copy + Send + Sync + Sized + 'static {
    /// The guards the handler declared.
    const SPEC: &'static RouteSpec;

    /// Runs the guards, the extractors and the handler.
    fn call(self, request: Request, state: S, guards: Guards) -> BoxFuture<'static, Response>;
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
        self.handler.call(request, state, self.guards)
    }
}
