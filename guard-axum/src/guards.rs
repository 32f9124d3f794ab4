//! The router-wide guard context every guarded handler runs with.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use guard_core::{Authenticator, GenericBody, GuardError, RouteSpec};
use http::request::Parts;
use http::{HeaderValue, header};

/// What the guards of one built router share: the authenticator and the
/// router's settings. Cloning is one reference count.
#[derive(Clone)]
pub struct Guards(Arc<Inner>);

struct Inner {
    authenticator: Option<Arc<dyn Authenticator>>,
}

impl std::fmt::Debug for Guards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guards")
            .field(
                "authenticator",
                &self.0.authenticator.as_ref().map(|a| a.describe()),
            )
            .finish()
    }
}

impl Guards {
    pub(crate) fn new(authenticator: Option<Arc<dyn Authenticator>>) -> Self {
        Self(Arc::new(Inner { authenticator }))
    }

    /// Runs the guards a route declared, in the order of the request flow:
    /// authentication (401), then authorization (403). On success the
    /// principal is in the request's extensions for the handler's
    /// extractors.
    pub async fn enforce(
        &self,
        spec: &'static RouteSpec,
        parts: &mut Parts,
    ) -> Result<(), GuardError> {
        if spec.requires_auth() {
            let principal = authenticate(self.0.authenticator.as_deref(), parts).await?;
            spec.authorize(&principal)?;
            parts.extensions.insert(principal);
        }
        Ok(())
    }

    /// Applies what holds for every response of a guarded handler: a 5xx the
    /// handler built itself is replaced by the generic 500 (its body may
    /// carry internals), and authenticated responses are `no-store`.
    pub fn finish(&self, spec: &'static RouteSpec, response: Response) -> Response {
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
        if spec.requires_auth() {
            response
                .headers_mut()
                .entry(header::CACHE_CONTROL)
                .or_insert(HeaderValue::from_static("no-store"));
        }
        response
    }
}

/// Resolves the principal or refuses with 401 (or the authenticator's own
/// failure). Shared by the macro's guards and the standalone layer.
pub(crate) async fn authenticate(
    authenticator: Option<&dyn Authenticator>,
    parts: &mut Parts,
) -> Result<guard_core::Principal, GuardError> {
    let Some(authenticator) = authenticator else {
        // The router refuses to build an `auth` route without an
        // authenticator; reaching this is a wiring bug, so fail closed.
        return Err(GuardError::internal(
            "auth route reached without an authenticator",
        ));
    };
    authenticator
        .authenticate(parts)
        .await?
        .ok_or_else(GuardError::unauthenticated)
}
