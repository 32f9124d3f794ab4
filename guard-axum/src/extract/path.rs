//! [`ValidPath<T>`]: validated path parameters.

use axum::extract::{FromRequestParts, Path};
use axum::response::IntoResponse as _;
use guard_core::GuardError;
use guard_core::validate::validate_input;
use http::request::Parts;
use serde::de::DeserializeOwned;
use validator::Validate;

use super::options::field_detail;

/// The route's path parameters decoded into `T` and validated.
///
/// A parameter that does not parse (`/projects/abc` for a `u64`) is a 400
/// `{"error":"invalid_input"}` (axum's message, which quotes the segment, is
/// dropped); validation failures list their codes. A `T` that does not fit
/// the route (a missing parameter) is a server mistake: the generic 500.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ValidPath<T>
where
    T: DeserializeOwned + Validate + Send,
    S: Send + Sync,
{
    type Rejection = GuardError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(value) =
            Path::<T>::from_request_parts(parts, state)
                .await
                .map_err(|rejection| {
                    let status = rejection.into_response().status();
                    if status.is_server_error() {
                        GuardError::internal(format_args!(
                            "path parameters do not fit `{}` ({status})",
                            std::any::type_name::<T>()
                        ))
                    } else {
                        GuardError::invalid_input()
                    }
                })?;
        validate_input(&value)
            .map_err(|err| err.into_guard_error(field_detail(&parts.extensions)))?;
        Ok(ValidPath(value))
    }
}
