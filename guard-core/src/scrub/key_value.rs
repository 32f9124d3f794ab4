//! Sensitive keys and their values: `key=value`, `key: value`,
//! `"key": "value"`, `key: Some("value")`, `?key=value&`, and whole
//! credential header lines.

use super::{Masker, REDACTED, starts_with_redacted};

/// How far the value of a sensitive key reaches when it is not quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    /// Up to whitespace or a delimiter: `password=x&page=2`.
    Value,
    /// To the end of the line: the value of `Authorization` or `Cookie`
    /// contains spaces (`Bearer x`, `a=1; b=2`).
    Line,
}

/// Longest key considered; longer runs are identifiers or data, not keys.
const MAX_KEY_LEN: usize = 64;

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Classifies a key by its lowercased form with `_`, `-` and `.` removed.
fn classify_key(key: &[u8]) -> Option<KeyKind> {
    // `Proxy-Authorization`, `X-Forwarded-Authorization`, `Set-Cookie` too.
    const LINE_ENDS_WITH: [&[u8]; 2] = [b"authorization", b"cookie"];
    const CONTAINS: [&[u8]; 14] = [
        b"password",
        b"passwd",
        b"passphrase",
        b"secret",
        b"apikey",
        b"privatekey",
        b"accesskey",
        b"signingkey",
        b"encryptionkey",
        b"masterkey",
        b"credential",
        b"signature",
        b"sessionid",
        b"sessid",
    ];
    const ENDS_WITH: [&[u8]; 6] = [b"token", b"pwd", b"sid", b"session", b"auth", b"sig"];
    const EXACT: [&[u8]; 2] = [b"pass", b"pw"];

    if key.len() > MAX_KEY_LEN {
        return None;
    }
    let mut buf = [0_u8; MAX_KEY_LEN];
    let mut len = 0;
    for &b in key {
        if b.is_ascii_alphanumeric()
            && let Some(slot) = buf.get_mut(len)
        {
            *slot = b.to_ascii_lowercase();
            len += 1;
        }
    }
    let norm = buf.get(..len)?;
    if norm.is_empty() {
        return None;
    }
    if LINE_ENDS_WITH.iter().any(|word| norm.ends_with(word)) {
        Some(KeyKind::Line)
    } else if CONTAINS.iter().any(|word| contains(norm, word))
        || ENDS_WITH.iter().any(|word| norm.ends_with(word))
        || EXACT.contains(&norm)
    {
        Some(KeyKind::Value)
    } else {
        None
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub(super) fn mask_key_values(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut masker = Masker::new(text);
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i).copied().is_some_and(is_key_byte) {
            i += 1;
            continue;
        }
        // A maximal run of key bytes: the previous byte is not one, so this
        // is the start of a word (`?api_key`, `"password`, `--password`).
        let start = i;
        while bytes.get(i).copied().is_some_and(is_key_byte) {
            i += 1;
        }
        let end = i;
        let Some(kind) = bytes.get(start..end).and_then(classify_key) else {
            continue;
        };
        let Some(value_at) = after_separator(bytes, start, end) else {
            continue;
        };
        if let Some((from, to, resume)) = value_extent(bytes, value_at, kind) {
            if from < to {
                masker.mask(from, to);
            }
            i = resume.max(i);
        }
    }
    masker.finish()
}

/// Where the value starts when the key at `start..end` is followed by a
/// separator: optional closing quote, spaces, `=` or `:` (not `==`, `::`),
/// spaces.
fn after_separator(bytes: &[u8], start: usize, end: usize) -> Option<usize> {
    let mut j = end;
    let open = start.checked_sub(1).and_then(|p| bytes.get(p)).copied();
    if let Some(q @ (b'"' | b'\'')) = open
        && bytes.get(j) == Some(&q)
    {
        j += 1;
    }
    while matches!(bytes.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    let sep = *bytes.get(j)?;
    if !matches!(sep, b'=' | b':') || bytes.get(j + 1) == Some(&sep) {
        return None;
    }
    j += 1;
    while matches!(bytes.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    Some(j)
}

/// The span to mask for a value starting at `at`, and where scanning resumes.
fn value_extent(bytes: &[u8], at: usize, kind: KeyKind) -> Option<(usize, usize, usize)> {
    let mut at = at;
    // Rust's `Debug` of an `Option` field: `password: Some("hunter2")`.
    if bytes
        .get(at..)
        .is_some_and(|rest| rest.starts_with(b"Some("))
    {
        at += "Some(".len();
    }
    // Already masked (the text went through the scrubber before).
    if starts_with_redacted(bytes, at) {
        let resume = at + REDACTED.len();
        return Some((at, at, resume));
    }
    let first = *bytes.get(at)?;
    if matches!(first, b'"' | b'\'') {
        let from = at + 1;
        if starts_with_redacted(bytes, from) {
            let resume = from + REDACTED.len();
            return Some((from, from, resume));
        }
        let mut k = from;
        loop {
            match bytes.get(k) {
                None | Some(b'\n' | b'\r') => break,
                Some(b'\\') => k += 2,
                Some(&c) if c == first => break,
                Some(_) => k += 1,
            }
        }
        // An unterminated quote masks to the end of the line.
        let to = k.min(bytes.len());
        return Some((from, to, to));
    }
    let mut k = at;
    match kind {
        KeyKind::Line => {
            while !matches!(bytes.get(k), None | Some(b'\n' | b'\r')) {
                k += 1;
            }
            let resume = k;
            while k > at && matches!(bytes.get(k - 1), Some(b' ' | b'\t')) {
                k -= 1;
            }
            Some((at, k, resume))
        }
        KeyKind::Value => {
            while bytes.get(k).is_some_and(|&b| !is_value_stop(b)) {
                k += 1;
            }
            let resume = k;
            // `password=x, user=bob`: the comma belongs to the sentence.
            while k > at && matches!(bytes.get(k - 1), Some(b',' | b';' | b'.')) {
                k -= 1;
            }
            Some((at, k, resume))
        }
    }
}

fn is_value_stop(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'&' | b'"' | b'\'' | b')' | b']' | b'}' | b'<' | b'>')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_keys_by_normalised_name() {
        let sensitive = [
            "password",
            "DB_PASSWORD",
            "x-api-key",
            "tower.sid",
            "SESSION_ID",
            "csrf_token",
            "aws_secret_access_key",
        ];
        let ordinary = [
            "email",
            "user_id",
            "id",
            "page",
            "keyboard",
            "session_count_total_x",
            "description",
        ];
        for key in sensitive {
            assert!(
                classify_key(key.as_bytes()).is_some(),
                "{key} should be sensitive"
            );
        }
        for key in ordinary {
            assert_eq!(
                classify_key(key.as_bytes()),
                None,
                "{key} should not be sensitive"
            );
        }
    }
}
