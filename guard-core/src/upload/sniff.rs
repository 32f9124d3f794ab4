//! Deciding a file's kind from its leading bytes. The markup scan it
//! shares with the whole-stream check lives in `scan.rs`.
//!
//! Binary kinds are recognised by the `infer` crate's matchers, tightened
//! where they are looser than the format (infer takes any `GIF` prefix, a
//! `WEBP` tag without `RIFF`, `%PDF` anywhere in the first KiB). SVG, HTML
//! and text are recognised here, since a content sniffer's HTML rules only
//! look at the very start of a file.

use core::fmt;

use super::FileKind;
use super::scan::{is_space, scan_all};

/// How many leading bytes [`sniff`] and
/// [`TypeAllowlist::check`](super::TypeAllowlist::check) look at.
///
/// Give them `min(file length, SNIFF_LEN)` bytes: fewer makes a long file
/// look shorter than it is (a truncated UTF-8 sequence then reads as binary,
/// markup past the cut goes unseen), more is ignored.
pub const SNIFF_LEN: usize = 1024;

/// Decides the kind of content from its first [`SNIFF_LEN`] bytes alone.
///
/// Names and client-declared types play no part. `None` for empty content
/// and for anything that is no [`FileKind`] (executables, UTF-16 text, XML
/// that is neither SVG nor HTML, binary garbage). The order of the rules:
///
/// 1. a binary signature at offset 0: PNG, JPEG, GIF, WebP, PDF, ZIP — even
///    when markup follows it (the allowlist refuses that separately);
/// 2. otherwise the content must be UTF-8 text (a UTF-8 BOM is skipped) with
///    no control characters other than tab, newline, carriage return and
///    form feed, else `None`;
/// 3. text that starts with an HTML signature (`<!doctype html`, `<html`,
///    `<script`, `<div`, `<p`...), or holds an HTML element that loads or
///    runs something (`<html`, `<body`, `<iframe`, `<img`, `<object`...)
///    anywhere in the head, is HTML;
/// 4. text that holds `<svg` is SVG; text that holds `<script` but no `<svg`
///    is HTML;
/// 5. text that starts with `<?xml` and is neither is `None`;
/// 6. any other text is [`FileKind::Txt`].
///
/// Matching is case-insensitive and needs a tag boundary after the name.
#[must_use]
pub fn sniff(head: &[u8]) -> Option<FileKind> {
    let head = head.get(..SNIFF_LEN).unwrap_or(head);
    if head.is_empty() {
        return None;
    }
    if let Some(kind) = sniff_binary(head) {
        return Some(kind);
    }
    let text = head.strip_prefix(UTF8_BOM).unwrap_or(head);
    if !is_text(text, head.len() == SNIFF_LEN) {
        return None;
    }
    let found = scan_all(text);
    let start = trim_leading_space(text);
    if starts_like_html(start) || found.html {
        Some(FileKind::Html)
    } else if found.svg {
        Some(FileKind::Svg)
    } else if found.script {
        Some(FileKind::Html)
    } else if match_word(start, 0, b"<?xml").is_some() {
        None
    } else {
        Some(FileKind::Txt)
    }
}

/// Collects the first [`SNIFF_LEN`] bytes of a stream without allocating,
/// for [`TypeAllowlist::check`](super::TypeAllowlist::check).
///
/// ```
/// use guard_core::upload::{FileKind, SniffBuffer, TypeAllowlist};
///
/// let mut head = SniffBuffer::new();
/// for chunk in [&b"\x89PN"[..], &b"G\r\n\x1a\n"[..], &b"\0\0\0\rIHDR"[..]] {
///     if head.push(chunk) {
///         break; // full: the rest of the stream need not be kept
///     }
/// }
/// let allowed = TypeAllowlist::new(&[FileKind::Png]);
/// assert_eq!(allowed.check(head.as_bytes()), Ok(FileKind::Png));
/// ```
#[derive(Clone)]
pub struct SniffBuffer {
    buf: [u8; SNIFF_LEN],
    len: usize,
}

impl SniffBuffer {
    /// An empty buffer.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            buf: [0; SNIFF_LEN],
            len: 0,
        }
    }

    /// Copies as much of `chunk` as still fits; returns whether the buffer
    /// is now full (and so ready to check before the stream ends).
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        if let Some(free) = self.buf.get_mut(self.len..) {
            let take = free.len().min(chunk.len());
            if let (Some(dst), Some(src)) = (free.get_mut(..take), chunk.get(..take)) {
                dst.copy_from_slice(src);
                self.len += take;
            }
        }
        self.is_full()
    }

    /// Whether [`SNIFF_LEN`] bytes have been collected.
    #[must_use]
    pub const fn is_full(&self) -> bool {
        self.len >= SNIFF_LEN
    }

    /// The bytes collected so far.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&self.buf)
    }
}

impl Default for SniffBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SniffBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SniffBuffer")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The binary kinds: infer's matcher, plus the full signature where infer
/// checks less of it.
fn sniff_binary(head: &[u8]) -> Option<FileKind> {
    use infer::{archive, image};

    if image::is_png(head) && head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(FileKind::Png)
    } else if image::is_jpeg(head) {
        Some(FileKind::Jpeg)
    } else if image::is_gif(head) && (head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a")) {
        Some(FileKind::Gif)
    } else if image::is_webp(head) && head.starts_with(b"RIFF") {
        Some(FileKind::Webp)
    } else if archive::is_pdf(head) && head.starts_with(b"%PDF-") {
        Some(FileKind::Pdf)
    } else if archive::is_zip(head) {
        Some(FileKind::Zip)
    } else {
        None
    }
}

/// UTF-8 with no control characters but tab, LF, CR and FF. When the head
/// may have been cut at [`SNIFF_LEN`], a sequence cut short at its end is
/// allowed.
fn is_text(bytes: &[u8], maybe_truncated: bool) -> bool {
    let text = match core::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) if maybe_truncated && e.error_len().is_none() => {
            match bytes.get(..e.valid_up_to()).map(core::str::from_utf8) {
                Some(Ok(text)) => text,
                _ => return false,
            }
        }
        Err(_) => return false,
    };
    text.chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0C'))
}

/// The WHATWG MIME-sniffing HTML signatures, checked at the start of text
/// only, less `<!--` (SVG files commonly open with a comment).
const HTML_STARTS: &[&[u8]] = &[
    b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div", b"<font", b"<table", b"<a",
    b"<style", b"<title", b"<b", b"<body", b"<br", b"<p",
];

fn starts_like_html(text: &[u8]) -> bool {
    is_doctype_html(text, 0)
        || HTML_STARTS
            .iter()
            .any(|start| match_tag(text, 0, start).is_some())
}

/// `<!doctype`, whitespace, `html`, a tag boundary.
fn is_doctype_html(hay: &[u8], at: usize) -> bool {
    let Some(mut pos) = match_word(hay, at, b"<!doctype") else {
        return false;
    };
    let mut spaces = 0;
    while let Some((byte, next)) = next_non_nul(hay, pos) {
        if !is_space(byte) {
            break;
        }
        spaces += 1;
        pos = next;
    }
    spaces > 0 && match_tag(hay, pos, b"html").is_some()
}

/// `word` at `at` followed by a tag boundary (whitespace, `>`, `/`) or the
/// end of the head, which may be a cut mid-tag.
fn match_tag(hay: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    let end = match_word(hay, at, word)?;
    match next_non_nul(hay, end) {
        None => Some(end),
        Some((byte, _)) if is_space(byte) || byte == b'>' || byte == b'/' => Some(end),
        Some(_) => None,
    }
}

/// `word` (lowercase ASCII) at `at`, case-insensitively, skipping NUL
/// bytes; the position after it.
fn match_word(hay: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    let mut pos = at;
    for expected in word {
        let (byte, next) = next_non_nul(hay, pos)?;
        if byte.to_ascii_lowercase() != *expected {
            return None;
        }
        pos = next;
    }
    Some(pos)
}

fn next_non_nul(hay: &[u8], from: usize) -> Option<(u8, usize)> {
    let rest = hay.get(from..)?;
    let offset = rest.iter().position(|b| *b != 0)?;
    rest.get(offset).map(|b| (*b, from + offset + 1))
}

fn trim_leading_space(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !is_space(*b))
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::scan::Active;
    use super::super::{TypeAllowlist, UploadRefusal};
    use super::*;
    use FileKind::*;

    const PNG: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";
    const GIF: &[u8] = b"GIF89a\x01\0\x01\0\x80\0\0\xff\xff\xff\0\0\0!\xf9\x04\x01\0\0\0\0,";
    const WEBP: &[u8] =
        b"RIFF\x1a\0\0\0WEBPVP8L\x0d\0\0\0\x2f\0\0\0\x10\x07\x10\x11\x11\x88\x88\xfe\x07\0";
    const PDF: &[u8] =
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n";
    const ZIP: &[u8] = b"PK\x03\x04\x14\0\0\0\x08\0";
    const SVG_WITH_SCRIPT: &[u8] =
        b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\">\
        <script>alert(document.domain)</script></svg>";

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn allow(kinds: &[FileKind]) -> TypeAllowlist {
        TypeAllowlist::new(kinds)
    }

    #[test]
    fn sniffs_real_headers_of_each_binary_kind() {
        let cases: &[(&[u8], FileKind)] = &[
            (PNG, Png),
            (JPEG, Jpeg),
            (GIF, Gif),
            (b"GIF87a\x01\0", Gif),
            (WEBP, Webp),
            (PDF, Pdf),
            (ZIP, Zip),
        ];
        for (bytes, kind) in cases {
            assert_eq!(sniff(bytes), Some(*kind), "{kind}");
            assert_eq!(
                TypeAllowlist::new(&[*kind]).check(bytes),
                Ok(*kind),
                "{kind}"
            );
        }
    }

    #[test]
    fn refuses_prefixes_that_infer_alone_would_accept() {
        let cases: &[&[u8]] = &[
            b"\x89PNG\0\0\0\0",                    // four bytes of the PNG signature
            b"GIF\x00\x01\x02",                    // GIF with no version
            b"XXXX\0\0\0\0WEBPVP8 ",               // WEBP tag without RIFF
            b"<html><body>%PDF-1.4</body></html>", // %PDF past offset 0
        ];
        for bytes in cases {
            assert!(
                !matches!(sniff(bytes), Some(Png | Gif | Webp | Pdf)),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn sniffs_text_markup_by_content_not_position() {
        let cases: &[(&[u8], Option<FileKind>)] = &[
            (b"hello, world\n", Some(Txt)),
            (b"\xEF\xBB\xBFcaf\xC3\xA9 au lait\r\n", Some(Txt)),
            (b"a < b and b > c", Some(Txt)),
            (b"<header>not a head tag</header>", Some(Txt)),
            (b"<!DOCTYPE html><title>x</title>", Some(Html)),
            (b"<!doctype\n  HTML>", Some(Html)),
            (b"  \n<HTML lang=en>", Some(Html)),
            (b"\xEF\xBB\xBF<p>hi", Some(Html)),
            (b"notes\n<img src=x onerror=alert(1)>", Some(Html)),
            (b"notes\n<ScRiPt/src=//evil.example></script>", Some(Html)),
            (
                b"<!-- Generator: Illustrator -->\n<svg viewBox=\"0 0 1 1\"/>",
                Some(Svg),
            ),
            (
                b"<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\"><svg>",
                Some(Svg),
            ),
            (SVG_WITH_SCRIPT, Some(Svg)),
            (
                b"<svg><foreignObject><iframe src=x></iframe></foreignObject></svg>",
                Some(Html),
            ),
            (b"<?xml version=\"1.0\"?><note>plain xml</note>", None),
            (b"\xFF\xFEh\0i\0", None),          // UTF-16 text
            (b"bad \xC3\x28 utf-8", None),      // invalid UTF-8
            (b"ansi \x1b[31mred\x1b[0m", None), // terminal escapes
            (b"\x7FELF\x02\x01\x01\0", None),   // an executable
            (b"", None),
        ];
        for (bytes, kind) in cases {
            assert_eq!(sniff(bytes), *kind, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn refuses_the_spoofed_file_corpus() {
        let png_then_html = cat(&[PNG, b"<html><body><script>alert(1)</script></body></html>"]);
        let gif_polyglot = cat(&[
            b"GIF89a/*\x01\0\x01\0\0\0\0*/=1;",
            b"<script>alert(document.cookie)</script>",
        ]);
        let jpeg_with_html_comment = cat(&[JPEG, b"\xFF\xFE\0\x20<iframe src=//evil.example>"]);
        let png_with_php = cat(&[PNG, b"tEXtComment\0<?php system($_GET['c']); ?>"]);
        let utf16_script = cat(&[PNG, b"<\0s\0c\0r\0i\0p\0t\0>\0"]);
        let images = allow(&[Png, Jpeg, Gif, Webp, Pdf]);

        let cases: &[(&str, &[u8], TypeAllowlist, UploadRefusal)] = &[
            (
                "PNG header + HTML body",
                &png_then_html,
                images,
                UploadRefusal::ActiveContent { sniffed: Png },
            ),
            (
                "GIF89a polyglot",
                &gif_polyglot,
                images,
                UploadRefusal::ActiveContent { sniffed: Gif },
            ),
            (
                "JPEG with iframe",
                &jpeg_with_html_comment,
                images,
                UploadRefusal::ActiveContent { sniffed: Jpeg },
            ),
            (
                "UTF-16 script in PNG",
                &utf16_script,
                images,
                UploadRefusal::ActiveContent { sniffed: Png },
            ),
            (
                "photo.png that is HTML",
                b"<!doctype html><h1>hi</h1>",
                allow(&[Png, Jpeg, Pdf]),
                { UploadRefusal::TypeNotAllowed { sniffed: Html } },
            ),
            (
                "shell.php.png, plain PHP",
                b"<?php system($_GET['c']); ?>",
                images,
                { UploadRefusal::TypeNotAllowed { sniffed: Txt } },
            ),
            (
                "PHP as text",
                b"<?php echo 1;",
                allow(&[Txt]),
                UploadRefusal::ActiveContent { sniffed: Txt },
            ),
            (
                "PNG carrying PHP",
                &png_with_php,
                images,
                UploadRefusal::ActiveContent { sniffed: Png },
            ),
            (
                "PNG carrying PHP, HTML allowed",
                &png_with_php,
                allow(&[Png, Html]),
                { UploadRefusal::ActiveContent { sniffed: Png } },
            ),
            (
                "SVG with script",
                SVG_WITH_SCRIPT,
                images,
                UploadRefusal::TypeNotAllowed { sniffed: Svg },
            ),
            (
                "SVG with script, HTML allowed",
                SVG_WITH_SCRIPT,
                allow(&[Png, Html]),
                { UploadRefusal::TypeNotAllowed { sniffed: Svg } },
            ),
            (
                "HTML as text",
                b"<html>",
                allow(&[Txt]),
                UploadRefusal::TypeNotAllowed { sniffed: Html },
            ),
            ("zero bytes", b"", images, UploadRefusal::Empty),
            ("an executable", b"MZ\x90\0\x03\0\0\0", images, {
                UploadRefusal::Unrecognized {
                    looks_like: Some("application/vnd.microsoft.portable-executable"),
                }
            }),
            (
                "garbage",
                b"\x00\x01\x02\x03",
                images,
                UploadRefusal::Unrecognized { looks_like: None },
            ),
        ];
        for (name, bytes, allowed, refusal) in cases {
            assert_eq!(allowed.check(bytes), Err(refusal.clone()), "{name}");
        }
    }

    #[test]
    fn accepts_scripted_kinds_and_polyglots_only_when_allowed() {
        let png_then_html = cat(&[PNG, b"<html><script>x</script></html>"]);
        assert_eq!(allow(&[Svg]).check(SVG_WITH_SCRIPT), Ok(Svg));
        assert_eq!(allow(&[Html]).check(b"<!doctype html>"), Ok(Html));
        assert_eq!(allow(&[Png, Html]).check(&png_then_html), Ok(Png));
        assert_eq!(
            allow(&[Png, Svg]).check(&png_then_html),
            Err(UploadRefusal::ActiveContent { sniffed: Png })
        );
        assert_eq!(allow(&[Txt]).check(b"a < b\n"), Ok(Txt));
    }

    #[test]
    fn looks_only_at_the_first_sniff_len_bytes() {
        let late_script = cat(&[PNG, &[b'a'; SNIFF_LEN], b"<script>"]);
        assert_eq!(allow(&[Png]).check(&late_script), Ok(Png));
        // A signature that ends exactly at the cut still counts.
        let cut_script = cat(&[PNG, &vec![b'a'; SNIFF_LEN - PNG.len() - 7], b"<script>"]);
        assert_eq!(
            allow(&[Png]).check(&cut_script),
            Err(UploadRefusal::ActiveContent { sniffed: Png })
        );

        // Text cut inside a multi-byte character is still text.
        let mut long_text = vec![b'a'; SNIFF_LEN - 1];
        long_text.extend_from_slice("é and more".as_bytes());
        assert_eq!(sniff(&long_text), Some(Txt));
        // ...but the same cut at the real end of a short file is not UTF-8.
        assert_eq!(sniff(b"abc\xC3"), None);
    }

    #[test]
    fn markup_scan_needs_a_tag_boundary() {
        let cases: &[(&[u8], Option<Active>)] = &[
            (b"<script>", Some(Active::Markup)),
            (b"<SCRIPT\tsrc=x>", Some(Active::Markup)),
            (b"<svg/onload=alert(1)>", Some(Active::Markup)),
            (b"<scriptx>", None),
            (b"<imgs>", None),
            (b"<img", Some(Active::Markup)), // cut at the end of the head
            (b"<?php\n", Some(Active::ServerScript)),
            (b"<?phpx", None),
            (b"<?xml version", None),
            (b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF>", None),
            (b"<!doctype html>", Some(Active::Markup)),
            (b"<!doctypehtml>", None),
        ];
        for (bytes, active) in cases {
            assert_eq!(
                scan_all(bytes).active(),
                *active,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn random_binary_after_an_image_header_is_not_mistaken_for_markup() {
        // A deterministic stand-in for compressed image data: 2,000 heads of
        // 1 KiB each, none of which may trip the markup scan.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2_000 {
            let mut head = PNG.to_vec();
            while head.len() < SNIFF_LEN {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                head.push((state >> 56) as u8);
            }
            assert_eq!(allow(&[Png]).check(&head), Ok(Png));
        }
    }

    #[test]
    fn sniff_buffer_collects_exactly_sniff_len_bytes() {
        let mut buffer = SniffBuffer::new();
        assert!(buffer.as_bytes().is_empty());
        assert!(!buffer.push(&[1; 1000]));
        assert!(buffer.push(&[2; 1000]));
        assert!(buffer.push(&[3; 10]));
        assert_eq!(buffer.as_bytes().len(), SNIFF_LEN);
        assert_eq!(buffer.as_bytes().get(999..1001), Some(&[1, 2][..]));
        assert_eq!(format!("{buffer:?}"), "SniffBuffer { len: 1024, .. }");
    }
}
