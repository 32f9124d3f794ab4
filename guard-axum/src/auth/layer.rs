//! The authentication guard as a plain tower layer.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use guard_core::Authenticator;
use guard_core::auth::BoxFuture;
use tower::{Layer, Service};

use crate::guards::authenticate;

/// Requires an authenticated principal for every request through it: 401
/// (generic body) otherwise, before the inner service sees the request. The
/// principal is put in the request's extensions, where the
/// [`Principal`](guard_core::Principal) extractor finds it.
///
/// ```
/// use axum::{Router, routing::get};
/// use guard_axum::{Principal, auth::{ApiKeys, BearerAuth, RequireAuthLayer}};
///
/// let keys = ApiKeys::new().with_key("a-long-random-api-key-of-32-bytes!", Principal::new("svc"))?;
/// let app: Router = Router::new()
///     .route("/me", get(|p: Principal| async move { p.id().to_owned() }))
///     .layer(RequireAuthLayer::new(BearerAuth::new(keys)));
/// # Ok::<(), guard_axum::auth::ApiKeyError>(())
/// ```
#[derive(Clone)]
pub struct RequireAuthLayer {
    authenticator: Arc<dyn Authenticator>,
}

impl std::fmt::Debug for RequireAuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireAuthLayer")
            .field("authenticator", &self.authenticator.describe())
            .finish()
    }
}

impl RequireAuthLayer {
    /// Requires authentication by `authenticator`.
    #[must_use]
    pub fn new(authenticator: impl Authenticator) -> Self {
        Self {
            authenticator: Arc::new(authenticator),
        }
    }
}

impl<S> Layer<S> for RequireAuthLayer {
    type Service = RequireAuth<S>;

    fn layer(&self, inner: S) -> RequireAuth<S> {
        RequireAuth {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

/// The service of [`RequireAuthLayer`].
#[derive(Clone)]
pub struct RequireAuth<S> {
    inner: S,
    authenticator: Arc<dyn Authenticator>,
}

impl<S> std::fmt::Debug for RequireAuth<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireAuth").finish_non_exhaustive()
    }
}

impl<S> Service<Request> for RequireAuth<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was polled ready serves this request (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match authenticate(Some(&*authenticator), &mut parts).await {
                Ok(principal) => {
                    parts.extensions.insert(principal);
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(refusal) => Ok(refusal.into_response()),
            }
        })
    }
}
