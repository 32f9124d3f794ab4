//! Guarded Leptos server functions: `#[secure_server_fn]` gives a
//! `#[server]` function the guards of a `#[secure_route]` handler, checked
//! in its body, so they hold on the HTTP path and on the direct
//! server-side call alike, and lists it in the router's report.
//!
//! ```ignore
//! use guard_leptos::{GuardedError, secure_server_fn};
//! use leptos::prelude::*;
//!
//! #[secure_server_fn(auth, owner = "todo", rate = "10/min")]
//! #[server]
//! pub async fn delete_todo(todo: Owned<Todo>) -> Result<(), GuardedError> {
//!     // `todo` is the caller's todo: another user's id answered 404 already.
//!     todo.delete().await?;          // a SQL error is a generic 500 with an id
//!     Ok(())
//! }
//!
//! let app = ServerFns::new(SessionAuth::new())
//!     .install(GuardedRouter::new())?   // fails naming every unguarded #[server] fn
//!     .layer(session_layer)
//!     .build()?;
//! ```
//!
//! # What a guarded server function gets
//!
//! * **Who may call it**: `auth` (401 without a principal, the
//!   authenticator's rejection text never sent) or `public = "<reason>"`;
//!   `roles = [...]` / `permission = "..."` (403).
//! * **Limits**: `rate`, `rate_ip`, `rate_account`, `quota`, through the
//!   router's backend (memory, or Redis shared across instances): 429 with
//!   `Retry-After`.
//! * **Owner-scoped load**: `owner = "todo"` and an argument
//!   `todo: Owned<Todo>`; the caller sends the id (`<Todo as Resource>::Id`),
//!   the body receives the resource loaded through
//!   [`OwnedResource::load`](guard_axum::OwnedResource) with the principal's
//!   scope, and absent and not-yours are the same 404. The loader's state
//!   is [`Context`]: read the pool from the Leptos context.
//! * **Strict arguments**: unknown argument names and identity fields
//!   (`user_id`, `owner_id`, `tenant_id`, `role`, …) refused with 400, for
//!   the form (`PostUrl`, the default), `GetUrl` and `Json` codecs;
//!   `validator` rules of every argument type that derives `Validate`;
//!   identity fields inside argument types refused when the router is built.
//! * **Generic errors**: the function returns [`GuardedError`]; `?` on any
//!   error gives the generic 500 with an error id, the detail logged
//!   scrubbed under it.
//! * **CSRF**: under a cookie authenticator, every server function called
//!   over HTTP refuses cross-site calls (`Sec-Fetch-Site` / `Origin`) with
//!   403, unless it says `csrf = "none: <reason>"`: an `auth` one by
//!   [`CsrfPolicy::check`](guard_core::csrf::CsrfPolicy::check), a public
//!   one (login, sign-up: login CSRF) by
//!   [`CsrfPolicy::check_public`](guard_core::csrf::CsrfPolicy::check_public),
//!   which lets clients with no browser headers through.
//!
//! # Two paths, one set of checks
//!
//! [`ServerFns::install`] routes each server function on the
//! [`GuardedRouter`](guard_axum::GuardedRouter) as a guarded route (the
//! same guards, security headers, body limits, timeout and panic catcher as
//! every route, and a report row of kind `server_fn`), after checking that
//! every `#[server]` function linked into the binary is guarded. The
//! function body starts with the same checks: on the HTTP path the route
//! already ran them; on a direct call (a page render calling the
//! function) they run there, from the page request in the Leptos context.
//!
//! # Security
//!
//! * The check of unguarded server functions sees those registered with
//!   `server_fn`'s inventory, which is every `#[server]` function linked
//!   into the binary on the platforms `inventory` supports (Linux, macOS,
//!   Windows).
//! * A JSON call is decoded strictly into the argument struct, so unknown
//!   and identity fields are refused at any depth. A form or `GET` call
//!   has its top-level names checked; a field nested inside an argument's
//!   own struct there (`item[x]=1`) is ignored by serde unless that type
//!   says `#[serde(deny_unknown_fields)]`.
//! * A direct call is not an HTTP request: the CSRF check does not apply
//!   to it (the page request that renders it is a safe `GET`).
//! * Only `GuardedRouter<()>` takes server functions: put app state in the
//!   Leptos context ([`ServerFns::context`]).

mod args;
mod error;
mod runtime;

pub use error::GuardedError;
pub use guard_macros::secure_server_fn;
pub use runtime::{Checked, ServerFns, ServerFnsError, unguarded_server_fns};

/// The state an owner-scoped loader of a server function receives: the
/// Leptos context of the call, read with `use_context`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context;

/// The principal of the current guarded server-function call, as its
/// guards established it.
///
/// # Errors
///
/// 401 when no guarded `auth` call established one in this context.
pub fn principal() -> Result<guard_core::Principal, GuardedError> {
    leptos::prelude::use_context::<Checked>()
        .and_then(|checked| checked.principal().cloned())
        .ok_or_else(|| guard_core::GuardError::unauthenticated().into())
}

/// The per-identifier limit of a public server function with a `rate` (the
/// login e-mail), as `IdentifierLimit::check` is for a route: the call is
/// decided against the identifier's budget (any client) together with the
/// client's, and the identifier comes back trimmed and lowercased as the
/// limit counted it. Look the account up by that value.
///
/// ```ignore
/// #[secure_server_fn(public = "the login form", rate = "10/min")]
/// #[server]
/// pub async fn login(email: String, password: String) -> Result<(), GuardedError> {
///     let email = guard_leptos::limit_identifier(&email).await?;
///     // ... look the account up by `email`
/// }
/// ```
///
/// # Errors
///
/// 429 with `Retry-After` when a limit refuses (no `RateLimit` headers: they
/// would tell whether the account is in use); 503 when the backend is down;
/// 500 when called outside a guarded public function that has a `rate`.
pub async fn limit_identifier(identifier: &str) -> Result<String, GuardedError> {
    let checked = leptos::prelude::use_context::<Checked>();
    let Some(limit) = checked.as_ref().and_then(Checked::identifier_limit) else {
        return Err(guard_core::GuardError::internal(
            "limit_identifier called outside a guarded public server function with a `rate`",
        )
        .into());
    };
    Ok(limit.check(identifier).await?)
}

/// Refuses a call of a public server function that another site's page
/// made the browser send (login CSRF), by
/// [`CsrfPolicy::check_public`](guard_core::csrf::CsrfPolicy::check_public):
/// the app's own pages (`Origin` of this host, or `Sec-Fetch-Site:
/// same-origin`) and clients that are no browser (neither header) pass.
///
/// A server function called through the route [`ServerFns::install`]
/// gives it needs no call: that route runs this check already, public or
/// `auth`, under a cookie authenticator. This is for one reached another
/// way over HTTP (a `leptos_axum` handler mounted by hand), where its body
/// runs the checks of a direct call, which have no cross-site check; call
/// it first in that body.
///
/// ```ignore
/// #[server]
/// pub async fn login(email: String, password: String) -> Result<(), GuardedError> {
///     guard_leptos::refuse_cross_site()?;
///     // ...
/// }
/// ```
///
/// # Errors
///
/// 403 `{"error":"forbidden"}` for a cross-site call; 500 outside a
/// request's Leptos context.
pub fn refuse_cross_site() -> Result<(), GuardedError> {
    let Some(parts) = leptos::prelude::use_context::<http::request::Parts>() else {
        return Err(guard_core::GuardError::internal(
            "refuse_cross_site called without a request in the Leptos context",
        )
        .into());
    };
    guard_core::csrf::CsrfPolicy::new()
        .check_public(&parts.method, &parts.uri, &parts.headers)
        .map_err(|refusal| {
            tracing::info!(%refusal, "cross-site call of a public server function refused");
            guard_core::GuardError::forbidden().into()
        })
}

#[doc(hidden)]
pub mod __private {
    //! Used by the code `#[secure_server_fn]` generates. Not public API.

    pub use crate::runtime::{
        CanonicalId, Registered, args_problems, attach, canonical_id, enter, invalid, serve,
    };
    pub use guard_axum::__private::*;
    pub use guard_core::validate::check_json_strict;
    pub use inventory;
    pub use server_fn::ServerFn;

    /// An argument, for the validation that runs only when its type has
    /// `validator` rules (autoref specialization: [`Validates`] for types
    /// that derive `Validate`, [`NoRules`] for the rest).
    #[derive(Debug)]
    pub struct Arg<'a, T>(pub &'a T);

    /// Runs the argument's `validator` rules.
    pub trait Validates {
        /// `Err` with the failing fields.
        fn guard_validate(&self) -> Result<(), guard_core::validate::InputError>;
    }

    impl<T: validator::Validate> Validates for Arg<'_, T> {
        fn guard_validate(&self) -> Result<(), guard_core::validate::InputError> {
            guard_core::validate::validate_input(self.0)
        }
    }

    /// An argument type without `validator` rules.
    pub trait NoRules {
        /// Always `Ok`.
        fn guard_validate(&self) -> Result<(), guard_core::validate::InputError> {
            Ok(())
        }
    }

    impl<T> NoRules for &Arg<'_, T> {}

    /// A server function's protocol, for the media type its input codec
    /// decodes (autoref specialization: [`HttpInput`] for `Http<I, O>`,
    /// [`OtherInput`] for any other protocol, whose codec is left alone).
    #[derive(Debug)]
    pub struct Protocol<P>(core::marker::PhantomData<P>);

    impl<P> Protocol<P> {
        /// The marker.
        #[must_use]
        pub const fn new() -> Self {
            Self(core::marker::PhantomData)
        }
    }

    impl<P> Default for Protocol<P> {
        fn default() -> Self {
            Self::new()
        }
    }

    /// The input codec's `Content-Type` of an HTTP protocol.
    pub trait HttpInput {
        /// `Some(media type)`.
        fn input_media(&self) -> Option<&'static str>;
    }

    impl<I: server_fn::codec::Encoding, O> HttpInput for Protocol<server_fn::Http<I, O>> {
        fn input_media(&self) -> Option<&'static str> {
            Some(<I as server_fn::ContentType>::CONTENT_TYPE)
        }
    }

    /// A protocol whose input media type is not known.
    pub trait OtherInput {
        /// Always `None`.
        fn input_media(&self) -> Option<&'static str> {
            None
        }
    }

    impl<P> OtherInput for &Protocol<P> {}
}
