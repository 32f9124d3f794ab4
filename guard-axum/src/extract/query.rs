//! [`ValidQuery<T>`]: a strictly decoded, validated query string.

use axum::extract::{FromRequestParts, Query};
use guard_core::GuardError;
use guard_core::validate::{InputError, StrictOptions, check_query_keys, validate_input};
use http::Uri;
use http::request::Parts;
use serde::de::DeserializeOwned;
use validator::Validate;

use super::options::{field_detail, strict_options};

/// The query string decoded strictly into `T` (a plain struct) and
/// validated.
///
/// Refuses with 400: keys `T` does not declare (`unknown_field`), identity
/// keys (`?user_id=`, `identity_field`) unless allowed by
/// [`AllowIdentityFields`](super::AllowIdentityFields), values of the wrong
/// type or repeated keys (generic), validation failures (codes per field).
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidQuery<T>(pub T);

/// Decodes the query of `uri` into `T`: [`check_query_keys`], then axum's
/// query decoder, then `T::validate()`.
///
/// # Errors
///
/// As [`ValidQuery`]; [`InputError::Unverifiable`] when `T` is not a plain
/// struct.
pub fn decode_query_strict<T>(uri: &Uri, options: &StrictOptions) -> Result<T, InputError>
where
    T: DeserializeOwned + Validate,
{
    check_query_keys::<T>(uri.query().unwrap_or_default(), options)?;
    // axum's rejection text quotes the input; only the fact is kept.
    let Query(value) = Query::<T>::try_from_uri(uri).map_err(|_| InputError::Shape)?;
    validate_input(&value)?;
    Ok(value)
}

impl<T, S> FromRequestParts<S> for ValidQuery<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = GuardError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let options = strict_options(&parts.extensions)?;
        decode_query_strict::<T>(&parts.uri, &options)
            .map(ValidQuery)
            .map_err(|err| err.into_guard_error(field_detail(&parts.extensions)))
    }
}
