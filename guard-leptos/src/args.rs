//! Strict arguments: what a server function's caller sends, checked against
//! what it declares, for each codec, before the arguments are decoded: the
//! whole JSON document (every depth), the top-level names of a form or a
//! query. Unknown names and identity fields (`user_id`, `role`, …) are
//! refused with the same 400 a route's body gets. A body in another media
//! type than the codec's, or in a charset other than UTF-8, is refused with
//! 415 first (the same rule as a route's `Valid<T>`): the codec decodes its
//! bytes whatever the `Content-Type` says, so a form labelled `text/plain`
//! would otherwise reach the function without the check of its names.

use guard_core::GuardError;
use guard_core::validate::{
    InputError, StrictOptions, charset_is_utf8, check_form_utf8, check_names, media_type,
};
use http::request::Parts;
use http::{Method, header};

use crate::runtime::Registered;

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// The media type of a `Content-Type` value, lowercased, without its
/// parameters.
fn essence(value: &str) -> String {
    media_type(value).to_ascii_lowercase()
}

/// The request's one `Content-Type`, as its essence: `Ok(None)` when there
/// is none, `Err(())` when it is repeated, not text, or declares a charset
/// other than UTF-8 (the codecs read UTF-8 whatever the label says, so a
/// body labelled `utf-16` would be read as other text than its sender's).
fn request_media(parts: &Parts) -> Result<Option<String>, ()> {
    let mut values = parts.headers.get_all(header::CONTENT_TYPE).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) => match value.to_str() {
            Ok(value) if charset_is_utf8(value) => Ok(Some(essence(value))),
            _ => Err(()),
        },
        (Some(_), Some(_)) => Err(()),
    }
}

/// 415 unless a call with a body (or a `Content-Type`) sends exactly the
/// media type of the function's input codec, any case, with parameters. A
/// `GET` codec reads the query, and a protocol whose codec is not known
/// here is left to it.
pub(crate) fn check_media(reg: &Registered, parts: &Parts, body: &[u8]) -> Result<(), GuardError> {
    let Some(expected) = (reg.media)() else {
        return Ok(());
    };
    if parts.method == Method::GET {
        return Ok(());
    }
    match request_media(parts) {
        Ok(None) if body.is_empty() => Ok(()),
        Ok(Some(media)) if media == essence(expected) => Ok(()),
        _ => Err(GuardError::unsupported_media_type()),
    }
}

/// Checks the top-level argument names of one call: the query of a `GET`
/// codec, the form of the default `PostUrl` codec, the object of `Json`.
/// Other codecs are left to their own decoding.
pub(crate) fn check_keys(reg: &Registered, parts: &Parts, body: &[u8]) -> Result<(), InputError> {
    let options = StrictOptions::new()
        .allow_identity_fields(reg.allowed_identity.iter().copied())
        .map_err(|_| InputError::Shape)?;
    // The codec's media type (the request's was checked against it), or
    // the request's for a protocol whose codec is not known.
    let media = match (reg.media)() {
        Some(expected) => essence(expected),
        None => request_media(parts).ok().flatten().unwrap_or_default(),
    };
    let keys: Vec<String> = if parts.method == Method::GET {
        let query = parts.uri.query().unwrap_or_default().as_bytes();
        check_form_utf8(query)?;
        form_keys(query)
    } else if media == FORM {
        check_form_utf8(body)?;
        form_keys(body)
    } else if media == JSON {
        // The whole document, decoded strictly into the argument struct:
        // nested unknown and identity fields are refused as in a route's
        // JSON body, not only the top-level names.
        return if body.is_empty() {
            Ok(())
        } else {
            (reg.json)(body, &options)
        };
    } else {
        Vec::new()
    };
    // guard-core's check: the same codes, and the same bounded listing
    // that never echoes a name that is not a plain identifier.
    check_names(keys, reg.fields, &options)
}

/// 404 when the `owner = "…"` argument is sent in another spelling than
/// its id type's own (`+1`, `01` for `1`; an upper-case UUID): the
/// codec would decode it to the same id, a second name for one resource
/// (a route's `Owned<T>` refuses the same path values). Runs after
/// [`check_keys`], so the argument is sent at most once.
pub(crate) fn check_owner_id(
    reg: &Registered,
    parts: &Parts,
    body: &[u8],
) -> Result<(), GuardError> {
    let Some((name, canonical)) = reg.owner else {
        return Ok(());
    };
    let media = match (reg.media)() {
        Some(expected) => essence(expected),
        None => return Ok(()),
    };
    let form = |input: &[u8]| {
        url::form_urlencoded::parse(input)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let sent = if parts.method == Method::GET {
        form(parts.uri.query().unwrap_or_default().as_bytes())
    } else if media == FORM {
        form(body)
    } else if media == JSON {
        // A JSON number has one spelling of an integer (`01`, `+1` and
        // `1.0` do not decode as one); a string id is checked as sent,
        // named or at its position in an array of the arguments.
        let position = reg.fields.iter().position(|field| *field == name);
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(mut args)) => args.remove(name),
            Ok(serde_json::Value::Array(mut args)) => position
                .filter(|&at| at < args.len())
                .map(|at| args.swap_remove(at)),
            _ => None,
        }
        .and_then(|value| match value {
            serde_json::Value::String(text) => Some(text),
            _ => None,
        })
    } else {
        None
    };
    match sent {
        Some(raw) if !canonical(&raw) => Err(GuardError::not_found()),
        _ => Ok(()),
    }
}

/// Top-level names of a URL-encoded form: `a[b]=1` names `a`.
fn form_keys(input: &[u8]) -> Vec<String> {
    url::form_urlencoded::parse(input)
        .map(|(key, _)| match key.find('[') {
            Some(at) => key[..at].to_owned(),
            None => key.into_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

    use super::*;

    fn check(keys: &[&str], declared: &[&str]) -> Result<(), InputError> {
        check_names(keys, declared, &StrictOptions::new())
    }

    #[test]
    fn declared_names_pass_and_others_are_refused() {
        assert!(check(&["title", "done"], &["title", "done"]).is_ok());
        let err = check(&["title", "debug"], &["title"]).unwrap_err();
        assert_eq!(err.fields().unwrap()["debug"], ["unknown_field"]);
    }

    #[test]
    fn identity_fields_are_refused_even_when_declared() {
        let err = check(&["user_id"], &["user_id"]).unwrap_err();
        assert_eq!(err.fields().unwrap()["user_id"], ["identity_field"]);
        let allowed = StrictOptions::new()
            .allow_identity_field("user_id")
            .unwrap();
        assert!(check_names(["user_id"], &["user_id"], &allowed).is_ok());
    }

    #[test]
    fn form_names_are_their_top_level_part() {
        assert_eq!(form_keys(b"a%5Bb%5D=1&c=2"), ["a", "c"]);
        assert_eq!(form_keys(b""), Vec::<String>::new());
    }
}
