// The rate and quota grammar shared by `#[secure_route(rate = "...")]` and the
// runtime. This file depends on `core` and `std` only, has no inner
// attributes or `crate::` paths, and its parser is a `const fn`, so the
// proc-macro crate can `include!` it (or mount it with `#[path]`) and report
// exactly the errors the runtime would. The module docs live in `rate/mod.rs`.

use core::fmt;
use core::num::NonZeroU32;
use core::ops::Range;
use core::str::FromStr;
use core::time::Duration;

/// How the accepted rate forms read in every error message.
const RATE_FORMS: &str = "expected `<count>/<unit>` with unit s, min, h or day, \
     optionally followed by `, burst = <n>` (e.g. `10/min`, `5/s, burst = 10`)";

/// How the accepted quota forms read in every error message.
const QUOTA_FORMS: &str = "expected `<count>/<unit>` with unit s, min, h or day \
     (e.g. `1000/day`); a quota takes no burst";

/// Nanoseconds in one second.
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The period a rate or a quota is counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RateUnit {
    /// One second: `s`, `sec`, `second`, `seconds`.
    Second,
    /// One minute: `min`, `minute`, `minutes`.
    Minute,
    /// One hour: `h`, `hour`, `hours`.
    Hour,
    /// One day of 86 400 seconds: `day`, `days`.
    Day,
}

impl RateUnit {
    /// The unit's length in seconds.
    #[must_use]
    pub const fn as_secs(self) -> u64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
        }
    }

    /// The unit's length.
    #[must_use]
    pub const fn period(self) -> Duration {
        Duration::from_secs(self.as_secs())
    }

    /// The canonical spelling, the one `Display` writes: `s`, `min`, `h`, `day`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Second => "s",
            Self::Minute => "min",
            Self::Hour => "h",
            Self::Day => "day",
        }
    }

    /// Every accepted spelling; case-sensitive, so `10/MIN` is refused rather
    /// than guessed at.
    const fn from_bytes(word: &[u8]) -> Option<Self> {
        match word {
            b"s" | b"sec" | b"second" | b"seconds" => Some(Self::Second),
            b"min" | b"minute" | b"minutes" => Some(Self::Minute),
            b"h" | b"hour" | b"hours" => Some(Self::Hour),
            b"day" | b"days" => Some(Self::Day),
            _ => None,
        }
    }
}

impl fmt::Display for RateUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request rate: `count` requests per `unit`, with bursts of up to `burst`.
///
/// The grammar, shared by `#[secure_route(rate = "...")]` and the runtime:
///
/// ```text
/// rate  = count "/" unit [ "," "burst" "=" count ]   ; spaces and tabs allowed between tokens
/// count = 1*DIGIT                                    ; 1 ..= 4294967295
/// unit  = "s" / "sec" / "second" / "seconds"
///       / "min" / "minute" / "minutes"
///       / "h" / "hour" / "hours"
///       / "day" / "days"
/// ```
///
/// `10/min` means ten requests per minute *with a burst of ten*: a client may
/// send all ten at once and then one more every six seconds. It never means
/// one request every ten minutes. Zero, negative, non-numeric and overflowing
/// counts, unknown units (`10/minn`), a zero burst and trailing text are
/// refused with a [`RateSpecError`] that names the accepted forms; the macro
/// turns it into a compile error at the string.
///
/// ```
/// use std::num::NonZeroU32;
/// use guard_core::rate::RateSpec;
///
/// let spec: RateSpec = "5/s, burst = 10".parse().unwrap();
/// assert_eq!(spec.burst().get(), 10);
/// assert_eq!(spec.to_string(), "5/s, burst = 10");
///
/// const LOGIN: RateSpec = RateSpec::per_minute(NonZeroU32::new(10).unwrap());
/// assert_eq!(LOGIN, RateSpec::parse("10 / minute").unwrap());
/// assert!(RateSpec::parse("10/minn").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateSpec {
    count: NonZeroU32,
    unit: RateUnit,
    burst: NonZeroU32,
}

impl RateSpec {
    /// `count` per `unit`, with a burst of `count`.
    #[must_use]
    pub const fn new(count: NonZeroU32, unit: RateUnit) -> Self {
        Self {
            count,
            unit,
            burst: count,
        }
    }

    /// `count` per second, with a burst of `count`.
    #[must_use]
    pub const fn per_second(count: NonZeroU32) -> Self {
        Self::new(count, RateUnit::Second)
    }

    /// `count` per minute, with a burst of `count`.
    #[must_use]
    pub const fn per_minute(count: NonZeroU32) -> Self {
        Self::new(count, RateUnit::Minute)
    }

    /// `count` per hour, with a burst of `count`.
    #[must_use]
    pub const fn per_hour(count: NonZeroU32) -> Self {
        Self::new(count, RateUnit::Hour)
    }

    /// `count` per day, with a burst of `count`.
    #[must_use]
    pub const fn per_day(count: NonZeroU32) -> Self {
        Self::new(count, RateUnit::Day)
    }

    /// The same rate with a different burst: how many requests may arrive at
    /// once after a quiet spell. It may be smaller or larger than the count.
    #[must_use]
    pub const fn with_burst(self, burst: NonZeroU32) -> Self {
        Self { burst, ..self }
    }

    /// Parses the grammar above. `const`, so a spec can be checked at compile
    /// time: `const R: RateSpec = match RateSpec::parse("10/min") { Ok(r) => r, Err(_) => panic!() };`.
    ///
    /// # Errors
    ///
    /// A [`RateSpecError`] for anything outside the grammar.
    pub const fn parse(text: &str) -> Result<Self, RateSpecError> {
        match parse_spec(text.as_bytes(), false) {
            Ok(parsed) => Ok(Self {
                count: parsed.count,
                unit: parsed.unit,
                burst: match parsed.burst {
                    Some(burst) => burst,
                    None => parsed.count,
                },
            }),
            Err(err) => Err(err),
        }
    }

    /// Requests allowed per unit.
    #[must_use]
    pub const fn count(self) -> NonZeroU32 {
        self.count
    }

    /// The unit the count is per.
    #[must_use]
    pub const fn unit(self) -> RateUnit {
        self.unit
    }

    /// Requests allowed at once.
    #[must_use]
    pub const fn burst(self) -> NonZeroU32 {
        self.burst
    }

    /// The length of the unit.
    #[must_use]
    pub const fn period(self) -> Duration {
        self.unit.period()
    }

    /// The time one request's budget takes to come back: period / count,
    /// rounded up to the nanosecond so the limit is never looser than stated.
    #[must_use]
    pub const fn emission_interval(self) -> Duration {
        Duration::from_nanos(self.emission_interval_ns())
    }

    /// [`Self::emission_interval`] in nanoseconds; at least 1.
    pub(crate) const fn emission_interval_ns(self) -> u64 {
        let period = self.unit.as_secs() * NANOS_PER_SEC;
        let count = self.count.get() as u64;
        let interval = period.div_ceil(count);
        if interval == 0 { 1 } else { interval }
    }
}

impl FromStr for RateSpec {
    type Err = RateSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for RateSpec {
    /// The canonical form, which parses back to the same value: `10/min`, or
    /// `5/s, burst = 10` when the burst differs from the count.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.unit)?;
        if self.burst != self.count {
            write!(f, ", burst = {}", self.burst)?;
        }
        Ok(())
    }
}

/// A hard usage ceiling: at most `count` requests per fixed window of one
/// `unit`, windows aligned to the clock (a `day` window starts at 00:00 UTC
/// with the system clock). Once spent, every request is refused until the
/// window ends, whatever the short-term rate.
///
/// The ceiling is per aligned window, not per sliding one: a span of one
/// `unit` across a window boundary can admit up to **`2 × count`** (`200/day`
/// allows 200 at 23:59:59 and 200 more at 00:00:00), and `n` whole units up
/// to `(n + 1) × count`. The route report states this bound on every quota
/// row. See [`QuotaLimiter`](super::QuotaLimiter).
///
/// Same grammar as [`RateSpec`] without the burst (`1000/day`); a burst is
/// refused, because a ceiling that can be exceeded in a burst is no ceiling.
///
/// ```
/// use guard_core::rate::QuotaSpec;
///
/// let quota = QuotaSpec::parse("1000/day").unwrap();
/// assert_eq!(quota.to_string(), "1000/day");
/// assert!(QuotaSpec::parse("1000/day, burst = 5").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuotaSpec {
    count: NonZeroU32,
    unit: RateUnit,
}

impl QuotaSpec {
    /// `count` requests per window of one `unit`.
    #[must_use]
    pub const fn new(count: NonZeroU32, unit: RateUnit) -> Self {
        Self { count, unit }
    }

    /// `count` per hour.
    #[must_use]
    pub const fn per_hour(count: NonZeroU32) -> Self {
        Self::new(count, RateUnit::Hour)
    }

    /// `count` per day.
    #[must_use]
    pub const fn per_day(count: NonZeroU32) -> Self {
        Self::new(count, RateUnit::Day)
    }

    /// Parses `<count>/<unit>`.
    ///
    /// # Errors
    ///
    /// A [`RateSpecError`] for anything outside the grammar, a burst included.
    pub const fn parse(text: &str) -> Result<Self, RateSpecError> {
        match parse_spec(text.as_bytes(), true) {
            Ok(parsed) => Ok(Self {
                count: parsed.count,
                unit: parsed.unit,
            }),
            Err(err) => Err(err),
        }
    }

    /// Requests allowed per window.
    #[must_use]
    pub const fn count(self) -> NonZeroU32 {
        self.count
    }

    /// The window's unit.
    #[must_use]
    pub const fn unit(self) -> RateUnit {
        self.unit
    }

    /// The window's length.
    #[must_use]
    pub const fn period(self) -> Duration {
        self.unit.period()
    }
}

impl FromStr for QuotaSpec {
    type Err = RateSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for QuotaSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.unit)
    }
}

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

/// The fields of a parsed spec before it becomes a [`RateSpec`] or a [`QuotaSpec`].
struct Parsed {
    count: NonZeroU32,
    unit: RateUnit,
    burst: Option<NonZeroU32>,
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

const fn parse_spec(bytes: &[u8], quota: bool) -> Result<Parsed, RateSpecError> {
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

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn accepts_every_documented_form() {
        let table: &[(&str, u32, RateUnit, u32)] = &[
            ("10/min", 10, RateUnit::Minute, 10),
            ("5/s, burst = 10", 5, RateUnit::Second, 10),
            ("5/s,burst=10", 5, RateUnit::Second, 10),
            ("100/hour", 100, RateUnit::Hour, 100),
            ("1000/day", 1000, RateUnit::Day, 1000),
            ("1/s", 1, RateUnit::Second, 1),
            ("1/sec", 1, RateUnit::Second, 1),
            ("1/second", 1, RateUnit::Second, 1),
            ("2/seconds", 2, RateUnit::Second, 2),
            ("3/minute", 3, RateUnit::Minute, 3),
            ("3/minutes", 3, RateUnit::Minute, 3),
            ("4/h", 4, RateUnit::Hour, 4),
            ("4/hours", 4, RateUnit::Hour, 4),
            ("7/days", 7, RateUnit::Day, 7),
            ("  10 / min  ", 10, RateUnit::Minute, 10),
            ("\t10/min\t,\tburst\t=\t3\t", 10, RateUnit::Minute, 3),
            ("010/min", 10, RateUnit::Minute, 10),
            ("4294967295/s", u32::MAX, RateUnit::Second, u32::MAX),
            ("1/day, burst = 4294967295", 1, RateUnit::Day, u32::MAX),
        ];
        for &(text, count, unit, burst) in table {
            let spec = RateSpec::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(spec.count().get(), count, "{text:?}");
            assert_eq!(spec.unit(), unit, "{text:?}");
            assert_eq!(spec.burst().get(), burst, "{text:?}");
        }
    }

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

    #[test]
    fn display_is_canonical_and_round_trips() {
        let table = [
            ("10/min", "10/min"),
            ("10 / minutes", "10/min"),
            ("5/sec, burst = 10", "5/s, burst = 10"),
            ("5/s, burst = 5", "5/s"),
            ("100/hours", "100/h"),
            ("1000/days", "1000/day"),
            ("007/s", "7/s"),
        ];
        for (text, canonical) in table {
            let spec = RateSpec::parse(text).unwrap();
            assert_eq!(spec.to_string(), canonical);
            assert_eq!(RateSpec::parse(&spec.to_string()), Ok(spec));
        }
    }

    #[test]
    fn const_constructors_match_the_parser() {
        const LOGIN: RateSpec = RateSpec::per_minute(NonZeroU32::new(10).unwrap());
        const PARSED: RateSpec = match RateSpec::parse("10/min") {
            Ok(spec) => spec,
            Err(_) => panic!("invalid"),
        };
        assert_eq!(LOGIN, PARSED);
        assert_eq!(
            RateSpec::per_second(nz(5)).with_burst(nz(10)),
            "5/s, burst = 10".parse().unwrap()
        );
        assert_eq!(RateSpec::per_hour(nz(3)), "3/h".parse().unwrap());
        assert_eq!(RateSpec::per_day(nz(3)), "3/day".parse().unwrap());
        assert_eq!(QuotaSpec::per_day(nz(1000)), "1000/day".parse().unwrap());
        assert_eq!(QuotaSpec::per_hour(nz(2)), "2/hours".parse().unwrap());
    }

    #[test]
    fn ten_per_minute_is_one_every_six_seconds_not_one_every_ten_minutes() {
        let spec = RateSpec::parse("10/min").unwrap();
        assert_eq!(spec.emission_interval(), Duration::from_secs(6));
        assert_eq!(spec.burst().get(), 10);
    }

    #[test]
    fn emission_interval_rounds_up_and_never_reaches_zero() {
        assert_eq!(
            RateSpec::parse("3/s").unwrap().emission_interval_ns(),
            333_333_334
        );
        assert_eq!(
            RateSpec::parse("4294967295/s")
                .unwrap()
                .emission_interval_ns(),
            1
        );
        assert_eq!(
            RateSpec::parse("1/day").unwrap().emission_interval(),
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn quota_refuses_a_burst_and_keeps_the_rate_refusals() {
        use RateSpecProblem as P;
        let table = [
            ("1000/day, burst = 5", P::BurstNotAllowed),
            ("0/day", P::ZeroCount),
            ("ten/day", P::InvalidCount),
            ("10/dayz", P::UnknownUnit),
            ("10/day junk", P::TrailingInput),
        ];
        for (text, problem) in table {
            assert_eq!(
                QuotaSpec::parse(text).unwrap_err().problem(),
                problem,
                "{text:?}"
            );
        }
        let quota = QuotaSpec::parse(" 1000 / day ").unwrap();
        assert_eq!((quota.count().get(), quota.unit()), (1000, RateUnit::Day));
        assert_eq!(quota.period(), Duration::from_secs(86_400));
        assert_eq!(QuotaSpec::parse(&quota.to_string()), Ok(quota));
    }
}
