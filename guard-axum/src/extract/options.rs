//! Per-route settings the strict extractors read from request extensions.

use guard_core::GuardError;
use guard_core::validate::{FieldDetail, StrictOptions};
use http::Extensions;

/// Identity fields a route accepts in its body or query, by exact name
/// (`#[secure_route(body = T, allow_identity(role = "<why this route may set it>"))]`).
///
/// Without it, [`Valid`](super::Valid) and [`ValidQuery`](super::ValidQuery)
/// refuse every identity field (`user_id`, `tenantId`, `role`… see
/// [`guard_core::validate::is_identity_field`]) with 400 `identity_field`.
/// Insert it into the request's extensions before the extractor runs (the
/// macro's guards do; by hand, any layer or middleware can). A name that is
/// not an identity field is a configuration mistake and answers the generic
/// 500 rather than being ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowIdentityFields(pub &'static [&'static str]);

/// The strict options of one request.
pub(crate) fn strict_options(extensions: &Extensions) -> Result<StrictOptions, GuardError> {
    let options = StrictOptions::new();
    match extensions.get::<AllowIdentityFields>() {
        None => Ok(options),
        Some(AllowIdentityFields(names)) => options
            .allow_identity_fields(names.iter().copied())
            .map_err(GuardError::internal),
    }
}

/// Whether a 400 lists fields: a [`FieldDetail`] in the extensions (the
/// router inserts `FieldDetail::Generic` app-wide to switch lists off), else
/// listed.
pub(crate) fn field_detail(extensions: &Extensions) -> FieldDetail {
    extensions.get::<FieldDetail>().copied().unwrap_or_default()
}
