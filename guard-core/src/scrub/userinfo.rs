//! The user name and password in a URL: `scheme://user:password@host`.

use super::{Masker, starts_with_redacted};

pub(super) fn mask_url_userinfo(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut masker = Masker::new(text);
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i..).is_some_and(|rest| rest.starts_with(b"://")) {
            i += 1;
            continue;
        }
        let from = i + 3;
        // The authority ends at the first `/`, `?`, `#` or space; userinfo is
        // everything before its *last* `@` (a raw `@` in a password happens).
        let mut k = from;
        let mut last_at = None;
        while let Some(&b) = bytes.get(k) {
            if matches!(b, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>')
                || b.is_ascii_whitespace()
            {
                break;
            }
            if b == b'@' {
                last_at = Some(k);
            }
            k += 1;
        }
        if let Some(at) = last_at
            && at > from
            && !starts_with_redacted(bytes, from)
        {
            masker.mask(from, at);
        }
        i = k.max(from);
    }
    masker.finish()
}
