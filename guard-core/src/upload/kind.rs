//! The file types an upload route may allow, and the allowlist that checks
//! content against them.

use core::fmt;

use serde::{Deserialize, Serialize};

use super::UploadRefusal;
use super::scan::{Active, scan_all};
use super::sniff::{self, SNIFF_LEN};

/// A file type an upload route can allow, named as in
/// `upload(types = ["png", "pdf"])`.
///
/// The type of an upload is always decided from its bytes by
/// [`sniff`](super::sniff()), never from the client's `Content-Type` or file
/// name; [`mime`](Self::mime) is what a download is then served as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FileKind {
    /// PNG image (including APNG), by its full 8-byte signature.
    Png,
    /// JPEG image, by its SOI marker `FF D8 FF`.
    Jpeg,
    /// GIF image, by `GIF87a` or `GIF89a`.
    Gif,
    /// WebP image, by `RIFF....WEBP`.
    Webp,
    /// PDF document, by `%PDF-` at offset 0. PDF may embed JavaScript, but it
    /// runs in the viewer's sandbox, not in the serving origin.
    Pdf,
    /// ZIP archive (and formats built on it: docx, xlsx, jar, epub...).
    Zip,
    /// Plain UTF-8 text with no markup signature in its first [`SNIFF_LEN`]
    /// bytes.
    Txt,
    /// SVG image. Carries script: allow it only on purpose.
    Svg,
    /// HTML document. Carries script: allow it only on purpose.
    Html,
}

impl FileKind {
    /// Every kind, in the order the allowlist and error messages list them.
    pub const ALL: [FileKind; 9] = [
        Self::Png,
        Self::Jpeg,
        Self::Gif,
        Self::Webp,
        Self::Pdf,
        Self::Zip,
        Self::Txt,
        Self::Svg,
        Self::Html,
    ];

    /// Looks a kind up by the name used in `upload(types = [...])`.
    ///
    /// Names are the lowercase [`name`](Self::name)s; `"jpg"` is accepted as
    /// an alias of `"jpeg"` because it is what people type. These are exactly
    /// the names the macro accepts (`guard_grammar::FILE_KINDS`); a test
    /// keeps the two lists equal. Any other
    /// spelling, including `"PNG"` and `"image/png"`, is refused so that a
    /// route's declaration reads one way only.
    ///
    /// # Errors
    ///
    /// [`UnknownFileKind`], whose message lists the accepted names.
    pub const fn from_name(name: &str) -> Result<Self, UnknownFileKind> {
        let kind = match name.as_bytes() {
            b"png" => Self::Png,
            b"jpeg" | b"jpg" => Self::Jpeg,
            b"gif" => Self::Gif,
            b"webp" => Self::Webp,
            b"pdf" => Self::Pdf,
            b"zip" => Self::Zip,
            b"txt" => Self::Txt,
            b"svg" => Self::Svg,
            b"html" => Self::Html,
            _ => return Err(UnknownFileKind { _private: () }),
        };
        Ok(kind)
    }

    /// The canonical name, as accepted by [`from_name`](Self::from_name).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::Gif => "gif",
            Self::Webp => "webp",
            Self::Pdf => "pdf",
            Self::Zip => "zip",
            Self::Txt => "txt",
            Self::Svg => "svg",
            Self::Html => "html",
        }
    }

    /// The media type a download of this kind is served as (with
    /// `X-Content-Type-Options: nosniff`).
    #[must_use]
    pub const fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
            Self::Zip => "application/zip",
            Self::Txt => "text/plain",
            Self::Svg => "image/svg+xml",
            Self::Html => "text/html",
        }
    }

    /// The full `Content-Type` value: [`mime`](Self::mime), with
    /// `charset=utf-8` for the text kinds so no browser guesses an encoding
    /// (UTF-7 guessing was a classic XSS vector).
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Txt => "text/plain; charset=utf-8",
            Self::Html => "text/html; charset=utf-8",
            Self::Svg => "image/svg+xml; charset=utf-8",
            other => other.mime(),
        }
    }

    /// The usual file extension, without the dot.
    #[must_use]
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Gif => "gif",
            Self::Webp => "webp",
            Self::Pdf => "pdf",
            Self::Zip => "zip",
            Self::Txt => "txt",
            Self::Svg => "svg",
            Self::Html => "html",
        }
    }

    /// Whether a browser rendering this kind runs script in the serving
    /// origin: true for SVG and HTML. Such kinds are accepted only when named
    /// in the allowlist, and should be served from a separate origin.
    #[must_use]
    pub const fn carries_script(self) -> bool {
        matches!(self, Self::Svg | Self::Html)
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for FileKind {
    type Err = UnknownFileKind;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::from_name(name)
    }
}

/// A file-type name that is not one of [`FileKind`]'s; the message lists the
/// accepted names. A compile error in `upload(types = [...])`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown upload file type; expected one of png, jpeg (or jpg), gif, webp, pdf, zip, txt, svg, html (lowercase)"
)]
pub struct UnknownFileKind {
    _private: (),
}

/// The set of [`FileKind`]s an upload route accepts, and the check that
/// decides whether some content is one of them.
///
/// ```
/// use guard_core::upload::{FileKind, TypeAllowlist, UploadRefusal};
///
/// let images = TypeAllowlist::new(&[FileKind::Png, FileKind::Jpeg]);
/// assert_eq!(images.check(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Ok(FileKind::Png));
/// assert_eq!(
///     images.check(b"<!doctype html><script>alert(1)</script>"),
///     Err(UploadRefusal::TypeNotAllowed { sniffed: FileKind::Html }),
/// );
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TypeAllowlist {
    bits: u16,
}

impl TypeAllowlist {
    /// The allowlist of exactly `kinds`. An empty list is representable but
    /// refuses every upload; the macro refuses to declare one.
    #[must_use]
    pub const fn new(kinds: &[FileKind]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < kinds.len() {
            bits |= kinds[i].bit();
            i += 1;
        }
        Self { bits }
    }

    /// The allowlist of the named kinds (see [`FileKind::from_name`]).
    ///
    /// # Errors
    ///
    /// [`UnknownFileKind`] at the first name that is not a kind.
    pub fn from_names<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, UnknownFileKind> {
        names.into_iter().try_fold(Self::default(), |list, name| {
            Ok(list.with(FileKind::from_name(name)?))
        })
    }

    /// This allowlist plus `kind`.
    #[must_use]
    pub const fn with(self, kind: FileKind) -> Self {
        Self {
            bits: self.bits | kind.bit(),
        }
    }

    /// Whether `kind` is allowed.
    #[must_use]
    pub const fn contains(self, kind: FileKind) -> bool {
        self.bits & kind.bit() != 0
    }

    /// Whether nothing is allowed.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.bits == 0
    }

    /// The allowed kinds, in [`FileKind::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = FileKind> {
        FileKind::ALL
            .into_iter()
            .filter(move |kind| self.contains(*kind))
    }

    /// Decides whether an upload whose content starts with `head` is
    /// acceptable, and as which kind.
    ///
    /// Pass the first `min(file length, SNIFF_LEN)` bytes of the content
    /// ([`SniffBuffer`](super::SniffBuffer) collects them from a stream);
    /// bytes past [`SNIFF_LEN`] are ignored. To look for markup in the rest
    /// of the content too, check the whole stream with
    /// [`StreamCheck`](super::StreamCheck), which applies these rules to the
    /// head and rule 4 to every byte. Refusals, all 415:
    ///
    /// 1. empty content: [`UploadRefusal::Empty`];
    /// 2. content that is no known kind (executables, XML that is neither SVG
    ///    nor HTML, UTF-16 text, binary garbage): [`UploadRefusal::Unrecognized`];
    /// 3. a kind not in this list: [`UploadRefusal::TypeNotAllowed`]. HTML
    ///    and SVG are kinds like any other, so they pass only when listed;
    /// 4. [`UploadRefusal::ActiveContent`] when the head also holds
    ///    * a server-side script open tag (`<?php`), whatever is allowed; or
    ///    * an HTML or SVG signature (`<script`, `<html`, `<svg`, `<img`,
    ///      `<iframe`...) inside a kind that does not itself carry script —
    ///      the PNG-header-plus-HTML-body and the `GIF89a` + `<script>`
    ///      polyglots — unless `html` is allowed too. Bytes that a browser
    ///      could render as a page are only as safe as the HTML allowance.
    ///
    /// Signatures are matched case-insensitively, ignoring NUL bytes (so
    /// UTF-16 markup is seen too), and must end at a tag boundary (`<svg>`,
    /// `<svg `, `<svg/`), which keeps chance matches in compressed image data
    /// negligible.
    ///
    /// # Errors
    ///
    /// The [`UploadRefusal`] above.
    pub fn check(&self, head: &[u8]) -> Result<FileKind, UploadRefusal> {
        let head = head.get(..SNIFF_LEN).unwrap_or(head);
        if head.is_empty() {
            return Err(UploadRefusal::Empty);
        }
        let Some(kind) = sniff::sniff(head) else {
            return Err(UploadRefusal::Unrecognized {
                looks_like: infer::get(head).map(|t| t.mime_type()),
            });
        };
        if !self.contains(kind) {
            return Err(UploadRefusal::TypeNotAllowed { sniffed: kind });
        }
        self.check_active(kind, scan_all(head).active())?;
        Ok(kind)
    }

    /// Rule 4 of [`check`](Self::check), for content of `kind` in which a
    /// scan found `active`; shared with [`StreamCheck`](super::StreamCheck).
    pub(crate) fn check_active(
        self,
        kind: FileKind,
        active: Option<Active>,
    ) -> Result<(), UploadRefusal> {
        match active {
            Some(Active::ServerScript) => Err(UploadRefusal::ActiveContent { sniffed: kind }),
            Some(Active::Markup) if !kind.carries_script() && !self.contains(FileKind::Html) => {
                Err(UploadRefusal::ActiveContent { sniffed: kind })
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for TypeAllowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for TypeAllowlist {
    /// `png, jpeg, pdf`, or `(none)` — the form the route report shows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(none)");
        }
        for (i, kind) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(kind.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_jpg_is_an_alias() {
        for kind in FileKind::ALL {
            assert_eq!(FileKind::from_name(kind.name()), Ok(kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        assert_eq!(FileKind::from_name("jpg"), Ok(FileKind::Jpeg));
    }

    #[test]
    fn accepts_exactly_the_names_the_macro_accepts() {
        for name in guard_grammar::FILE_KINDS {
            assert!(
                FileKind::from_name(name).is_ok(),
                "the macro accepts {name:?} but FileKind::from_name refuses it"
            );
        }
        for kind in FileKind::ALL {
            assert!(
                guard_grammar::FILE_KINDS.contains(&kind.name()),
                "FileKind::{kind:?} is named {:?}, which the macro refuses",
                kind.name()
            );
        }
        let message = UnknownFileKind { _private: () }.to_string();
        for name in guard_grammar::FILE_KINDS {
            assert!(message.contains(name), "{message} omits {name:?}");
        }
    }

    #[test]
    fn refuses_unknown_names_and_lists_the_accepted_ones() {
        for name in [
            "",
            "PNG",
            "Png",
            "image/png",
            ".png",
            "exe",
            "svg+xml",
            "png ",
        ] {
            let Err(error) = FileKind::from_name(name) else {
                panic!("{name:?} accepted");
            };
            let message = error.to_string();
            assert!(message.contains("png, jpeg"), "{message}");
            assert!(message.contains("svg, html"), "{message}");
        }
    }

    #[test]
    fn only_svg_and_html_carry_script() {
        let scripted: Vec<_> = FileKind::ALL
            .into_iter()
            .filter(|k| k.carries_script())
            .collect();
        assert_eq!(scripted, [FileKind::Svg, FileKind::Html]);
    }

    #[test]
    fn mime_and_content_type_agree() {
        for kind in FileKind::ALL {
            assert!(kind.content_type().starts_with(kind.mime()), "{kind}");
            assert!(!kind.extension().is_empty());
        }
        assert_eq!(FileKind::Txt.content_type(), "text/plain; charset=utf-8");
        assert_eq!(FileKind::Png.content_type(), "image/png");
    }

    #[test]
    fn serializes_kinds_by_name() {
        assert_eq!(serde_json::to_string(&FileKind::Jpeg).unwrap(), "\"jpeg\"");
        assert_eq!(
            serde_json::from_str::<FileKind>("\"webp\"").unwrap(),
            FileKind::Webp
        );
        assert!(serde_json::from_str::<FileKind>("\"exe\"").is_err());
    }

    #[test]
    fn allowlist_holds_exactly_its_kinds() {
        let list = TypeAllowlist::from_names(["png", "jpg", "pdf"]).unwrap();
        assert_eq!(
            list,
            TypeAllowlist::new(&[FileKind::Pdf, FileKind::Jpeg, FileKind::Png])
        );
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            [FileKind::Png, FileKind::Jpeg, FileKind::Pdf]
        );
        assert!(!list.contains(FileKind::Svg));
        assert_eq!(list.to_string(), "png, jpeg, pdf");
        assert_eq!(format!("{list:?}"), "{Png, Jpeg, Pdf}");
        assert!(TypeAllowlist::from_names(["png", "bmp"]).is_err());
        assert!(TypeAllowlist::default().is_empty());
        assert_eq!(TypeAllowlist::default().to_string(), "(none)");
    }

    #[test]
    fn empty_allowlist_refuses_everything() {
        assert_eq!(
            TypeAllowlist::default().check(b"\x89PNG\r\n\x1a\n"),
            Err(UploadRefusal::TypeNotAllowed {
                sniffed: FileKind::Png
            })
        );
    }
}
