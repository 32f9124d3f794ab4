//! A deserializer wrapper that watches what the target type does with its
//! input: buffering (always), and in the fast mode of strict decoding, every
//! key and every ignored value too.
//!
//! # Buffering
//!
//! `#[serde(flatten)]`, untagged enums and internally tagged enums first copy
//! their input into serde's private `Content` buffer, then deserialize the
//! real type from the copy. Fields the type ignores there never reach the
//! outer deserializer, so neither `deny_unknown_fields` on the flattened
//! type nor `serde_ignored` sees them (dtolnay/serde-ignored#10,
//! serde-rs/serde#2312).
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
//!
//! # Fast mode
//!
//! Strict decoding first decodes with [`Watch::fast`], which needs no second
//! parse and builds no path: it *flags* (and stops the decode at) the first
//! thing the strict decoder would report, and the caller then runs the
//! reporting passes to name every problem. It flags
//!
//! * a refused identity key ([`StrictOptions::refuses`]) in any map the
//!   target type reads: its own structs' field names (declared or not), the
//!   keys of free-form maps and `serde_json::Value`s. Every key of a
//!   document is read so, or lies inside a value the type ignores;
//! * an ignored value (`deserialize_ignored_any`): an unknown field, which
//!   is refused anyway, identity keys inside it included; or a key read
//!   without looking at it.
//!
//! It asks for the separate identity scan (one more parse, no decode) where
//! it cannot tell on its own:
//!
//! * an enum variant named like an identity field: a key in
//!   `{"admin": {…}}` but a plain value in `"admin"`, and the two look alike
//!   from here;
//! * raw JSON text (`serde_json::value::RawValue`), whose keys no visitor
//!   sees.
//!
//! The findings live in [`Cell`]s rather than only in the returned error, so
//! a `Deserialize` impl that swallows an error (a lenient `deserialize_with`)
//! cannot hide one.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

use super::options::StrictOptions;

/// What one decode saw; shared by every wrapper of that decode.
pub(crate) struct Watch<'o> {
    /// `Some` in fast mode: the route's options, to judge identity keys.
    options: Option<&'o StrictOptions>,
    /// Input was buffered where unknown fields are invisible.
    tripped: Cell<bool>,
    /// Fast mode found something the reporting passes must name.
    flagged: Cell<bool>,
    /// Fast mode met text only the identity scan can judge.
    needs_scan: Cell<bool>,
}

impl<'o> Watch<'o> {
    /// Only buffering is watched; every key and ignored value passes (the
    /// reporting pass, where `serde_ignored` lists the ignored fields).
    pub(crate) fn reporting() -> Self {
        Self {
            options: None,
            tripped: Cell::new(false),
            flagged: Cell::new(false),
            needs_scan: Cell::new(false),
        }
    }

    /// Buffering, refused identity keys and ignored values are watched.
    pub(crate) fn fast(options: &'o StrictOptions) -> Self {
        Self {
            options: Some(options),
            ..Self::reporting()
        }
    }

    pub(crate) fn tripped(&self) -> bool {
        self.tripped.get()
    }

    pub(crate) fn flagged(&self) -> bool {
        self.flagged.get()
    }

    pub(crate) fn needs_scan(&self) -> bool {
        self.needs_scan.get()
    }

    fn trip<E: de::Error>(&self) -> E {
        self.tripped.set(true);
        E::custom("input buffered where unknown fields cannot be detected")
    }

    fn flag<E: de::Error>(&self) -> E {
        self.flagged.set(true);
        E::custom("strict decoding has a field to report")
    }

    /// In fast mode, judges text read as `role`; `true` stops the decode
    /// (a refused map key).
    #[inline]
    fn stops_at(&self, role: Role, text: &str) -> bool {
        let Some(options) = self.options else {
            return false;
        };
        match role {
            // Data: the hot path, every string value of the body.
            Role::Value => false,
            Role::MapKey => {
                let refused = options.refuses(text);
                if refused {
                    self.flagged.set(true);
                }
                refused
            }
            // A key in `{"Variant": …}` but a plain value in `"Variant"`, and
            // the two look alike from here: an enum value named `admin` or
            // `owner` is common and fine, so let the scan tell them apart.
            Role::Variant => {
                if options.refuses(text) {
                    self.needs_scan.set(true);
                }
                false
            }
        }
    }

    fn stops_at_bytes(&self, role: Role, text: &[u8]) -> bool {
        // Text that is not UTF-8 cannot be an identity name (all ASCII).
        std::str::from_utf8(text).is_ok_and(|text| self.stops_at(role, text))
    }
}

/// What the text a visitor receives is, for the identity check.
#[derive(Clone, Copy)]
enum Role {
    /// Data: never checked.
    Value,
    /// A map key or struct field name.
    MapKey,
    /// An enum variant name.
    Variant,
}

/// Whether a visitor's `expecting` text is exactly `text`, compared as it is
/// written: no `String` per call (this runs for every map and every
/// `deserialize_any`), and no panic if a visitor's `expecting` fails.
fn expects<'de, V: Visitor<'de>>(visitor: &V, text: &str) -> bool {
    struct Expecting<'a, V>(&'a V);
    impl<'de, V: Visitor<'de>> fmt::Display for Expecting<'_, V> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.expecting(f)
        }
    }
    /// The part of `text` not yet matched; a mismatch stops the writing.
    struct Rest<'a>(&'a str);
    impl fmt::Write for Rest<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 = self.0.strip_prefix(s).ok_or(fmt::Error)?;
            Ok(())
        }
    }
    let mut rest = Rest(text);
    fmt::write(&mut rest, format_args!("{}", Expecting(visitor))).is_ok() && rest.0.is_empty()
}

/// serde's `ContentVisitor`, the visitor of buffering.
const CONTENT: &str = "any value";
/// Every std and serde_json map collection.
const MAP_COLLECTION: &str = "a map";
/// The newtype name under which serde_json hands out raw JSON text
/// (`serde_json::value::RawValue`, feature `raw_value`).
const RAW_VALUE: &str = "$serde_json::private::RawValue";

/// A deserializer wrapper reporting to a [`Watch`].
pub(crate) struct Detect<'f, D> {
    de: D,
    watch: &'f Watch<'f>,
    /// This value belongs to an entry of a map whose reader buffers values.
    in_buffering_map: bool,
    /// What the text read here is.
    role: Role,
}

impl<'f, D> Detect<'f, D> {
    pub(crate) fn new(de: D, watch: &'f Watch<'f>) -> Self {
        Self {
            de,
            watch,
            in_buffering_map: false,
            role: Role::Value,
        }
    }

    fn wrap<V>(&self, visitor: V, content: bool, map_buffers: bool) -> Wrap<'f, V> {
        Wrap {
            visitor,
            watch: self.watch,
            content,
            map_buffers,
            role: self.role,
        }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            #[inline]
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, Self::Error> {
                let visitor = self.wrap(visitor, false, true);
                self.de.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Detect<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let content = expects(&visitor, CONTENT);
        if content && self.in_buffering_map {
            return Err(self.watch.trip());
        }
        // A map read through `deserialize_any` by anything but serde's buffer
        // is a `serde_json::Value` (whose values are never buffered) or an
        // internally tagged enum (whose values are).
        let visitor = self.wrap(visitor, content, true);
        self.de.deserialize_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        // A struct with a flattened field is read as a map too, and its
        // visitor says "struct Name" (or whatever `expecting` it was given).
        let buffers = !expects(&visitor, MAP_COLLECTION);
        let visitor = self.wrap(visitor, false, buffers);
        self.de.deserialize_map(visitor)
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let visitor = self.wrap(visitor, false, false);
        self.de.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        if name == RAW_VALUE && self.watch.options.is_some() {
            self.watch.needs_scan.set(true);
        }
        let visitor = self.wrap(visitor, false, true);
        self.de.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        // Fast mode: an unknown field (or an unread key), reported by the
        // reporting pass; there `serde_ignored`, under this wrapper, sees it.
        if self.watch.options.is_some() {
            return Err(self.watch.flag());
        }
        let visitor = self.wrap(visitor, false, true);
        self.de.deserialize_ignored_any(visitor)
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
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

struct Wrap<'f, V> {
    visitor: V,
    watch: &'f Watch<'f>,
    /// The visitor is serde's buffer: an object here is refused.
    content: bool,
    /// If this visitor reads a map, it may buffer the map's values.
    map_buffers: bool,
    /// What the text this visitor gets is.
    role: Role,
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
