//! Rates and usage ceilings as written: [`RateSpec`] (`"10/min"`,
//! `"5/s, burst = 10"`) and [`QuotaSpec`] (`"1000/day"`), one grammar for
//! `#[secure_route(rate = …)]` at compile time and configuration files at run
//! time. The parser is a `const fn` and needs nothing but `core`, so the
//! proc-macro crate reports exactly the errors the runtime would.

mod parse;

#[cfg(feature = "serde")]
mod config;

use core::fmt;
use core::num::NonZeroU32;
use core::str::FromStr;
use core::time::Duration;

pub use parse::{RateSpecError, RateSpecProblem};

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
/// use guard_grammar::rate::RateSpec;
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
        match parse::parse_spec(text.as_bytes(), false) {
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
    #[must_use]
    pub const fn emission_interval_ns(self) -> u64 {
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
/// row. See guard-core's `QuotaLimiter`.
///
/// Same grammar as [`RateSpec`] without the burst (`1000/day`); a burst is
/// refused, because a ceiling that can be exceeded in a burst is no ceiling.
///
/// ```
/// use guard_grammar::rate::QuotaSpec;
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
        match parse::parse_spec(text.as_bytes(), true) {
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
