//! The rate grammar's parser and its refusals: what is wrong, where, and
//! the accepted forms, in the one wording the macro and the runtime share.

use core::fmt;
use core::num::NonZeroU32;
use core::ops::Range;

use super::RateUnit;

/// How the accepted rate forms read in every error message.
const RATE_FORMS: &str = "expected `<count>/<unit>` with unit s, min, h or day, \
     optionally followed by `, burst = <n>` (e.g. `10/min`, `5/s, burst = 10`)";

/// How the accepted quota forms read in every error message.
const QUOTA_FORMS: &str = "expected `<count>/<unit>` with unit s, min, h or day \
     (e.g. `1000/day`); a quota takes no burst";

/// What is wrong with a rate or quota string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateSpecProblem {
    /// Nothing but whitespace.
    Empty,
    /// No count before the `/`.
    MissingCount,
    /// The count is not a whole number (`ten/min`, `1.5/s`).
    InvalidCount,
    /// The count is negative.
    NegativeCount,
    /// The count is zero.
    ZeroCount,
    /// The count is larger than `u32::MAX`.
    CountTooLarge,
    /// No `/` after the count.
    MissingSlash,
    /// Nothing after the `/`.
    MissingUnit,
    /// The unit is not one of the accepted spellings (`10/minn`).
    UnknownUnit,
    /// Something other than `burst` follows the `,`.
    UnknownOption,
    /// `burst` is not followed by `=`.
    MissingEquals,
    /// No number after `burst =`.
    MissingBurst,
    /// The burst is not a whole number.
    InvalidBurst,
    /// The burst is negative.
    NegativeBurst,
    /// The burst is zero.
    ZeroBurst,
    /// The burst is larger than `u32::MAX`.
    BurstTooLarge,
    /// A quota was given a burst.
    BurstNotAllowed,
    /// Text follows a complete spec.
    TrailingInput,
}

impl RateSpecProblem {
    const fn message(self) -> &'static str {
        match self {
            Self::Empty => "empty rate",
            Self::MissingCount => "missing count before `/`",
            Self::InvalidCount => "the count is not a whole number",
            Self::NegativeCount => "the count is negative",
            Self::ZeroCount => "the count is zero",
            Self::CountTooLarge => "the count is larger than 4294967295",
            Self::MissingSlash => "missing `/` after the count",
            Self::MissingUnit => "missing unit after `/`",
            Self::UnknownUnit => "unknown unit",
            Self::UnknownOption => "unknown option after `,` (only `burst` is accepted)",
            Self::MissingEquals => "missing `=` after `burst`",
            Self::MissingBurst => "missing number after `burst =`",
            Self::InvalidBurst => "the burst is not a whole number",
            Self::NegativeBurst => "the burst is negative",
            Self::ZeroBurst => "the burst is zero",
            Self::BurstTooLarge => "the burst is larger than 4294967295",
            Self::BurstNotAllowed => "a quota takes no burst",
            Self::TrailingInput => "unexpected text after the rate",
        }
    }
}

/// A rate or quota string outside the grammar. `Display` names the problem
/// and the accepted forms; [`Self::span`] locates the offending text, so the
/// macro and a configuration loader can quote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateSpecError {
    problem: RateSpecProblem,
    start: usize,
    end: usize,
    quota: bool,
}

impl RateSpecError {
    const fn new(problem: RateSpecProblem, start: usize, end: usize, quota: bool) -> Self {
        Self {
            problem,
            start,
            end,
            quota,
        }
    }

    /// What is wrong.
    #[must_use]
    pub const fn problem(&self) -> RateSpecProblem {
        self.problem
    }

    /// The byte range of the offending text in the parsed string (empty
    /// where something is missing); always on `char` boundaries.
    #[must_use]
    pub const fn span(&self) -> Range<usize> {
        self.start..self.end
    }
}

impl fmt::Display for RateSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let forms = if self.quota { QUOTA_FORMS } else { RATE_FORMS };
        write!(f, "{}; {forms}", self.problem.message())
    }
}

impl std::error::Error for RateSpecError {}

/// The fields of a parsed spec before it becomes a [`RateSpec`](super::RateSpec)
/// or a [`QuotaSpec`](super::QuotaSpec).
pub(super) struct Parsed {
    pub(super) count: NonZeroU32,
    pub(super) unit: RateUnit,
    pub(super) burst: Option<NonZeroU32>,
}

const fn is_space(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// Bytes that end a word. Every other byte, non-ASCII included, belongs to
/// the word, so word boundaries always fall on `char` boundaries.
const fn is_delimiter(byte: u8) -> bool {
    is_space(byte) || byte == b'/' || byte == b',' || byte == b'='
}

const fn skip_spaces(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && is_space(bytes[pos]) {
        pos += 1;
    }
    pos
}

const fn word_end(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && !is_delimiter(bytes[pos]) {
        pos += 1;
    }
    pos
}

/// `bytes[start..end]`, or empty if the range is out of bounds (it never is).
const fn sub(bytes: &[u8], start: usize, end: usize) -> &[u8] {
    match bytes.split_at_checked(end) {
        Some((head, _)) => match head.split_at_checked(start) {
            Some((_, word)) => word,
            None => &[],
        },
        None => &[],
    }
}

/// The problems a number can have, as (missing, invalid, negative, zero, too large).
type NumberProblems = [RateSpecProblem; 5];

const COUNT_PROBLEMS: NumberProblems = [
    RateSpecProblem::MissingCount,
    RateSpecProblem::InvalidCount,
    RateSpecProblem::NegativeCount,
    RateSpecProblem::ZeroCount,
    RateSpecProblem::CountTooLarge,
];

const BURST_PROBLEMS: NumberProblems = [
    RateSpecProblem::MissingBurst,
    RateSpecProblem::InvalidBurst,
    RateSpecProblem::NegativeBurst,
    RateSpecProblem::ZeroBurst,
    RateSpecProblem::BurstTooLarge,
];

/// A whole number in `1..=u32::MAX`; leading zeros are allowed.
const fn parse_number(
    word: &[u8],
    problems: NumberProblems,
) -> Result<NonZeroU32, RateSpecProblem> {
    let [missing, invalid, negative, zero, too_large] = problems;
    if word.is_empty() {
        return Err(missing);
    }
    let mut digits = word;
    let negated = word[0] == b'-';
    if negated {
        digits = sub(word, 1, word.len());
        if digits.is_empty() {
            return Err(invalid);
        }
    }
    let mut value: u32 = 0;
    let mut overflow = false;
    let mut i = 0;
    while i < digits.len() {
        let byte = digits[i];
        if !byte.is_ascii_digit() {
            return Err(invalid);
        }
        // Keep scanning after an overflow so `99999999999x` reports the
        // stray `x`, not the size.
        match value.checked_mul(10) {
            Some(shifted) => match shifted.checked_add((byte - b'0') as u32) {
                Some(next) => value = next,
                None => overflow = true,
            },
            None => overflow = true,
        }
        i += 1;
    }
    if negated {
        // `-0` is as wrong as `-5`: a sign has no place in the grammar.
        return Err(negative);
    }
    if overflow {
        return Err(too_large);
    }
    match NonZeroU32::new(value) {
        Some(value) => Ok(value),
        None => Err(zero),
    }
}

pub(super) const fn parse_spec(bytes: &[u8], quota: bool) -> Result<Parsed, RateSpecError> {
    let len = bytes.len();
    let mut pos = skip_spaces(bytes, 0);
    if pos == len {
        return Err(RateSpecError::new(RateSpecProblem::Empty, 0, len, quota));
    }

    // count
    let start = pos;
    pos = word_end(bytes, pos);
    let count = match parse_number(sub(bytes, start, pos), COUNT_PROBLEMS) {
        Ok(count) => count,
        Err(problem) => return Err(RateSpecError::new(problem, start, pos, quota)),
    };

    // "/"
    pos = skip_spaces(bytes, pos);
    if pos == len || bytes[pos] != b'/' {
        let end = word_end(bytes, pos);
        return Err(RateSpecError::new(
            RateSpecProblem::MissingSlash,
            pos,
            end,
            quota,
        ));
    }
    pos = skip_spaces(bytes, pos + 1);

    // unit
    let start = pos;
    pos = word_end(bytes, pos);
    if start == pos {
        return Err(RateSpecError::new(
            RateSpecProblem::MissingUnit,
            start,
            pos,
            quota,
        ));
    }
    let unit = match RateUnit::from_bytes(sub(bytes, start, pos)) {
        Some(unit) => unit,
        None => {
            return Err(RateSpecError::new(
                RateSpecProblem::UnknownUnit,
                start,
                pos,
                quota,
            ));
        }
    };

    pos = skip_spaces(bytes, pos);
    if pos == len {
        return Ok(Parsed {
            count,
            unit,
            burst: None,
        });
    }
    if bytes[pos] != b',' {
        return Err(RateSpecError::new(
            RateSpecProblem::TrailingInput,
            pos,
            len,
            quota,
        ));
    }

    // ", burst = n"
    pos = skip_spaces(bytes, pos + 1);
    let start = pos;
    pos = word_end(bytes, pos);
    let option = sub(bytes, start, pos);
    let is_burst = matches!(option, b"burst");
    if !is_burst {
        return Err(RateSpecError::new(
            RateSpecProblem::UnknownOption,
            start,
            pos,
            quota,
        ));
    }
    if quota {
        return Err(RateSpecError::new(
            RateSpecProblem::BurstNotAllowed,
            start,
            len,
            quota,
        ));
    }
    pos = skip_spaces(bytes, pos);
    if pos == len || bytes[pos] != b'=' {
        return Err(RateSpecError::new(
            RateSpecProblem::MissingEquals,
            pos,
            pos,
            quota,
        ));
    }
    pos = skip_spaces(bytes, pos + 1);
    let start = pos;
    pos = word_end(bytes, pos);
    let burst = match parse_number(sub(bytes, start, pos), BURST_PROBLEMS) {
        Ok(burst) => burst,
        Err(problem) => return Err(RateSpecError::new(problem, start, pos, quota)),
    };

    pos = skip_spaces(bytes, pos);
    if pos != len {
        return Err(RateSpecError::new(
            RateSpecProblem::TrailingInput,
            pos,
            len,
            quota,
        ));
    }
    Ok(Parsed {
        count,
        unit,
        burst: Some(burst),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::{QuotaSpec, RateSpec};

    #[test]
    fn refuses_every_malformed_form_with_its_problem() {
        use RateSpecProblem as P;
        let table: &[(&str, RateSpecProblem, Range<usize>)] = &[
            ("", P::Empty, 0..0),
            ("   ", P::Empty, 0..3),
            ("/min", P::MissingCount, 0..0),
            ("0/min", P::ZeroCount, 0..1),
            ("000/min", P::ZeroCount, 0..3),
            ("ten/min", P::InvalidCount, 0..3),
            ("1.5/s", P::InvalidCount, 0..3),
            ("+5/s", P::InvalidCount, 0..2),
            ("-5/min", P::NegativeCount, 0..2),
            ("-0/min", P::NegativeCount, 0..2),
            ("-/min", P::InvalidCount, 0..1),
            ("4294967296/s", P::CountTooLarge, 0..10),
            ("99999999999999999999/s", P::CountTooLarge, 0..20),
            ("1 0/min", P::MissingSlash, 2..3),
            ("10", P::MissingSlash, 2..2),
            ("10 min", P::MissingSlash, 3..6),
            ("10/", P::MissingUnit, 3..3),
            ("10/minn", P::UnknownUnit, 3..7),
            ("10/MIN", P::UnknownUnit, 3..6),
            ("10/mins", P::UnknownUnit, 3..7),
            ("10/ms", P::UnknownUnit, 3..5),
            ("10/mín", P::UnknownUnit, 3..7),
            ("10/min extra", P::TrailingInput, 7..12),
            ("10/min/s", P::TrailingInput, 6..8),
            ("10/min,", P::UnknownOption, 7..7),
            ("10/min, burts = 3", P::UnknownOption, 8..13),
            ("10/min, burst", P::MissingEquals, 13..13),
            ("10/min, burst 3", P::MissingEquals, 14..14),
            ("10/min, burst =", P::MissingBurst, 15..15),
            ("10/min, burst = 0", P::ZeroBurst, 16..17),
            ("10/min, burst = -1", P::NegativeBurst, 16..18),
            ("10/min, burst = x", P::InvalidBurst, 16..17),
            ("10/min, burst = 4294967296", P::BurstTooLarge, 16..26),
            ("10/min, burst = 3 4", P::TrailingInput, 18..19),
            ("10/min, burst = 3, burst = 4", P::TrailingInput, 17..28),
        ];
        for (text, problem, span) in table {
            let err = RateSpec::parse(text).expect_err(text);
            assert_eq!(err.problem(), *problem, "{text:?}");
            assert_eq!(err.span(), span.clone(), "{text:?}");
            assert!(
                text.get(err.span()).is_some(),
                "{text:?}: span on a char boundary"
            );
        }
    }

    #[test]
    fn error_names_the_problem_and_the_accepted_forms() {
        let err = RateSpec::parse("10/minn").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown unit; expected `<count>/<unit>` with unit s, min, h or day, optionally \
             followed by `, burst = <n>` (e.g. `10/min`, `5/s, burst = 10`)"
        );
        let err = QuotaSpec::parse("0/day").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the count is zero; expected `<count>/<unit>` with unit s, min, h or day \
             (e.g. `1000/day`); a quota takes no burst"
        );
    }
}
