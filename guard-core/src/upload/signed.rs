//! Signed download URLs: a token that names one stored object, until one
//! moment, optionally for one principal.
//!
//! A token is the URL-safe base64 (no padding) of 58 bytes:
//!
//! ```text
//! version (1) = 1 | object id (16) | expires_at, unix seconds, big-endian (8)
//!   | binding (1): 0 = anyone holding the link, 1 = one principal
//!   | HMAC-SHA256 tag (32)
//! ```
//!
//! The tag covers a domain-separation label, the first 26 bytes, and for a
//! bound token the principal's length (u64, big-endian) and bytes. The
//! principal itself is not in the token: the verifier supplies the one the
//! request authenticated as, so a token for Alice verifies for no one else.
//! Every field has a fixed length or a length prefix, so no two inputs share
//! an encoding.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::StatusCode;
use sha2::Sha256;

use super::ObjectId;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"guard-core/upload/signed-download/v1\0";
const SIGNED_LEN: usize = 1 + 16 + 8 + 1;
const TAG_LEN: usize = 32;
const TOKEN_BYTES: usize = SIGNED_LEN + TAG_LEN;
/// `ceil(58 * 4 / 3)`: the only token length worth decoding.
const TOKEN_CHARS: usize = (TOKEN_BYTES * 4).div_ceil(3);

/// Signs and verifies download tokens with HMAC-SHA256.
///
/// Time is passed in (unix seconds), so there is no clock inside and tests
/// need no sleeping. A token is valid while `now < expires_at`.
///
/// ```
/// use guard_core::upload::{ObjectId, SignedUrlError, UrlSigner};
///
/// let signer = UrlSigner::new(&[7u8, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16,
///     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32])?;
/// let id = ObjectId::random();
/// let token = signer.sign(id, 1_000, None);
/// assert_eq!(signer.verify(&token, 999, None), Ok(id));
/// assert_eq!(signer.verify(&token, 1_000, None), Err(SignedUrlError::Expired));
/// # Ok::<(), guard_core::upload::SignerConfigError>(())
/// ```
#[derive(Clone)]
pub struct UrlSigner {
    current: HmacSha256,
    previous: Option<HmacSha256>,
}

impl UrlSigner {
    /// The shortest secret accepted: HMAC-SHA256's output size, as RFC 2104
    /// recommends.
    pub const MIN_SECRET_LEN: usize = 32;

    /// A signer keyed with `secret`, which should come from configuration
    /// (and from a CSPRNG), never from source code.
    ///
    /// # Errors
    ///
    /// [`SignerConfigError::SecretTooShort`] under 32 bytes, and
    /// [`SignerConfigError::SecretAllOneByte`] for a secret of one repeated
    /// byte (an unset, zero-filled key).
    pub fn new(secret: &[u8]) -> Result<Self, SignerConfigError> {
        Ok(Self {
            current: keyed(secret)?,
            previous: None,
        })
    }

    /// Also accepts tokens signed with `secret`, the key being rotated out;
    /// new tokens are signed with the current key only. Drop it once the
    /// longest-lived token signed with it has expired.
    ///
    /// # Errors
    ///
    /// As [`UrlSigner::new`].
    pub fn with_previous_secret(self, secret: &[u8]) -> Result<Self, SignerConfigError> {
        Ok(Self {
            previous: Some(keyed(secret)?),
            ..self
        })
    }

    /// A token for `object`, valid until `expires_at` (unix seconds,
    /// exclusive), usable by anyone holding it when `principal` is `None`,
    /// or only by that principal (the stable id the authenticator gives,
    /// not a display name).
    #[must_use]
    pub fn sign(&self, object: ObjectId, expires_at: u64, principal: Option<&str>) -> String {
        let mut token = [0u8; TOKEN_BYTES];
        let (signed, tag) = token.split_at_mut(SIGNED_LEN);
        signed[0] = VERSION;
        signed[1..17].copy_from_slice(object.as_bytes());
        signed[17..25].copy_from_slice(&expires_at.to_be_bytes());
        signed[25] = u8::from(principal.is_some());
        let mac = mac_over(&self.current, signed, principal);
        tag.copy_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The object a token names, if it was signed by this signer, has not
    /// expired at `now`, and is either unbound or bound to `principal`.
    ///
    /// The tag is compared in constant time, and checked before the expiry
    /// so that only an authentic token can be reported as expired. No input
    /// panics; anything that is not a well-formed token is
    /// [`SignedUrlError::Malformed`].
    ///
    /// # Errors
    ///
    /// A [`SignedUrlError`]; every one is a 404 at the route.
    pub fn verify(
        &self,
        token: &str,
        now: u64,
        principal: Option<&str>,
    ) -> Result<ObjectId, SignedUrlError> {
        if token.len() != TOKEN_CHARS {
            return Err(SignedUrlError::Malformed);
        }
        // Room for base64's length estimate, which rounds up.
        let mut buf = [0u8; TOKEN_BYTES + 3];
        match URL_SAFE_NO_PAD.decode_slice(token, &mut buf) {
            Ok(TOKEN_BYTES) => {}
            _ => return Err(SignedUrlError::Malformed),
        }
        let (signed, rest) = buf.split_at(SIGNED_LEN);
        let tag = rest.get(..TAG_LEN).ok_or(SignedUrlError::Malformed)?;
        let [version, id @ .., e0, e1, e2, e3, e4, e5, e6, e7, binding] = signed else {
            return Err(SignedUrlError::Malformed);
        };
        if *version != VERSION {
            return Err(SignedUrlError::Malformed);
        }
        let principal = match (binding, principal) {
            (0, _) => None,
            (1, Some(principal)) => Some(principal),
            (1, None) => return Err(SignedUrlError::PrincipalRequired),
            _ => return Err(SignedUrlError::Malformed),
        };

        let authentic =
            |key: &HmacSha256| mac_over(key, signed, principal).verify_slice(tag).is_ok();
        if !authentic(&self.current) && !self.previous.as_ref().is_some_and(authentic) {
            return Err(SignedUrlError::BadSignature);
        }

        let expires_at = u64::from_be_bytes([*e0, *e1, *e2, *e3, *e4, *e5, *e6, *e7]);
        if now >= expires_at {
            return Err(SignedUrlError::Expired);
        }
        let id: [u8; 16] = id.try_into().map_err(|_| SignedUrlError::Malformed)?;
        ObjectId::from_bytes(id).ok_or(SignedUrlError::Malformed)
    }
}

impl fmt::Debug for UrlSigner {
    /// Never shows key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlSigner")
            .field("has_previous_secret", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

fn keyed(secret: &[u8]) -> Result<HmacSha256, SignerConfigError> {
    if secret.len() < UrlSigner::MIN_SECRET_LEN {
        return Err(SignerConfigError::SecretTooShort { len: secret.len() });
    }
    if secret.iter().all(|b| Some(b) == secret.first()) {
        return Err(SignerConfigError::SecretAllOneByte);
    }
    HmacSha256::new_from_slice(secret)
        .map_err(|_| SignerConfigError::SecretTooShort { len: secret.len() })
}

fn mac_over(key: &HmacSha256, signed: &[u8], principal: Option<&str>) -> HmacSha256 {
    let mut mac = key.clone();
    mac.update(DOMAIN);
    mac.update(signed);
    if let Some(principal) = principal {
        mac.update(&(principal.len() as u64).to_be_bytes());
        mac.update(principal.as_bytes());
    }
    mac
}

/// Why a download token was not accepted. Every variant is a 404 at the
/// route, with the same body as a missing object, so a client learns
/// nothing about which check failed; the variant is for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignedUrlError {
    /// Not a token: wrong length, not base64url, unknown version.
    #[error("download token is malformed")]
    Malformed,
    /// The tag does not match: the token was altered, signed with another
    /// key, or bound to another principal.
    #[error("download token signature does not verify")]
    BadSignature,
    /// The token is bound to a principal and the request has none.
    #[error("download token is bound to a principal and the request is anonymous")]
    PrincipalRequired,
    /// The token is authentic but its time is up.
    #[error("download token has expired")]
    Expired,
}

impl SignedUrlError {
    /// 404, for every variant.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        StatusCode::NOT_FOUND
    }
}

/// A secret [`UrlSigner`] refuses. A startup error; never seen by clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignerConfigError {
    /// Under [`UrlSigner::MIN_SECRET_LEN`] bytes.
    #[error("signing secret is {len} bytes; at least 32 random bytes are required")]
    SecretTooShort {
        /// The length given.
        len: usize,
    },
    /// One byte repeated: an unset or zero-filled key.
    #[error("signing secret is one repeated byte; use 32 or more random bytes")]
    SecretAllOneByte,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test";
    const NOW: u64 = 1_700_000_000;

    fn signer() -> UrlSigner {
        UrlSigner::new(SECRET).unwrap()
    }

    /// The token with one decoded byte changed, re-encoded canonically.
    fn tamper(token: &str, index: usize, change: impl Fn(u8) -> u8) -> String {
        let mut bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
        bytes[index] = change(bytes[index]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn refuses_weak_secrets() {
        assert_eq!(
            UrlSigner::new(b"short").unwrap_err(),
            SignerConfigError::SecretTooShort { len: 5 }
        );
        assert_eq!(
            UrlSigner::new(&[0; 31]).unwrap_err(),
            SignerConfigError::SecretTooShort { len: 31 }
        );
        assert_eq!(
            UrlSigner::new(&[0; 64]).unwrap_err(),
            SignerConfigError::SecretAllOneByte
        );
        assert!(UrlSigner::new(SECRET).is_ok());
        assert!(signer().with_previous_secret(b"tiny").is_err());
    }

    #[test]
    fn tokens_are_url_safe_and_fixed_length() {
        let token = signer().sign(ObjectId::random(), NOW + 60, Some("user-1"));
        assert_eq!(token.len(), TOKEN_CHARS);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{token}"
        );
    }

    #[test]
    fn verifies_valid_tokens_until_they_expire() {
        let id = ObjectId::random();
        let signer = signer();
        let bearer = signer.sign(id, NOW + 60, None);
        let bound = signer.sign(id, NOW + 60, Some("user-1"));
        assert_eq!(signer.verify(&bearer, NOW, None), Ok(id));
        assert_eq!(signer.verify(&bearer, NOW, Some("anyone")), Ok(id));
        assert_eq!(signer.verify(&bound, NOW + 59, Some("user-1")), Ok(id));
        assert_eq!(
            signer.verify(&bound, NOW + 60, Some("user-1")),
            Err(SignedUrlError::Expired)
        );
        assert_eq!(
            signer.verify(&bearer, u64::MAX, None),
            Err(SignedUrlError::Expired)
        );
    }

    #[test]
    fn refuses_tampered_misbound_and_garbage_tokens() {
        let id = ObjectId::random();
        let signer = signer();
        let token = signer.sign(id, NOW + 60, Some("user-1"));
        let bearer = signer.sign(id, NOW + 60, None);
        let other_key = UrlSigner::new(b"another secret of at least 32 bytes!").unwrap();
        let cases: Vec<(&str, String, Option<&str>, SignedUrlError)> = vec![
            (
                "another principal",
                token.clone(),
                Some("user-2"),
                SignedUrlError::BadSignature,
            ),
            (
                "a principal prefix",
                token.clone(),
                Some("user-"),
                SignedUrlError::BadSignature,
            ),
            (
                "anonymous request",
                token.clone(),
                None,
                SignedUrlError::PrincipalRequired,
            ),
            (
                "tampered id",
                tamper(&token, 5, |b| b ^ 0x01),
                Some("user-1"),
                SignedUrlError::BadSignature,
            ),
            (
                "tampered expiry",
                tamper(&token, 24, |b| b.wrapping_add(1)),
                Some("user-1"),
                SignedUrlError::BadSignature,
            ),
            (
                "expiry pushed far out",
                tamper(&token, 17, |_| 0xFF),
                Some("user-1"),
                SignedUrlError::BadSignature,
            ),
            (
                "unbound by flipping the flag",
                tamper(&token, 25, |_| 0),
                None,
                SignedUrlError::BadSignature,
            ),
            (
                "bound by flipping the flag",
                tamper(&bearer, 25, |_| 1),
                Some("x"),
                SignedUrlError::BadSignature,
            ),
            (
                "unknown flag",
                tamper(&token, 25, |_| 2),
                Some("user-1"),
                SignedUrlError::Malformed,
            ),
            (
                "unknown version",
                tamper(&token, 0, |_| 2),
                Some("user-1"),
                SignedUrlError::Malformed,
            ),
            (
                "tampered tag",
                tamper(&token, 57, |b| b ^ 0x80),
                Some("user-1"),
                SignedUrlError::BadSignature,
            ),
            (
                "signed with another key",
                other_key.sign(id, NOW + 60, Some("user-1")),
                Some("user-1"),
                { SignedUrlError::BadSignature },
            ),
            (
                "empty",
                String::new(),
                Some("user-1"),
                SignedUrlError::Malformed,
            ),
            (
                "garbage",
                "not a token at all".to_owned(),
                Some("user-1"),
                SignedUrlError::Malformed,
            ),
            (
                "right length, bad alphabet",
                "!".repeat(TOKEN_CHARS),
                Some("user-1"),
                SignedUrlError::Malformed,
            ),
            (
                "truncated",
                token[..TOKEN_CHARS - 1].to_owned(),
                Some("user-1"),
                SignedUrlError::Malformed,
            ),
            (
                "extended",
                format!("{token}A"),
                Some("user-1"),
                SignedUrlError::Malformed,
            ),
            (
                "padded",
                format!("{}=", &token[..TOKEN_CHARS - 1]),
                Some("user-1"),
                SignedUrlError::Malformed,
            ),
            (
                "standard-alphabet character",
                format!("+{}", &token[1..]),
                Some("user-1"),
                SignedUrlError::Malformed,
            ),
            (
                "multi-byte text",
                "é".repeat(TOKEN_CHARS / 2),
                Some("user-1"),
                SignedUrlError::Malformed,
            ),
        ];
        for (name, candidate, principal, error) in cases {
            assert_eq!(
                signer.verify(&candidate, NOW, principal),
                Err(error),
                "{name}"
            );
        }
    }

    #[test]
    fn refuses_non_canonical_trailing_bits() {
        // 58 bytes leave 4 unused bits in the last character; setting them
        // must not yield a second valid spelling of the same token.
        let token = signer().sign(ObjectId::random(), NOW + 60, None);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let last = token.as_bytes()[TOKEN_CHARS - 1];
        let index = alphabet.iter().position(|c| *c == last).unwrap();
        let sibling = char::from(alphabet[index ^ 0x01]);
        let forged = format!("{}{sibling}", &token[..TOKEN_CHARS - 1]);
        assert_eq!(
            signer().verify(&forged, NOW, None),
            Err(SignedUrlError::Malformed)
        );
    }

    #[test]
    fn rotated_out_key_still_verifies_but_does_not_sign() {
        let old = UrlSigner::new(b"the old secret, 32 bytes or more!!").unwrap();
        let rotated = signer()
            .with_previous_secret(b"the old secret, 32 bytes or more!!")
            .unwrap();
        let id = ObjectId::random();
        let old_token = old.sign(id, NOW + 60, None);
        assert_eq!(rotated.verify(&old_token, NOW, None), Ok(id));
        let new_token = rotated.sign(id, NOW + 60, None);
        assert_eq!(
            old.verify(&new_token, NOW, None),
            Err(SignedUrlError::BadSignature)
        );
        assert_eq!(
            signer().verify(&old_token, NOW, None),
            Err(SignedUrlError::BadSignature)
        );
    }

    #[test]
    fn every_error_is_a_404_and_debug_hides_the_key() {
        for error in [
            SignedUrlError::Malformed,
            SignedUrlError::BadSignature,
            SignedUrlError::PrincipalRequired,
            SignedUrlError::Expired,
        ] {
            assert_eq!(error.status(), StatusCode::NOT_FOUND);
        }
        let shown = format!("{:?}", signer());
        assert_eq!(shown, "UrlSigner { has_previous_secret: false, .. }");
    }
}
