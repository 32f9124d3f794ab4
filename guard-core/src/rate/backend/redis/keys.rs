//! Key names and identifier keys: HMAC-SHA256 under keys derived from the
//! shared secret, and the secret's fingerprint.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{MIN_SECRET_LEN, RedisConfigError};
use crate::secret::derive_key;

// The labels keep the crate name they were born under: they derive every
// key name, so renaming them would orphan the budgets of a running fleet.

/// The label of the key that names Redis keys and identifier keys.
const KEY_NAMES_LABEL: &str = "guard-axum/rate-limit/redis-key-names/v1";
/// The label of the key that computes the secret's fingerprint.
const FINGERPRINT_LABEL: &str = "guard-axum/rate-limit/redis-fingerprint/v1";
/// What the fingerprint is the MAC of.
const FINGERPRINT_MESSAGE: &[u8] = b"guard-axum rate limits: one secret per Redis prefix";

/// HMAC-SHA256 (the `hmac` crate) under the key-names key derived from the
/// shared secret; the keyed state is computed once and cloned per key name.
/// Also holds the secret's fingerprint, under a second derived key.
pub(super) struct KeyHasher {
    keyed: Hmac<Sha256>,
    pub(super) fingerprint: String,
}

impl KeyHasher {
    pub(super) fn new(secret: &[u8]) -> Result<Self, RedisConfigError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(RedisConfigError::ShortSecret(secret.len()));
        }
        let names = derive_key(secret, KEY_NAMES_LABEL);
        let check = derive_key(secret, FINGERPRINT_LABEL);
        let fingerprint = mac(&keyed(check.expose()), &[FINGERPRINT_MESSAGE]);
        Ok(Self {
            keyed: keyed(names.expose()),
            fingerprint: hex::encode(fingerprint),
        })
    }

    pub(super) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        mac(&self.keyed, parts)
    }
}

fn keyed(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this never fails; the fallback
    // (an empty key) only keeps the function total.
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .or_else(|_| <Hmac<Sha256> as Mac>::new_from_slice(&[]));
    match keyed {
        Ok(keyed) => keyed,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

fn mac(keyed: &Hmac<Sha256>, parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = keyed.clone();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_vectors() {
        // Test cases 1, 2 and 6 (a key longer than the block).
        let table: [(&[u8], &[u8], &str); 3] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, data, want) in table {
            assert_eq!(hex::encode(mac(&keyed(key), &[data])), want);
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(matches!(
            KeyHasher::new(&[7; 31]),
            Err(RedisConfigError::ShortSecret(31))
        ));
        assert!(KeyHasher::new(&[7; 32]).is_ok());
    }

    #[test]
    fn key_names_use_a_derived_key_not_the_secret() {
        let secret = [7_u8; 32];
        let hasher = KeyHasher::new(&secret).unwrap();
        let parts: [&[u8]; 2] = [b"key", &[1; 16]];
        assert_eq!(
            hasher.mac(&parts),
            mac(
                &keyed(derive_key(&secret, KEY_NAMES_LABEL).expose()),
                &parts
            )
        );
        assert_ne!(hasher.mac(&parts), mac(&keyed(&secret), &parts));
        // The fingerprint is stable, 64 hex digits, and differs per secret.
        assert_eq!(
            hasher.fingerprint,
            KeyHasher::new(&secret).unwrap().fingerprint
        );
        assert_eq!(hasher.fingerprint.len(), 64);
        assert_ne!(
            hasher.fingerprint,
            KeyHasher::new(&[8; 32]).unwrap().fingerprint
        );
    }
}
