//! Method routing that accepts guarded handlers only.
//!
//! `get`, `post`, `put`, `patch` and `delete` take a handler annotated with
//! `#[secure_route(...)]`; a plain `async fn` or an axum `MethodRouter` does
//! not compile:
//!
//! ```compile_fail
//! use guard_axum::{GuardedRouter, routing::get};
//!
//! async fn unguarded() -> &'static str { "anyone" }
//!
//! let router = GuardedRouter::<()>::new().route("/", get(unguarded));
//! ```

use axum::routing::{MethodFilter, MethodRouter};
use http::Method;

use crate::guards::Guards;
use crate::handler::{Guarded, GuardedFn, SecureHandler};
use guard_core::RouteSpec;

type Attach<S> = Box<dyn FnOnce(MethodRouter<S>, Guards) -> MethodRouter<S> + Send>;

pub(crate) struct Entry<S> {
    pub(crate) method: Method,
    pub(crate) spec: &'static RouteSpec,
    pub(crate) attach: Attach<S>,
}

/// The guarded handlers of one path, by method. Built with [`get`],
/// [`post`], … and chained (`get(list).post(create)`).
#[must_use]
pub struct GuardedMethodRouter<S = ()> {
    pub(crate) entries: Vec<Entry<S>>,
}

impl<S> std::fmt::Debug for GuardedMethodRouter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| (&e.method, e.spec.handler())))
            .finish()
    }
}

/// What [`crate::GuardedRouter::route`] accepts: a [`GuardedMethodRouter`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a guarded method router",
    label = "`GuardedRouter::route` takes `guard_axum::routing::get(handler)` and friends",
    note = "build the route with `guard_axum::routing::get` (or `post`, `put`, `patch`, `delete`) on handlers annotated with `#[secure_route(...)]`, not with `axum::routing`"
)]
pub trait IntoGuardedMethodRouter<S> {
    /// The guarded method router.
    fn into_guarded(self) -> GuardedMethodRouter<S>;
}

impl<S> IntoGuardedMethodRouter<S> for GuardedMethodRouter<S> {
    fn into_guarded(self) -> GuardedMethodRouter<S> {
        self
    }
}

macro_rules! methods {
    ($($name:ident => $filter:ident, $method:ident;)*) => {
        $(
            #[doc = concat!("Routes `", stringify!($method), "` requests to a guarded handler.")]
            pub fn $name<H, M, S>(handler: H) -> GuardedMethodRouter<S>
            where
                H: GuardedFn<M, S>,
                M: 'static,
                S: Clone + Send + Sync + 'static,
            {
                GuardedMethodRouter { entries: Vec::new() }.$name(handler)
            }
        )*

        impl<S> GuardedMethodRouter<S>
        where
            S: Clone + Send + Sync + 'static,
        {
            $(
                #[doc = concat!("Adds a guarded handler for `", stringify!($method), "`.")]
                pub fn $name<H, M>(self, handler: H) -> Self
                where
                    H: GuardedFn<M, S>,
                    M: 'static,
                {
                    self.on(Method::$method, MethodFilter::$filter, handler.into_handler())
                }
            )*
        }
    };
}

methods! {
    get => GET, GET;
    post => POST, POST;
    put => PUT, PUT;
    patch => PATCH, PATCH;
    delete => DELETE, DELETE;
}

impl<S> GuardedMethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn on<H, M>(mut self, method: Method, filter: MethodFilter, handler: H) -> Self
    where
        H: SecureHandler<M, S>,
        M: 'static,
    {
        self.entries.push(Entry {
            method,
            spec: H::SPEC,
            attach: Box::new(move |router, guards| {
                router.on(filter, Guarded::new(handler, guards))
            }),
        });
        self
    }
}
