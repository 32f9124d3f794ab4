//! Strict input: decode what the route declared, refuse everything else.
//!
//! | step | refuses | code in the 400 |
//! |---|---|---|
//! | [`decode_json_strict`] | malformed JSON, trailing data | (generic 400) |
//! | | an identity field (`user_id`, `tenantId`, `is_admin`…, see [`is_identity_field`]) at any depth, declared or not, unless the route opts in ([`StrictOptions::allow_identity_field`]) | `identity_field` |
//! | | a field the target type does not declare, at any depth, with or without `deny_unknown_fields` | `unknown_field` |
//! | | a value of the wrong type, a missing field | (generic 400) |
//! | | `validator::Validate` failures | validator's codes (`length`, `email`, `range`…) |
//! | [`check_query_keys`] | unknown and identity query keys | `unknown_field`, `identity_field` |
//! | [`text::single_line`], [`text::multi_line`] (opt-in, as `custom` validators) | control, invisible and bidi characters in display text | `text` |
//!
//! The 400 lists field paths (`title`, `address.city`, `items[0].name`) and
//! codes, never a submitted value; [`FieldDetail::Generic`] drops the list.
//! [`InputError`] converts into [`crate::GuardError`] with `?`.
//!
//! # `#[serde(flatten)]` and buffering enums
//!
//! serde reads a flattened field, an untagged enum and an internally tagged
//! enum from a private buffer; fields ignored there reach neither
//! `deny_unknown_fields` nor `serde_ignored`. Strict decoding detects when
//! such a buffer would hold an object (or a flattened struct's fields) and
//! refuses to decode it unchecked ([`InputError::Unverifiable`], a 500 that
//! names the type in the log); [`body_type_problems`] reports the type when
//! the router is built. Untagged enums of plain values (`IdOrName`) are fine.
//!
//! # Build-time checks
//!
//! [`declared_fields`] and [`identity_fields_declared`] read a type's field
//! names by letting it deserialize from a probe, so the router can refuse a
//! body type that declares `user_id` before any request arrives.

mod detect;
mod error;
mod identity;
mod introspect;
mod json;
mod options;
mod query;
pub mod text;

pub use error::{FieldDetail, IDENTITY_FIELD, InputError, MAX_LISTED_FIELDS, UNKNOWN_FIELD};
pub use identity::{IDENTITY_FIELDS, is_identity_field};
pub use introspect::{
    body_type_problems, declared_fields, identity_fields_declared, top_level_fields,
};
pub use json::{check_json_strict, decode_json_strict, validate_input};
pub use options::{StrictConfigError, StrictOptions};
pub use query::{check_form_utf8, check_names, check_query_keys};

/// The media type of a `Content-Type` value: what comes before its
/// parameters, trimmed, case as sent (media types compare without case).
///
/// ```
/// assert_eq!(guard_core::validate::media_type(" Application/JSON ; charset=utf-8"), "Application/JSON");
/// assert_eq!(guard_core::validate::media_type(""), "");
/// ```
#[must_use]
pub fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

/// Whether a `Content-Type` value declares no charset or UTF-8 (any case,
/// quoted or not): the only text encoding the decoders of JSON and forms
/// read. A body declared in another charset would be read as other text
/// than its sender meant, so the faces refuse it with 415.
///
/// ```
/// use guard_core::validate::charset_is_utf8;
/// assert!(charset_is_utf8("application/json"));
/// assert!(charset_is_utf8("application/json; Charset=\"UTF-8\""));
/// assert!(!charset_is_utf8("application/json; charset=utf-16"));
/// assert!(!charset_is_utf8("application/x-www-form-urlencoded; charset="));
/// ```
#[must_use]
pub fn charset_is_utf8(content_type: &str) -> bool {
    content_type
        .split(';')
        .skip(1)
        .all(|parameter| match parameter.split_once('=') {
            Some((name, charset)) if name.trim().eq_ignore_ascii_case("charset") => {
                let charset = charset.trim();
                let charset = charset
                    .strip_prefix('"')
                    .and_then(|c| c.strip_suffix('"'))
                    .unwrap_or(charset);
                charset.eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}
