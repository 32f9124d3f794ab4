//! Strict arguments: what a server function's caller sends, checked against
//! what it declares, for each codec, before the arguments are decoded: the
//! whole JSON document (every depth), the top-level names of a form or a
//! query. Unknown names and identity fields (`user_id`, `role`, …) are
//! refused with the same 400 a route's body gets.

use guard_core::validate::{InputError, StrictOptions, check_names};
use http::request::Parts;
use http::{Method, header};

use crate::runtime::Registered;

/// Checks the top-level argument names of one call: the query of a `GET`
/// codec, the form of the default `PostUrl` codec, the object of `Json`.
/// Other content types are left to the codec's own decoding.
pub(crate) fn check_keys(reg: &Registered, parts: &Parts, body: &[u8]) -> Result<(), InputError> {
    let options = StrictOptions::new()
        .allow_identity_fields(reg.allowed_identity.iter().copied())
        .map_err(|_| InputError::Shape)?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let keys: Vec<String> = if parts.method == Method::GET {
        form_keys(parts.uri.query().unwrap_or_default().as_bytes())
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        form_keys(body)
    } else if content_type.starts_with("application/json") {
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
