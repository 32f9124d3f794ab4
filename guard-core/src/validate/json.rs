//! Strict JSON decoding: [`decode_json_strict`].

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};
use validator::Validate;

use super::detect::{Detect, Watch};
use super::error::{
    IDENTITY_FIELD, InputError, UNKNOWN_FIELD, add_code, add_validation_errors, ignored_path,
    push_index, push_key,
};
use super::options::StrictOptions;
use crate::error::FieldErrors;

/// Decodes a JSON body into `T`, refusing anything `T` would silently drop.
///
/// In order, collecting every field problem into one answer:
///
/// 1. Not well-formed JSON (or trailing data): [`InputError::Syntax`].
/// 2. An identity field ([`super::is_identity_field`]) anywhere in the
///    document, including inside free-form maps and arrays, unless `options`
///    allows that exact name: `identity_field`, whether or not `T` declares it.
/// 3. A field `T` does not declare, at any depth, whether or not `T` says
///    `deny_unknown_fields`: `unknown_field`.
/// 4. A value of the wrong type, a missing or duplicate field:
///    [`InputError::Shape`] (unless 2 or 3 already found something).
/// 5. `T::validate()`: the validator codes per field path.
///
/// Where `T` buffers an object (`#[serde(flatten)]`, an untagged or
/// internally tagged enum), unknown fields are invisible to any serde
/// wrapper; rather than accept them unchecked this returns
/// [`InputError::Unverifiable`] (a 500, and [`super::body_type_problems`]
/// reports the type when the router is built).
///
/// ```
/// use guard_core::validate::{StrictOptions, decode_json_strict};
/// use serde::Deserialize;
/// use validator::Validate;
///
/// #[derive(Debug, Deserialize, Validate)]
/// struct NewProject {
///     #[validate(length(min = 1, max = 100))]
///     title: String,
/// }
///
/// let options = StrictOptions::new();
/// let ok: NewProject = decode_json_strict(br#"{"title":"Roadmap"}"#, &options)?;
/// assert_eq!(ok.title, "Roadmap");
///
/// let err = decode_json_strict::<NewProject>(br#"{"title":"","owner_id":7,"x":1}"#, &options)
///     .unwrap_err();
/// let body = guard_core::GuardError::from(err).public_body();
/// assert_eq!(
///     body,
///     r#"{"error":"invalid_input","fields":{"owner_id":["identity_field"],"title":["length"],"x":["unknown_field"]}}"#
/// );
/// # Ok::<(), guard_core::validate::InputError>(())
/// ```
///
/// # Errors
///
/// As listed above; none of them carries a submitted value.
pub fn decode_json_strict<T>(bytes: &[u8], options: &StrictOptions) -> Result<T, InputError>
where
    T: DeserializeOwned + Validate,
{
    let (value, mut fields) = decode_collecting::<T>(bytes, options)?;
    if let Err(errors) = value.validate() {
        add_validation_errors(&errors, "", &mut fields);
    }
    if fields.is_empty() {
        Ok(value)
    } else {
        Err(InputError::Fields(fields))
    }
}

/// The strict checks of [`decode_json_strict`] without `validator`'s rules:
/// unknown and identity fields at any depth, and the shape of `T`. For
/// callers that decode `T` again themselves and run their own validation
/// (a server function's codec decodes its arguments after this check).
///
/// ```
/// use guard_core::validate::{StrictOptions, check_json_strict};
/// #[derive(serde::Deserialize)]
/// struct Item { title: String }
/// #[derive(serde::Deserialize)]
/// struct Args { item: Item }
///
/// let options = StrictOptions::new();
/// assert!(check_json_strict::<Args>(br#"{"item":{"title":"a"}}"#, &options).is_ok());
/// let err = check_json_strict::<Args>(br#"{"item":{"title":"a","owner_id":1}}"#, &options)
///     .unwrap_err();
/// assert_eq!(err.fields().unwrap()["item.owner_id"], ["identity_field"]);
/// ```
///
/// # Errors
///
/// As [`decode_json_strict`], less the validation codes.
pub fn check_json_strict<T>(bytes: &[u8], options: &StrictOptions) -> Result<(), InputError>
where
    T: DeserializeOwned,
{
    let (_value, fields) = decode_collecting::<T>(bytes, options)?;
    if fields.is_empty() {
        Ok(())
    } else {
        Err(InputError::Fields(fields))
    }
}

/// Decodes `T` and returns it with the identity and unknown fields found,
/// so validation failures can join the same answer.
///
/// Clean input, the usual case, is parsed once ([`decode_fast`]). Anything
/// to report sends the document through the reporting passes, which name
/// every problem; they cost a second and third parse, on refused input only.
fn decode_collecting<T>(
    bytes: &[u8],
    options: &StrictOptions,
) -> Result<(T, FieldErrors), InputError>
where
    T: DeserializeOwned,
{
    match decode_fast::<T>(bytes, options) {
        Some(value) => Ok((value, FieldErrors::new())),
        None => decode_reporting(bytes, options),
    }
}

/// The reporting passes: every identity key with its path ([`scan`]), then
/// the decode that lists every ignored field ([`decode_tracked`]).
fn decode_reporting<T>(
    bytes: &[u8],
    options: &StrictOptions,
) -> Result<(T, FieldErrors), InputError>
where
    T: DeserializeOwned,
{
    let mut fields = FieldErrors::new();
    scan(bytes, options, &mut fields)?;
    match decode_tracked::<T>(bytes, &mut fields) {
        Ok(value) => Ok((value, fields)),
        Err(InputError::Shape) if !fields.is_empty() => Err(InputError::Fields(fields)),
        Err(err) => Err(err),
    }
}

/// One parse into `T` that builds no path and allocates nothing of its own:
/// `Some` only when the reporting passes would find nothing to report (no
/// syntax or shape error, no refused identity key, no ignored field, no
/// buffering), and then with the same value they would decode.
///
/// Every key of a document is either read by `T` (a field name, declared or
/// not, a key of a free-form map or `serde_json::Value`, an enum variant)
/// and checked by [`Detect`] as it goes past, or lies inside a value `T`
/// ignores, which is itself an unknown field. Raw JSON text (`RawValue`)
/// and enum variants named like identity fields (a key in `{"admin": …}`, a
/// value in `"admin"`) are the exceptions, and get the identity scan.
fn decode_fast<T: DeserializeOwned>(bytes: &[u8], options: &StrictOptions) -> Option<T> {
    let watch = Watch::fast(options);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = T::deserialize(Detect::new(&mut de, &watch));
    // The flags, not only the result: a lenient `Deserialize` impl may have
    // swallowed the error that carried a finding (serde_json then fails a
    // little later, mid-object, but nothing promises that).
    if watch.flagged() || watch.tripped() {
        return None;
    }
    let value = result.ok()?;
    de.end().ok()?;
    if watch.needs_scan() {
        let mut fields = FieldErrors::new();
        scan(bytes, options, &mut fields).ok()?;
        if !fields.is_empty() {
            return None;
        }
    }
    Some(value)
}

/// Runs `value.validate()` and lists the failing field paths and codes.
///
/// # Errors
///
/// [`InputError::Fields`] with validator's codes (never its messages or
/// params, which can quote the value).
pub fn validate_input<T: Validate>(value: &T) -> Result<(), InputError> {
    match value.validate() {
        Ok(()) => Ok(()),
        Err(errors) => {
            let mut fields = FieldErrors::new();
            add_validation_errors(&errors, "", &mut fields);
            if fields.is_empty() {
                // A validator that failed without naming a field: still a 400.
                Err(InputError::Shape)
            } else {
                Err(InputError::Fields(fields))
            }
        }
    }
}

/// Reporting pass 1: syntax and identity keys (with their paths), over the
/// raw document.
fn scan(bytes: &[u8], options: &StrictOptions, fields: &mut FieldErrors) -> Result<(), InputError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut path = String::new();
    Scan {
        path: &mut path,
        options,
        fields,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .map_err(|_| InputError::Syntax)
}

/// Reporting pass 2: into `T`, recording every ignored field and any
/// buffering.
fn decode_tracked<T: DeserializeOwned>(
    bytes: &[u8],
    fields: &mut FieldErrors,
) -> Result<T, InputError> {
    let watch = Watch::reporting();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut on_ignored = |path: serde_ignored::Path<'_>| {
        let path = ignored_path(&path);
        // An identity key `T` does not declare is reported once, as identity.
        let already = fields
            .get(&path)
            .is_some_and(|codes| codes.iter().any(|c| c == IDENTITY_FIELD));
        if !already {
            add_code(fields, path, UNKNOWN_FIELD.into());
        }
    };
    let result = T::deserialize(Detect::new(
        serde_ignored::Deserializer::new(&mut de, &mut on_ignored),
        &watch,
    ));
    if watch.tripped() {
        return Err(InputError::Unverifiable {
            type_name: std::any::type_name::<T>(),
        });
    }
    let value = result.map_err(|_| InputError::Shape)?;
    de.end().map_err(|_| InputError::Syntax)?;
    Ok(value)
}

/// Walks every key of the document (serde_json bounds the nesting at 128).
struct Scan<'a> {
    path: &'a mut String,
    options: &'a StrictOptions,
    fields: &'a mut FieldErrors,
}

impl<'de> DeserializeSeed<'de> for Scan<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let base = self.path.len();
        let mut index = 0;
        loop {
            push_index(self.path, index);
            let more = seq.next_element_seed(Scan {
                path: self.path,
                options: self.options,
                fields: self.fields,
            })?;
            self.path.truncate(base);
            if more.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let base = self.path.len();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            push_key(self.path, &key);
            if self.options.refuses(&key) {
                add_code(self.fields, self.path.clone(), IDENTITY_FIELD.into());
            }
            map.next_value_seed(Scan {
                path: self.path,
                options: self.options,
                fields: self.fields,
            })?;
            self.path.truncate(base);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;
    use validator::Validate;

    use super::*;
    use crate::GuardError;

    /// Steps 1 to 4 of [`decode_json_strict`], for test types that have no
    /// validation rules.
    fn decode_json_unvalidated<T>(bytes: &[u8], options: &StrictOptions) -> Result<T, InputError>
    where
        T: DeserializeOwned,
    {
        let (value, fields) = decode_collecting::<T>(bytes, options)?;
        if fields.is_empty() {
            Ok(value)
        } else {
            Err(InputError::Fields(fields))
        }
    }

    #[derive(Debug, Deserialize, Validate)]
    #[allow(dead_code)] // read by the decoder, not by the tests
    struct Project {
        #[validate(length(min = 1, max = 20))]
        title: String,
        #[validate(nested)]
        address: Option<Address>,
        #[serde(default)]
        #[validate(nested)]
        items: Vec<Item>,
        #[serde(default)]
        labels: HashMap<String, String>,
    }

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    struct Address {
        #[validate(length(min = 2))]
        city: String,
    }

    #[derive(Debug, Deserialize, Validate)]
    struct Item {
        #[validate(length(min = 1))]
        name: String,
    }

    fn body<T: DeserializeOwned + Validate>(json: &str, options: &StrictOptions) -> String {
        match decode_json_strict::<T>(json.as_bytes(), options) {
            Ok(_) => "ok".to_owned(),
            Err(err) => GuardError::from(err).public_body(),
        }
    }

    #[test]
    fn refuses_unknown_fields_at_any_depth() {
        let options = StrictOptions::new();
        let table = [
            (r#"{"title":"a"}"#, "ok"),
            (
                r#"{"title":"a","extra":1}"#,
                r#"{"error":"invalid_input","fields":{"extra":["unknown_field"]}}"#,
            ),
            (
                r#"{"title":"a","address":{"city":"Oslo","zip":"0150"}}"#,
                // Address says `deny_unknown_fields`: serde stops at the first
                // unknown field with its own error, so the 400 is generic.
                r#"{"error":"invalid_input"}"#,
            ),
            (
                r#"{"title":"a","items":[{"name":"x","sku":{"a":1}}]}"#,
                r#"{"error":"invalid_input","fields":{"items[0].sku":["unknown_field"]}}"#,
            ),
            (
                r#"{"title":"a","items":[{"name":"x"},{"name":"y","price":3}]}"#,
                r#"{"error":"invalid_input","fields":{"items[1].price":["unknown_field"]}}"#,
            ),
            (
                r#"{"title":"a","<img src=x>":1}"#,
                r#"{"error":"invalid_input","fields":{"?":["unknown_field"]}}"#,
            ),
        ];
        for (json, want) in table {
            assert_eq!(body::<Project>(json, &options), want, "{json}");
        }
    }

    #[test]
    fn refuses_identity_fields_declared_or_not_at_any_depth() {
        #[derive(Debug, Deserialize, Validate)]
        #[allow(dead_code)]
        struct Declares {
            title: String,
            owner_id: Option<u64>,
        }
        let options = StrictOptions::new();
        let identity = |path: &str| {
            format!(r#"{{"error":"invalid_input","fields":{{"{path}":["identity_field"]}}}}"#)
        };
        for name in [
            "user_id", "userId", "USER-ID", "tenantId", "is_admin", "role", "roles",
        ] {
            let json = format!(r#"{{"title":"a","{name}":1}}"#);
            assert_eq!(body::<Project>(&json, &options), identity(name), "{json}");
        }
        let table = [
            (r#"{"title":"a","owner_id":7}"#, identity("owner_id")),
            (
                r#"{"title":"a","labels":{"role":"admin"}}"#,
                identity("labels.role"),
            ),
            (
                r#"{"title":"a","items":[{"name":"x","userId":2}]}"#,
                identity("items[0].userId"),
            ),
        ];
        for (json, want) in &table[..1] {
            assert_eq!(&body::<Declares>(json, &options), want, "{json}");
        }
        for (json, want) in &table[1..] {
            assert_eq!(&body::<Project>(json, &options), want, "{json}");
        }
    }

    #[test]
    fn an_opt_in_allows_that_exact_name_only() {
        #[derive(Debug, Deserialize, Validate)]
        #[allow(dead_code)]
        struct Assign {
            role: String,
        }
        let options = StrictOptions::new().allow_identity_field("role").unwrap();
        assert_eq!(body::<Assign>(r#"{"role":"editor"}"#, &options), "ok");
        assert_eq!(
            body::<Assign>(r#"{"role":"editor","Role":"admin"}"#, &options),
            r#"{"error":"invalid_input","fields":{"Role":["identity_field"]}}"#
        );
        assert_eq!(
            body::<Assign>(r#"{"role":"editor","user_id":1}"#, &options),
            r#"{"error":"invalid_input","fields":{"user_id":["identity_field"]}}"#
        );
    }

    #[test]
    fn lists_validation_codes_by_path_and_never_values() {
        let options = StrictOptions::new();
        let json = r#"{"title":"secret-value-that-is-too-long","address":{"city":"X"},"items":[{"name":""}]}"#;
        let got = body::<Project>(json, &options);
        assert_eq!(
            got,
            r#"{"error":"invalid_input","fields":{"address.city":["length"],"items[0].name":["length"],"title":["length"]}}"#
        );
        assert!(!got.contains("secret"));
    }

    #[test]
    fn malformed_and_misshapen_input_get_the_generic_400() {
        let options = StrictOptions::new();
        let generic = r#"{"error":"invalid_input"}"#;
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let table = [
            r#"{"title":"a""#,
            r#"{"title":"a"} trailing"#,
            r#"{"title": 'hunter2'}"#,
            r#"{"title":5}"#,
            r#"{}"#,
            r#"{"title":"a","title":"b"}"#,
            "",
            "\u{feff}{}",
            deep.as_str(),
        ];
        for json in table {
            assert_eq!(body::<Project>(json, &options), generic, "{json}");
        }
        assert_eq!(
            decode_json_strict::<Project>(b"\xff\xfe", &options).unwrap_err(),
            InputError::Syntax
        );
    }

    #[derive(Debug, Deserialize, Validate)]
    struct Flat {
        title: String,
        #[serde(flatten)]
        common: Common,
    }

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    struct Common {
        tag: Option<String>,
    }

    #[test]
    fn serde_ignored_alone_misses_fields_under_flatten() {
        // The hazard this module exists for: plain serde and serde_ignored
        // both accept the unknown `evil` without a word.
        let json = r#"{"title":"a","tag":"t","evil":1}"#;
        let mut ignored = Vec::new();
        let plain: Result<Flat, _> =
            serde_ignored::deserialize(&mut serde_json::Deserializer::from_str(json), |path| {
                ignored.push(path.to_string())
            });
        assert!(plain.is_ok());
        assert!(ignored.is_empty());
    }

    #[test]
    fn detects_input_hidden_by_flatten_instead_of_accepting_it() {
        let options = StrictOptions::new();
        for json in [
            r#"{"title":"a","tag":"t","evil":1}"#,
            r#"{"title":"a","evil":{"nested":true}}"#,
            r#"{"title":"a","tag":"t"}"#, // even clean input: the type cannot be checked
        ] {
            let err = decode_json_strict::<Flat>(json.as_bytes(), &options).unwrap_err();
            assert!(
                matches!(err, InputError::Unverifiable { .. }),
                "{json}: {err:?}"
            );
            assert_eq!(GuardError::from(err).status().as_u16(), 500);
        }
        // Nothing buffered, nothing hidden: a flattened struct whose input is
        // all the outer struct's own fields decodes.
        let ok: Flat = decode_json_strict(br#"{"title":"a"}"#, &options).unwrap();
        assert_eq!(ok.title, "a");
        assert_eq!(ok.common.tag, None);
    }

    #[test]
    fn detects_buffering_enums_holding_objects() {
        #[derive(Debug, Deserialize, Validate)]
        #[allow(dead_code)]
        struct Tagged {
            shape: Shape,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        #[serde(tag = "type")]
        enum Shape {
            Circle { r: f64 },
        }
        #[derive(Debug, Deserialize, Validate)]
        #[allow(dead_code)]
        struct Untagged {
            target: Target,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        #[serde(untagged)]
        enum Target {
            Id(u64),
            Name(String),
            Spec { name: String },
        }
        let options = StrictOptions::new();
        let unverifiable =
            |r: Result<(), InputError>| matches!(r, Err(InputError::Unverifiable { .. }));
        let tagged =
            |json: &str| decode_json_strict::<Tagged>(json.as_bytes(), &options).map(|_| ());
        let untagged =
            |json: &str| decode_json_strict::<Untagged>(json.as_bytes(), &options).map(|_| ());
        assert!(unverifiable(tagged(
            r#"{"shape":{"type":"Circle","r":1,"evil":2}}"#
        )));
        assert!(unverifiable(untagged(
            r#"{"target":{"name":"x","evil":2}}"#
        )));
        // Untagged plain values cannot hide fields.
        assert!(untagged(r#"{"target":7}"#).is_ok());
        assert!(untagged(r#"{"target":"seven"}"#).is_ok());
    }

    #[test]
    fn free_form_json_values_are_scanned_but_not_refused() {
        #[derive(Debug, Deserialize, Validate)]
        #[allow(dead_code)]
        struct WithMeta {
            meta: serde_json::Value,
        }
        let options = StrictOptions::new();
        assert_eq!(
            body::<WithMeta>(r#"{"meta":{"color":"red","n":[1,{"a":2}]}}"#, &options),
            "ok"
        );
        assert_eq!(
            body::<WithMeta>(r#"{"meta":{"n":[{"is_admin":true}]}}"#, &options),
            r#"{"error":"invalid_input","fields":{"meta.n[0].is_admin":["identity_field"]}}"#
        );
    }

    /// A type with every place a key can hide: nested and listed structs
    /// that declare identity fields, maps keyed by strings, numbers and
    /// newtypes, free-form values, enums, tuples, a lenient field.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Deep {
        #[serde(default)]
        title: String,
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
        #[serde(default)]
        map: HashMap<String, Inner>,
        #[serde(default)]
        nums: HashMap<u64, String>,
        #[serde(default)]
        keyed: HashMap<Key, String>,
        meta: Option<serde_json::Value>,
        action: Option<Action>,
        kind: Option<Kind>,
        #[serde(default, deserialize_with = "lenient")]
        lenient: Option<Inner>,
        tuple: Option<(u8, Inner)>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        #[serde(default)]
        name: String,
        owner_id: Option<u64>,
        role: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq, Eq, Hash)]
    struct Key(String);

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    #[serde(rename_all = "snake_case")]
    enum Action {
        Admin { name: String },
        Rename(String),
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Owner,
        Viewer,
    }

    /// Swallows any error of the inner decode, findings included.
    fn lenient<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Inner>, D::Error> {
        Ok(Inner::deserialize(de).ok())
    }

    fn deep_body(json: &str, options: &StrictOptions) -> String {
        match decode_json_unvalidated::<Deep>(json.as_bytes(), options) {
            Ok(_) => "ok".to_owned(),
            Err(err) => GuardError::from(err).public_body(),
        }
    }

    fn fields(list: &[(&str, &str)]) -> String {
        let list: Vec<String> = list
            .iter()
            .map(|(path, code)| format!(r#""{path}":["{code}"]"#))
            .collect();
        format!(
            r#"{{"error":"invalid_input","fields":{{{}}}}}"#,
            list.join(",")
        )
    }

    #[test]
    fn the_single_pass_misses_no_identity_key() {
        let options = StrictOptions::new();
        let table = [
            // Inside an unknown object and an unknown array of objects: the
            // unknown field and the identity key inside it are both listed.
            (
                r#"{"extra":{"user_id":1}}"#,
                fields(&[("extra", UNKNOWN_FIELD), ("extra.user_id", IDENTITY_FIELD)]),
            ),
            (
                r#"{"extra":[{"a":1},{"b":{"tenantId":2}}]}"#,
                fields(&[
                    ("extra", UNKNOWN_FIELD),
                    ("extra[1].b.tenantId", IDENTITY_FIELD),
                ]),
            ),
            // Declared by a nested struct, and not declared, in a list.
            (
                r#"{"inner":{"name":"x","owner_id":1}}"#,
                fields(&[("inner.owner_id", IDENTITY_FIELD)]),
            ),
            (
                r#"{"list":[{"name":"a"},{"name":"b","userId":3}]}"#,
                fields(&[("list[1].userId", IDENTITY_FIELD)]),
            ),
            // Map-typed fields: in a value, and as the key itself, whatever
            // the key type.
            (
                r#"{"map":{"k":{"is_admin":true}}}"#,
                fields(&[("map.k.is_admin", IDENTITY_FIELD)]),
            ),
            (
                r#"{"map":{"ROLE":{"name":"a"}}}"#,
                fields(&[("map.ROLE", IDENTITY_FIELD)]),
            ),
            (
                r#"{"nums":{"1":"a","user_id":"b"}}"#,
                fields(&[("nums.user_id", IDENTITY_FIELD)]),
            ),
            (
                r#"{"keyed":{"owner-id":"x"}}"#,
                fields(&[("keyed.owner-id", IDENTITY_FIELD)]),
            ),
            (
                r#"{"meta":{"a":[{"b":{"permissions":[]}}]}}"#,
                fields(&[("meta.a[0].b.permissions", IDENTITY_FIELD)]),
            ),
            // An enum variant as a key, an element of a tuple, an escaped key.
            (
                r#"{"action":{"admin":{"name":"x"}}}"#,
                fields(&[("action.admin", IDENTITY_FIELD)]),
            ),
            (
                r#"{"tuple":[1,{"name":"a","admin":true}]}"#,
                fields(&[("tuple[1].admin", IDENTITY_FIELD)]),
            ),
            (
                r#"{"us\u0065r_id":1}"#,
                fields(&[("user_id", IDENTITY_FIELD)]),
            ),
            // A `Deserialize` impl that swallows the error of a finding.
            (
                r#"{"lenient":{"name":"a","user_id":1}}"#,
                fields(&[("lenient.user_id", IDENTITY_FIELD)]),
            ),
            (
                r#"{"lenient":{"name":"a","zzz":1}}"#,
                fields(&[("lenient.zzz", UNKNOWN_FIELD)]),
            ),
        ];
        for (json, want) in &table {
            assert_eq!(&deep_body(json, &options), want, "{json}");
        }
        // Identity names as values, and as the name of a unit variant (a
        // value in JSON), are data.
        for json in [
            r#"{"meta":["role","admin",{"k":"owner_id"}]}"#,
            r#"{"kind":"owner","action":{"rename":"admin"},"title":"user_id"}"#,
            r#"{"map":{"k":{"name":"role"}},"nums":{"7":"is_admin"}}"#,
        ] {
            assert_eq!(deep_body(json, &options), "ok", "{json}");
        }
    }

    #[test]
    fn an_opt_in_holds_at_any_depth() {
        let options = StrictOptions::new().allow_identity_field("role").unwrap();
        for json in [
            r#"{"inner":{"role":"editor"}}"#,
            r#"{"list":[{"name":"a","role":"x"}],"map":{"role":{"role":"y"}}}"#,
            r#"{"meta":{"a":[{"role":1}]}}"#,
        ] {
            assert_eq!(deep_body(json, &options), "ok", "{json}");
        }
        // Allowed, but not declared there: still an unknown field.
        assert_eq!(
            deep_body(r#"{"role":"x"}"#, &options),
            fields(&[("role", UNKNOWN_FIELD)])
        );
        // Other spellings and other names stay refused.
        assert_eq!(
            deep_body(r#"{"inner":{"Role":"x"}}"#, &options),
            fields(&[("inner.Role", IDENTITY_FIELD)])
        );
        assert_eq!(
            deep_body(r#"{"inner":{"role":"x","owner_id":1}}"#, &options),
            fields(&[("inner.owner_id", IDENTITY_FIELD)])
        );
    }

    /// The single pass decides clean input alone, and hands anything to
    /// report to the reporting passes, whose answer is the answer.
    #[test]
    fn the_single_pass_agrees_with_the_reporting_passes() {
        let floods: Vec<String> = [r#""k{i}":1"#, r#""user_id{i}":1,"role":{i}"#]
            .iter()
            .map(|entry| {
                let keys: Vec<String> = (0..100)
                    .map(|i| entry.replace("{i}", &i.to_string()))
                    .collect();
                format!(r#"{{"title":"a",{}}}"#, keys.join(","))
            })
            .collect();
        let nested =
            |depth: usize| format!(r#"{{"meta":{}1{}}}"#, "[".repeat(depth), "]".repeat(depth));
        let (shallow, too_deep) = (nested(100), nested(200));
        let clean = [
            r#"{}"#,
            r#"{"title":"a","inner":null,"list":[],"map":{},"meta":null}"#,
            r#"{"list":[{"name":"a"}],"map":{"<a b>":{"name":"x"}},"nums":{"3":"x"}}"#,
            r#"{"keyed":{"k":"v"},"meta":{"a":{"b":[1,2.5,"c",null,true]}}}"#,
            r#"{"kind":"viewer","action":{"rename":"r"},"tuple":[1,{"name":"a"}]}"#,
            r#"{"kind":"owner"}"#,
            r#"{"lenient":{"name":"a"}}"#,
            shallow.as_str(),
        ];
        let refused = [
            r#"{"title":"a","user_id":1,"#,
            r#"{"title":"a"} x"#,
            r#"{"title":5}"#,
            r#"{"inner":{"name":"x"},"inner":{"name":"y"}}"#,
            r#"{"user_id":1,"title":5}"#,
            r#"{"map":{"<a>":{"name":"a","x":1}}}"#,
            r#"{"nums":{"x":"a"}}"#,
            r#"{"kind":"admin"}"#,
            r#"{"action":{"admin":{"name":"x","role":1}}}"#,
            r#"{"lenient":{"name":"a","owner":{"user_id":1}}}"#,
            r#"{"meta":{"a":1,"a":{"role":2}}}"#,
            floods[0].as_str(),
            floods[1].as_str(),
            too_deep.as_str(),
        ];
        let options = [
            StrictOptions::new(),
            StrictOptions::new().allow_identity_field("role").unwrap(),
        ];
        let show =
            |r: Result<(Deep, FieldErrors), InputError>| r.map(|(v, f)| (format!("{v:?}"), f));
        for options in &options {
            for json in clean.iter().chain(&refused) {
                let bytes = json.as_bytes();
                let reporting = show(decode_reporting::<Deep>(bytes, options));
                assert_eq!(
                    show(decode_collecting::<Deep>(bytes, options)),
                    reporting,
                    "{json}"
                );
                let fast = decode_fast::<Deep>(bytes, options).is_some();
                let want = matches!(&reporting, Ok((_, f)) if f.is_empty());
                assert_eq!(fast, want, "{json}");
            }
            for json in clean {
                assert!(
                    decode_fast::<Deep>(json.as_bytes(), options).is_some(),
                    "{json}"
                );
            }
        }
    }

    #[test]
    fn a_flood_of_unknown_keys_gets_a_bounded_answer() {
        let options = StrictOptions::new();
        let keys: Vec<String> = (0..1000).map(|i| format!(r#""k{i}":1"#)).collect();
        let json = format!(r#"{{"title":"a",{}}}"#, keys.join(","));
        let err = decode_json_strict::<Project>(json.as_bytes(), &options).unwrap_err();
        assert_eq!(
            err.fields().unwrap().len(),
            crate::validate::MAX_LISTED_FIELDS
        );
    }
}
