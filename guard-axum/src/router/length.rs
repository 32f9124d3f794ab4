//! `Content-Length` values for the default stack without formatting or
//! allocating: `HeaderValue::from(u64)` writes the digits into a fresh
//! buffer on every response (about 220 instructions and one allocation);
//! a length under 10,000 is a slice of one static table of every number
//! below it, which a `HeaderValue` borrows as it would a string literal.

use http::HeaderValue;

/// Lengths below this come from the table.
const LIMIT: usize = 10_000;
/// The digits of 0 to 9,999, one after the other: 10 numbers of one
/// digit, 90 of two, 900 of three and 9,000 of four.
const TABLE_LEN: usize = 10 + 90 * 2 + 900 * 3 + 9_000 * 4;

static DIGITS: [u8; TABLE_LEN] = table();

const fn width(n: usize) -> usize {
    if n < 10 {
        1
    } else if n < 100 {
        2
    } else if n < 1_000 {
        3
    } else {
        4
    }
}

/// Where `n`'s digits start in [`DIGITS`].
const fn offset(n: usize) -> usize {
    match width(n) {
        1 => n,
        2 => 10 + (n - 10) * 2,
        3 => 10 + 90 * 2 + (n - 100) * 3,
        _ => 10 + 90 * 2 + 900 * 3 + (n - 1_000) * 4,
    }
}

const fn table() -> [u8; TABLE_LEN] {
    let mut out = [0; TABLE_LEN];
    let mut n = 0;
    while n < LIMIT {
        let start = offset(n);
        let mut i = width(n);
        let mut rest = n;
        while i > 0 {
            i -= 1;
            out[start + i] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        n += 1;
    }
    out
}

/// The `Content-Length` value for a body of `len` bytes.
pub(crate) fn content_length(len: u64) -> HeaderValue {
    if let Ok(n) = usize::try_from(len)
        && n < LIMIT
    {
        let start = offset(n);
        if let Some(digits) = DIGITS.get(start..start + width(n))
            && let Ok(text) = std::str::from_utf8(digits)
        {
            return HeaderValue::from_static(text);
        }
    }
    HeaderValue::from(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_reads_as_its_decimal_digits() {
        for len in (0..12_000).chain([99_999, 1 << 20, u64::MAX]) {
            assert_eq!(content_length(len), HeaderValue::from(len), "{len}");
        }
    }

    #[test]
    fn lengths_under_the_limit_are_borrowed_not_formatted() {
        // A borrowed value points into the table; a formatted one does not.
        let table = DIGITS.as_ptr_range();
        let borrowed = content_length(4_242);
        assert!(table.contains(&borrowed.as_bytes().as_ptr()));
        let formatted = content_length(10_000);
        assert!(!table.contains(&formatted.as_bytes().as_ptr()));
        assert_eq!(formatted, "10000");
    }
}
