//! Bearer-token authentication with a pluggable verifier.

use std::collections::HashMap;
use std::future::Future;

use guard_core::auth::BoxFuture;
use guard_core::{Authenticator, GuardError, Principal};
use http::header::AUTHORIZATION;
use http::request::Parts;
use sha2::{Digest, Sha256};

/// Checks a bearer token. `Ok(None)` means invalid, expired or revoked (401);
/// `Err` means the verifier itself failed (its store is down).
///
/// Any `Fn(String) -> impl Future<Output = Result<Option<Principal>, GuardError>>`
/// is a verifier, so a JWT check is a closure around your JWT library.
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies one token.
    fn verify<'a>(&'a self, token: &'a str)
    -> BoxFuture<'a, Result<Option<Principal>, GuardError>>;

    /// Verifies without a future, for verifiers that need no I/O (see
    /// [`Authenticator::authenticate_now`]). The default is `None`: ask
    /// [`Self::verify`]. An implementation must answer exactly as `verify`
    /// would.
    fn verify_now(&self, token: &str) -> Option<Result<Option<Principal>, GuardError>> {
        let _ = token;
        None
    }
}

impl<F, Fut> TokenVerifier for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Principal>, GuardError>> + Send + 'static,
{
    fn verify<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<Principal>, GuardError>> {
        Box::pin(self(token.to_owned()))
    }
}

/// Authenticates `Authorization: Bearer <token>`.
///
/// The scheme is case-insensitive (RFC 9110); the token must be RFC 6750's
/// `b64token` characters. A missing header, another scheme, several
/// `Authorization` headers or a malformed token is 401 without calling the
/// verifier.
#[derive(Debug, Clone)]
pub struct BearerAuth<V> {
    verifier: V,
}

impl<V: TokenVerifier> BearerAuth<V> {
    /// Bearer authentication checked by `verifier`.
    #[must_use]
    pub fn new(verifier: V) -> Self {
        Self { verifier }
    }
}

/// The token of a well-formed `Authorization: Bearer` header, if exactly one.
fn bearer_token(parts: &Parts) -> Option<&str> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    // Checked byte by byte against the token68 grammar, which is ASCII, so
    // the header needs no separate UTF-8 or visible-ASCII pass.
    let (scheme, token) = value
        .as_bytes()
        .split_at(value.as_bytes().iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    // `1*SP` between scheme and token (RFC 6750); no other whitespace.
    let spaces = token.iter().take_while(|&&b| b == b' ').count();
    let token = token.get(spaces..)?;
    let padding = token.iter().rev().take_while(|&&b| b == b'=').count();
    let body = token.get(..token.len() - padding)?;
    if body.is_empty() || !all_b64token(body) {
        return None;
    }
    std::str::from_utf8(token).ok()
}

/// Whether every byte of `bytes` is a `b64token` character. Sixteen bytes
/// at a time, each tested by arithmetic with no branch or table load inside
/// a block, so the compiler turns a block into a few vector compares (the
/// check runs on every authenticated request); the tail by table.
fn all_b64token(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(16);
    for block in &mut blocks {
        let bad = block
            .iter()
            .fold(0_u8, |bad, &b| bad | u8::from(!is_b64token_arith(b)));
        if bad != 0 {
            return false;
        }
    }
    blocks.remainder().iter().all(|&b| B64TOKEN[usize::from(b)])
}

/// [`is_b64token`] as range tests on wrapped differences, which vectorize.
const fn is_b64token_arith(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    // `+` `-` `.` `/` are 0x2b and 0x2d-0x2f; `_` 0x5f; `~` 0x7e.
    let sign = b.wrapping_sub(b'+') < 5 && b != b',';
    letter | digit | sign | (b == b'_') | (b == b'~')
}

/// A `b64token` character of RFC 6750 (the `=` padding is handled apart).
const fn is_b64token(b: u8) -> bool {
    matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// [`is_b64token`] of every byte: one load per byte of a token instead of
/// the chain of range tests (the check runs on every authenticated request).
const B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < table.len() {
        // `b` < 256: the cast keeps it.
        table[b] = is_b64token(b as u8);
        b += 1;
    }
    table
};

impl<V: TokenVerifier> Authenticator for BearerAuth<V> {
    fn authenticate<'a>(
        &'a self,
        parts: &'a mut Parts,
    ) -> BoxFuture<'a, Result<Option<Principal>, GuardError>> {
        Box::pin(async move {
            match bearer_token(parts) {
                Some(token) => self.verifier.verify(token).await,
                None => Ok(None),
            }
        })
    }

    fn authenticate_now(&self, parts: &Parts) -> Option<Result<Option<Principal>, GuardError>> {
        match bearer_token(parts) {
            Some(token) => self.verifier.verify_now(token),
            None => Some(Ok(None)),
        }
    }

    fn describe(&self) -> String {
        "bearer token".to_owned()
    }
}

/// A refused API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    /// Keys shorter than 32 bytes can be guessed.
    #[error("an API key must be at least 32 bytes of random data")]
    TooShort,
    /// The same key was given for two principals.
    #[error("the same API key was given twice")]
    Duplicate,
}

/// Static API keys, each mapped to its principal.
///
/// Only SHA-256 digests of the keys are kept, and a lookup is by digest, so
/// the comparison leaks nothing useful through timing (an attacker cannot
/// steer the digest of a guess toward a stored one).
#[derive(Clone, Default)]
pub struct ApiKeys {
    by_digest: DigestMap<Principal>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("keys", &self.by_digest.len())
            .finish()
    }
}

impl ApiKeys {
    /// No keys.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key for a principal.
    pub fn with_key(
        mut self,
        key: impl AsRef<[u8]>,
        principal: Principal,
    ) -> Result<Self, ApiKeyError> {
        let key = key.as_ref();
        if key.len() < 32 {
            return Err(ApiKeyError::TooShort);
        }
        let digest: [u8; 32] = Sha256::digest(key).into();
        if self.by_digest.insert(digest, principal).is_some() {
            return Err(ApiKeyError::Duplicate);
        }
        Ok(self)
    }
}

impl ApiKeys {
    fn find(&self, token: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.by_digest.get(&digest).cloned()
    }
}

/// Hashes a SHA-256 digest by taking its first eight bytes.
///
/// Written by hand because no crate offers this: the table's keys are
/// digests of the server's own keys, and a lookup's key is the digest of
/// what the client sent, so the bytes are already uniform and no client can
/// choose where its lookup lands without SHA-256 preimages. Nothing the
/// client sends is ever inserted, so the table cannot be flooded either. The
/// default SipHash would hash 32 random bytes again on every request.
#[derive(Debug, Default, Clone, Copy)]
struct DigestPrefix(u64);

impl std::hash::Hasher for DigestPrefix {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as a length prefix, then its 32 bytes in one
        // write: each write is folded in, so the result is the digest's
        // first eight bytes under a constant mask.
        let mut prefix = [0_u8; 8];
        for (slot, byte) in prefix.iter_mut().zip(bytes) {
            *slot = *byte;
        }
        self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(prefix);
    }
}

type DigestMap<V> = HashMap<[u8; 32], V, std::hash::BuildHasherDefault<DigestPrefix>>;

impl TokenVerifier for ApiKeys {
    fn verify<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<Principal>, GuardError>> {
        Box::pin(std::future::ready(Ok(self.find(token))))
    }

    fn verify_now(&self, token: &str) -> Option<Result<Option<Principal>, GuardError>> {
        Some(Ok(self.find(token)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(values: &[&str]) -> Parts {
        let mut builder = http::Request::builder();
        for v in values {
            builder = builder.header(AUTHORIZATION, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn parses_only_well_formed_bearer_headers() {
        let table: &[(&[&str], Option<&str>)] = &[
            (&["Bearer abc.def-ghi_~+/=="], Some("abc.def-ghi_~+/==")),
            (&["bearer abc"], Some("abc")),
            (&["BEARER  abc"], Some("abc")),
            (&[], None),
            (&["Basic YWxhZGRpbjpvcGVuc2VzYW1l"], None),
            (&["Bearer"], None),
            (&["Bearer "], None),
            (&["Bearer a b"], None),
            (&["Bearer a\"b"], None),
            (&["Bearer ==="], None),
            (&["Bearer abc", "Bearer def"], None),
            (&["Bearerabc"], None),
            (&["Bearer a=b"], None),
            (&["Bearer abc\t"], None),
            (&["Bearer \tabc"], None),
            (&["Token abc"], None),
            (&["bearer  abc="], Some("abc=")),
        ];
        for (values, expected) in table {
            assert_eq!(bearer_token(&parts(values)), *expected, "{values:?}");
        }
    }

    #[test]
    fn the_block_check_agrees_with_the_grammar_at_every_length_and_position() {
        // Every byte value at every position of tokens of 1 to 50 bytes
        // (inside a 16-byte block and in the tail), against the grammar.
        for len in 1..=50 {
            for at in 0..len {
                for b in 0..=u8::MAX {
                    let mut token = vec![b'a'; len];
                    token[at] = b;
                    assert_eq!(all_b64token(&token), is_b64token(b), "{len} {at} {b}");
                    assert_eq!(is_b64token_arith(b), is_b64token(b), "{b}");
                }
            }
        }
        assert!(all_b64token(b""));
    }

    #[test]
    fn api_keys_refuse_short_and_duplicate_keys() {
        let key = "k".repeat(32);
        assert_eq!(
            ApiKeys::new()
                .with_key("short", Principal::new("1"))
                .unwrap_err(),
            ApiKeyError::TooShort
        );
        let keys = ApiKeys::new().with_key(&key, Principal::new("1")).unwrap();
        assert_eq!(
            keys.with_key(&key, Principal::new("2")).unwrap_err(),
            ApiKeyError::Duplicate
        );
    }

    #[tokio::test]
    async fn the_synchronous_path_answers_as_the_future_does() {
        let alice = "a".repeat(32);
        let bob = "b".repeat(40);
        let keys = ApiKeys::new()
            .with_key(&alice, Principal::new("alice"))
            .unwrap()
            .with_key(&bob, Principal::new("bob"))
            .unwrap();
        let auth = BearerAuth::new(keys);
        let alice_header = format!("Bearer {alice}");
        let bob_header = format!("bearer {bob}");
        let near_miss = format!("Bearer {}", "a".repeat(31));
        let table: &[(&[&str], Option<&str>)] = &[
            (&[&alice_header], Some("alice")),
            (&[&bob_header], Some("bob")),
            (&[&near_miss], None),
            (&["Bearer nope"], None),
            (&[], None),
            (&[&alice_header, &bob_header], None),
        ];
        for (values, expected) in table {
            let mut head = parts(values);
            let now = auth.authenticate_now(&head).unwrap().unwrap();
            let later = auth.authenticate(&mut head).await.unwrap();
            assert_eq!(now.as_ref().map(Principal::id), *expected, "{values:?}");
            assert_eq!(later.as_ref().map(Principal::id), *expected, "{values:?}");
        }
    }

    #[tokio::test]
    async fn closures_have_no_synchronous_path() {
        let auth = BearerAuth::new(|token: String| async move { Ok(Some(Principal::new(token))) });
        let mut head = parts(&["Bearer xyz"]);
        assert!(auth.authenticate_now(&head).is_none());
        let found = auth.authenticate(&mut head).await.unwrap();
        assert_eq!(found.as_ref().map(Principal::id), Some("xyz"));
    }
}
