//! Detects input that serde buffers before the target type sees it.
//!
//! `#[serde(flatten)]`, untagged enums and internally tagged enums first copy
//! their input into serde's private `Content` buffer, then deserialize the
//! real type from the copy. Fields the type ignores there never reach the
//! outer deserializer, so neither `deny_unknown_fields` on the flattened type
//! nor `serde_ignored` sees them (dtolnay/serde-ignored#10, serde-rs/serde#2312).
//!
//! The buffering is recognisable from the outside: it asks for "any value"
//! (the `expecting` text of serde's `ContentVisitor`, which no derive option
//! changes). This wrapper trips when such a request
//!
//! * buffers an object (an untagged enum's object variant, a flattened
//!   field holding an object), or
//! * buffers the value of a map entry where the map is not a declared struct
//!   (`deserialize_struct`) nor a plain map collection (`deserialize_map`
//!   expecting "a map"): that is a flattened struct (serde reads those with
//!   `deserialize_map`) or an internally tagged enum collecting its fields.
//!
//! Buffered primitives elsewhere (a field of an untagged `IdOrName` enum)
//! cannot hide fields and pass. The `detects_*` tests in `json.rs` pin the
//! behaviour against the serde version in use.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

/// A deserializer wrapper that sets `tripped` (and fails) on buffering.
pub(crate) struct Detect<'f, D> {
    de: D,
    tripped: &'f Cell<bool>,
    /// This value belongs to an entry of a map whose reader buffers values.
    in_buffering_map: bool,
}

impl<'f, D> Detect<'f, D> {
    pub(crate) fn new(de: D, tripped: &'f Cell<bool>) -> Self {
        Self {
            de,
            tripped,
            in_buffering_map: false,
        }
    }
}

fn trip<E: de::Error>(tripped: &Cell<bool>) -> E {
    tripped.set(true);
    E::custom("input buffered where unknown fields cannot be detected")
}

/// The `expecting` text of a visitor.
fn expecting<'de, V: Visitor<'de>>(visitor: &V) -> String {
    struct Expecting<'a, V>(&'a V);
    impl<'de, V: Visitor<'de>> fmt::Display for Expecting<'_, V> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.expecting(f)
        }
    }
    Expecting(visitor).to_string()
}

/// serde's `ContentVisitor`, the visitor of buffering.
const CONTENT: &str = "any value";
/// Every std and serde_json map collection.
const MAP_COLLECTION: &str = "a map";

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
                self.de.$method($($arg,)* Wrap::new(visitor, self.tripped, false, true))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Detect<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let content = expecting(&visitor) == CONTENT;
        if content && self.in_buffering_map {
            return Err(trip(self.tripped));
        }
        // A map read through `deserialize_any` by anything but serde's buffer
        // is a `serde_json::Value` (whose values are never buffered) or an
        // internally tagged enum (whose values are).
        self.de
            .deserialize_any(Wrap::new(visitor, self.tripped, content, true))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        // A struct with a flattened field is read as a map too, and its
        // visitor says "struct Name" (or whatever `expecting` it was given).
        let buffers = expecting(&visitor) != MAP_COLLECTION;
        self.de
            .deserialize_map(Wrap::new(visitor, self.tripped, false, buffers))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.de
            .deserialize_struct(name, fields, Wrap::new(visitor, self.tripped, false, false))
    }

    forward_deserialize! {
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

struct Wrap<'f, V> {
    visitor: V,
    tripped: &'f Cell<bool>,
    /// The visitor is serde's buffer: an object here is refused.
    content: bool,
    /// If this visitor reads a map, it may buffer the map's values.
    map_buffers: bool,
}

impl<'f, V> Wrap<'f, V> {
    fn new(visitor: V, tripped: &'f Cell<bool>, content: bool, map_buffers: bool) -> Self {
        Self {
            visitor,
            tripped,
            content,
            map_buffers,
        }
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.visitor.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_some(Detect::new(de, self.tripped))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        self.visitor
            .visit_newtype_struct(Detect::new(de, self.tripped))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_seq(SeqWrap {
            seq,
            tripped: self.tripped,
        })
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        if self.content {
            return Err(trip(self.tripped));
        }
        self.visitor.visit_map(MapWrap {
            map,
            tripped: self.tripped,
            buffers: self.map_buffers,
        })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_enum(EnumWrap {
            data,
            tripped: self.tripped,
        })
    }
}

struct Seed<'f, S> {
    seed: S,
    tripped: &'f Cell<bool>,
    in_buffering_map: bool,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        self.seed.deserialize(Detect {
            de,
            tripped: self.tripped,
            in_buffering_map: self.in_buffering_map,
        })
    }
}

struct SeqWrap<'f, A> {
    seq: A,
    tripped: &'f Cell<bool>,
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for SeqWrap<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.seq.next_element_seed(Seed {
            seed,
            tripped: self.tripped,
            in_buffering_map: false,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

struct MapWrap<'f, A> {
    map: A,
    tripped: &'f Cell<bool>,
    buffers: bool,
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for MapWrap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        self.map.next_key_seed(Seed {
            seed,
            tripped: self.tripped,
            in_buffering_map: false,
        })
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.map.next_value_seed(Seed {
            seed,
            tripped: self.tripped,
            in_buffering_map: self.buffers,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

struct EnumWrap<'f, A> {
    data: A,
    tripped: &'f Cell<bool>,
}

impl<'f, 'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for EnumWrap<'f, A> {
    type Error = A::Error;
    type Variant = VariantWrap<'f, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), Self::Error> {
        let tripped = self.tripped;
        let (value, variant) = self.data.variant_seed(Seed {
            seed,
            tripped,
            in_buffering_map: false,
        })?;
        Ok((value, VariantWrap { variant, tripped }))
    }
}

struct VariantWrap<'f, A> {
    variant: A,
    tripped: &'f Cell<bool>,
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for VariantWrap<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        self.variant.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.variant.newtype_variant_seed(Seed {
            seed,
            tripped: self.tripped,
            in_buffering_map: false,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.variant
            .tuple_variant(len, Wrap::new(visitor, self.tripped, false, true))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.variant
            .struct_variant(fields, Wrap::new(visitor, self.tripped, false, false))
    }
}
