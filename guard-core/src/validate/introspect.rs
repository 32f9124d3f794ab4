//! What a type declares, found by letting it deserialize from a probe.
//!
//! serde derive hands every struct's field names to
//! `Deserializer::deserialize_struct`; a deserializer that records them and
//! answers each field with a placeholder walks the whole type. A field whose
//! placeholder the type refuses (a `Uuid` from `""`) ends that walk, so the
//! probe runs again skipping it, until a run adds nothing new.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use super::error::{push_index, push_key};
use super::options::StrictOptions;

/// Nesting the probe follows; deeper (and recursive) types are cut there.
const MAX_DEPTH: usize = 16;
/// Probe runs for one type; each run skips one more refusing field.
const MAX_RUNS: usize = 128;

/// Every field name `T` declares, at any depth the probe reaches: the
/// fields of `T` and of structs inside its fields, `Option`s, `Vec`s, map
/// values, and the first variant of enums. Names are as serialized (after
/// `rename`/`rename_all`), aliases included, each once, in discovery order.
///
/// ```
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Body { title: String, meta: Meta }
/// #[derive(Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// struct Meta { user_id: u64 }
///
/// assert_eq!(guard_core::validate::declared_fields::<Body>(), ["title", "meta", "userId"]);
/// ```
#[must_use]
pub fn declared_fields<T: DeserializeOwned>() -> Vec<&'static str> {
    explore::<T>().fields
}

/// The identity fields among [`declared_fields`]: a body type that declares
/// one invites the client to choose who it is. The router refuses such a type
/// unless the route opts in by name.
#[must_use]
pub fn identity_fields_declared<T: DeserializeOwned>() -> Vec<&'static str> {
    declared_fields::<T>()
        .into_iter()
        .filter(|name| super::is_identity_field(name))
        .collect()
}

/// The fields of `T` itself when it is a plain struct (what a query string
/// may carry), `None` when it is not (a map, a struct with a flattened field,
/// an enum). Cheap: one call, no walk.
#[must_use]
pub fn top_level_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut seen = None;
    let _ = T::deserialize(TopLevel(&mut seen));
    seen
}

/// What is wrong with `T` as the body or query type of a route with these
/// options, one sentence each, for the router's build error:
///
/// * an identity field it declares that `options` does not allow;
/// * a `#[serde(flatten)]` field or an internally tagged enum, where unknown
///   fields cannot be detected (strict decoding answers 500 on such input
///   rather than decode it unchecked).
///
/// An empty list means the type is fit for strict decoding.
#[must_use]
pub fn body_type_problems<T: DeserializeOwned>(options: &StrictOptions) -> Vec<String> {
    let ty = std::any::type_name::<T>();
    let found = explore::<T>();
    let mut problems: Vec<String> = found
        .fields
        .iter()
        .filter(|name| options.refuses(name))
        .map(|name| {
            format!(
                "`{ty}` declares the identity field `{name}`; the principal and its scope come \
                 from the session: remove the field, or opt in on the route with \
                 `allow_identity({name} = \"<why this route may set it>\")` \
                 (`StrictOptions::allow_identity_field` for a plain extractor)"
            )
        })
        .collect();
    problems.extend(found.buffered.iter().map(|what| {
        format!(
            "`{ty}`: {what}; strict decoding cannot see unknown fields there, declare them inline"
        )
    }));
    problems
}

struct Found {
    fields: Vec<&'static str>,
    buffered: Vec<String>,
}

#[derive(Default)]
struct Record {
    fields: Vec<&'static str>,
    buffered: Vec<String>,
    /// (struct, field) pairs whose placeholder the type refused.
    skip: HashSet<(&'static str, &'static str)>,
    /// The innermost field being probed when the current run failed.
    failed: Option<(&'static str, &'static str)>,
    path: String,
}

fn explore<T: DeserializeOwned>() -> Found {
    let record = RefCell::new(Record::default());
    for _ in 0..MAX_RUNS {
        let result = T::deserialize(Probe {
            record: &record,
            depth: 0,
        });
        let mut rec = record.borrow_mut();
        rec.path.clear();
        match (result, rec.failed.take()) {
            (Err(_), Some(field)) if rec.skip.insert(field) => {}
            _ => break,
        }
    }
    let rec = record.into_inner();
    Found {
        fields: rec.fields,
        buffered: rec.buffered,
    }
}

#[derive(Debug)]
struct ProbeError;

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for ProbeError {}

impl de::Error for ProbeError {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Self
    }
}

#[derive(Clone, Copy)]
struct Probe<'r> {
    record: &'r RefCell<Record>,
    depth: usize,
}

impl Probe<'_> {
    fn deeper(self) -> Option<Self> {
        (self.depth < MAX_DEPTH).then_some(Probe {
            record: self.record,
            depth: self.depth + 1,
        })
    }

    fn note_buffered(self, what: &str) {
        let mut rec = self.record.borrow_mut();
        let at = if rec.path.is_empty() {
            "the top level".to_owned()
        } else {
            format!("`{}`", rec.path)
        };
        let note = format!("{what} at {at}");
        if !rec.buffered.contains(&note) {
            rec.buffered.push(note);
        }
    }
}

fn expecting<'de, V: Visitor<'de>>(visitor: &V) -> String {
    struct Expecting<'a, V>(&'a V);
    impl<'de, V: Visitor<'de>> fmt::Display for Expecting<'_, V> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.expecting(f)
        }
    }
    Expecting(visitor).to_string()
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = ProbeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        let what = expecting(&visitor);
        if what.starts_with("internally tagged enum") {
            self.note_buffered("an internally tagged enum");
            return Err(ProbeError);
        }
        // serde_json::Value and friends take null; untagged enums (serde's
        // "any value" buffer) are checked on the actual input at runtime.
        visitor.visit_unit()
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_bool(false)
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_i8(0)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_i16(0)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_i32(0)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_i64(0)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_u8(0)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_u16(0)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_u32(0)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_u64(0)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_f32(0.0)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_f64(0.0)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_char('a')
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_str("")
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_str("")
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_bytes(&[])
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_bytes(&[])
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        match self.deeper() {
            Some(inner) => visitor.visit_some(inner),
            None => visitor.visit_none(),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        let len = usize::from(self.depth < MAX_DEPTH);
        visitor.visit_seq(ProbeSeq {
            probe: self,
            left: len,
            index: 0,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_seq(ProbeSeq {
            probe: self,
            left: len,
            index: 0,
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_seq(ProbeSeq {
            probe: self,
            left: len,
            index: 0,
        })
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        if expecting(&visitor).starts_with("struct") {
            // serde reads a struct as a map only when it has a flattened field.
            self.note_buffered("a `#[serde(flatten)]` field");
            return Err(ProbeError);
        }
        let entries = usize::from(self.depth < MAX_DEPTH);
        visitor.visit_map(ProbeMap {
            probe: self,
            keys: KeySource::Collection(entries),
            context: ("", ""),
            pending: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        {
            let mut rec = self.record.borrow_mut();
            for field in fields {
                if !rec.fields.contains(field) {
                    rec.fields.push(field);
                }
            }
        }
        if self.depth >= MAX_DEPTH {
            return Err(ProbeError);
        }
        visitor.visit_map(ProbeMap {
            probe: self,
            keys: KeySource::Fields(fields.iter()),
            context: (name, ""),
            pending: None,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        match variants.first() {
            Some(first) => visitor.visit_enum(ProbeEnum {
                probe: self,
                variant: first,
            }),
            None => Err(ProbeError),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_str("")
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_unit()
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_i128(0)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_u128(0)
    }
}

struct ProbeSeq<'r> {
    probe: Probe<'r>,
    left: usize,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for ProbeSeq<'_> {
    type Error = ProbeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ProbeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let inner = self.probe.deeper().ok_or(ProbeError)?;
        let base = self.probe.record.borrow().path.len();
        push_index(&mut self.probe.record.borrow_mut().path, self.index);
        self.index += 1;
        let value = seed.deserialize(inner)?;
        self.probe.record.borrow_mut().path.truncate(base);
        Ok(Some(value))
    }
}

enum KeySource {
    Fields(std::slice::Iter<'static, &'static str>),
    Collection(usize),
}

struct ProbeMap<'r> {
    probe: Probe<'r>,
    keys: KeySource,
    /// (struct, field) of the entry being read.
    context: (&'static str, &'static str),
    pending: Option<usize>,
}

impl<'de> de::MapAccess<'de> for ProbeMap<'_> {
    type Error = ProbeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ProbeError> {
        let base = self.probe.record.borrow().path.len();
        match &mut self.keys {
            KeySource::Fields(fields) => {
                let (name, _) = self.context;
                let next = {
                    let rec = self.probe.record.borrow();
                    fields
                        .find(|field| !rec.skip.contains(&(name, **field)))
                        .copied()
                };
                let Some(field) = next else { return Ok(None) };
                self.context.1 = field;
                push_key(&mut self.probe.record.borrow_mut().path, field);
                self.pending = Some(base);
                seed.deserialize(IntoDeserializer::<ProbeError>::into_deserializer(field))
                    .map(Some)
            }
            KeySource::Collection(0) => Ok(None),
            KeySource::Collection(left) => {
                *left -= 1;
                push_key(&mut self.probe.record.borrow_mut().path, "*");
                self.pending = Some(base);
                let inner = self.probe.deeper().ok_or(ProbeError)?;
                seed.deserialize(inner).map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ProbeError> {
        let inner = self.probe.deeper().ok_or(ProbeError)?;
        match seed.deserialize(inner) {
            Ok(value) => {
                if let Some(base) = self.pending.take() {
                    self.probe.record.borrow_mut().path.truncate(base);
                }
                Ok(value)
            }
            Err(err) => {
                let mut rec = self.probe.record.borrow_mut();
                if rec.failed.is_none() && !self.context.0.is_empty() {
                    rec.failed = Some(self.context);
                }
                Err(err)
            }
        }
    }
}

struct ProbeEnum<'r> {
    probe: Probe<'r>,
    variant: &'static str,
}

impl<'de> de::EnumAccess<'de> for ProbeEnum<'_> {
    type Error = ProbeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), ProbeError> {
        let value = seed.deserialize(IntoDeserializer::<ProbeError>::into_deserializer(
            self.variant,
        ))?;
        Ok((value, self))
    }
}

impl<'de> de::VariantAccess<'de> for ProbeEnum<'_> {
    type Error = ProbeError;

    fn unit_variant(self) -> Result<(), ProbeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ProbeError> {
        seed.deserialize(self.probe.deeper().ok_or(ProbeError)?)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        de::Deserializer::deserialize_tuple(self.probe, len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        de::Deserializer::deserialize_struct(self.probe, self.variant, fields, visitor)
    }
}

/// Records the fields of a top-level `deserialize_struct` and stops.
struct TopLevel<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> de::Deserializer<'de> for TopLevel<'_> {
    type Error = ProbeError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
        Err(ProbeError)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, ProbeError> {
        *self.0 = Some(fields);
        Err(ProbeError)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        id: NotFromEmpty,
        user_id: u64,
        #[serde(rename = "ownerId")]
        owner: Option<u64>,
        address: Option<Address>,
        items: Vec<Item>,
        by_key: BTreeMap<String, Item>,
        next: Option<Box<Body>>,
        kind: Kind,
    }

    /// Refuses the probe's placeholder, as a `Uuid` refuses `""`.
    #[allow(dead_code)]
    struct NotFromEmpty(String);

    impl<'de> Deserialize<'de> for NotFromEmpty {
        fn deserialize<D: de::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
            let s = String::deserialize(de)?;
            if s.is_empty() {
                return Err(de::Error::custom("empty"));
            }
            Ok(Self(s))
        }
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Address {
        city: String,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    #[serde(rename_all = "camelCase")]
    struct Item {
        item_name: String,
        tenant_id: u64,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    enum Kind {
        Plain { is_admin: bool },
    }

    #[test]
    fn finds_fields_at_every_reachable_depth() {
        let fields = declared_fields::<Body>();
        for name in [
            "title", "id", "user_id", "ownerId", "address", "city", "items", "itemName",
            "tenantId", "by_key", "next", "kind", "is_admin",
        ] {
            assert!(fields.contains(&name), "{name} missing from {fields:?}");
        }
        assert_eq!(
            identity_fields_declared::<Body>(),
            ["user_id", "ownerId", "tenantId", "is_admin"]
        );
    }

    #[test]
    fn body_type_problems_name_each_unallowed_identity_field() {
        let options = StrictOptions::new()
            .allow_identity_field("user_id")
            .unwrap();
        let problems = body_type_problems::<Body>(&options);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems.iter().all(|p| !p.contains("`user_id`")));
        assert!(problems.iter().any(|p| p.contains("`tenantId`")));
    }

    #[test]
    fn body_type_problems_report_flatten_and_internal_tags() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Flat {
            a: u8,
            #[serde(flatten)]
            rest: Address,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Nested {
            inner: Option<Flat>,
            shape: Shape,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        #[serde(tag = "type")]
        enum Shape {
            Circle { r: f64 },
        }
        let problems = body_type_problems::<Nested>(&StrictOptions::new());
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].contains("flatten") && problems[0].contains("`inner`"),
            "{problems:?}"
        );
        assert!(problems[1].contains("internally tagged") && problems[1].contains("`shape`"));
        assert!(body_type_problems::<Address>(&StrictOptions::new()).is_empty());
    }

    #[test]
    fn top_level_fields_only_for_plain_structs() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Flat {
            #[serde(flatten)]
            rest: Address,
        }
        assert_eq!(top_level_fields::<Address>(), Some(&["city"][..]));
        assert_eq!(top_level_fields::<Flat>(), None);
        assert_eq!(top_level_fields::<BTreeMap<String, String>>(), None);
    }
}
