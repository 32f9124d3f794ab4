//! The upload file-type names.

/// Every name `upload(types = [...])` accepts, in the order error messages
/// list them: each kind's lowercase canonical name, and `jpg` as an alias of
/// `jpeg`.
///
/// The macro refuses any other name at compile time; guard-core's
/// `FileKind::from_name` parses exactly these, and a test there fails if the
/// two ever differ.
pub const FILE_KINDS: &[&str] = &[
    "png", "jpeg", "jpg", "gif", "webp", "pdf", "zip", "txt", "svg", "html",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_lowercase_words() {
        for (i, name) in FILE_KINDS.iter().enumerate() {
            assert!(!name.is_empty(), "empty name at {i}");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase()),
                "{name:?} is not lowercase ASCII letters"
            );
            assert!(!FILE_KINDS[..i].contains(name), "{name:?} listed twice");
        }
    }
}
