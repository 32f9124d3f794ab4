//! What one upload route accepts: [`UploadLimits`].

use std::borrow::Cow;
use std::num::NonZeroU64;

use guard_core::spec::UploadSpec;
use guard_core::upload::{ByteSize, FileKind, TypeAllowlist};

/// The multipart field that carries the file unless configured otherwise.
pub const DEFAULT_FIELD_NAME: &str = "file";

/// The most multipart parts (the file and any other fields) a request may
/// hold unless configured otherwise.
pub const DEFAULT_MAX_PARTS: u32 = 8;

/// The largest non-file field, in bytes, unless configured otherwise.
pub const DEFAULT_MAX_FIELD_BYTES: u64 = 8 * 1024;

/// What the body envelope allows per part on top of the caps: the boundary
/// line and the part's headers (a long but legitimate file name included).
const PART_OVERHEAD_BYTES: u64 = 8 * 1024;

/// The limits of one upload route, read by the [`Upload`](super::Upload)
/// extractor from the request's extensions.
///
/// `#[secure_route(upload(max = "5MiB", types = ["png"]))]` builds one with
/// [`UploadLimits::from_spec`]; a plain route inserts one itself (for
/// example with `axum::Extension`). The extractor refuses:
///
/// * a file over [`max_bytes`](Self::max_bytes), cut off while streaming:
///   413 `{"error":"payload_too_large"}`;
/// * more than [`max_parts`](Self::max_parts) parts, or a non-file field
///   over [`max_field_bytes`](Self::max_field_bytes): 413;
/// * content whose bytes are not one of [`types`](Self::types) (empty,
///   unknown, not allowed, or a polyglot): 415
///   `{"error":"unsupported_media_type"}`.
///
/// ```
/// use guard_axum::upload::UploadLimits;
/// use guard_core::upload::{ByteSize, FileKind, TypeAllowlist};
///
/// let limits = UploadLimits::new(
///     ByteSize::parse("5MiB")?,
///     TypeAllowlist::new(&[FileKind::Png, FileKind::Pdf]),
/// )?
/// .field_name("attachment")?
/// .max_parts(4)?;
/// assert_eq!(limits.max_bytes().get(), 5 * 1024 * 1024);
/// assert!(limits.body_limit() > limits.max_bytes().get());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct UploadLimits {
    max_bytes: ByteSize,
    types: TypeAllowlist,
    field_name: Cow<'static, str>,
    max_parts: u32,
    max_field_bytes: u64,
}

impl UploadLimits {
    /// Files of at most `max_bytes` whose content sniffs as one of `types`,
    /// in the multipart field [`DEFAULT_FIELD_NAME`], among at most
    /// [`DEFAULT_MAX_PARTS`] parts whose other fields hold at most
    /// [`DEFAULT_MAX_FIELD_BYTES`] each.
    ///
    /// # Errors
    ///
    /// [`UploadConfigError::NoTypes`] for an empty allowlist, which would
    /// refuse every upload.
    pub fn new(max_bytes: ByteSize, types: TypeAllowlist) -> Result<Self, UploadConfigError> {
        if types.is_empty() {
            return Err(UploadConfigError::NoTypes);
        }
        Ok(Self {
            max_bytes,
            types,
            field_name: Cow::Borrowed(DEFAULT_FIELD_NAME),
            max_parts: DEFAULT_MAX_PARTS,
            max_field_bytes: DEFAULT_MAX_FIELD_BYTES,
        })
    }

    /// The limits a route declared with
    /// `upload(max = "...", types = [...])`.
    ///
    /// # Errors
    ///
    /// [`UploadConfigError::ZeroCap`], [`UploadConfigError::UnknownType`] or
    /// [`UploadConfigError::NoTypes`]. The macro refuses all three at compile
    /// time, so for its specs this is a check, not a path users hit.
    pub fn from_spec(spec: &UploadSpec) -> Result<Self, UploadConfigError> {
        let max_bytes = NonZeroU64::new(spec.max_bytes)
            .map(ByteSize::from_bytes)
            .ok_or(UploadConfigError::ZeroCap)?;
        let types = spec
            .types
            .iter()
            .try_fold(TypeAllowlist::default(), |list, name| {
                FileKind::from_name(name)
                    .map(|kind| list.with(kind))
                    .map_err(|_| UploadConfigError::UnknownType {
                        name: (*name).to_owned(),
                    })
            })?;
        Self::new(max_bytes, types)
    }

    /// Reads the file from the multipart field `name` instead of `file`.
    ///
    /// # Errors
    ///
    /// [`UploadConfigError::BadFieldName`] unless `name` is 1 to 64 visible
    /// ASCII characters other than `"`, `;` and `\`.
    pub fn field_name(self, name: impl Into<Cow<'static, str>>) -> Result<Self, UploadConfigError> {
        let name = name.into();
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b';' | b'\\'));
        if !valid {
            return Err(UploadConfigError::BadFieldName);
        }
        Ok(Self {
            field_name: name,
            ..self
        })
    }

    /// Allows at most `parts` multipart parts, the file included.
    ///
    /// # Errors
    ///
    /// [`UploadConfigError::ZeroParts`] for zero: the file is a part too.
    pub fn max_parts(self, parts: u32) -> Result<Self, UploadConfigError> {
        if parts == 0 {
            return Err(UploadConfigError::ZeroParts);
        }
        Ok(Self {
            max_parts: parts,
            ..self
        })
    }

    /// Allows non-file fields of at most `bytes` each (zero allows only
    /// empty ones). Their values are read and discarded.
    pub fn max_field_bytes(self, bytes: u64) -> Self {
        Self {
            max_field_bytes: bytes,
            ..self
        }
    }

    /// The cap on the file's size.
    #[must_use]
    pub const fn max_bytes(&self) -> ByteSize {
        self.max_bytes
    }

    /// The kinds the file's bytes may sniff as.
    #[must_use]
    pub const fn types(&self) -> TypeAllowlist {
        self.types
    }

    /// The multipart field that carries the file.
    #[must_use]
    pub fn file_field(&self) -> &str {
        &self.field_name
    }

    /// The most parts a request may hold.
    #[must_use]
    pub const fn parts(&self) -> u32 {
        self.max_parts
    }

    /// The largest non-file field.
    #[must_use]
    pub const fn field_bytes(&self) -> u64 {
        self.max_field_bytes
    }

    /// The largest whole request body a route with these limits can need:
    /// the file cap, plus every other part at its cap, plus per-part room for
    /// boundaries and headers.
    ///
    /// The extractor applies it to the body itself (so axum's 2 MB default
    /// does not cut a larger file); a body-limit layer in front of an upload
    /// route must allow at least this much.
    #[must_use]
    pub const fn body_limit(&self) -> u64 {
        let per_part = self.max_field_bytes.saturating_add(PART_OVERHEAD_BYTES);
        self.max_bytes
            .get()
            .saturating_add(per_part.saturating_mul(self.max_parts as u64))
    }
}

/// Upload limits that cannot be configured. A startup (or compile-time)
/// error; never seen by clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadConfigError {
    /// A cap of zero bytes refuses every upload.
    #[error("upload cap must be greater than zero")]
    ZeroCap,
    /// A type name that is not a [`FileKind`].
    #[error(
        "unknown upload type {name:?}; expected one of png, jpeg (or jpg), gif, webp, pdf, zip, txt, svg, html"
    )]
    UnknownType {
        /// The name given.
        name: String,
    },
    /// An empty allowlist refuses every upload.
    #[error("upload allows no file type; name at least one in `types`")]
    NoTypes,
    /// A multipart field name a form could not send as written.
    #[error(
        "upload field name must be 1 to 64 visible ASCII characters other than '\"', ';' and '\\'"
    )]
    BadFieldName,
    /// Zero parts leaves no room for the file.
    #[error("an upload must allow at least one multipart part")]
    ZeroParts,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(max_bytes: u64, types: &'static [&'static str]) -> UploadSpec {
        UploadSpec { max_bytes, types }
    }

    #[test]
    fn builds_limits_from_a_route_spec() {
        let limits = UploadLimits::from_spec(&spec(5 << 20, &["png", "jpg", "pdf"])).unwrap();
        assert_eq!(limits.max_bytes().get(), 5 << 20);
        assert_eq!(limits.types().to_string(), "png, jpeg, pdf");
        assert_eq!(limits.file_field(), DEFAULT_FIELD_NAME);
        assert_eq!(limits.parts(), DEFAULT_MAX_PARTS);
        assert_eq!(limits.field_bytes(), DEFAULT_MAX_FIELD_BYTES);
    }

    #[test]
    fn refuses_specs_that_would_refuse_everything_or_name_no_kind() {
        let cases: &[(UploadSpec, UploadConfigError)] = &[
            (spec(0, &["png"]), UploadConfigError::ZeroCap),
            (spec(1024, &[]), UploadConfigError::NoTypes),
            (
                spec(1024, &["png", "PNG"]),
                UploadConfigError::UnknownType { name: "PNG".into() },
            ),
            (
                spec(1024, &["image/png"]),
                UploadConfigError::UnknownType {
                    name: "image/png".into(),
                },
            ),
        ];
        for (spec, error) in cases {
            assert_eq!(
                UploadLimits::from_spec(spec).as_ref(),
                Err(error),
                "{spec:?}"
            );
        }
        let message = UploadLimits::from_spec(&spec(1, &["exe"]))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("\"exe\"") && message.contains("png, jpeg"),
            "{message}"
        );
    }

    #[test]
    fn refuses_field_names_a_form_cannot_carry() {
        let base = UploadLimits::from_spec(&spec(1024, &["png"])).unwrap();
        for bad in [
            "",
            "a b",
            "x\"y",
            "a;b",
            "back\\slash",
            "é",
            &"x".repeat(65),
        ] {
            assert_eq!(
                base.clone().field_name(bad.to_owned()),
                Err(UploadConfigError::BadFieldName),
                "{bad:?}"
            );
        }
        let named = base.field_name("avatar[0]").unwrap();
        assert_eq!(named.file_field(), "avatar[0]");
    }

    #[test]
    fn refuses_zero_parts() {
        let base = UploadLimits::from_spec(&spec(1024, &["png"])).unwrap();
        assert_eq!(base.clone().max_parts(0), Err(UploadConfigError::ZeroParts));
        assert_eq!(base.max_parts(1).unwrap().parts(), 1);
    }

    #[test]
    fn body_limit_covers_the_file_every_field_and_their_headers() {
        let limits = UploadLimits::from_spec(&spec(1 << 20, &["png"]))
            .unwrap()
            .max_parts(3)
            .unwrap()
            .max_field_bytes(100);
        assert_eq!(
            limits.body_limit(),
            (1 << 20) + 3 * (100 + PART_OVERHEAD_BYTES)
        );
        let huge = UploadLimits::from_spec(&spec(u64::MAX, &["png"])).unwrap();
        assert_eq!(huge.body_limit(), u64::MAX);
    }
}
