//! Why an upload was refused, and the status each refusal answers with.

use http::StatusCode;

use super::{ByteSize, FileKind};

/// Why an upload was refused.
///
/// The public response is [`status`](Self::status) with a generic body; the
/// `Display` text is detail for the log (it names what the bytes sniffed as,
/// never anything the client sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadRefusal {
    /// The body reached the cap while streaming; it is cut off there, never
    /// buffered whole. 413.
    #[error("upload exceeds its {limit} cap")]
    TooLarge {
        /// The cap that was reached.
        limit: ByteSize,
    },
    /// The file has no bytes, so it has no type. 415.
    #[error("upload is empty")]
    Empty,
    /// The bytes are no known [`FileKind`]. 415.
    #[error("upload content is not a recognised file type (looks like {})", looks_like.unwrap_or("nothing known"))]
    Unrecognized {
        /// What the `infer` crate thinks it is, for the log.
        looks_like: Option<&'static str>,
    },
    /// The bytes are a kind this route does not allow. 415.
    #[error("upload content is {sniffed}, which this route does not allow")]
    TypeNotAllowed {
        /// What the bytes are.
        sniffed: FileKind,
    },
    /// The bytes are an allowed kind but also hold markup or server-side
    /// script (a polyglot); see
    /// [`TypeAllowlist::check`](super::TypeAllowlist::check). 415.
    #[error("upload content is {sniffed} but also holds markup or script")]
    ActiveContent {
        /// What the bytes are, before the markup was found.
        sniffed: FileKind,
    },
    /// The multipart body has more parts (files and fields) than allowed.
    /// 413: like a byte cap, it bounds the work one request can cause, and
    /// the client's remedy is the same — send less.
    #[error("upload has more than {limit} parts")]
    TooManyParts {
        /// The most parts allowed.
        limit: u32,
    },
    /// The multipart body has no file part. 400.
    #[error("upload has no file part")]
    MissingFile,
    /// The multipart body does not parse (bad boundary, truncated part,
    /// headers over their limit). 400.
    #[error("malformed multipart body")]
    Malformed,
}

impl UploadRefusal {
    /// The status the refusal answers with: 413 for size and part-count
    /// caps, 415 for every type refusal (empty, unrecognised, not allowed,
    /// polyglot), 400 for a body that is not a usable multipart upload.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge { .. } | Self::TooManyParts { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Empty
            | Self::Unrecognized { .. }
            | Self::TypeNotAllowed { .. }
            | Self::ActiveContent { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MissingFile | Self::Malformed => StatusCode::BAD_REQUEST,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU64;

    use super::*;

    #[test]
    fn maps_each_refusal_to_its_status() {
        let cap = ByteSize::from_bytes(NonZeroU64::MIN);
        let cases = [
            (UploadRefusal::TooLarge { limit: cap }, 413),
            (UploadRefusal::TooManyParts { limit: 4 }, 413),
            (UploadRefusal::Empty, 415),
            (UploadRefusal::Unrecognized { looks_like: None }, 415),
            (
                UploadRefusal::TypeNotAllowed {
                    sniffed: FileKind::Html,
                },
                415,
            ),
            (
                UploadRefusal::ActiveContent {
                    sniffed: FileKind::Png,
                },
                415,
            ),
            (UploadRefusal::MissingFile, 400),
            (UploadRefusal::Malformed, 400),
        ];
        for (refusal, status) in cases {
            assert_eq!(refusal.status().as_u16(), status, "{refusal}");
        }
    }

    #[test]
    fn log_detail_names_what_the_bytes_are() {
        assert_eq!(
            UploadRefusal::ActiveContent {
                sniffed: FileKind::Gif
            }
            .to_string(),
            "upload content is gif but also holds markup or script"
        );
        assert_eq!(
            UploadRefusal::Unrecognized {
                looks_like: Some("application/x-executable")
            }
            .to_string(),
            "upload content is not a recognised file type (looks like application/x-executable)"
        );
        assert_eq!(
            UploadRefusal::TooLarge {
                limit: ByteSize::parse("5MiB").unwrap()
            }
            .to_string(),
            "upload exceeds its 5MiB cap"
        );
    }
}
