//! The visitor, seed and access wrappers that carry a [`Watch`] into every
//! value, element, entry and variant of the input.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

use super::Detect;
use super::watch::{Role, Watch};

pub(super) struct Wrap<'f, V> {
    pub(super) visitor: V,
    pub(super) watch: &'f Watch<'f>,
    /// The visitor is serde's buffer: an object here is refused.
    pub(super) content: bool,
    /// If this visitor reads a map, it may buffer the map's values.
    pub(super) map_buffers: bool,
    /// What the text this visitor gets is.
    pub(super) role: Role,
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {
        $(
            #[inline]
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.visitor.$method(v)
            }
        )*
    };
}

/// Visits of text: in fast mode a refused identity key stops the decode.
macro_rules! text_visit {
    ($($method:ident($ty:ty) => $check:ident;)*) => {
        $(
            #[inline]
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                if self.watch.$check(self.role, &v) {
                    return Err(E::custom("strict decoding has a field to report"));
                }
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
    }

    text_visit! {
        visit_str(&str) => stops_at;
        visit_borrowed_str(&'de str) => stops_at;
        visit_string(String) => stops_at;
        visit_bytes(&[u8]) => stops_at_bytes;
        visit_borrowed_bytes(&'de [u8]) => stops_at_bytes;
        visit_byte_buf(Vec<u8>) => stops_at_bytes;
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        let role = self.role;
        self.visitor.visit_some(Detect {
            role,
            ..Detect::new(de, self.watch)
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        let role = self.role;
        self.visitor.visit_newtype_struct(Detect {
            role,
            ..Detect::new(de, self.watch)
        })
    }

    #[inline]
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_seq(SeqWrap {
            seq,
            watch: self.watch,
        })
    }

    #[inline]
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        if self.content {
            return Err(self.watch.trip());
        }
        self.visitor.visit_map(MapWrap {
            map,
            watch: self.watch,
            buffers: self.map_buffers,
        })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_enum(EnumWrap {
            data,
            watch: self.watch,
        })
    }
}

struct Seed<'f, S> {
    seed: S,
    watch: &'f Watch<'f>,
    in_buffering_map: bool,
    role: Role,
}

impl<'f, S> Seed<'f, S> {
    fn new(seed: S, watch: &'f Watch<'f>, role: Role) -> Self {
        Self {
            seed,
            watch,
            in_buffering_map: false,
            role,
        }
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        self.seed.deserialize(Detect {
            de,
            watch: self.watch,
            in_buffering_map: self.in_buffering_map,
            role: self.role,
        })
    }
}

struct SeqWrap<'f, A> {
    seq: A,
    watch: &'f Watch<'f>,
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for SeqWrap<'_, A> {
    type Error = A::Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.seq
            .next_element_seed(Seed::new(seed, self.watch, Role::Value))
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

struct MapWrap<'f, A> {
    map: A,
    watch: &'f Watch<'f>,
    buffers: bool,
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for MapWrap<'_, A> {
    type Error = A::Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        self.map
            .next_key_seed(Seed::new(seed, self.watch, Role::MapKey))
    }

    #[inline]
    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        self.map.next_value_seed(Seed {
            in_buffering_map: self.buffers,
            ..Seed::new(seed, self.watch, Role::Value)
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

struct EnumWrap<'f, A> {
    data: A,
    watch: &'f Watch<'f>,
}

impl<'f, 'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for EnumWrap<'f, A> {
    type Error = A::Error;
    type Variant = VariantWrap<'f, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), Self::Error> {
        let watch = self.watch;
        let (value, variant) = self
            .data
            .variant_seed(Seed::new(seed, watch, Role::Variant))?;
        Ok((value, VariantWrap { variant, watch }))
    }
}

struct VariantWrap<'f, A> {
    variant: A,
    watch: &'f Watch<'f>,
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
        self.variant
            .newtype_variant_seed(Seed::new(seed, self.watch, Role::Value))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = Wrap {
            visitor,
            watch: self.watch,
            content: false,
            map_buffers: true,
            role: Role::Value,
        };
        self.variant.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = Wrap {
            visitor,
            watch: self.watch,
            content: false,
            map_buffers: false,
            role: Role::Value,
        };
        self.variant.struct_variant(fields, visitor)
    }
}
