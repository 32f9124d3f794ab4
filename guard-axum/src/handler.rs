//! Guarded handlers: the only kind [`crate::routing`] accepts.

use std::marker::PhantomData;

use axum::extract::Request;
use axum::handler::Handler;
use axum::response::Response;

use crate::guards::{Guards, Pass, Stop};
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
    /// The request's head. Split from the body at once, so the guards run
    /// on the parts where they lie: the request is not moved into the
    /// admission's future beside the handler future's own copy (both would
    /// be held across its awaits).
    request: http::request::Parts,
    body: axum::body::Body,
    state: S,
    guards: Guards,
    spec: &'static RouteSpec,
}

impl<S> std::fmt::Debug for Incoming<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("method", &self.request.method)
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
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps its arguments twice in its future"
    )]
    pub fn admit(mut self) -> impl Future<Output = Result<Admitted<S>, Response>> {
        // An `async` block, not an `async fn`: the function's argument
        // would be moved into a second place in the future (its body's
        // binding), and this future is part of every guarded handler's,
        // which axum boxes per request.
        async move {
            let pass = self.guards.enforce(self.spec, &mut self.request).await?;
            let Self {
                request,
                body,
                state,
                guards,
                ..
            } = self;
            Ok(Admitted {
                parts: request,
                body,
                state,
                guards,
                pass,
            })
        }
    }

    /// Admits the request ([`Incoming::admit`]), then answers with
    /// `handler`'s future on the admitted request, or with the refusal:
    /// what `#[secure_route]`'s expansion runs.
    ///
    /// One future for both steps, in which the request is kept once: the
    /// guards run on its parts where they lie, and the handler's future
    /// takes them over only when they are done. (A handler future that
    /// awaited `admit` would keep the request twice, its own and the
    /// admission's, beside everything it holds across its own awaits; axum
    /// boxes this future per request, and one over about 1 KiB takes the
    /// allocator's slow path.)
    #[doc(hidden)]
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` keeps its arguments twice in its future"
    )]
    pub fn serve<F, Fut>(mut self, handler: F) -> impl Future<Output = Response>
    where
        F: FnOnce(Admitted<S>) -> Fut,
        Fut: Future<Output = Response>,
    {
        async move {
            // The guards' synchronous pass first: on the common path (an
            // in-memory limiter, a token authenticator) no guard future is
            // built or polled.
            let pass = match self.guards.enforce_now(self.spec, &mut self.request) {
                Ok(pass) => pass,
                Err(Stop::Refused(refusal)) => return refusal,
                Err(Stop::Wait(wait)) => {
                    match self
                        .guards
                        .enforce_later(self.spec, &mut self.request, wait)
                        .await
                    {
                        Ok(pass) => pass,
                        Err(refusal) => return refusal,
                    }
                }
            };
            let handler = handler(Admitted {
                parts: self.request,
                body: self.body,
                state: self.state,
                guards: self.guards,
                pass,
            });
            handler.await
        }
    }

    /// The guards declared by the handler this request goes to.
    #[must_use]
    pub fn spec(&self) -> &'static RouteSpec {
        self.spec
    }
}

/// How `#[secure_route]`'s expansion extracts a handler's last argument:
/// from the request's parts where it lies when the argument is a
/// [`FromRequestParts`](axum::extract::FromRequestParts) extractor (an
/// `Owned<T>`, a `Path`), else from the request rebuilt from parts and body
/// ([`FromRequest`](axum::extract::FromRequest)), as axum does.
///
/// axum's own `FromRequest` of a parts extractor rebuilds the request and
/// splits it again, so its future holds the request twice; this one holds
/// a reference. Rejections come back as the generic body of their status.
#[doc(hidden)]
pub trait LastArgument<S, M>: Sized {
    /// Extracts the argument; `keep_parts` when later arguments still read
    /// the parts (a body extractor then reads a copy of them).
    fn extract<'a>(
        parts: &'a mut http::request::Parts,
        body: axum::body::Body,
        state: &'a S,
        keep_parts: bool,
    ) -> impl Future<Output = Result<Self, Response>> + Send + 'a;
}

/// Marker of [`LastArgument`] for parts extractors.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum ViaParts {}

/// Marker of [`LastArgument`] for request extractors.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum ViaRequest {}

impl<S, T> LastArgument<S, ViaParts> for T
where
    S: Send + Sync,
    T: axum::extract::FromRequestParts<S> + 'static,
{
    fn extract<'a>(
        parts: &'a mut http::request::Parts,
        body: axum::body::Body,
        state: &'a S,
        _keep_parts: bool,
    ) -> impl Future<Output = Result<Self, Response>> + Send + 'a {
        drop(body);
        Rejected {
            inner: T::from_request_parts(parts, state),
        }
    }
}

impl<S, T> LastArgument<S, ViaRequest> for T
where
    S: Send + Sync,
    T: axum::extract::FromRequest<S> + 'static,
{
    fn extract<'a>(
        parts: &'a mut http::request::Parts,
        body: axum::body::Body,
        state: &'a S,
        keep_parts: bool,
    ) -> impl Future<Output = Result<Self, Response>> + Send + 'a {
        let parts = if keep_parts {
            parts.clone()
        } else {
            // Nothing reads the parts after this argument: moved, with an
            // empty head (no allocation) left in their place.
            std::mem::replace(parts, Request::new(()).into_parts().0)
        };
        Rejected {
            inner: T::from_request(Request::from_parts(parts, body), state),
        }
    }
}

pin_project_lite::pin_project! {
    /// An extractor's future, its rejection turned into the generic body.
    /// A named future rather than an `async` block, which would hold the
    /// extractor's future twice (captured, and awaited).
    struct Rejected<F> {
        #[pin]
        inner: F,
    }
}

impl<F, T, R> Future for Rejected<F>
where
    F: Future<Output = Result<T, R>>,
    R: axum::response::IntoResponse,
{
    type Output = Result<T, Response>;

    #[expect(
        clippy::result_large_err,
        reason = "the refusal is the response itself, returned at once"
    )]
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.project()
            .inner
            .poll(cx)
            .map(|result| result.map_err(crate::__private::rejection))
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
        let (parts, body) = request.into_parts();
        self.handler.call(Incoming {
            request: parts,
            body,
            state,
            guards: self.guards,
            spec: H::SPEC,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GuardError, Owned, OwnedResource, Owner, Resource, secure_route};

    #[derive(Clone, Debug, serde::Serialize)]
    struct Doc {
        id: u32,
        owner: String,
        title: String,
    }

    impl Resource for Doc {
        const PARAM: &'static str = "doc";
        type Id = u32;
    }

    impl OwnedResource<()> for Doc {
        async fn load(_: &(), id: u32, owner: &Owner<'_>) -> Result<Option<Self>, GuardError> {
            Ok(Some(Self {
                id,
                owner: format!("{:?}", owner.scope()),
                title: String::new(),
            }))
        }
    }

    /// The fully guarded route of the benchmarks: authentication, per-IP
    /// and per-account limits, the owner-scoped load.
    #[secure_route(auth, owner = "doc", rate = "10/s")]
    async fn show(Owned(doc): Owned<Doc>) -> axum::Json<Doc> {
        axum::Json(doc)
    }

    /// The `{id}` path parameter.
    #[derive(serde::Deserialize, validator::Validate)]
    struct IdParam {
        id: u32,
    }

    /// The benchmarks' `breakdown/auth` route: the principal and two more
    /// extractors, each of which may refuse.
    #[secure_route(auth)]
    async fn titled(
        user: crate::Principal,
        axum::extract::State(()): axum::extract::State<()>,
        crate::extract::ValidPath(IdParam { id }): crate::extract::ValidPath<IdParam>,
    ) -> Result<axum::Json<Doc>, GuardError> {
        Ok(axum::Json(Doc {
            id,
            owner: user.id().to_owned(),
            title: String::new(),
        }))
    }

    /// The largest request glibc's per-thread cache serves; a larger box
    /// takes `_int_malloc`'s large-chunk path (about 900 instructions more
    /// per request, allocation and free).
    const TCACHE_MAX: usize = 1032;

    fn incoming(spec: &'static RouteSpec) -> Incoming<()> {
        Incoming {
            request: Request::new(axum::body::Body::empty()).into_parts().0,
            body: axum::body::Body::empty(),
            state: (),
            guards: Guards::new(None, None, None, http::Extensions::new()),
            spec,
        }
    }

    #[test]
    fn the_guarded_handler_future_fits_the_allocators_small_sizes() {
        let future = SecureHandler::<_, ()>::call(show(), incoming(show().spec()));
        let size = std::mem::size_of_val(&*future);
        // 1,632 bytes before the admission ran on the parts in place and the
        // guards' futures held less across their awaits.
        assert!(
            size <= TCACHE_MAX,
            "the guarded handler's future is {size} bytes, over {TCACHE_MAX}"
        );
    }

    #[test]
    fn a_handler_with_three_refusable_extractors_fits_the_small_sizes_too() {
        let future = SecureHandler::<_, ()>::call(titled(), incoming(titled().spec()));
        let size = std::mem::size_of_val(&*future);
        // 1,160 bytes (1,184 in the bench) while each extractor's result,
        // the size of a response, stayed in the future across later awaits.
        assert!(
            size <= TCACHE_MAX,
            "the handler's future is {size} bytes, over {TCACHE_MAX}"
        );
    }
}
