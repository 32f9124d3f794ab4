//! The client's file name, made safe to show and to offer back as a download
//! name. It is metadata only: nothing here ever names a file on disk.

use core::fmt::Write as _;

use super::FileKind;

/// The longest name [`sanitize_file_name`] returns, in UTF-8 bytes: the
/// common file-system limit (ext4, APFS, NTFS in UTF-16 units is looser).
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// What a name with nothing usable left becomes.
const FALLBACK_NAME: &str = "file";

/// An extension longer than this is treated as part of the name when a long
/// name is cut, so the cut cannot be dodged with a 250-byte "extension".
const MAX_EXTENSION_BYTES: usize = 16;

/// Turns a client-supplied file name into a display name that is safe to
/// store as metadata, show in a page and offer in `Content-Disposition`.
///
/// It never fails; every rule cleans rather than refuses:
///
/// * only the last path component is kept, splitting on both `/` and `\`
///   (components that clean to nothing, like `..`, are skipped);
/// * control characters (C0, DEL, C1, so NUL, CR and LF), Unicode bidi
///   controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), line
///   and paragraph separators, zero-width and other invisible characters
///   (U+200B–U+200D, U+2060–U+2064, U+FEFF, U+00AD, U+180E, Hangul fillers,
///   tag characters) are removed, so `invoice\u{202E}gpj.exe` shows as the
///   `.exe` it is;
/// * characters Windows forbids (`< > : " | ? *`) and their full-width
///   look-alikes and slash look-alikes (which Windows "best fit" conversion
///   turns back into the ASCII ones) become `_`;
/// * leading dots and whitespace (hidden files, `..`) and trailing dots and
///   whitespace (which Windows drops) are trimmed;
/// * Windows reserved device names (`CON`, `PRN`, `AUX`, `NUL`, `CONIN$`,
///   `CONOUT$`, `COM0`–`COM9`, `LPT0`–`LPT9`, also with superscript digits and
///   with any extension, like `CON.txt`) get a `_` prefix;
/// * a name over [`MAX_FILE_NAME_BYTES`] is cut on a character boundary,
///   keeping an extension of up to 16 bytes;
/// * an empty result becomes `file`.
///
/// Percent-encoding is not decoded: `%2e%2e%2f` stays that literal text,
/// which is not a path and is percent-encoded again when sent in a header.
/// No Unicode normalisation is applied.
///
/// ```
/// use guard_core::upload::sanitize_file_name;
///
/// assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
/// assert_eq!(sanitize_file_name("..\\..\\win.ini"), "win.ini");
/// assert_eq!(sanitize_file_name("CON.txt"), "_CON.txt");
/// assert_eq!(sanitize_file_name("invoice\u{202E}gpj.exe"), "invoicegpj.exe");
/// assert_eq!(sanitize_file_name(".."), "file");
/// ```
#[must_use]
pub fn sanitize_file_name(name: &str) -> String {
    let cleaned = name
        .rsplit(['/', '\\'])
        .map(clean_component)
        .find(|component| !component.is_empty());
    let Some(name) = cleaned else {
        return FALLBACK_NAME.to_owned();
    };
    let mut name = cap_length(name);
    if is_windows_reserved(&name) {
        name.insert(0, '_');
        name = cap_length(name);
    }
    if name.is_empty() {
        FALLBACK_NAME.to_owned()
    } else {
        name
    }
}

/// The name a file of `kind` is stored and offered for download under: the
/// client's name, [sanitized](sanitize_file_name), as an untrusted display
/// stem, and the extension of the kind its bytes sniffed as.
///
/// The client's extension is dropped (the last `.`-part, when it is 1 to 16
/// ASCII letters and digits), and every other dot in the stem becomes `_`,
/// so the name has exactly one extension: `invoice.html` that sniffed as a
/// PNG is `invoice.png`, and neither `shell.php.png` nor `a.png.html` keeps
/// a second extension for a server or a desktop to act on. A name without
/// an extension gets the kind's; trailing dots and spaces are trimmed (so
/// `a.html .` is `a.png`); the result fits [`MAX_FILE_NAME_BYTES`]. It is
/// idempotent, and unchanged by [`sanitize_file_name`].
///
/// ```
/// use guard_core::upload::{FileKind, file_name_for_kind};
///
/// assert_eq!(file_name_for_kind("invoice.html", FileKind::Png), "invoice.png");
/// assert_eq!(file_name_for_kind("photo.png", FileKind::Png), "photo.png");
/// assert_eq!(file_name_for_kind("shell.php.png", FileKind::Png), "shell_php.png");
/// assert_eq!(file_name_for_kind("../../etc/passwd", FileKind::Pdf), "passwd.pdf");
/// ```
#[must_use]
pub fn file_name_for_kind(name: &str, kind: FileKind) -> String {
    let name = sanitize_file_name(name);
    let stem = match name.rsplit_once('.') {
        Some((stem, extension)) if is_extension(extension) => stem,
        _ => name.as_str(),
    };
    let extension = kind.extension();
    let stem = trim_ends(stem).replace('.', "_");
    let mut cut = MAX_FILE_NAME_BYTES
        .saturating_sub(extension.len() + 1)
        .min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    let stem = trim_ends(stem.get(..cut).unwrap_or_default());
    let stem = if stem.is_empty() { FALLBACK_NAME } else { stem };
    let typed = format!("{stem}.{extension}");
    if is_windows_reserved(&typed) {
        // `_` plus a stem cut one byte shorter: still within the cap.
        file_name_for_kind(&format!("_{typed}"), kind)
    } else {
        typed
    }
}

/// What [`file_name_for_kind`] takes for the client's extension.
fn is_extension(part: &str) -> bool {
    (1..=MAX_EXTENSION_BYTES).contains(&part.len())
        && part.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A `Content-Disposition` value that makes a browser download the file
/// under its sanitized name instead of rendering it.
///
/// The name is sanitized again (so a stored name is safe whatever wrote
/// it), then sent twice per RFC 6266: `filename="..."` with an ASCII
/// fallback (non-ASCII, `"`, `\` and `%` become `_`), and
/// `filename*=UTF-8''...` percent-encoded per RFC 8187. The value is
/// visible ASCII only — no CR, LF or unescaped quote — so it is always a
/// valid header value.
///
/// ```
/// use guard_core::upload::content_disposition_attachment;
///
/// assert_eq!(
///     content_disposition_attachment("résumé \"final\".pdf"),
///     "attachment; filename=\"r_sum_ _final_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20_final_.pdf",
/// );
/// ```
#[must_use]
pub fn content_disposition_attachment(name: &str) -> String {
    let name = sanitize_file_name(name);
    let mut value = String::with_capacity(40 + name.len() * 4);
    value.push_str("attachment; filename=\"");
    value.extend(name.chars().map(|c| match c {
        '"' | '\\' | '%' => '_',
        ' ' => ' ',
        c if c.is_ascii_graphic() => c,
        _ => '_',
    }));
    value.push_str("\"; filename*=UTF-8''");
    for byte in name.bytes() {
        if is_attr_char(byte) {
            value.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(value, "%{byte:02X}");
        }
    }
    value
}

/// RFC 8187 `attr-char`: what `filename*` may carry unencoded.
const fn is_attr_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        )
}

/// One path component with invisible characters removed, forbidden ones
/// replaced, and the ends trimmed.
fn clean_component(component: &str) -> String {
    let cleaned: String = component
        .chars()
        .filter(|c| !is_removed(*c))
        .map(|c| if is_forbidden(c) { '_' } else { c })
        .collect();
    trim_ends(&cleaned).to_owned()
}

fn trim_ends(name: &str) -> &str {
    name.trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
}

/// Characters that are dropped: they are invisible, reorder what is shown,
/// or break a header or a log line.
fn is_removed(c: char) -> bool {
    c.is_control() || crate::validate::text::is_hidden(c)
}

/// The seven characters Windows forbids in names, then their full-width
/// forms and the slash look-alikes, which Windows "best fit" code-page
/// conversion maps back to forbidden characters or path separators.
const FORBIDDEN: [char; 20] = [
    '<', '>', ':', '"', '|', '?', '*', '\u{FF1C}', '\u{FF1E}', '\u{FF1A}', '\u{FF02}', '\u{FF5C}',
    '\u{FF1F}', '\u{FF0A}', '\u{FF0F}', '\u{FF3C}', '\u{2215}', '\u{2044}', '\u{29F8}', '\u{29F9}',
];

fn is_forbidden(c: char) -> bool {
    FORBIDDEN.contains(&c)
}

/// `CON`, `com1`, `LPT²`, `NUL.tar.gz`, `AUX .txt`...: the part before the
/// first dot, trailing spaces ignored, is a device name.
fn is_windows_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        other => {
            let Some(rest) = other
                .strip_prefix("COM")
                .or_else(|| other.strip_prefix("LPT"))
            else {
                return false;
            };
            let mut digits = rest.chars();
            matches!(
                (digits.next(), digits.next()),
                (Some('0'..='9' | '¹' | '²' | '³'), None)
            )
        }
    }
}

/// Cuts a name over [`MAX_FILE_NAME_BYTES`] on a character boundary, keeping
/// a short extension, and trims what the cut leaves at the end.
fn cap_length(name: String) -> String {
    if name.len() <= MAX_FILE_NAME_BYTES {
        return name;
    }
    let (stem, extension) = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot - 1 <= MAX_EXTENSION_BYTES => name.split_at(dot),
        _ => (name.as_str(), ""),
    };
    let mut cut = MAX_FILE_NAME_BYTES
        .saturating_sub(extension.len())
        .min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    let stem = stem.get(..cut).unwrap_or_default();
    let capped = format!(
        "{}{extension}",
        stem.trim_end_matches(|c: char| c == '.' || c.is_whitespace())
    );
    trim_ends(&capped).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_names_as_documented() {
        let cases: &[(&str, &str)] = &[
            ("report.pdf", "report.pdf"),
            ("résumé 2024.pdf", "résumé 2024.pdf"),
            ("../../etc/passwd", "passwd"),
            ("..\\..\\win.ini", "win.ini"),
            ("/var/www/html/shell.php", "shell.php"),
            ("C:\\Users\\me\\photo.png", "photo.png"),
            ("photo.png/", "photo.png"),
            ("photo.png/..", "photo.png"),
            ("..", "file"),
            ("../..", "file"),
            ("", "file"),
            ("   ", "file"),
            ("%2e%2e%2f", "%2e%2e%2f"),
            ("%2e%2e%2fetc%2fpasswd", "%2e%2e%2fetc%2fpasswd"),
            ("evil.php\0.png", "evil.php.png"),
            ("line\r\nSet-Cookie: a=b.txt", "lineSet-Cookie_ a=b.txt"),
            ("invoice\u{202E}gpj.exe", "invoicegpj.exe"),
            ("\u{2067}abc\u{2069}\u{200E}\u{061C}.txt", "abc.txt"),
            ("zero\u{200B}width\u{FEFF}.txt", "zerowidth.txt"),
            ("tag\u{E0041}\u{E007F}.txt", "tag.txt"),
            (".htaccess", "htaccess"),
            ("...hidden", "hidden"),
            ("name. . .", "name"),
            ("trailing space.txt   ", "trailing space.txt"),
            ("a<b>c:d\"e|f?g*h.txt", "a_b_c_d_e_f_g_h.txt"),
            (
                "full\u{FF0F}width\u{FF3C}slash\u{FF1A}.txt",
                "full_width_slash_.txt",
            ),
            ("CON", "_CON"),
            ("CON.txt", "_CON.txt"),
            ("con.tar.gz", "_con.tar.gz"),
            ("AUX .txt", "_AUX .txt"),
            ("nul", "_nul"),
            ("COM1.log", "_COM1.log"),
            ("LPT9", "_LPT9"),
            ("COM\u{b9}.txt", "_COM\u{b9}.txt"),
            ("CONOUT$", "_CONOUT$"),
            ("CONSOLE.txt", "CONSOLE.txt"),
            ("COM10.txt", "COM10.txt"),
            ("x/CON:", "CON_"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize_file_name(input), *expected, "{input:?}");
        }
    }

    #[test]
    fn caps_long_names_keeping_the_extension() {
        let long = format!("{}.pdf", "a".repeat(5_000));
        let capped = sanitize_file_name(&long);
        assert_eq!(capped.len(), MAX_FILE_NAME_BYTES);
        assert!(capped.ends_with("aaa.pdf"));

        // Cut on a character boundary: 2-byte characters, 251 bytes of budget.
        let wide = format!("{}.txt", "é".repeat(3_000));
        let capped = sanitize_file_name(&wide);
        assert_eq!(capped, format!("{}.txt", "é".repeat(125)));

        // A 300-byte "extension" is not kept whole.
        let fake_extension = format!("x.{}", "b".repeat(300));
        assert_eq!(
            sanitize_file_name(&fake_extension).len(),
            MAX_FILE_NAME_BYTES
        );

        // A cut that leaves a reserved name behind is caught.
        let spaced = format!("CON{}x.txt", " ".repeat(300));
        assert_eq!(sanitize_file_name(&spaced), "_CON.txt");
        let reserved_long = format!("CON.{}", "c".repeat(300));
        let capped = sanitize_file_name(&reserved_long);
        assert!(
            capped.starts_with("_CON.") && capped.len() == MAX_FILE_NAME_BYTES,
            "{capped}"
        );
    }

    #[test]
    fn no_malicious_name_yields_a_path_or_hidden_characters() {
        let long = "\u{202E}".repeat(2_000) + &"x".repeat(5_000);
        let inputs = [
            "../../etc/passwd",
            "..\\..\\win.ini",
            "%2e%2e%2f",
            "a\0b",
            "CON.txt",
            "invoice\u{202E}gpj.exe",
            long.as_str(),
            "\u{202E}\u{200B}..",
            ". .",
            "\u{FF0F}etc\u{FF0F}passwd",
        ];
        for input in inputs {
            let name = sanitize_file_name(input);
            assert!(
                !name.is_empty() && name.len() <= MAX_FILE_NAME_BYTES,
                "{input:?} -> {name:?}"
            );
            assert!(!name.contains(['/', '\\', '\0']), "{input:?} -> {name:?}");
            assert!(
                !name.starts_with('.') && !name.ends_with('.'),
                "{input:?} -> {name:?}"
            );
            assert!(
                !name.chars().any(|c| c.is_control() || is_removed(c)),
                "{input:?} -> {name:?}"
            );
            assert!(!is_windows_reserved(&name), "{input:?} -> {name:?}");
            assert_eq!(sanitize_file_name(&name), name, "sanitizing is idempotent");
        }
    }

    #[test]
    fn the_download_name_carries_the_sniffed_kinds_extension_only() {
        use FileKind::*;
        let cases: &[(&str, FileKind, &str)] = &[
            ("invoice.html", Png, "invoice.png"),
            ("invoice", Png, "invoice.png"),
            ("photo.png", Png, "photo.png"),
            ("photo.PNG", Png, "photo.png"),
            ("photo.jpeg", Jpeg, "photo.jpg"),
            ("a.html.png", Png, "a_html.png"),
            ("a.png.html", Png, "a_png.png"),
            ("shell.php.png", Png, "shell_php.png"),
            ("invoice.html.", Png, "invoice.png"),
            ("invoice.html . .", Png, "invoice.png"),
            ("invoice .html", Png, "invoice.png"),
            ("a..png", Png, "a.png"),
            ("report.v2.final.pdf", Pdf, "report_v2_final.pdf"),
            ("Dr. Smith notes", Txt, "Dr_ Smith notes.txt"),
            ("archive.tar.gz", Zip, "archive_tar.zip"),
            ("../../etc/passwd", Png, "passwd.png"),
            ("..\\..\\win.ini", Png, "win.png"),
            ("photo\u{202E}gnp.exe", Png, "photognp.png"),
            ("CON.txt", Png, "_CON.png"),
            ("CON", Png, "_CON.png"),
            ("nul.html", Txt, "_nul.txt"),
            ("", Pdf, "file.pdf"),
            ("..", Png, "file.png"),
            (".html", Png, "html.png"),
            ("отчёт.pdf", Pdf, "отчёт.pdf"),
            ("a.x-y", Png, "a_x-y.png"),
            ("svg.svg", Svg, "svg.svg"),
            ("page", Html, "page.html"),
        ];
        for (input, kind, expected) in cases {
            let name = file_name_for_kind(input, *kind);
            assert_eq!(name, *expected, "{input:?} as {kind}");
            assert_eq!(file_name_for_kind(&name, *kind), name, "idempotent");
            assert_eq!(sanitize_file_name(&name), name, "already sanitized");
        }
    }

    #[test]
    fn a_long_name_keeps_the_kinds_extension_within_the_cap() {
        for input in [
            format!("{}.html", "a".repeat(5_000)),
            format!("{}.txt", "é".repeat(3_000)),
            "x.".repeat(2_000),
            format!("CON{}", " ".repeat(300)),
        ] {
            let name = file_name_for_kind(&input, FileKind::Jpeg);
            assert!(name.len() <= MAX_FILE_NAME_BYTES, "{}", name.len());
            assert!(name.ends_with(".jpg"), "{name}");
            assert_eq!(name.matches('.').count(), 1, "{name}");
            assert!(!is_windows_reserved(&name), "{name}");
            assert_eq!(file_name_for_kind(&name, FileKind::Jpeg), name);
        }
    }

    #[test]
    fn content_disposition_is_visible_ascii_with_both_names() {
        let cases: &[(&str, &str)] = &[
            (
                "report.pdf",
                "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf",
            ),
            (
                "отчёт.pdf",
                "attachment; filename=\"_____.pdf\"; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf",
            ),
            (
                "100%.txt",
                "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt",
            ),
            (
                "a\"b\r\nX-Injected: 1.txt",
                "attachment; filename=\"a_bX-Injected_ 1.txt\"; filename*=UTF-8''a_bX-Injected_%201.txt",
            ),
            (
                "../../etc/passwd",
                "attachment; filename=\"passwd\"; filename*=UTF-8''passwd",
            ),
            ("", "attachment; filename=\"file\"; filename*=UTF-8''file"),
        ];
        for (input, expected) in cases {
            let value = content_disposition_attachment(input);
            assert_eq!(value, *expected, "{input:?}");
            assert!(value.bytes().all(|b| (0x20..0x7F).contains(&b)), "{value}");
            assert!(http::HeaderValue::from_str(&value).is_ok());
        }
    }
}
