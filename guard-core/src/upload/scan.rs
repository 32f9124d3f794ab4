//! Markup and server-side script anywhere in a stream, chunk by chunk, in
//! constant memory: [`StreamCheck`], and the scanner that both it and
//! [`sniff`](super::sniff()) use.
//!
//! The scanner reads the bytes as a browser's tag tokenizer would see them
//! once NUL bytes are skipped (so UTF-16 markup is found too): it drops NUL
//! bytes, folds ASCII to lowercase and collapses every run of whitespace to
//! one space. That normal form is what the signatures are matched in, so a
//! signature is a fixed string (`<!doctype html` included, whatever spaces
//! or NULs it was written with) and a signature cut by a chunk boundary is
//! found once the next chunk arrives: the scanner keeps the last
//! [`MAX_MARKER_LEN`] bytes it could not yet decide, one more than a plain
//! substring search would (the byte after a tag name decides whether it is a
//! tag: `<img>` is, `<imgs` is not).

use core::fmt;

use super::{FileKind, SniffBuffer, TypeAllowlist, UploadRefusal};

/// What a scan found; see [`sniff`](super::sniff()) for how it is used.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) html: bool,
    pub(crate) svg: bool,
    pub(crate) script: bool,
    pub(crate) server_script: bool,
}

/// The part of what a scan found that [`TypeAllowlist`] acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Active {
    /// A server-side script open tag (`<?php`): refused whatever is allowed.
    ServerScript,
    /// An HTML, SVG or script signature: refused inside kinds that do not
    /// carry script unless HTML is allowed.
    Markup,
}

impl Found {
    pub(crate) const fn active(self) -> Option<Active> {
        if self.server_script {
            Some(Active::ServerScript)
        } else if self.html || self.svg || self.script {
            Some(Active::Markup)
        } else {
            None
        }
    }
}

/// Finds markup or server-side script anywhere in `bytes`, whose end is the
/// end of the content (a signature cut there counts).
pub(crate) fn scan_all(bytes: &[u8]) -> Found {
    let mut scan = MarkupScan::new();
    scan.push(bytes);
    scan.finish()
}

#[derive(Clone, Copy)]
enum Class {
    Html,
    Svg,
    Script,
    ServerScript,
}

/// Tags that make content a page wherever they appear: each loads, embeds or
/// runs something. `<style>`, `<title>` and `<a>` are left out because SVG
/// uses them too; `<?=` is left out because three bytes match by chance in
/// one binary file in tens of thousands. In the scanner's normal form:
/// lowercase, whitespace runs as one space.
const SIGNATURES: &[(&[u8], Class)] = &[
    (b"<!doctype html", Class::Html),
    (b"<html", Class::Html),
    (b"<head", Class::Html),
    (b"<body", Class::Html),
    (b"<iframe", Class::Html),
    (b"<frame", Class::Html),
    (b"<frameset", Class::Html),
    (b"<object", Class::Html),
    (b"<embed", Class::Html),
    (b"<applet", Class::Html),
    (b"<form", Class::Html),
    (b"<img", Class::Html),
    (b"<base", Class::Html),
    (b"<meta", Class::Html),
    (b"<link", Class::Html),
    (b"<video", Class::Html),
    (b"<audio", Class::Html),
    (b"<svg", Class::Svg),
    (b"<script", Class::Script),
    (b"<?php", Class::ServerScript),
];

/// The longest signature, in the normal form.
pub(crate) const MAX_MARKER_LEN: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < SIGNATURES.len() {
        if SIGNATURES[i].0.len() > max {
            max = SIGNATURES[i].0.len();
        }
        i += 1;
    }
    max
};

/// How many normalized bytes the scanner gathers before it scans them
/// (it also scans at the end of every chunk).
const WINDOW: usize = 1024;

/// The streaming scanner: normalized bytes in a fixed window, scanned at
/// the end of every chunk (and whenever the window fills); all but the last
/// [`MAX_MARKER_LEN`] bytes are then decided and dropped, those are carried
/// to the next chunk.
#[derive(Clone)]
pub(crate) struct MarkupScan {
    window: [u8; WINDOW],
    len: usize,
    /// The last byte kept was a (collapsed) space.
    after_space: bool,
    found: Found,
}

impl MarkupScan {
    pub(crate) const fn new() -> Self {
        Self {
            window: [0; WINDOW],
            len: 0,
            after_space: false,
            found: Found {
                html: false,
                svg: false,
                script: false,
                server_script: false,
            },
        }
    }

    /// Scans `chunk`, the next bytes of the stream. Each byte is handled
    /// once; a signature is reported once the byte after it has arrived.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        for &byte in chunk {
            let byte = match byte {
                0 => continue,
                b if is_space(b) => {
                    if self.after_space {
                        continue;
                    }
                    self.after_space = true;
                    b' '
                }
                b => {
                    self.after_space = false;
                    b.to_ascii_lowercase()
                }
            };
            if let Some(slot) = self.window.get_mut(self.len) {
                *slot = byte;
                self.len += 1;
            }
            if self.len == WINDOW {
                self.scan(false);
            }
        }
        self.scan(false);
    }

    /// What has been found so far.
    pub(crate) const fn found(&self) -> Found {
        self.found
    }

    /// The stream has ended: decides the bytes still held, where a
    /// signature cut by the end counts (the end may be a cut mid-tag).
    pub(crate) fn finish(&mut self) -> Found {
        self.scan(true);
        self.found
    }

    fn scan(&mut self, at_end: bool) {
        let decided = if at_end {
            self.len
        } else {
            self.len.saturating_sub(MAX_MARKER_LEN)
        };
        let hay = self.window.get(..self.len).unwrap_or_default();
        // Every position is looked at, the carried ones again next time: a
        // signature whose boundary byte is here is decided now, so content
        // is refused as soon as the byte after its marker arrives.
        let mut from = 0;
        while let Some(offset) = hay
            .get(from..)
            .and_then(|rest| rest.iter().position(|b| *b == b'<'))
        {
            let at = from + offset;
            let rest = hay.get(at..).unwrap_or_default();
            for (signature, class) in SIGNATURES {
                if is_tag(rest, signature, at_end) {
                    match class {
                        Class::Html => self.found.html = true,
                        Class::Svg => self.found.svg = true,
                        Class::Script => self.found.script = true,
                        Class::ServerScript => self.found.server_script = true,
                    }
                }
            }
            from = at + 1;
        }
        self.window.copy_within(decided..self.len, 0);
        self.len -= decided;
    }
}

impl fmt::Debug for MarkupScan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MarkupScan")
            .field("found", &self.found)
            .finish_non_exhaustive()
    }
}

/// `signature` at the start of `rest`, followed by a tag boundary
/// (whitespace, `>`, `/`), or by the end of the content when `at_end`.
fn is_tag(rest: &[u8], signature: &[u8], at_end: bool) -> bool {
    rest.starts_with(signature)
        && rest
            .get(signature.len())
            .map_or(at_end, |b| matches!(b, b' ' | b'>' | b'/'))
}

/// The WHATWG whitespace bytes.
pub(crate) const fn is_space(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | 0x0C | b'\r' | b' ')
}

/// Checks an upload as it streams: its kind from its first
/// [`SNIFF_LEN`](super::SNIFF_LEN)
/// bytes, as [`TypeAllowlist::check`] decides it, then markup or server-side
/// script in *every* byte, not only the head, under the same rules.
///
/// Feed it every chunk in order with [`push`](Self::push), which refuses as
/// soon as the content is refused (stop reading then), and end with
/// [`finish`](Self::finish). Memory is constant (about 2 KiB) and each byte
/// is handled once, so the check costs O(n) whatever the file; a signature
/// split across two chunks is found all the same.
///
/// ```
/// use guard_core::upload::{FileKind, StreamCheck, TypeAllowlist, UploadRefusal};
///
/// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
/// let mut check = StreamCheck::new(TypeAllowlist::new(&[FileKind::Png]));
/// check.push(png)?;
/// check.push(&[0x42; 4096])?; // far past the sniffed head
/// check.push(b"...<scr")?;
/// assert_eq!(
///     check.push(b"ipt>alert(1)</script>"),
///     Err(UploadRefusal::ActiveContent { sniffed: FileKind::Png }),
/// );
/// # Ok::<(), UploadRefusal>(())
/// ```
#[derive(Clone)]
pub struct StreamCheck {
    allowed: TypeAllowlist,
    head: SniffBuffer,
    kind: Option<FileKind>,
    scan: MarkupScan,
}

impl StreamCheck {
    /// A check of one upload against `allowed`.
    #[must_use]
    pub const fn new(allowed: TypeAllowlist) -> Self {
        Self {
            allowed,
            head: SniffBuffer::new(),
            kind: None,
            scan: MarkupScan::new(),
        }
    }

    /// Checks the next chunk of the content.
    ///
    /// # Errors
    ///
    /// The [`UploadRefusal`] of [`TypeAllowlist::check`] once the head is
    /// complete, and [`UploadRefusal::ActiveContent`] as soon as markup or
    /// server-side script is found anywhere that the allowlist refuses it.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), UploadRefusal> {
        self.scan.push(chunk);
        if self.kind.is_none() && self.head.push(chunk) {
            self.kind = Some(self.allowed.check(self.head.as_bytes())?);
        }
        match self.kind {
            Some(kind) => self.allowed.check_active(kind, self.scan.found().active()),
            None => Ok(()),
        }
    }

    /// The content has ended: its kind.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push), for content shorter than
    /// [`SNIFF_LEN`](super::SNIFF_LEN) and
    /// for a signature cut by the end.
    pub fn finish(mut self) -> Result<FileKind, UploadRefusal> {
        let kind = match self.kind {
            Some(kind) => kind,
            None => self.allowed.check(self.head.as_bytes())?,
        };
        let found = self.scan.finish();
        self.allowed.check_active(kind, found.active())?;
        Ok(kind)
    }
}

impl fmt::Debug for StreamCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamCheck")
            .field("allowed", &self.allowed)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::super::SNIFF_LEN;
    use super::*;
    use FileKind::*;

    const PNG: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

    fn png_check() -> StreamCheck {
        StreamCheck::new(TypeAllowlist::new(&[Png]))
    }

    /// `content` through a fresh check, cut into chunks at `cuts`.
    fn run(
        mut check: StreamCheck,
        content: &[u8],
        cuts: &[usize],
    ) -> Result<FileKind, UploadRefusal> {
        let mut start = 0;
        for &cut in cuts.iter().chain([&content.len()]) {
            check.push(content.get(start..cut).unwrap())?;
            start = cut;
        }
        check.finish()
    }

    /// A deterministic stand-in for compressed image data.
    fn noise(len: usize, mut state: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn max_marker_len_is_the_doctype() {
        assert_eq!(MAX_MARKER_LEN, b"<!doctype html".len());
    }

    #[test]
    fn finds_markup_far_past_the_head() {
        let refused = UploadRefusal::ActiveContent { sniffed: Png };
        for marker in [
            &b"<script>"[..],
            b"<SCRIPT\tsrc=//x>",
            b"<svg/onload=alert(1)>",
            b"<iframe src=x>",
            b"<!DOCTYPE \r\n\t HTML>",
            b"<\0s\0c\0r\0i\0p\0t\0>\0",
            b"<?php system($_GET['c']);",
        ] {
            for filler in [SNIFF_LEN, 3 * WINDOW + 7, 200_000] {
                let content = [PNG, &vec![b'a'; filler], marker].concat();
                assert_eq!(
                    run(png_check(), &content, &[]),
                    Err(refused.clone()),
                    "{:?} after {filler}",
                    String::from_utf8_lossy(marker)
                );
            }
        }
        // Server-side script is refused even where HTML is allowed.
        let php = [PNG, &[b'a'; 5000], b"<?php echo 1;"].concat();
        let with_html = StreamCheck::new(TypeAllowlist::new(&[Png, Html]));
        assert_eq!(run(with_html.clone(), &php, &[]), Err(refused));
        let script = [PNG, &[b'a'; 5000], b"<script>"].concat();
        assert_eq!(run(with_html, &script, &[]), Ok(Png));
    }

    #[test]
    fn finds_a_marker_split_at_every_point_across_two_chunks() {
        for marker in [&b"<script>"[..], b"<!doctype  html>", b"<i\0m\0g\0 "] {
            let at = PNG.len() + 3000;
            let content = [PNG, &vec![b'a'; 3000], marker, b"tail"].concat();
            for split in at..=at + marker.len() {
                assert_eq!(
                    run(png_check(), &content, &[split]),
                    Err(UploadRefusal::ActiveContent { sniffed: Png }),
                    "{:?} split at {}",
                    String::from_utf8_lossy(marker),
                    split - at
                );
            }
            // And one byte per chunk.
            let cuts: Vec<usize> = (1..content.len()).collect();
            assert!(run(png_check(), &content, &cuts).is_err());
        }
    }

    #[test]
    fn a_tag_name_that_goes_on_in_the_next_chunk_is_not_a_tag() {
        let content = [PNG, &[b'a'; 2000], b"<imgs> <scriptx> <svgfoo"].concat();
        for split in [PNG.len() + 2004, PNG.len() + 2014, content.len() - 3] {
            assert_eq!(run(png_check(), &content, &[split]), Ok(Png), "{split}");
        }
        // ...but a tag cut by the end of the file is one.
        let cut = [PNG, &[b'a'; 2000], b"<img"].concat();
        assert!(run(png_check(), &cut, &[]).is_err());
    }

    #[test]
    fn refuses_as_soon_as_the_marker_is_complete() {
        let mut check = png_check();
        check.push(PNG).unwrap();
        check.push(&[b'a'; 4000]).unwrap();
        assert_eq!(
            check.push(b"<script"),
            Ok(()),
            "undecided until the next byte"
        );
        assert!(check.push(b">").is_err());
    }

    #[test]
    fn short_content_is_checked_at_finish() {
        assert_eq!(run(png_check(), PNG, &[3]), Ok(Png));
        assert_eq!(run(png_check(), b"", &[]), Err(UploadRefusal::Empty));
        assert_eq!(
            run(png_check(), &[PNG, b"<html>"].concat(), &[]),
            Err(UploadRefusal::ActiveContent { sniffed: Png })
        );
        let text = StreamCheck::new(TypeAllowlist::new(&[Txt]));
        assert_eq!(
            run(text.clone(), b"hello", &[]),
            Ok(Txt),
            "plain text passes"
        );
        let late = [&[b'x'; 4000][..], b"\n<img src=x onerror=alert(1)>"].concat();
        assert_eq!(
            run(text, &late, &[]),
            Err(UploadRefusal::ActiveContent { sniffed: Txt })
        );
    }

    #[test]
    fn megabytes_of_random_binary_after_an_image_header_pass() {
        let content = [PNG, &noise(8 << 20, 0x9E37_79B9_7F4A_7C15)].concat();
        assert_eq!(run(png_check(), &content, &[70_000, 1 << 20]), Ok(Png));
    }

    #[test]
    fn whitespace_and_nul_runs_of_any_length_collapse() {
        let spaced = [
            PNG,
            &[b'a'; 2000],
            b"<!doctype",
            &[b' '; 3000],
            &[0; 3000],
            b"\tHtMl>",
        ]
        .concat();
        assert!(run(png_check(), &spaced, &[]).is_err());
        let nul_split = [PNG, &[b'a'; 2000], b"<scr", &[0; 5000], b"ipt>"].concat();
        assert!(run(png_check(), &nul_split, &[PNG.len() + 4000]).is_err());
    }
}
