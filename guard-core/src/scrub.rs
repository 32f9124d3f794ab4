//! Masking of secrets and personal data in free text before it reaches a log.
//!
//! The error layer logs the detail of an internal error (a database error, an
//! HTTP client error, a panic message) under the error id the client sees.
//! That detail routinely quotes what it should not: sqlx quotes the row that
//! violated a constraint, reqwest quotes the URL with its `?api_key=`, a
//! header dump carries `Authorization`. [`scrub`] masks those parts and
//! keeps the rest readable, so the log still explains the failure.
//!
//! Every masked part becomes [`REDACTED`] (`[redacted]`), whatever it was:
//!
//! | found in the text | becomes |
//! |---|---|
//! | `Authorization: Bearer x`, `Proxy-Authorization:`, `Cookie:`, `Set-Cookie:` (header lines, any case) | `Authorization: [redacted]` (the rest of the line) |
//! | a sensitive key in `key=value`, `key: value`, `"key":"value"`, `key: Some("value")`, `?key=value&` | `key=[redacted]` (the value only; other query parameters stay) |
//! | `Bearer <token>`, `Basic <base64>` outside a header line | `Bearer [redacted]` |
//! | `scheme://user:password@host` | `scheme://[redacted]@host` |
//! | an email address, also `%40`-encoded | `[redacted]`, the whole address |
//! | a JWT (`eyJ…` in three or five base64url segments) | `[redacted]` |
//! | a provider key by prefix: AWS `AKIA…`/`ASIA…`, Stripe `sk_live_…`, GitHub `ghp_…`, Slack `xoxb-…`, Google `AIza…`, … | `[redacted]` |
//! | a run of at least 32 random-looking hex or base64 characters | `[redacted]` |
//!
//! Sensitive keys are matched case-insensitively with `_`, `-` and `.`
//! ignored: a key *containing* `password`, `passwd`, `passphrase`, `secret`,
//! `apikey`, `privatekey`, `accesskey`, `credential`, `signature`,
//! `sessionid` or `sessid` (so `db_password`, `X-Api-Key`, `client_secret`,
//! `JSESSIONID`), or *ending* in `token`, `pwd`, `sid`, `session`, `auth` or
//! `sig` (so `refresh_token`, `tower.sid`, `connect.sid`, but not
//! `max_tokens`), or equal to `pass`/`pw`.
//!
//! Email addresses are masked whole, domain included: a personal domain
//! identifies its owner as well as the local part does, and the column name
//! quoted beside it (`Key (email)=([redacted])`) is what an operator needs.
//!
//! # What it does not do
//!
//! The scrubber errs towards masking too much: `invalid password: too short`
//! loses `too`, a 40-character git hash is masked as a possible key. It is a
//! net under the log, not a reason to log secrets: wrap them in
//! [`Secret`](crate::secret::Secret) so they never reach the text at all. A
//! bare cookie value (`id=…` outside a `Cookie:` line), a password containing
//! spaces outside quotes, and secrets with no marker, no known prefix and too
//! short to look random cannot be told from ordinary text and stay visible.
//! Hyphenated UUIDs (the error id among them) are kept.
//!
//! # Cost
//!
//! Linear in the length of the text, on any input. The `regex` crate would
//! give that guarantee too, but it is not a dependency of this crate, and the
//! backtracking engines people reach for instead (`fancy-regex`, PCRE) are
//! exactly what an attacker-controlled error message turns into a denial of
//! service. So each rule is a small forward scanner: every scan either
//! consumes what it read or is bounded by the previous match, and no byte is
//! read more than a fixed number of times. The text is copied only when
//! something is masked; otherwise [`scrub`] returns it borrowed.
use std::borrow::Cow;

/// What every masked part of a text is replaced with, by [`scrub`] and by the
/// `Debug`/`Display` of [`Secret`](crate::secret::Secret).
pub const REDACTED: &str = "[redacted]";

/// Masks bearer tokens, passwords, API keys, session ids and email addresses
/// in free text such as an error message.
///
/// Returns the text borrowed when nothing was masked. See the
/// [module docs](self) for the full list of what is masked and how.
///
/// ```
/// use guard_core::scrub::scrub;
///
/// let raw = "GET https://api.x.com/v1?api_key=sk_live_4eC39HqLyjWDarjtT1zdp7dc&page=2 failed";
/// assert_eq!(scrub(raw), "GET https://api.x.com/v1?api_key=[redacted]&page=2 failed");
///
/// let raw = "UNIQUE constraint failed: users.email ('alice@example.com')";
/// assert_eq!(scrub(raw), "UNIQUE constraint failed: users.email ('[redacted]')");
/// ```
pub fn scrub(text: &str) -> Cow<'_, str> {
    // Order matters only for readability of the result: the key/value pass
    // masks whole header lines first, so the later passes find `[redacted]`
    // there, which none of them matches.
    const PASSES: [fn(&str) -> Option<String>; 4] =
        [mask_key_values, mask_url_userinfo, mask_emails, mask_tokens];
    let mut text = Cow::Borrowed(text);
    for pass in PASSES {
        if let Some(masked) = pass(&text) {
            text = Cow::Owned(masked);
        }
    }
    text
}

/// Copies the text into a new string, replacing the spans it is given.
///
/// Spans must come in increasing order; a span that starts inside an
/// already-masked one is clamped, and a span end that is not a char boundary
/// is pushed to the next one, so a scanner slip over-masks rather than
/// panicking or leaking.
struct Masker<'a> {
    text: &'a str,
    out: Option<String>,
    copied: usize,
}

impl<'a> Masker<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            out: None,
            copied: 0,
        }
    }

    /// Bytes before this position are already written out.
    fn copied(&self) -> usize {
        self.copied
    }

    fn mask(&mut self, start: usize, end: usize) {
        let start = start.max(self.copied);
        let mut end = end.clamp(start, self.text.len());
        while !self.text.is_char_boundary(end) {
            end += 1;
        }
        if start == end {
            return;
        }
        let text = self.text;
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(text.len()));
        // `start` is always an ASCII position or a previous `end`; should it
        // not be, mask from the last copied position instead of panicking.
        if let Some(kept) = text.get(self.copied..start) {
            out.push_str(kept);
        }
        out.push_str(REDACTED);
        self.copied = end;
    }

    fn finish(self) -> Option<String> {
        let mut out = self.out?;
        out.push_str(self.text.get(self.copied..).unwrap_or_default());
        Some(out)
    }
}

fn starts_with_redacted(bytes: &[u8], at: usize) -> bool {
    bytes
        .get(at..)
        .is_some_and(|rest| rest.starts_with(REDACTED.as_bytes()))
}

// ---------------------------------------------------------------------------
// key = value, key: value, "key": "value", ?key=value&
// ---------------------------------------------------------------------------

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

fn mask_key_values(text: &str) -> Option<String> {
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

// ---------------------------------------------------------------------------
// scheme://user:password@host
// ---------------------------------------------------------------------------

fn mask_url_userinfo(text: &str) -> Option<String> {
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

// ---------------------------------------------------------------------------
// email addresses
// ---------------------------------------------------------------------------

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'\'') || b >= 0x80
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-') || b >= 0x80
}

fn mask_emails(text: &str) -> Option<String> {
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

// ---------------------------------------------------------------------------
// Bearer/Basic credentials, JWTs, prefixed provider keys, random-looking runs
// ---------------------------------------------------------------------------

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-' | b'.' | b'~')
}

/// End of the token run starting at `start`, with trailing base64 padding:
/// `=` belongs to the token only at its end, so `key=AKIA…` is two runs.
fn token_end(bytes: &[u8], start: usize) -> usize {
    let mut k = start;
    while bytes.get(k).copied().is_some_and(is_token_byte) {
        k += 1;
    }
    let mut pad = k;
    while bytes.get(pad) == Some(&b'=') {
        pad += 1;
    }
    let padded = pad > k && !bytes.get(pad).copied().is_some_and(is_token_byte);
    if padded { pad } else { k }
}

fn mask_tokens(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut masker = Masker::new(text);
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i).copied().is_some_and(is_token_byte) {
            i += 1;
            continue;
        }
        let start = i;
        let end = token_end(bytes, start);
        i = end;
        let word = bytes.get(start..end).unwrap_or_default();
        let scheme = if word.eq_ignore_ascii_case(b"bearer") {
            Some(Scheme::Bearer)
        } else if word.eq_ignore_ascii_case(b"basic") {
            Some(Scheme::Basic)
        } else {
            None
        };
        match scheme {
            Some(scheme) => {
                let mut cred = end;
                while matches!(bytes.get(cred), Some(b' ' | b'\t')) {
                    cred += 1;
                }
                if cred > end && bytes.get(cred).copied().is_some_and(is_token_byte) {
                    let cred_end = token_end(bytes, cred);
                    if bytes
                        .get(cred..cred_end)
                        .is_some_and(|c| scheme.looks_like_credentials(c))
                    {
                        masker.mask(cred, cred_end);
                    } else {
                        mask_secrets_in_run(&mut masker, bytes, cred, cred_end);
                    }
                    i = cred_end;
                }
            }
            None => mask_secrets_in_run(&mut masker, bytes, start, end),
        }
    }
    masker.finish()
}

#[derive(Clone, Copy)]
enum Scheme {
    Bearer,
    Basic,
}

impl Scheme {
    /// Filters out prose: "the bearer of bad news", "basic usage".
    fn looks_like_credentials(self, cred: &[u8]) -> bool {
        match self {
            Self::Bearer => cred.len() >= 8 || !cred.iter().all(u8::is_ascii_alphabetic),
            // Standard base64 is padded to a multiple of four.
            Self::Basic => {
                cred.len() >= 8
                    && cred.len().is_multiple_of(4)
                    && cred
                        .iter()
                        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            }
        }
    }
}

/// Masks the run, or else its `/`-separated parts, or else their
/// `.`-separated parts, whichever first looks like a secret: a JWT inside a
/// URL path, a key between dots. Each byte is examined at most three times.
fn mask_secrets_in_run(masker: &mut Masker<'_>, bytes: &[u8], start: usize, end: usize) {
    // An unsigned JWT ends with its empty signature's dot.
    if bytes.get(start..end).is_some_and(is_jwt) {
        masker.mask(start, end);
        return;
    }
    let mut end = end;
    // Sentence punctuation: "the key is AKIAIOSFODNN7EXAMPLE."
    while end > start && bytes.get(end - 1) == Some(&b'.') {
        end -= 1;
    }
    let Some(run) = bytes.get(start..end) else {
        return;
    };
    if looks_like_secret(run) {
        masker.mask(start, end);
        return;
    }
    for (seg_start, seg) in split_with_offsets(run, b'/') {
        let seg_start = start + seg_start;
        if is_jwt(seg) || looks_like_secret(seg) {
            masker.mask(seg_start, seg_start + seg.len());
            continue;
        }
        for (part_start, part) in split_with_offsets(seg, b'.') {
            if looks_like_secret(part) {
                let part_start = seg_start + part_start;
                masker.mask(part_start, part_start + part.len());
            }
        }
    }
}

fn split_with_offsets(bytes: &[u8], sep: u8) -> impl Iterator<Item = (usize, &[u8])> {
    let mut offset = 0;
    bytes.split(move |&b| b == sep).map(move |part| {
        let at = offset;
        offset += part.len() + 1;
        (at, part)
    })
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')
}

/// `header.payload.signature` (or the five parts of a JWE), each base64url,
/// the header starting `eyJ` (`{"`); an unsigned JWT has an empty signature.
fn is_jwt(run: &[u8]) -> bool {
    if !run.starts_with(b"eyJ") {
        return false;
    }
    let parts = run.split(|&b| b == b'.');
    let mut count = 0;
    for part in parts {
        count += 1;
        // Only the header is never empty: an unsigned JWT has no signature,
        // a JWE with direct encryption no encrypted key.
        if !part.iter().all(|&b| is_base64url(b)) {
            return false;
        }
    }
    count == 3 || count == 5
}

fn looks_like_secret(run: &[u8]) -> bool {
    has_provider_prefix(run) || is_aws_key_id(run) || is_random_looking(run)
}

/// Prefixes that providers put on secret keys precisely so scanners find
/// them, with the minimum length of what follows.
fn has_provider_prefix(run: &[u8]) -> bool {
    const PREFIXES: [(&[u8], usize); 22] = [
        (b"sk_live_", 10),
        (b"sk_test_", 10),
        (b"rk_live_", 10),
        (b"rk_test_", 10),
        (b"whsec_", 16),
        (b"sk-", 20),
        (b"ghp_", 20),
        (b"gho_", 20),
        (b"ghu_", 20),
        (b"ghs_", 20),
        (b"ghr_", 20),
        (b"github_pat_", 20),
        (b"glpat-", 16),
        (b"xoxb-", 10),
        (b"xoxp-", 10),
        (b"xoxa-", 10),
        (b"xoxr-", 10),
        (b"xoxs-", 10),
        (b"xapp-", 10),
        (b"AIza", 30),
        (b"npm_", 30),
        (b"hf_", 30),
    ];
    PREFIXES
        .iter()
        .any(|(prefix, rest)| run.starts_with(prefix) && run.len() >= prefix.len() + rest)
}

/// AWS access key ids: a four-letter type prefix and 16 upper-case
/// alphanumerics, 20 characters in all.
fn is_aws_key_id(run: &[u8]) -> bool {
    const PREFIXES: [&[u8]; 11] = [
        b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"AGPA", b"AIDA", b"AIPA", b"ANPA", b"ANVA", b"AROA",
        b"APKA",
    ];
    run.len() == 20
        && PREFIXES.iter().any(|p| run.starts_with(p))
        && run
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// At least 32 characters of hex (with digits and letters, entropy of 3 bits
/// a character) or of base64 (with upper case, lower case and digits, 4 bits
/// a character, and not reading like words): the shape of generated keys,
/// not of identifiers, paths or hyphenated UUIDs.
fn is_random_looking(run: &[u8]) -> bool {
    const MIN_LEN: usize = 32;
    if run.len() < MIN_LEN {
        return false;
    }
    let (mut upper, mut lower, mut digit, mut hex_only, mut base64_only) =
        (false, false, false, true, true);
    // Adjacent lower-case pairs: about 17% of a random base64 run, over half
    // of a camel-case identifier (`AbstractSingletonProxyFactoryBean2`),
    // which entropy alone does not tell from a key.
    let mut lower_pairs = 0_usize;
    let mut prev_lower = false;
    for &b in run {
        let is_lower = b.is_ascii_lowercase();
        if prev_lower && is_lower {
            lower_pairs += 1;
        }
        prev_lower = is_lower;
        upper |= b.is_ascii_uppercase();
        lower |= b.is_ascii_lowercase();
        digit |= b.is_ascii_digit();
        hex_only &= b.is_ascii_hexdigit();
        base64_only &= b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-' | b'=');
    }
    if hex_only && digit && (upper || lower) {
        return entropy_bits_per_byte(run) >= 3.0;
    }
    let reads_like_words = lower_pairs * 20 >= (run.len() - 1) * 9;
    base64_only && upper && lower && digit && !reads_like_words && entropy_bits_per_byte(run) >= 4.0
}

#[allow(clippy::cast_precision_loss)] // counts and lengths far below 2^52
fn entropy_bits_per_byte(run: &[u8]) -> f64 {
    let mut counts = [0_u32; 256];
    for &b in run {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c += 1;
        }
    }
    let len = run.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_scrubs(cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            let once = scrub(input);
            assert_eq!(once, *expected, "scrubbing {input:?}");
            // Log pipelines scrub twice; the second pass must change nothing.
            assert!(
                matches!(scrub(&once), Cow::Borrowed(_)),
                "not idempotent on {input:?}: {once:?} -> {:?}",
                scrub(&once)
            );
        }
    }

    #[test]
    fn masks_database_errors_that_quote_rows() {
        assert_scrubs(&[
            (
                "error returned from database: (code: 2067) UNIQUE constraint failed: users.email; row ('alice@example.com', 'Alice')",
                "error returned from database: (code: 2067) UNIQUE constraint failed: users.email; row ('[redacted]', 'Alice')",
            ),
            (
                "duplicate key value violates unique constraint \"users_email_key\"\nDETAIL: Key (email)=(bob@x.org) already exists.",
                "duplicate key value violates unique constraint \"users_email_key\"\nDETAIL: Key (email)=([redacted]) already exists.",
            ),
            (
                "Failing row contains (7, carol.o'brien+test@mail.example.co.uk, $argon2id$v=19$m=19456).",
                "Failing row contains (7, [redacted], $argon2id$v=19$m=19456).",
            ),
            (
                "error connecting to postgres://app:S3cr3t!pass@db.internal:5432/app",
                "error connecting to postgres://[redacted]@db.internal:5432/app",
            ),
        ]);
    }

    #[test]
    fn masks_query_secrets_and_keeps_other_parameters() {
        assert_scrubs(&[
            (
                "error sending request for url (https://api.x.com/v1?api_key=sk_live_51Hx9aBcDeFgHiJkLmNoP&page=2)",
                "error sending request for url (https://api.x.com/v1?api_key=[redacted]&page=2)",
            ),
            ("GET /cb?token=abc&x=1", "GET /cb?token=[redacted]&x=1"),
            (
                "/oauth?access_token=at1&refresh_token=rt2&state=s",
                "/oauth?access_token=[redacted]&refresh_token=[redacted]&state=s",
            ),
            (
                "https://s3.amazonaws.com/b/k?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20240101&X-Amz-Signature=abc123&X-Amz-Expires=60",
                "https://s3.amazonaws.com/b/k?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]&X-Amz-Expires=60",
            ),
            (
                "https://x.blob.core.windows.net/c?sv=2022&sig=Zm9v%3D",
                "https://x.blob.core.windows.net/c?sv=2022&sig=[redacted]",
            ),
        ]);
    }

    #[test]
    fn masks_header_lines_whatever_their_case() {
        assert_scrubs(&[
            (
                "Host: api.x.com\nAuthorization: Bearer abc.def.ghi\nAccept: */*",
                "Host: api.x.com\nAuthorization: [redacted]\nAccept: */*",
            ),
            (
                "cookie: tower.sid=AbC123; theme=dark\r\nset-cookie: id=xyz; HttpOnly; Secure\r\n",
                "cookie: [redacted]\r\nset-cookie: [redacted]\r\n",
            ),
            (
                "PROXY-AUTHORIZATION: Basic dXNlcjpwYXNz",
                "PROXY-AUTHORIZATION: [redacted]",
            ),
            (
                r#"headers: {"authorization": "Bearer t0k3n", "x-api-key": "k1", "accept": "*/*"}"#,
                r#"headers: {"authorization": "[redacted]", "x-api-key": "[redacted]", "accept": "*/*"}"#,
            ),
        ]);
    }

    #[test]
    fn masks_secrets_in_json_and_debug_output() {
        assert_scrubs(&[
            (
                r#"{"email":"a@b.io","password":"hunter2","remember":true}"#,
                r#"{"email":"[redacted]","password":"[redacted]","remember":true}"#,
            ),
            (
                r#"{"password" : "with \"quote\" inside"}"#,
                r#"{"password" : "[redacted]"}"#,
            ),
            (
                r#"Login { user: "dave", password: Some("hunter2"), otp: None }"#,
                r#"Login { user: "dave", password: Some("[redacted]"), otp: None }"#,
            ),
            (
                "Config { client_secret: s3cr3t, port: 8080 }",
                "Config { client_secret: [redacted], port: 8080 }",
            ),
            (
                "password=hunter2, user=bob",
                "password=[redacted], user=bob",
            ),
            ("db_password = 'p@ss w0rd'", "db_password = '[redacted]'"),
            (
                "run --password=hunter2 --verbose",
                "run --password=[redacted] --verbose",
            ),
            (
                "PASSWD:x pwd=y passphrase=z session=q tower.sid=r connect.sid=s",
                "PASSWD:[redacted] pwd=[redacted] passphrase=[redacted] session=[redacted] tower.sid=[redacted] connect.sid=[redacted]",
            ),
            (
                "apikey=1 api-key=2 API_KEY=3 JSESSIONID=4",
                "apikey=[redacted] api-key=[redacted] API_KEY=[redacted] JSESSIONID=[redacted]",
            ),
        ]);
    }

    #[test]
    fn masks_bearer_and_basic_credentials_in_prose() {
        assert_scrubs(&[
            (
                "rejected bearer abc123 for user 5",
                "rejected bearer [redacted] for user 5",
            ),
            (
                "sent BEARER ya29.a0AfH6SMB, got 401",
                "sent BEARER [redacted], got 401",
            ),
            (
                "upstream said: Basic dXNlcjpwYXNzd29yZA== is invalid",
                "upstream said: Basic [redacted] is invalid",
            ),
        ]);
    }

    #[test]
    fn masks_jwts_provider_keys_and_random_runs() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_scrubs(&[
            (
                &format!("invalid jwt {jwt} supplied"),
                "invalid jwt [redacted] supplied",
            ),
            (&format!("GET /auth/{jwt}/cb"), "GET /auth/[redacted]/cb"),
            (
                "unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. token",
                "unsigned [redacted] token",
            ),
            ("key id AKIAIOSFODNN7EXAMPLE.", "key id [redacted]."),
            ("key=AKIAIOSFODNN7EXAMPLE", "key=[redacted]"),
            (
                "gh ghp_16C7e42F292c6912E7710c838347Ae178B4a ok",
                "gh [redacted] ok",
            ),
            (
                "slack xoxb-2648-98234-ABCdef123 down",
                "slack [redacted] down",
            ),
            (
                "openai sk-proj-Abc123Def456Ghi789Jkl0 failed",
                "openai [redacted] failed",
            ),
            (
                "hmac 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 mismatch",
                "hmac [redacted] mismatch",
            ),
            (
                "opaque dGhpcyBpcyBhIHNlY3JldCBrZXkgMTIzNDU2Nzg5MA== rejected",
                "opaque [redacted] rejected",
            ),
        ]);
    }

    #[test]
    fn leaves_ordinary_text_borrowed_and_unchanged() {
        let untouched = [
            "",
            "record not found",
            "error 1a2b3c4d-0000-4000-8000-123456789abc: relation \"projects\" does not exist",
            "error id 550E8400-E29B-41D4-A716-446655440000",
            "no rows returned by a query that expected to return at least one row",
            "path /usr/local/lib/rustlib/x86_64-unknown-linux-gnu/lib not found",
            "the bearer of bad news; basic usage; a token of thanks",
            "upgrade lodash@4.17.21 and ssh git@github",
            "std::session::Store failed: key (id)=(42)",
            "Größe überschritten: 10 MiB, 日本語のテキスト, emoji 🎉",
            "AbstractSingletonProxyFactoryBean2 and ThisIsAVeryLongCamelCaseIdentifierVersion2024Final",
            "null value in column \"password_hash\" of relation \"users\" violates not-null constraint",
            "usage tokens_used=1500 max_tokens=4096",
            "request 01HZX3K7QW8Y2V5N9M4B6C1D0E at src/handlers/projects.rs:42:17",
            "timeout after 30s at 12:30:45 on 2024-01-01T00:00:00Z",
        ];
        for text in untouched {
            assert!(
                matches!(scrub(text), Cow::Borrowed(t) if t == text),
                "changed {text:?}: {:?}",
                scrub(text)
            );
        }
    }

    #[test]
    fn masks_inside_unicode_text_without_breaking_it() {
        assert_scrubs(&[
            (
                "Ошибка: пароль password=секрет для josé@exämple.com",
                "Ошибка: пароль password=[redacted] для [redacted]",
            ),
            ("📧 ünïcödé@例え.jp 📧", "📧 [redacted] 📧"),
            ("user=bob%40example.com&next=/", "user=[redacted]&next=/"),
        ]);
    }

    #[test]
    fn handles_truncated_and_degenerate_input() {
        assert_scrubs(&[
            ("password=", "password="),
            ("password", "password"),
            (r#""password":"unterminated"#, r#""password":"[redacted]"#),
            ("Authorization:", "Authorization:"),
            ("Bearer", "Bearer"),
            ("@", "@"),
            ("a@", "a@"),
            ("@b.com", "@b.com"),
            ("://@", "://@"),
            ("token=\\", "token=[redacted]"),
            ("\"token\":\"\\", "\"token\":\"[redacted]"),
        ]);
    }

    #[test]
    fn stays_linear_on_hostile_input() {
        let unit_patterns = [
            "a@",
            "%40",
            "password=",
            "\"password\":\"",
            "Bearer ",
            "://",
            "eyJ.",
            "a.",
            "@a.",
            "x=",
            "Authorization: ",
            "aB3",
            "'",
            "Some(",
        ];
        for unit in unit_patterns {
            let hostile = unit.repeat(200_000 / unit.len());
            let started = std::time::Instant::now();
            let out = scrub(&hostile);
            // A quadratic scan of 200 kB takes minutes; a linear one, milliseconds.
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "slow on {unit:?}"
            );
            assert!(
                out.len() <= hostile.len() * 11,
                "output blew up on {unit:?}"
            );
        }
    }

    #[test]
    fn masks_secrets_anywhere_in_long_input() {
        let filler = "row 42 failed validation; retrying with backoff. ".repeat(5_000);
        let text = format!(
            "{filler}Authorization: Bearer abc123\n{filler}user dave@example.com\n{filler}"
        );
        let out = scrub(&text);
        assert!(
            !out.contains("abc123") && !out.contains("dave@"),
            "secret survived"
        );
        assert_eq!(out.matches(REDACTED).count(), 2);
        assert_eq!(
            out.len(),
            text.len() - "Bearer abc123".len() - "dave@example.com".len() + 2 * REDACTED.len()
        );
    }

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
