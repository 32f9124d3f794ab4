//! Declare the guards of an axum handler; the router refuses unguarded
//! handlers.
//!
//! ```
//! use axum::Json;
//! use guard_axum::auth::{ApiKeys, BearerAuth};
//! use guard_axum::routing::get;
//! use guard_axum::{GuardError, GuardedRouter, Principal, secure_route};
//!
//! #[secure_route(public = "load balancer health check")]
//! async fn health() -> &'static str {
//!     "ok"
//! }
//!
//! #[secure_route(auth)]
//! async fn me(user: Principal) -> Result<Json<String>, GuardError> {
//!     Ok(Json(user.id().to_owned()))
//! }
//!
//! #[secure_route(auth, roles = ["admin"])]
//! async fn purge() -> &'static str {
//!     "purged"
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = ApiKeys::new().with_key("an-api-key-of-at-least-32-bytes!", Principal::new("42"))?;
//! let app: guard_axum::GuardedApp = GuardedRouter::new()
//!     .route("/healthz", get(health))
//!     .route("/api/me", get(me))
//!     .route("/admin/purge", guard_axum::routing::post(purge))
//!     .authenticator(BearerAuth::new(keys))
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! Serve it with [`GuardedApp::serve`], hyper's HTTP/1 server with a header
//! read timeout (10 s: slowloris clients are disconnected), request heads
//! capped (16 KiB, 100 fields), the peer address handed to the client-IP
//! guard, and graceful shutdown; see [`serve`]:
//!
//! ```no_run
//! # async fn run(app: guard_axum::GuardedApp) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! app.serve(listener).await
//! # }
//! ```
//!
//! # What a guarded route does
//!
//! Before any of the handler's extractors run: the per-IP rate limit (429),
//! authentication (401 `{"error":"unauthenticated"}`), the per-account rate
//! limit and quota (429, so a refused role check spends the budget too),
//! roles or permission (403 `{"error":"forbidden"}`); then the extractors: strictly decoded bodies and queries
//! ([`Valid`], [`ValidQuery`]: 415, 413, 400), owner-scoped lookups
//! ([`Owned`]: 404 for absent and not-yours alike), uploads ([`Upload`]). Extractor rejections become the generic body
//! of their status; a handler's own 5xx and every `?`-propagated error become
//! the generic 500 with an error id, the detail logged (scrubbed) under it.
//! Authenticated responses are `Cache-Control: no-store`.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `sessions` | yes | [`auth::SessionAuth`] on tower-sessions |
//! | `password` | yes | `password::PasswordHasher`: Argon2id with a bound on concurrent hashes (503 + `Retry-After` when full) |
//! | `fetch` | no | `fetch::SafeClient`: outbound HTTP only where a URL policy allows (SSRF) |
//! | `redis` | no | `rate_limit::RedisBackend`: one budget across many processes |
//! | `testing` | no | `testing::AttackSuite`: attack requests generated from the route report |
//! | `object-store` | no | `upload::ObjectStoreBackend`: uploads in S3, GCS or Azure through the `object_store` crate |
//!
//! # Security
//!
//! * The principal comes from the authenticator only; nothing in the body,
//!   path or query can set it.
//! * A handler's own 4xx responses are sent as the handler built them: do
//!   not put internals in them (return [`GuardError`] instead).
//! * `Router::layer` calls made on the *built* router wrap it whole; prefer
//!   [`GuardedRouter::layer`], which cannot miss a route.
//! * [`axum::serve()`](fn@axum::serve) accepts a [`GuardedApp`] but sets no
//!   header read timeout: a client that never finishes its headers keeps
//!   its connection. [`GuardedApp::serve`] closes it (see [`serve`]).

// Lets the macro's absolute `::guard_axum::` paths resolve inside this
// crate's own tests and doc tests.
#[allow(unused_extern_crates)]
extern crate self as guard_axum;

mod app;
pub mod auth;
pub mod cors;
pub mod extract;
// The SSRF-guarded client needs no HTTP server: it lives in guard-core.
#[cfg(feature = "fetch")]
pub use guard_core::fetch;
pub use guard_core::validate::text;
mod guards;
mod handler;
pub mod headers;
#[cfg(feature = "password")]
pub mod password;
pub mod rate_limit;
mod router;
pub mod routing;
pub mod serve;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;
mod unread;
mod unvalidated;
pub mod upload;

pub use app::{ConnectedApp, GuardedApp};
pub use extract::{Owned, OwnedResource, Owner, Resource};
pub use extract::{Valid, ValidPath, ValidQuery};
pub use guard_core::report::{ReportFormat, RouteReport};
pub use guard_core::{ErrorId, ErrorKind, GuardError, OwnerScope, Principal, RouteSpec};
pub use guards::IdentifierLimit;
pub use handler::{Admitted, Incoming, SecureHandler};
pub use router::{BuildError, GuardedRouter};
pub use upload::Upload;

/// Declares the guards of an axum handler.
///
/// Every route says who may call it: `auth` (an authenticated principal)
/// or `public = "<reason>"`. With `auth`, `roles = ["a", "b"]` requires one
/// of the roles and `permission = "p"` requires the permission (403).
///
/// | option | meaning |
/// |---|---|
/// | `owner = "project"` (or a list) | the handler takes `Owned<T>` loaded from `{project}` within the principal's scope |
/// | `body = T`, `query = T` | strictly decoded, validated input taken as `Valid<T>` / `ValidQuery<T>` |
/// | `body_limit = "1MiB"` | the body cap (default 64 KiB) |
/// | `allow_identity(owner_id = "reason")` | a body field the route may carry although it names an identity |
/// | `rate = "10/min"` | per account and per client IP (`"5/s, burst = 10"`) |
/// | `rate_ip`, `rate_account`, `rate_identifier` | one side only; `rate_identifier` on a public route with [`IdentifierLimit`] |
/// | `quota = "1000/day"` | a hard ceiling per account per period |
/// | `upload(max = "5MiB", types = ["png"])` | the handler takes [`Upload`] |
/// | `fetch` | the route fetches user-supplied URLs (reported as an outbound surface) |
/// | `csrf = "none: <reason>"` | under a cookie authenticator: skip the cross-site request check (see below) |
///
/// Under an authenticator whose credential is a cookie
/// ([`auth::SessionAuth`]), every POST, PUT, PATCH and DELETE to an `auth`
/// route that carries a `Cookie` must come from the service's own origin
/// (`Sec-Fetch-Site: same-origin`, or an `Origin` whose host and port are the
/// request's `Host`) or a trusted one (the CORS policy's exact origins and
/// [`GuardedRouter::csrf_trusted_origins`]); anything else is 403
/// `{"error":"forbidden"}` before authentication. A public route's unsafe
/// requests get the same check whenever a browser says where they come from
/// (`Origin` or `Sec-Fetch-Site`), so another site cannot post a login or
/// sign-up form (login CSRF); a client that sends neither, such as curl,
/// passes. `csrf = "none: …"` is for a route no browser calls; the report
/// shows it.
///
/// The handler's name stays a function: `name()` returns the guarded
/// handler (`name().spec()`, `name().call_unguarded(…)` in unit tests), and
/// `routing::get(name)` takes it.
///
/// Misuse is a compile error on the offending token:
///
/// ```compile_fail
/// #[guard_axum::secure_route]
/// async fn who_may_call_this() {}
/// ```
///
/// ```compile_fail
/// #[guard_axum::secure_route(auth, public = "login")]
/// async fn contradiction() {}
/// ```
///
/// ```compile_fail
/// #[guard_axum::secure_route(ath)] // did you mean `auth`?
/// async fn typo() {}
/// ```
///
/// ```compile_fail
/// #[guard_axum::secure_route(auth)]
/// fn not_async() {}
/// ```
///
/// # The raw-input check is a lint
///
/// A handler argument that reads input unvalidated is refused: axum's
/// `Json`, `Form`, `Query`, `Path`, `RawQuery`, `RawPathParams`, `RawForm`,
/// `Multipart` and a `String`, `Bytes` or `Body` body, also inside
/// `Option`/`Result` or a tuple, because it would skip the strict decoding
/// and the identity-field check. Written by name, the error names the fix;
/// hidden behind a type alias, a renamed import (`use axum::Json as J;`), a
/// type macro or a projection, the argument's type is refused too, with
/// an error at the argument that names the raw type and the fix. An extractor of your own that reads the body
/// unvalidated passes: review extractors as you would any code that reads
/// input. What does hold for every argument whatever its type is the
/// router's part: the guards run first, and an undeclared body is capped
/// at 64 KiB.
pub use guard_macros::secure_route;

#[doc(hidden)]
pub mod __private {
    //! Used by the code `#[secure_route]` generates. Not public API.

    pub use crate::extract::owned::{Resource, declares};
    pub use crate::guards::{Finish, Guards, Pass, identifier_limit};
    pub use crate::handler::GuardedFn;
    pub use crate::handler::sealed::Sealed;
    pub use crate::handler::{
        Admitted, BoxFuture, Incoming, LastArgument, SecureHandler, ViaParts, ViaRequest,
    };
    pub use crate::unvalidated::{AcceptedVerdict, Probe, RawVerdict, refuse_unvalidated};
    pub use axum::extract::{FromRequest, FromRequestParts, Request};
    pub use axum::response::{IntoResponse, Response};
    pub use guard_core::RouteSpec;
    pub use guard_core::rate::{QuotaSpec, RateSpec};
    pub use guard_core::spec::{BodySpec, DeclaredAs, QuerySpec, RateLimits, UploadSpec};

    use guard_core::{ErrorKind, GenericBody, GuardError};

    /// What `body = T` needs of `T`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a strictly decoded body",
        label = "used as `body = …` here",
        note = "derive `serde::Deserialize` and `validator::Validate` for it"
    )]
    pub trait StrictBody {
        /// [`body_problems`] of `Self`: the spec reaches it through this
        /// trait, so a type that is not a body gets this trait's message
        /// alone, not a second bare error about `body_problems`' bound.
        fn problems(allowed: &'static [&'static str]) -> Vec<String>;
    }
    impl<T: serde::de::DeserializeOwned + validator::Validate> StrictBody for T {
        fn problems(allowed: &'static [&'static str]) -> Vec<String> {
            body_problems::<T>(allowed)
        }
    }

    /// What `query = T` needs of `T`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a strictly decoded query",
        label = "used as `query = …` here",
        note = "derive `serde::Deserialize` and `validator::Validate` for it"
    )]
    pub trait StrictQuery {
        /// [`query_problems`] of `Self`, as [`StrictBody::problems`].
        fn problems() -> Vec<String>;
    }
    impl<T: serde::de::DeserializeOwned + validator::Validate> StrictQuery for T {
        fn problems() -> Vec<String> {
            query_problems::<T>()
        }
    }

    /// What a handler's return type needs: the expansion turns the value
    /// into the response through it, spanned at the return type, so a type
    /// that is no response gets this message there.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a response, so it cannot be a `#[secure_route]` handler's return type",
        label = "this handler returns `{Self}`",
        note = "return a type that implements `axum::response::IntoResponse` (`String`, `Json<T>`, `StatusCode`, …), or `Result<T, GuardError>` to fail with a generic error"
    )]
    pub trait HandlerResponse {
        /// The response.
        fn into_handler_response(self) -> Response;
    }
    impl<T: IntoResponse> HandlerResponse for T {
        fn into_handler_response(self) -> Response {
            self.into_response()
        }
    }

    /// What the router refuses in a `body = T` type at build time: identity
    /// fields the route does not allow, fields that strict decoding cannot
    /// check (`#[serde(flatten)]`).
    pub fn body_problems<T: serde::de::DeserializeOwned>(
        allowed: &'static [&'static str],
    ) -> Vec<String> {
        match guard_core::validate::StrictOptions::new()
            .allow_identity_fields(allowed.iter().copied())
        {
            Ok(options) => guard_core::validate::body_type_problems::<T>(&options),
            Err(err) => vec![err.to_string()],
        }
    }

    /// What the router refuses in a `query = T` type at build time.
    pub fn query_problems<T: serde::de::DeserializeOwned>() -> Vec<String> {
        let mut problems = guard_core::validate::body_type_problems::<T>(
            &guard_core::validate::StrictOptions::new(),
        );
        if guard_core::validate::top_level_fields::<T>().is_none() {
            problems.push("a query type must be a struct of named fields".to_owned());
        }
        problems
    }

    /// Turns an extractor's rejection into the generic body of its status:
    /// axum's rejections carry serde's and axum's message text, which may
    /// echo the input. The model's own rejections pass unchanged.
    pub fn rejection<R: IntoResponse>(rejection: R) -> Response {
        let response = rejection.into_response();
        if response.extensions().get::<GenericBody>().is_some() {
            return response;
        }
        let status = response.status();
        let kind = ErrorKind::from_status(status);
        if status.is_server_error() {
            GuardError::internal(format_args!("extractor rejected the request with {status}"))
                .into_response()
        } else {
            tracing::debug!(%status, "extractor rejected the request");
            GuardError::new(kind).into_response()
        }
    }
}
