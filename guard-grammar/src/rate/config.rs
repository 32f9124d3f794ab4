//! Rates and quotas in configuration files (the `serde` feature): both
//! (de)serialize as their canonical string, so an operator writes `"POST /api/login" = "5/min"` and
//! a malformed value fails loading with the same message the macro gives.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

use super::{QuotaSpec, RateSpec, RateSpecError};

impl Serialize for RateSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for QuotaSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Parses a string with `parse`, quoting the offending input in the error.
struct SpecVisitor<T> {
    what: &'static str,
    parse: fn(&str) -> Result<T, RateSpecError>,
}

impl<T> Visitor<'_> for SpecVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} such as \"10/min\"", self.what)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        (self.parse)(text)
            .map_err(|err| E::custom(format_args!("invalid {} {text:?}: {err}", self.what)))
    }
}

impl<'de> Deserialize<'de> for RateSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(SpecVisitor {
            what: "rate",
            parse: RateSpec::parse,
        })
    }
}

impl<'de> Deserialize<'de> for QuotaSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(SpecVisitor {
            what: "quota",
            parse: QuotaSpec::parse,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_through_json_as_canonical_strings() {
        let rate: RateSpec = serde_json::from_str("\"5 / sec, burst = 10\"").unwrap();
        assert_eq!(serde_json::to_string(&rate).unwrap(), "\"5/s, burst = 10\"");
        let quota: QuotaSpec = serde_json::from_str("\"1000/days\"").unwrap();
        assert_eq!(serde_json::to_string(&quota).unwrap(), "\"1000/day\"");
    }

    #[test]
    fn malformed_specs_fail_loading_with_the_grammar_message() {
        let err = serde_json::from_str::<RateSpec>("\"10/minn\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid rate \"10/minn\": unknown unit; expected `<count>/<unit>`"),
            "{err}"
        );
        let err = serde_json::from_str::<QuotaSpec>("\"5/day, burst = 2\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a quota takes no burst"), "{err}");
        assert!(serde_json::from_str::<RateSpec>("10").is_err());
    }
}
