//! Email addresses, also `%40`-encoded, masked whole.

use super::Masker;

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'\'') || b >= 0x80
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-') || b >= 0x80
}

pub(super) fn mask_emails(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut masker = Masker::new(text);
    // The local part of an address never reaches back past the previous `@`:
    // this bounds the backward scans, so `a@a@a@…` stays linear.
    let mut floor = 0;
    let mut i = 0;
    while i < bytes.len() {
        let sep_len = match bytes.get(i) {
            Some(b'@') => 1,
            Some(b'%') if bytes.get(i + 1..i + 3) == Some(b"40") => 3,
            _ => {
                i += 1;
                continue;
            }
        };
        let lower = floor.max(masker.copied());
        let mut local = i;
        while local > lower && bytes.get(local - 1).copied().is_some_and(is_local_byte) {
            local -= 1;
        }
        // SQL quotes the value: `'alice@example.com'`.
        while local < i && matches!(bytes.get(local), Some(b'\'' | b'.')) {
            local += 1;
        }
        let domain = i + sep_len;
        let mut end = domain;
        while bytes.get(end).copied().is_some_and(is_domain_byte) {
            end += 1;
        }
        while end > domain && matches!(bytes.get(end - 1), Some(b'.' | b'-')) {
            end -= 1;
        }
        if local < i && bytes.get(domain..end).is_some_and(is_email_domain) {
            masker.mask(local, end);
            i = end;
        } else {
            i = domain;
        }
        floor = i;
    }
    masker.finish()
}

/// At least two labels, none empty, and a top-level label of two or more
/// letters (or an IDN one): excludes `user@localhost` and `lodash@4.17.21`.
fn is_email_domain(domain: &[u8]) -> bool {
    if domain.first() == Some(&b'-') || !domain.contains(&b'.') {
        return false;
    }
    if domain.split(|&b| b == b'.').any(<[u8]>::is_empty) {
        return false;
    }
    let tld = domain.rsplit(|&b| b == b'.').next().unwrap_or_default();
    tld.len() >= 2
        && (tld.iter().all(|&b| b.is_ascii_alphabetic() || b >= 0x80) || tld.starts_with(b"xn--"))
}
