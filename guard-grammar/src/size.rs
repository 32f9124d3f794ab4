//! The byte-size grammar shared by `upload(max = "5MiB")`, `body_limit` and
//! the runtime; see [`ByteSize`]. It allocates nothing and its parser is a
//! `const fn`, so the macro reports at compile time the errors the runtime
//! would.

use core::fmt;
use core::num::NonZeroU64;
use core::str::FromStr;

/// How the accepted forms read in every error message.
const ACCEPTED_FORMS: &str = "expected a whole number followed by one of B, kB, KB, MB, GB, TB, \
     KiB, MiB, GiB, TiB (case-sensitive), e.g. \"5MiB\" or \"512 KiB\"";

/// The units, spelled as the grammar accepts them, with their multipliers.
const UNITS: [(&str, u64); 10] = [
    ("B", 1),
    ("kB", 1_000),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

/// The units [`ByteSize`]'s `Display` may choose, largest multiplier first,
/// so that a value prints with the largest unit that divides it exactly.
const DISPLAY_UNITS: [(&str, u64); 9] = [
    ("TiB", 1 << 40),
    ("TB", 1_000_000_000_000),
    ("GiB", 1 << 30),
    ("GB", 1_000_000_000),
    ("MiB", 1 << 20),
    ("MB", 1_000_000),
    ("KiB", 1 << 10),
    ("kB", 1_000),
    ("B", 1),
];

/// A positive number of bytes, such as an upload cap.
///
/// Parse it with [`ByteSize::parse`] or [`str::parse`] from the grammar that
/// `upload(max = "...")` uses too:
///
/// ```text
/// size   = number [ " " ] unit        ; at most one ASCII space between
/// number = 1*DIGIT                    ; a whole number, leading zeros allowed
/// unit   = "B"
///        / "kB" / "KB" / "MB" / "GB" / "TB"      ; powers of 1000
///        / "KiB" / "MiB" / "GiB" / "TiB"         ; powers of 1024
/// ```
///
/// Units are case-sensitive: `"5Mb"` or `"5mb"` could mean megabits, and a
/// cap off by a factor of eight is a silent misconfiguration, so only the
/// spellings above parse. `kB` (the SI spelling) and `KB` mean the same. A
/// bare number, a fraction (`"1.5MiB"`), surrounding whitespace, zero and
/// anything that overflows `u64` are refused, each with an error naming the
/// accepted forms. `Display` prints the canonical form, which parses back to
/// the same value.
///
/// ```
/// use guard_grammar::size::ByteSize;
///
/// let cap = ByteSize::parse("5MiB").unwrap();
/// assert_eq!(cap.get(), 5 * 1024 * 1024);
/// assert!(cap.allows(5 * 1024 * 1024));
/// assert!(!cap.allows(5 * 1024 * 1024 + 1));
/// assert_eq!(cap.to_string(), "5MiB");
/// assert!(ByteSize::parse("5mb").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(NonZeroU64);

impl ByteSize {
    /// A size of exactly `bytes` bytes; zero is unrepresentable.
    #[must_use]
    pub const fn from_bytes(bytes: NonZeroU64) -> Self {
        Self(bytes)
    }

    /// Parses the grammar described on [`ByteSize`].
    ///
    /// `const` so that generated code can evaluate a literal at compile time.
    ///
    /// # Errors
    ///
    /// [`ByteSizeError`] when the text is not `number [" "] unit`, the unit is
    /// unknown, or the value is zero or overflows `u64`.
    pub const fn parse(text: &str) -> Result<Self, ByteSizeError> {
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return Err(ByteSizeError::Empty);
        }
        if is_space(bytes[0]) || is_space(bytes[bytes.len() - 1]) {
            return Err(ByteSizeError::Whitespace);
        }

        let mut number: u64 = 0;
        let mut i = 0;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            let digit = (bytes[i] - b'0') as u64;
            number = match number.checked_mul(10) {
                Some(n) => match n.checked_add(digit) {
                    Some(n) => n,
                    None => return Err(ByteSizeError::Overflow),
                },
                None => return Err(ByteSizeError::Overflow),
            };
            i += 1;
        }
        if i == 0 {
            return Err(ByteSizeError::MissingNumber);
        }
        if i < bytes.len() && (bytes[i] == b'.' || bytes[i] == b',') {
            return Err(ByteSizeError::Fractional);
        }
        if i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        if i == bytes.len() {
            return Err(ByteSizeError::MissingUnit);
        }
        if is_space(bytes[i]) {
            return Err(ByteSizeError::Whitespace);
        }

        let (_, unit) = bytes.split_at(i);
        let multiplier = match unit_multiplier(unit) {
            Some(m) => m,
            None => return Err(ByteSizeError::UnknownUnit),
        };
        let total = match number.checked_mul(multiplier) {
            Some(total) => total,
            None => return Err(ByteSizeError::Overflow),
        };
        match NonZeroU64::new(total) {
            Some(n) => Ok(Self(n)),
            None => Err(ByteSizeError::Zero),
        }
    }

    /// The number of bytes.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0.get()
    }

    /// The number of bytes, as a `NonZeroU64`.
    #[must_use]
    pub const fn as_nonzero(self) -> NonZeroU64 {
        self.0
    }

    /// The number of bytes as a `usize`, saturating on targets where it does
    /// not fit (a cap larger than the address space caps nothing anyway).
    #[must_use]
    pub const fn to_usize_saturating(self) -> usize {
        if self.0.get() > usize::MAX as u64 {
            usize::MAX
        } else {
            self.0.get() as usize
        }
    }

    /// Whether a body of `len` bytes is within this cap: a file exactly at
    /// the cap is allowed, one byte more is not.
    #[must_use]
    pub const fn allows(self, len: u64) -> bool {
        len <= self.0.get()
    }
}

impl FromStr for ByteSize {
    type Err = ByteSizeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for ByteSize {
    /// The canonical form: the largest unit that divides the value exactly,
    /// with no space (`5MiB`, `1500kB`, `1001B`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0.get();
        for (name, multiplier) in DISPLAY_UNITS {
            if bytes.is_multiple_of(multiplier) {
                return write!(f, "{}{name}", bytes / multiplier);
            }
        }
        // Unreachable in practice: "B" divides everything.
        write!(f, "{bytes}B")
    }
}

/// Why a byte size did not parse. Every message names the accepted forms.
///
/// At compile time this is the `upload(max = ...)` error; at runtime a
/// configuration error. It never reaches a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ByteSizeError {
    /// The text is empty.
    Empty,
    /// The text does not start with a digit (`"MiB"`, `"-5MiB"`, `"+5MiB"`).
    MissingNumber,
    /// A number with no unit (`"512"`): bytes must be said explicitly.
    MissingUnit,
    /// The unit is not one of the accepted spellings (`"5mb"`, `"5M"`).
    UnknownUnit,
    /// A fractional number (`"1.5MiB"`).
    Fractional,
    /// Leading or trailing whitespace, or more than one space before the unit.
    Whitespace,
    /// The size is zero: a cap of nothing refuses every upload.
    Zero,
    /// The size does not fit in a `u64`.
    Overflow,
}

impl fmt::Display for ByteSizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Self::Empty => "byte size is empty",
            Self::MissingNumber => "byte size must start with a whole number",
            Self::MissingUnit => "byte size has no unit",
            Self::UnknownUnit => "unknown byte-size unit",
            Self::Fractional => {
                "byte size must be a whole number of units (write 1536KiB, not 1.5MiB)"
            }
            Self::Whitespace => {
                "byte size has leading, trailing or repeated whitespace (at most one space before the unit)"
            }
            Self::Zero => "byte size must be greater than zero",
            Self::Overflow => "byte size is too large (more than 2^64 - 1 bytes)",
        };
        write!(f, "{what}; {ACCEPTED_FORMS}")
    }
}

impl std::error::Error for ByteSizeError {}

const fn is_space(byte: u8) -> bool {
    byte.is_ascii_whitespace()
}

/// The multiplier of a unit spelled exactly as the grammar accepts it.
const fn unit_multiplier(unit: &[u8]) -> Option<u64> {
    let mut i = 0;
    while i < UNITS.len() {
        let (name, multiplier) = UNITS[i];
        if bytes_eq(name.as_bytes(), unit) {
            return Some(multiplier);
        }
        i += 1;
    }
    None
}

const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_with_and_without_a_space() {
        let cases: &[(&str, u64)] = &[
            ("512B", 512),
            ("1B", 1),
            ("1kB", 1_000),
            ("1KB", 1_000),
            ("1MB", 1_000_000),
            ("2GB", 2_000_000_000),
            ("1TB", 1_000_000_000_000),
            ("64KiB", 64 * 1024),
            ("5MiB", 5 * 1024 * 1024),
            ("1GiB", 1 << 30),
            ("3TiB", 3 << 40),
            ("10 KiB", 10 * 1024),
            ("512 B", 512),
            ("007MiB", 7 << 20),
            ("18446744073709551615B", u64::MAX),
        ];
        for (text, bytes) in cases {
            assert_eq!(
                ByteSize::parse(text).map(ByteSize::get),
                Ok(*bytes),
                "{text}"
            );
            assert_eq!(
                text.parse::<ByteSize>().map(ByteSize::get),
                Ok(*bytes),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_malformed_sizes_with_the_reason() {
        use ByteSizeError as E;
        let cases: &[(&str, ByteSizeError)] = &[
            ("", E::Empty),
            ("MiB", E::MissingNumber),
            ("-5MiB", E::MissingNumber),
            ("+5MiB", E::MissingNumber),
            ("512", E::MissingUnit),
            ("512 ", E::Whitespace),
            ("5mb", E::UnknownUnit),
            ("5Mb", E::UnknownUnit),
            ("5mib", E::UnknownUnit),
            ("5M", E::UnknownUnit),
            ("5 MiBs", E::UnknownUnit),
            ("5MiB ", E::Whitespace),
            (" 5MiB", E::Whitespace),
            ("5  MiB", E::Whitespace),
            ("5\tMiB", E::Whitespace),
            ("1.5MiB", E::Fractional),
            ("1,5MiB", E::Fractional),
            ("5_000B", E::UnknownUnit),
            ("0B", E::Zero),
            ("0MiB", E::Zero),
            ("000 KiB", E::Zero),
            ("18446744073709551616B", E::Overflow),
            ("99999999999999999999999KiB", E::Overflow),
            ("16777216TiB", E::Overflow),
        ];
        for (text, error) in cases {
            assert_eq!(ByteSize::parse(text), Err(*error), "{text:?}");
        }
    }

    #[test]
    fn every_error_message_names_the_accepted_forms() {
        for text in ["", "5mb", "0B", "1.5MiB", "512", "99999999999999999999TiB"] {
            let Err(error) = ByteSize::parse(text) else {
                panic!("{text:?} parsed");
            };
            let message = error.to_string();
            assert!(message.contains("KiB, MiB"), "{message}");
            assert!(message.contains("\"5MiB\""), "{message}");
        }
    }

    #[test]
    fn displays_the_largest_exact_unit_and_round_trips() {
        let cases: &[(u64, &str)] = &[
            (1, "1B"),
            (1001, "1001B"),
            (1000, "1kB"),
            (1024, "1KiB"),
            (1_500_000, "1500kB"),
            (2_048_000, "2000KiB"),
            (5 << 20, "5MiB"),
            (1_000_000_000_000, "1TB"),
            (u64::MAX, "18446744073709551615B"),
        ];
        for (bytes, shown) in cases {
            let Some(n) = NonZeroU64::new(*bytes) else {
                panic!("zero in table");
            };
            let size = ByteSize::from_bytes(n);
            assert_eq!(size.to_string(), *shown);
            assert_eq!(ByteSize::parse(shown), Ok(size));
        }
    }

    #[test]
    fn allows_exactly_the_cap_and_refuses_one_more() {
        let cap = ByteSize::parse("1KiB").unwrap();
        assert!(cap.allows(0));
        assert!(cap.allows(1024));
        assert!(!cap.allows(1025));
        assert!(!cap.allows(u64::MAX));
    }

    #[test]
    fn parses_in_a_const_context() {
        const CAP: ByteSize = match ByteSize::parse("64KiB") {
            Ok(cap) => cap,
            Err(_) => panic!("bad literal"),
        };
        assert_eq!(CAP.get(), 65_536);
        assert_eq!(CAP.to_usize_saturating(), 65_536);
    }
}
