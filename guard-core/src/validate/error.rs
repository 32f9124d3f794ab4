//! [`InputError`]: why strict decoding refused, and how that becomes the
//! public 400 (or, for a server-side mistake, the generic 500).

use std::borrow::Cow;
use std::fmt;

use validator::{ValidationErrors, ValidationErrorsKind};

use crate::error::{FieldErrors, GuardError};

/// Code listed for a field the target type does not declare.
pub const UNKNOWN_FIELD: &str = "unknown_field";
/// Code listed for an identity field (`user_id`, `role`…) the route did not
/// opt in to.
pub const IDENTITY_FIELD: &str = "identity_field";

/// At most this many field paths are listed in one 400; a body with ten
/// thousand unknown keys gets a short answer.
pub const MAX_LISTED_FIELDS: usize = 32;

/// A key longer than this, or with characters outside `[A-Za-z0-9_-]`, is
/// listed as `?`: the path names where the problem is without echoing
/// arbitrary client text back.
const MAX_ECHOED_KEY: usize = 64;

/// Why a body or query was refused.
///
/// Converts into [`GuardError`] with `?` (as a 400 listing the fields). It is
/// deliberately not a `std::error::Error`: the blanket conversion of those
/// into `GuardError` is a generic 500, which would hide a client mistake as a
/// server one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// Not JSON (or not a query string) at all: a syntax error, trailing
    /// data, invalid UTF-8. 400 `{"error":"invalid_input"}`; the parser's
    /// message is never sent (it quotes the input).
    Syntax,
    /// Well-formed, but not the target type's shape: a value of the wrong
    /// type, a missing or duplicate field, an unknown enum variant.
    /// 400 `{"error":"invalid_input"}`.
    Shape,
    /// Field-level refusals: unknown fields, identity fields, validation
    /// failures. 400 `{"error":"invalid_input","fields":{path:[codes]}}`.
    Fields(FieldErrors),
    /// The target type buffers part of its input (`#[serde(flatten)]`, an
    /// untagged or internally tagged enum holding an object), where unknown
    /// fields cannot be detected. A server-side mistake that the router's
    /// build-time check reports; answered with the generic 500 rather than
    /// decoding unchecked.
    Unverifiable {
        /// The target type, for the log.
        type_name: &'static str,
    },
}

/// Whether a 400 lists the failing fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldDetail {
    /// `{"error":"invalid_input","fields":{"title":["length"]}}`: field paths
    /// and codes, never values. The default.
    #[default]
    Listed,
    /// `{"error":"invalid_input"}` whatever failed.
    Generic,
}

impl InputError {
    /// The field paths and codes, for [`InputError::Fields`].
    #[must_use]
    pub fn fields(&self) -> Option<&FieldErrors> {
        match self {
            Self::Fields(fields) => Some(fields),
            _ => None,
        }
    }

    /// The public refusal: 400 (with the field list unless `detail` is
    /// [`FieldDetail::Generic`]), or the generic 500 with an error id for
    /// [`InputError::Unverifiable`].
    #[must_use]
    pub fn into_guard_error(self, detail: FieldDetail) -> GuardError {
        match self {
            Self::Syntax | Self::Shape => {
                tracing::debug!(reason = ?self, "input refused");
                GuardError::invalid_input()
            }
            Self::Fields(fields) => {
                tracing::debug!(fields = ?fields, "input refused");
                match detail {
                    FieldDetail::Listed => GuardError::invalid_input().with_fields(fields),
                    FieldDetail::Generic => GuardError::invalid_input(),
                }
            }
            Self::Unverifiable { type_name } => GuardError::internal(format_args!(
                "strict decoding cannot check `{type_name}`: it buffers an object \
                 (#[serde(flatten)] or an untagged / internally tagged enum), where \
                 unknown fields are invisible; declare the fields inline or use an \
                 externally tagged enum"
            )),
        }
    }
}

impl From<InputError> for GuardError {
    fn from(err: InputError) -> Self {
        err.into_guard_error(FieldDetail::Listed)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax => f.write_str("input is not well-formed"),
            Self::Shape => f.write_str("input does not have the expected shape"),
            Self::Fields(fields) => {
                f.write_str("input refused:")?;
                for (path, codes) in fields {
                    write!(f, " {path} [{}]", codes.join(", "))?;
                }
                Ok(())
            }
            Self::Unverifiable { type_name } => {
                write!(f, "strict decoding cannot check `{type_name}`")
            }
        }
    }
}

/// Appends `.key` (or `key` at the root) to a field path, writing `?` for a
/// key that is not a plain identifier.
pub(crate) fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    let plain = !key.is_empty()
        && key.len() <= MAX_ECHOED_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    path.push_str(if plain { key } else { "?" });
}

/// Appends `[index]` to a field path.
pub(crate) fn push_index(path: &mut String, index: usize) {
    use fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(path, "[{index}]");
}

/// Adds one code to one path, keeping codes unique and the map bounded.
pub(crate) fn add_code(fields: &mut FieldErrors, path: String, code: Cow<'static, str>) {
    if let Some(codes) = fields.get_mut(&path) {
        if !codes.contains(&code) {
            codes.push(code);
        }
    } else if fields.len() < MAX_LISTED_FIELDS {
        fields.insert(path, vec![code]);
    }
}

/// The path of a field serde_ignored reports: `address.city`, `items[0].name`.
pub(crate) fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    fn walk(path: &serde_ignored::Path<'_>, out: &mut String) {
        use serde_ignored::Path;
        match path {
            Path::Root => {}
            Path::Seq { parent, index } => {
                walk(parent, out);
                push_index(out, *index);
            }
            Path::Map { parent, key } => {
                walk(parent, out);
                push_key(out, key);
            }
            Path::Some { parent }
            | Path::NewtypeStruct { parent }
            | Path::NewtypeVariant { parent } => walk(parent, out),
        }
    }
    let mut out = String::new();
    walk(path, &mut out);
    out
}

/// The name validator's `Validate` impls of collections give their items'
/// errors (`validator::ValidationErrors::merge_all(.., "_tmp_validator", ..)`).
const VALIDATOR_COLLECTION_KEY: &str = "_tmp_validator";

/// Adds validator's nested errors as `path → codes`, `address.city`,
/// `items[0].name`. Only codes are kept: validator's messages and params can
/// carry the submitted value.
pub(crate) fn add_validation_errors(
    errors: &ValidationErrors,
    prefix: &str,
    out: &mut FieldErrors,
) {
    // Sorted so that the bounded list is the same for the same input.
    let mut entries: Vec<_> = errors.errors().iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    for (name, kind) in entries {
        let mut path = prefix.to_owned();
        // validator keys a collection's own errors (`Vec<T>`, `Option<T>`,
        // a map) under a temporary name of its own: not a field the client
        // sent, so the path goes on from the collection (`[0].text`).
        if *name != VALIDATOR_COLLECTION_KEY {
            push_key(&mut path, name);
        }
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    add_code(out, path.clone(), error.code.clone());
                }
            }
            ValidationErrorsKind::Struct(inner) => add_validation_errors(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    let mut item = path.clone();
                    push_index(&mut item, *index);
                    add_validation_errors(inner, &item, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_echo_plain_keys_only() {
        let table: [(&[&str], &str); 5] = [
            (&["title"], "title"),
            (&["address", "city"], "address.city"),
            (&["a b"], "?"),
            (&["x", "<script>"], "x.?"),
            (&["k".repeat(65).leak()], "?"),
        ];
        for (keys, want) in table {
            let mut path = String::new();
            for key in keys {
                push_key(&mut path, key);
            }
            assert_eq!(path, want);
        }
        let mut path = "items".to_owned();
        push_index(&mut path, 3);
        push_key(&mut path, "name");
        assert_eq!(path, "items[3].name");
    }

    #[test]
    fn a_collections_item_errors_name_the_item_not_validators_temporary() {
        #[derive(validator::Validate)]
        struct Note {
            #[validate(length(max = 3))]
            text: String,
        }
        let notes = vec![
            Note { text: "ok".into() },
            Note {
                text: "too long".into(),
            },
        ];
        let mut fields = FieldErrors::new();
        let errors = validator::Validate::validate(&notes).unwrap_err();
        add_validation_errors(&errors, "", &mut fields);
        let listed: Vec<(String, Vec<String>)> = fields
            .into_iter()
            .map(|(path, codes)| (path, codes.into_iter().map(String::from).collect()))
            .collect();
        assert_eq!(listed, [("[1].text".to_owned(), vec!["length".to_owned()])]);
    }

    #[test]
    fn the_list_is_bounded_and_codes_unique() {
        let mut fields = FieldErrors::new();
        for i in 0..100 {
            add_code(&mut fields, format!("f{i}"), UNKNOWN_FIELD.into());
            add_code(&mut fields, format!("f{i}"), UNKNOWN_FIELD.into());
        }
        assert_eq!(fields.len(), MAX_LISTED_FIELDS);
        assert!(fields.values().all(|codes| codes.len() == 1));
    }

    #[test]
    fn maps_to_the_public_refusals() {
        let mut fields = FieldErrors::new();
        fields.insert("title".into(), vec!["length".into()]);
        let table = [
            (
                InputError::Syntax,
                FieldDetail::Listed,
                400,
                r#"{"error":"invalid_input"}"#,
            ),
            (
                InputError::Shape,
                FieldDetail::Listed,
                400,
                r#"{"error":"invalid_input"}"#,
            ),
            (
                InputError::Fields(fields.clone()),
                FieldDetail::Listed,
                400,
                r#"{"error":"invalid_input","fields":{"title":["length"]}}"#,
            ),
            (
                InputError::Fields(fields),
                FieldDetail::Generic,
                400,
                r#"{"error":"invalid_input"}"#,
            ),
        ];
        for (err, detail, status, body) in table {
            let err = err.into_guard_error(detail);
            assert_eq!(err.status().as_u16(), status);
            assert_eq!(err.public_body(), body);
        }
        let err = GuardError::from(InputError::Unverifiable { type_name: "Body" });
        assert_eq!(err.status().as_u16(), 500);
        assert!(err.error_id().is_some());
    }
}
