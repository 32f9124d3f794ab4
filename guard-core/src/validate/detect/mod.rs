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
//! * a refused identity key
//!   ([`StrictOptions::refuses`](crate::validate::StrictOptions::refuses))
//!   in any map the target type reads: its own structs' field names
//!   (declared or not), the keys of free-form maps and `serde_json::Value`s.
//!   Every key of a document is read so, or lies inside a value the type
//!   ignores;
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
//! The findings live in [`Cell`](std::cell::Cell)s rather than only in the
//! returned error, so a `Deserialize` impl that swallows an error (a
//! lenient `deserialize_with`) cannot hide one.

mod watch;
mod wrap;

use std::fmt;

use serde::de::{Deserializer, Visitor};

use watch::Role;
pub(crate) use watch::Watch;
use wrap::Wrap;

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
