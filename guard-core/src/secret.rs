//! Redaction at the type level: [`Secret<T>`] for passwords, tokens and keys
//! in the application's own structs.
//!
//! The scrubber ([`scrub`](crate::scrub::scrub)) is a net under the logs;
//! this is the wall in front of them. A field of type `Secret<String>` prints
//! `[redacted]` under `{:?}` and `{}`, so `#[derive(Debug)]` on a login form,
//! `tracing::debug!(?form)` and a panic message that formats the struct all
//! stay clean without anyone remembering to skip the field.
//!
//! ```
//! use guard_core::secret::Secret;
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Login {
//!     email: String,
//!     password: Secret<String>,
//! }
//!
//! let login: Login = serde_json::from_str(r#"{"email":"a@b.io","password":"hunter2"}"#).unwrap();
//! assert_eq!(format!("{login:?}"), r#"Login { email: "a@b.io", password: [redacted] }"#);
//! assert_eq!(login.password.expose(), "hunter2");
//! ```
//!
//! # Not `Serialize`
//!
//! `Secret<T>` deliberately does not implement `serde::Serialize`. If it did,
//! a secret would flow silently into every place a struct is serialized: a
//! JSON response body, a structured log line, a cache, a message queue. A
//! struct that must write a secret out (a config file, a request to the
//! provider that issued the key) says so on the field, where a reviewer sees
//! it:
//!
//! ```
//! use guard_core::secret::{self, Secret};
//!
//! #[derive(serde::Serialize)]
//! struct ProviderRequest {
//!     #[serde(serialize_with = "secret::serialize_exposed")]
//!     api_key: Secret<String>,
//! }
//!
//! let req = ProviderRequest { api_key: Secret::new("k-123".to_owned()) };
//! assert_eq!(serde_json::to_string(&req).unwrap(), r#"{"api_key":"k-123"}"#);
//! ```
//!
//! # Comparison
//!
//! Equality is defined for byte-like contents (`String`, `Vec<u8>`, `&str`,
//! `[u8; N]`, anything `AsRef<[u8]>`) and takes the same time wherever the
//! two values first differ, so comparing a submitted token with a stored one
//! does not reveal how many leading bytes were right. The length is not
//! hidden. Other contents have no `==`: compare `expose()`d values knowingly.
//!
//! The memory is not zeroed on drop; a copy of a secret can outlive it.
//!
//! # One secret, many keys
//!
//! A service usually has one configured secret and several uses for it
//! (signing download links, naming shared rate-limit keys). Each use keys
//! its MAC with [`derive_key`]`(secret, label)`, never with the secret
//! itself: what one use reveals (a key name stored in Redis, a signature in
//! a URL) is then a MAC under a key no other use holds, and cannot be
//! replayed as the other's output.
//!
//! ```
//! use guard_core::secret::derive_key;
//!
//! let secret = b"a configured secret of at least 32 bytes";
//! let names = derive_key(secret, "example/redis-key-names/v1");
//! let links = derive_key(secret, "example/url-signer/v1");
//! assert_ne!(names, links);
//! assert_eq!(names, derive_key(secret, "example/redis-key-names/v1"));
//! ```
use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::scrub::REDACTED;

/// A value that must not be printed: `Debug` and `Display` write
/// `[redacted]`, whatever `T` is.
///
/// Read it with [`expose`](Self::expose) or [`into_inner`](Self::into_inner),
/// names that stand out in review. Deserializes as `T` does (transparently),
/// but a decoding error never quotes the input. Not `Serialize`; see
/// [the module docs](self) for why and for the explicit way out.
#[derive(Clone, Copy, Default)]
pub struct Secret<T>(T);

/// The same wrapper under the name some code bases prefer for personal data
/// (`Sensitive<String>` for a phone number reads better than `Secret`).
pub type Sensitive<T> = Secret<T>;

impl<T> Secret<T> {
    /// Wraps a value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// Borrows the value. Every call is a place where the secret leaves the
    /// wrapper; keep them few and obvious.
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// Mutably borrows the value.
    pub fn expose_mut(&mut self) -> &mut T {
        &mut self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }

    /// Transforms the value without exposing it to a formatter: hash a
    /// password, parse a key.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Secret<U> {
        Secret(f(self.0))
    }
}

impl<T: AsRef<[u8]>> Secret<T> {
    /// Compares with a candidate in time that does not depend on where they
    /// first differ (it depends on their lengths): check a submitted token
    /// against this one.
    pub fn ct_matches(&self, candidate: impl AsRef<[u8]>) -> bool {
        self.0.as_ref().ct_eq(candidate.as_ref()).into()
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `write_str`, not `pad`: width and fill must not reveal anything
        // either, and a constant output is the simplest proof.
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T: AsRef<[u8]>> PartialEq for Secret<T> {
    fn eq(&self, other: &Self) -> bool {
        self.ct_matches(other.0.as_ref())
    }
}

impl<T: AsRef<[u8]>> Eq for Secret<T> {}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The inner error can quote the value (`invalid type: integer
        // 123456, expected a string`), and decoding errors get logged.
        T::deserialize(deserializer)
            .map(Self)
            .map_err(|_| serde::de::Error::custom("invalid value for a secret field"))
    }
}

/// Serializes the exposed value of a [`Secret`]: for
/// `#[serde(serialize_with = "guard_core::secret::serialize_exposed")]` on
/// a field that must really be written out.
///
/// # Errors
///
/// Whatever serializing `T` returns.
pub fn serialize_exposed<T: Serialize, S: Serializer>(
    secret: &Secret<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    secret.0.serialize(serializer)
}

/// A 32-byte key for one use of `secret`, named by `label`: HKDF-SHA256
/// (RFC 5869) with no salt, `secret` as input keying material and `label`
/// as info. Different labels give independent keys; the same secret and
/// label give the same key on every instance.
///
/// Labels name the crate, the use and a version
/// (`"guard-axum/rate-limit/redis-key-names/v1"`), so that no two uses
/// share one by accident. The secret should be at least 32 random bytes;
/// this function does not check, its callers do.
#[must_use]
pub fn derive_key(secret: &[u8], label: &str) -> Secret<[u8; 32]> {
    Secret(hkdf_sha256(&[], secret, label.as_bytes()))
}

/// The first 32 bytes of HKDF-SHA256's output (one block of Expand).
fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
    // Extract: an empty salt is HashLen zeros (RFC 5869 2.2), which HMAC's
    // zero padding of short keys makes the same key.
    let prk: [u8; 32] = hmac_sha256(salt)
        .chain_update(ikm)
        .finalize()
        .into_bytes()
        .into();
    // Expand, T(1) = HMAC(PRK, info || 0x01).
    hmac_sha256(&prk)
        .chain_update(info)
        .chain_update([1])
        .finalize()
        .into_bytes()
        .into()
}

fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes keys of every length.
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hkdf_matches_the_rfc_5869_vectors() {
        // Test cases 1 and 3, first 32 bytes of OKM.
        let salt: Vec<u8> = (0..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        assert_eq!(
            hex::encode(hkdf_sha256(&salt, &[0x0b; 22], &info)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
        assert_eq!(
            hex::encode(hkdf_sha256(&[], &[0x0b; 22], &[])),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
        );
    }

    #[test]
    fn derived_keys_are_stable_per_label_and_independent_across_labels() {
        let secret = [7_u8; 32];
        let a = derive_key(&secret, "a/v1");
        assert_eq!(a, derive_key(&secret, "a/v1"));
        assert_ne!(a, derive_key(&secret, "a/v2"));
        assert_ne!(a, derive_key(&[8; 32], "a/v1"));
        // Not the secret, and not the plain HMAC of the label under it.
        assert_ne!(a.expose(), &secret);
        let plain: [u8; 32] = hmac_sha256(&secret)
            .chain_update(b"a/v1")
            .finalize()
            .into_bytes()
            .into();
        assert_ne!(a.expose(), &plain);
        assert_eq!(format!("{a:?}"), "[redacted]");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Login {
        email: String,
        password: Secret<String>,
        otp: Option<Secret<u32>>,
    }

    #[test]
    fn prints_the_mask_under_every_format() {
        let s = Secret::new("hunter2".to_owned());
        let outputs = [
            format!("{s:?}"),
            format!("{s:#?}"),
            format!("{s}"),
            format!("{s:>20}"),
            format!("{s:<3.1}"),
            s.to_string(),
        ];
        for out in outputs {
            assert_eq!(out, "[redacted]");
        }
    }

    #[test]
    fn derived_debug_of_a_struct_hides_the_field() {
        let login: Login =
            serde_json::from_str(r#"{"email":"a@b.io","password":"hunter2","otp":123456}"#)
                .unwrap();
        let printed = format!("{login:?} {login:#?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("123456"), "{printed}");
        assert!(printed.contains("a@b.io"));
        assert_eq!(login.email, "a@b.io");
        assert_eq!(login.password.expose(), "hunter2");
        assert_eq!(login.otp.map(Secret::into_inner), Some(123_456));
    }

    #[test]
    fn deserializes_transparently() {
        let s: Secret<String> = serde_json::from_str(r#""tok""#).unwrap();
        assert_eq!(s.into_inner(), "tok");
        let v: Secret<Vec<u8>> = serde_json::from_str("[1,2,3]").unwrap();
        assert_eq!(v.expose(), &[1, 2, 3]);
    }

    #[test]
    fn decoding_errors_do_not_quote_the_value() {
        let cases = [
            r#"{"email":"a@b.io","password":987654321}"#,
            r#"{"email":"a@b.io","password":"x","otp":"987654321"}"#,
            r#"{"email":"a@b.io","password":["987654321"]}"#,
        ];
        for input in cases {
            let err = serde_json::from_str::<Login>(input)
                .unwrap_err()
                .to_string();
            assert!(!err.contains("987654321"), "{input} -> {err}");
            assert!(err.contains("invalid value for a secret field"), "{err}");
        }
    }

    #[test]
    fn compares_byte_like_values() {
        let table: [(&str, &str, bool); 5] = [
            ("token", "token", true),
            ("token", "tokeN", false),
            ("token", "token2", false),
            ("", "", true),
            ("a", "", false),
        ];
        for (a, b, equal) in table {
            assert_eq!(
                Secret::new(a.to_owned()) == Secret::new(b.to_owned()),
                equal,
                "{a} vs {b}"
            );
            assert_eq!(
                Secret::new(a.as_bytes().to_vec()) == Secret::new(b.as_bytes().to_vec()),
                equal
            );
            assert_eq!(Secret::new(a).ct_matches(b), equal);
        }
    }

    #[test]
    fn clones_and_maps_without_exposing() {
        let s = Secret::new("abc".to_owned());
        let t = s.clone();
        assert_eq!(s, t);
        let len = t.map(|v| v.len());
        assert_eq!(*len.expose(), 3);
        assert_eq!(format!("{len:?}"), "[redacted]");
    }

    #[test]
    fn does_not_implement_serialize() {
        // Resolves only while exactly one impl applies: if `Secret` ever
        // gains `Serialize`, the second impl matches too and this stops
        // compiling.
        trait AmbiguousIfSerialize<A> {
            fn check() {}
        }
        impl<T: ?Sized> AmbiguousIfSerialize<()> for T {}
        struct IsSerialize;
        impl<T: ?Sized + Serialize> AmbiguousIfSerialize<IsSerialize> for T {}
        <Secret<String> as AmbiguousIfSerialize<_>>::check();
    }

    #[test]
    fn serializes_only_through_the_explicit_function() {
        #[derive(Serialize)]
        struct Out {
            #[serde(serialize_with = "serialize_exposed")]
            key: Secret<String>,
        }
        let out = Out {
            key: Secret::from("k".to_owned()),
        };
        assert_eq!(serde_json::to_string(&out).unwrap(), r#"{"key":"k"}"#);
    }
}
