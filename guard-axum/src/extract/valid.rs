//! [`Valid<T>`]: a strictly decoded, validated JSON body.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use guard_core::GuardError;
use guard_core::validate::decode_json_strict;
use http::request::Parts;
use http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use validator::Validate;

use super::limit::{BodyLimit, read_body_limited};
use super::options::{field_detail, strict_options};

/// A JSON body decoded strictly into `T` and validated.
///
/// Refuses, in this order, each with a generic body that never echoes the
/// input:
///
/// | what | status | body |
/// |---|---|---|
/// | `Content-Type` missing, or not `application/json` / `application/*+json`, or with a `charset` other than UTF-8 | 415 | `{"error":"unsupported_media_type"}` |
/// | body over the route's [`BodyLimit`] (default 64 KiB), cut off while streaming | 413 | `{"error":"payload_too_large"}` |
/// | malformed JSON, wrong types, missing fields | 400 | `{"error":"invalid_input"}` |
/// | unknown fields at any depth, identity fields (`user_id`, `role`…) not allowed by [`AllowIdentityFields`](super::AllowIdentityFields), validation failures | 400 | `{"error":"invalid_input","fields":{"title":["length"]}}` |
///
/// ```
/// use axum::Router;
/// use axum::routing::post;
/// use guard_axum::extract::Valid;
/// use serde::Deserialize;
/// use validator::Validate;
///
/// #[derive(Deserialize, Validate)]
/// struct NewProject {
///     #[validate(length(min = 1, max = 100))]
///     title: String,
/// }
///
/// async fn create(Valid(body): Valid<NewProject>) -> String {
///     body.title
/// }
///
/// let app: Router = Router::new().route("/projects", post(create));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Valid<T>(pub T);

impl<T> Valid<T>
where
    T: DeserializeOwned + Validate,
{
    /// Checks the content type, reads the body within the request's limit
    /// and decodes it strictly: the whole of what the extractor does.
    ///
    /// # Errors
    ///
    /// The refusals listed on [`Valid`].
    pub async fn from_parts_and_body(parts: &Parts, body: Body) -> Result<T, GuardError> {
        require_json(&parts.headers)?;
        let bytes =
            read_body_limited(&parts.headers, body, BodyLimit::of(&parts.extensions)).await?;
        Self::decode(parts, &bytes)
    }

    /// Decodes an already read body with the request's strict options.
    ///
    /// # Errors
    ///
    /// The 400s listed on [`Valid`].
    pub fn decode(parts: &Parts, bytes: &Bytes) -> Result<T, GuardError> {
        let options = strict_options(&parts.extensions)?;
        decode_json_strict::<T>(bytes, &options)
            .map_err(|err| err.into_guard_error(field_detail(&parts.extensions)))
    }
}

impl<T, S> FromRequest<S> for Valid<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = GuardError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        Self::from_parts_and_body(&parts, body).await.map(Valid)
    }
}

/// 415 unless there is exactly one `Content-Type` and it is JSON.
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), GuardError> {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let is_json = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().is_ok_and(is_json_media_type),
        _ => false,
    };
    if is_json {
        Ok(())
    } else {
        Err(GuardError::unsupported_media_type())
    }
}

/// `application/json` or `application/<anything>+json`, any case, with
/// parameters, of which a `charset` must be UTF-8: JSON exchanged between
/// systems is UTF-8 (RFC 8259, 8.1) and the decoder reads it so.
fn is_json_media_type(value: &str) -> bool {
    let essence = guard_core::validate::media_type(value);
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let json = subtype.eq_ignore_ascii_case("json")
        || subtype.len() > "+json".len()
            && subtype
                .get(subtype.len() - "+json".len()..)
                .is_some_and(|suffix| suffix.eq_ignore_ascii_case("+json"))
            && !subtype.contains(['/', ' ']);
    kind.eq_ignore_ascii_case("application") && json && guard_core::validate::charset_is_utf8(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_json_media_types_only() {
        let table = [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("application/json;charset=UTF-8", true),
            ("application/json; charset=\"utf-8\"", true),
            ("application/json; CHARSET = utf-8 ; v=2", true),
            ("application/json; charset=utf-16", false),
            ("application/json; charset=iso-8859-1", false),
            ("application/json; charset=utf-7", false),
            ("application/json; charset=", false),
            ("application/problem+json; charset=latin1", false),
            ("application/PROBLEM+JSON", true),
            ("Application/JSON", true),
            ("application/problem+json", true),
            ("application/vnd.api+json;v=1", true),
            ("application/+json", false),
            ("text/json", false),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data; boundary=x", false),
            ("application/jsonp", false),
            ("application/json-seq", false),
            ("application", false),
            ("", false),
        ];
        for (value, want) in table {
            assert_eq!(is_json_media_type(value), want, "{value}");
        }
    }
}
