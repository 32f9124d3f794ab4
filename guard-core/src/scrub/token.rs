//! Bearer/Basic credentials, JWTs, prefixed provider keys and
//! random-looking runs.

use super::Masker;

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

pub(super) fn mask_tokens(text: &str) -> Option<String> {
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
