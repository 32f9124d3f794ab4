//! Server-generated names for stored objects.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The name a stored upload gets: a random version-4 UUID (122 random bits
/// from the operating system's CSPRNG), written as 32 lowercase hex digits.
///
/// Only the server makes one ([`ObjectId::random`]); the parser accepts that
/// exact form and nothing else — no dashes, braces, uppercase, dots or
/// slashes — so an id taken from a URL can never be a path, and the client's
/// file name never becomes part of one.
///
/// ```
/// use guard_core::upload::ObjectId;
///
/// let id = ObjectId::random();
/// assert_eq!(id.to_string().len(), 32);
/// assert_eq!(id.to_string().parse::<ObjectId>(), Ok(id));
/// assert!("../../etc/passwd".parse::<ObjectId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId([u8; 16]);

impl ObjectId {
    /// The length of the text form.
    pub const LEN: usize = 32;

    /// A fresh random id.
    #[must_use]
    pub fn random() -> Self {
        Self(Uuid::new_v4().into_bytes())
    }

    /// Parses the exact text form: 32 lowercase hex digits whose version
    /// nibble is 4 and variant bits are `10`.
    ///
    /// # Errors
    ///
    /// [`InvalidObjectId`] for anything else; a route answers 404 for it.
    pub fn parse(text: &str) -> Result<Self, InvalidObjectId> {
        // Lowercase only: `hex` also decodes uppercase, which would give one
        // object two names.
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if text.len() != Self::LEN || !text.bytes().all(lower_hex) {
            return Err(InvalidObjectId);
        }
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| InvalidObjectId)?;
        Self::from_bytes(bytes).ok_or(InvalidObjectId)
    }

    /// The id whose raw bytes these are, if they have a v4 UUID's version
    /// and variant bits.
    pub(crate) fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        let uuid = Uuid::from_bytes(bytes);
        (uuid.get_version_num() == 4 && uuid.get_variant() == uuid::Variant::RFC4122)
            .then_some(Self(bytes))
    }

    /// The raw 16 bytes.
    pub(crate) const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; uuid::fmt::Simple::LENGTH];
        f.write_str(Uuid::from_bytes(self.0).simple().encode_lower(&mut buf))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl FromStr for ObjectId {
    type Err = InvalidObjectId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for ObjectId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Text that is not an [`ObjectId`]. At a route, 404: an id that cannot
/// exist is answered like one that does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an object id (expected 32 lowercase hex digits of a v4 UUID)")]
pub struct InvalidObjectId;

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn random_ids_are_distinct_and_round_trip() {
        let ids: HashSet<ObjectId> = (0..1_000).map(|_| ObjectId::random()).collect();
        assert_eq!(ids.len(), 1_000);
        for id in ids {
            let text = id.to_string();
            assert_eq!(text.len(), ObjectId::LEN);
            assert!(
                text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{text}"
            );
            assert_eq!(ObjectId::parse(&text), Ok(id));
        }
    }

    #[test]
    fn refuses_everything_but_the_exact_form() {
        let valid = "0f8fad5bd9cb469fa16570867728950e";
        assert!(ObjectId::parse(valid).is_ok());
        let cases = [
            "",
            "0f8fad5b-d9cb-469f-a165-70867728950e", // dashed UUID
            "{0f8fad5bd9cb469fa16570867728950e}",   // braces
            "0F8FAD5BD9CB469FA16570867728950E",     // uppercase
            "0f8fad5bd9cb469fa16570867728950",      // 31 digits
            "0f8fad5bd9cb469fa16570867728950e0",    // 33 digits
            "0f8fad5bd9cb169fa16570867728950e",     // version 1
            "0f8fad5bd9cb469fc16570867728950e",     // variant bits 11
            "0f8fad5bd9cb469fa16570867728950g",     // not hex
            "../../../../../../../../../etc/p",     // 32 bytes of path
            "0f8fad5bd9cb469fa1657086772895/e",     // a slash
            "0f8fad5bd9cb469fa1657086772895\u{e9}", // 32 bytes, non-ASCII
            " 0f8fad5bd9cb469fa16570867728950e",
        ];
        for text in cases {
            assert_eq!(ObjectId::parse(text), Err(InvalidObjectId), "{text:?}");
        }
    }

    #[test]
    fn serializes_as_its_text_form() {
        let id = ObjectId::random();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<ObjectId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<ObjectId>("\"../etc/passwd\"").is_err());
        assert_eq!(format!("{id:?}"), format!("ObjectId({id})"));
    }
}
