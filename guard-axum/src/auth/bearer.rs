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
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim_start_matches(' ');
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/".contains(c);
    let body = token.trim_end_matches('=');
    (scheme.eq_ignore_ascii_case("bearer") && !body.is_empty() && body.chars().all(b64token))
        .then_some(token)
}

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
    by_digest: HashMap<[u8; 32], Principal>,
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

impl TokenVerifier for ApiKeys {
    fn verify<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<Principal>, GuardError>> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let found = self.by_digest.get(&digest).cloned();
        Box::pin(std::future::ready(Ok(found)))
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
        ];
        for (values, expected) in table {
            assert_eq!(bearer_token(&parts(values)), *expected, "{values:?}");
        }
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
}
