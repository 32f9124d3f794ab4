//! Strict query strings and argument names: [`check_query_keys`],
//! [`check_names`], [`check_form_utf8`].

use std::borrow::Cow;

use serde::de::DeserializeOwned;

use super::error::{IDENTITY_FIELD, InputError, UNKNOWN_FIELD, add_code, push_key};
use super::introspect::top_level_fields;
use super::options::StrictOptions;
use crate::error::FieldErrors;

/// Refuses query keys that `T` (a plain struct) does not declare
/// (`unknown_field`) and identity keys (`identity_field`) unless `options`
/// allows them. Keys are percent-decoded first, as the decoder will see them.
/// Decoding the values is left to the framework's query decoder; the axum
/// face runs this first, then decodes and validates.
///
/// ```
/// use guard_core::validate::{StrictOptions, check_query_keys};
///
/// #[derive(serde::Deserialize)]
/// struct Page { page: u32, per_page: Option<u32> }
///
/// let options = StrictOptions::new();
/// assert!(check_query_keys::<Page>("page=2&per_page=50", &options).is_ok());
/// let err = check_query_keys::<Page>("page=2&user%5Fid=7&debug=1", &options).unwrap_err();
/// let fields = err.fields().unwrap();
/// assert_eq!(fields["user_id"], ["identity_field"]);
/// assert_eq!(fields["debug"], ["unknown_field"]);
/// ```
///
/// # Errors
///
/// [`InputError::Fields`] listing the refused keys, or
/// [`InputError::Unverifiable`] when `T` is not a plain struct (a map or a
/// struct with a flattened field accepts keys nobody can list).
pub fn check_query_keys<T: DeserializeOwned>(
    query: &str,
    options: &StrictOptions,
) -> Result<(), InputError> {
    if query.is_empty() {
        return Ok(());
    }
    check_form_utf8(query.as_bytes())?;
    let Some(declared) = top_level_fields::<T>() else {
        return Err(InputError::Unverifiable {
            type_name: std::any::type_name::<T>(),
        });
    };
    check_names(
        url::form_urlencoded::parse(query.as_bytes()).map(|(key, _)| key),
        declared,
        options,
    )
}

/// Refuses a query string or URL-encoded form whose names or values,
/// percent-decoded, are not UTF-8 (`caf%E9`): the usual decoders replace
/// such bytes with U+FFFD, silently storing text the caller never sent.
///
/// ```
/// use guard_core::validate::{InputError, check_form_utf8};
///
/// assert!(check_form_utf8(b"title=caf%C3%A9+ok&done=1").is_ok());
/// assert!(matches!(check_form_utf8(b"title=caf%E9"), Err(InputError::Syntax)));
/// ```
///
/// # Errors
///
/// [`InputError::Syntax`] (400 `{"error":"invalid_input"}`).
pub fn check_form_utf8(input: &[u8]) -> Result<(), InputError> {
    // `percent_decode` keeps a stray `%` (or one without two hex digits)
    // as itself, as `form_urlencoded` decodes it; `+` is ASCII either way.
    let all_text = input
        .split(|&b| b == b'&')
        .all(|part| percent_encoding::percent_decode(part).decode_utf8().is_ok());
    if all_text {
        Ok(())
    } else {
        Err(InputError::Syntax)
    }
}

/// Refuses the `names` a caller sent that are not in `declared`
/// (`unknown_field`) and identity names (`identity_field`) unless `options`
/// allows them: the check behind [`check_query_keys`], for faces that read
/// the names themselves (a form body, a server function's arguments).
///
/// A name that is not a plain identifier is listed as `?`, never echoed,
/// and at most [`MAX_LISTED_FIELDS`](super::MAX_LISTED_FIELDS) names are
/// listed, so a hostile caller cannot make the 400 body carry its bytes.
///
/// ```
/// use guard_core::validate::{StrictOptions, check_names};
///
/// let options = StrictOptions::new();
/// assert!(check_names(["title"], &["title", "done"], &options).is_ok());
/// let err = check_names(["title", "owner_id", "%<script>"], &["title"], &options).unwrap_err();
/// let fields = err.fields().unwrap();
/// assert_eq!(fields["owner_id"], ["identity_field"]);
/// assert_eq!(fields["?"], ["unknown_field"]);
/// ```
///
/// # Errors
///
/// [`InputError::Fields`] listing the refused names.
pub fn check_names<I>(
    names: I,
    declared: &[&str],
    options: &StrictOptions,
) -> Result<(), InputError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut fields = FieldErrors::new();
    for name in names {
        let name = name.as_ref();
        let code = if options.refuses(name) {
            IDENTITY_FIELD
        } else if !declared.contains(&name) {
            UNKNOWN_FIELD
        } else {
            continue;
        };
        let mut path = String::new();
        push_key(&mut path, name);
        add_code(&mut fields, path, Cow::Borrowed(code));
    }
    if fields.is_empty() {
        Ok(())
    } else {
        Err(InputError::Fields(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_utf8_accepts_text_and_refuses_decoded_bytes_that_are_not() {
        for ok in [
            &b""[..],
            b"a=1&b=2",
            b"title=caf%C3%A9",
            b"t=%F0%9F%98%80+x",
            b"t=100%",
            b"t=%zz&u=%4",
            b"t=%41%42",
            "t=caf\u{e9}".as_bytes(),
        ] {
            assert!(check_form_utf8(ok).is_ok(), "{}", ok.escape_ascii());
        }
        for bad in [
            &b"t=%FF"[..],
            b"t=caf%E9",
            b"%C3=1",
            b"a=1&t=%F0%9F%98",
            b"t=%ED%A0%80",
            b"t=\xff",
        ] {
            assert!(
                matches!(check_form_utf8(bad), Err(InputError::Syntax)),
                "{}",
                bad.escape_ascii()
            );
        }
    }
}
