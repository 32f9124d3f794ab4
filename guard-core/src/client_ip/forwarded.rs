//! The `Forwarded` header (RFC 7239) and the node syntax it shares with
//! `X-Forwarded-For`.
//!
//! Hand-written rather than taken from a crate: `rfc7239` is archived and
//! `forwarded-header-value` has had no release since 2021, and neither
//! parses the way the walk needs: reject a whole value on a stray quote
//! (it shifts every boundary after it), treat two `for=` in one element as
//! no address, and accept the unquoted `for=[2001:db8::1]` proxies write.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::HeaderValue;

/// A node: `192.0.2.60`, `192.0.2.60:8080`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711`, with an obfuscated port (`:_p1`) accepted as in RFC
/// 7239. `None` for anything else, `unknown` and `_hidden` included.
pub(super) fn parse_node(text: &str) -> Option<IpAddr> {
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let v6 = inside.parse::<Ipv6Addr>().ok()?;
        return (after.is_empty() || after.strip_prefix(':').is_some_and(is_port))
            .then_some(IpAddr::V6(v6));
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    // An IPv4 address with a port; a bare IPv6 address has more than one colon.
    let (host, port) = text.split_once(':')?;
    let v4 = host.parse::<Ipv4Addr>().ok()?;
    is_port(port).then_some(IpAddr::V4(v4))
}

/// `1*5DIGIT` within u16, or an RFC 7239 obfuscated port `"_" 1*(ALPHA / DIGIT / "." / "_" / "-")`.
fn is_port(text: &str) -> bool {
    if let Some(obfuscated) = text.strip_prefix('_') {
        return !obfuscated.is_empty()
            && obfuscated
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    }
    !text.is_empty()
        && text.len() <= 5
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<u16>().is_ok()
}

/// Parses one `Forwarded` header value into its elements' `for=` nodes, left
/// to right (`None` for an element without a usable `for=`). Returns `None`
/// if the value is not valid `Forwarded` syntax at all: a stray quote can
/// shift every boundary after it, so no element of such a value is believed.
pub(super) fn parse_forwarded(
    value: &HeaderValue,
    elements: &mut Vec<Option<IpAddr>>,
) -> Option<()> {
    let bytes = value.as_bytes();
    let mut pos = 0;
    loop {
        // One element: pairs separated by ';'.
        let mut node: Option<Option<IpAddr>> = None;
        loop {
            pos = skip_ows(bytes, pos);
            let name_start = pos;
            while bytes.get(pos).is_some_and(|&b| is_tchar(b)) {
                pos += 1;
            }
            let name = bytes.get(name_start..pos)?;
            if !name.is_empty() {
                if bytes.get(pos) != Some(&b'=') {
                    return None;
                }
                pos += 1;
                let (parsed, next) = parse_param_value(bytes, pos)?;
                pos = next;
                if name.eq_ignore_ascii_case(b"for") {
                    if node.is_some() {
                        // Two `for=` in one element: ambiguous.
                        node = Some(None);
                    } else {
                        node = Some(std::str::from_utf8(&parsed).ok().and_then(parse_node));
                    }
                }
            }
            pos = skip_ows(bytes, pos);
            match bytes.get(pos) {
                Some(b';') => pos += 1,
                Some(b',') | None => break,
                Some(_) => return None,
            }
        }
        elements.push(node.flatten());
        match bytes.get(pos) {
            Some(b',') => pos += 1,
            None => return Some(()),
            Some(_) => return None,
        }
    }
}

/// A token or a quoted-string starting at `pos`, unescaped; and the position after it.
fn parse_param_value(bytes: &[u8], mut pos: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    if bytes.get(pos) == Some(&b'"') {
        pos += 1;
        loop {
            match *bytes.get(pos)? {
                b'"' => return Some((out, pos + 1)),
                b'\\' => {
                    out.push(*bytes.get(pos + 1)?);
                    pos += 2;
                }
                b => {
                    out.push(b);
                    pos += 1;
                }
            }
        }
    }
    // Tokens, plus the characters nodes need that proxies write unquoted
    // even though RFC 7239 asks for quotes (`for=[2001:db8::1]`).
    while let Some(&b) = bytes.get(pos) {
        if !(is_tchar(b) || matches!(b, b':' | b'[' | b']')) {
            break;
        }
        out.push(b);
        pos += 1;
    }
    if out.is_empty() {
        None
    } else {
        Some((out, pos))
    }
}

fn skip_ows(bytes: &[u8], mut pos: usize) -> usize {
    while matches!(bytes.get(pos), Some(b' ' | b'\t')) {
        pos += 1;
    }
    pos
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{behind_proxies, headers, ip};

    #[test]
    fn forwarded_matrix() {
        let config = behind_proxies().from_forwarded();
        let table: &[(&str, &[&[u8]], &str)] = &[
            ("203.0.113.9", &[b"for=1.1.1.1"], "203.0.113.9"),
            ("10.0.0.2", &[], "10.0.0.2"),
            (
                "10.0.0.2",
                &[b"for=192.0.2.60;proto=http;by=203.0.113.43"],
                "192.0.2.60",
            ),
            ("10.0.0.2", &[b"For=\"192.0.2.60:8080\""], "192.0.2.60"),
            ("10.0.0.2", &[b"for=\"[2001:db8::1]:4711\""], "2001:db8::1"),
            ("10.0.0.2", &[b"for=\"[2001:db8::1]\""], "2001:db8::1"),
            ("10.0.0.2", &[b"for=[2001:db8::1]"], "2001:db8::1"),
            ("10.0.0.2", &[b"for=\"[2001:db8::1]:_p1\""], "2001:db8::1"),
            ("10.0.0.2", &[b"for=\"\\[2001:db8::1\\]\""], "2001:db8::1"),
            // Several elements and occurrences, right to left.
            (
                "10.0.0.2",
                &[b"for=6.6.6.6, for=198.51.100.7;proto=https, for=10.0.0.3"],
                "198.51.100.7",
            ),
            (
                "10.0.0.2",
                &[b"for=6.6.6.6, for=198.51.100.7", b"for=10.0.0.3"],
                "198.51.100.7",
            ),
            ("10.0.0.2", &[b"for=10.0.0.9,for=10.0.0.3"], "10.0.0.9"),
            // Obfuscated and unknown identifiers end the walk.
            ("10.0.0.2", &[b"for=6.6.6.6, for=_hidden"], "10.0.0.2"),
            (
                "10.0.0.2",
                &[b"for=6.6.6.6, for=unknown, for=10.0.0.3"],
                "10.0.0.3",
            ),
            ("10.0.0.2", &[b"for=6.6.6.6, proto=https"], "10.0.0.2"),
            (
                "10.0.0.2",
                &[b"for=6.6.6.6, for=1.2.3.4;for=5.6.7.8"],
                "10.0.0.2",
            ),
            // Broken syntax: nothing in that value is believed.
            (
                "10.0.0.2",
                &[b"for=6.6.6.6, for=\"198.51.100.7"],
                "10.0.0.2",
            ),
            (
                "10.0.0.2",
                &[b"for=6.6.6.6, for=198.51.100.7 junk"],
                "10.0.0.2",
            ),
            (
                "10.0.0.2",
                &[b"for=6.6.6.6", b"for=", b"for=10.0.0.3"],
                "10.0.0.3",
            ),
            ("10.0.0.2", &[b"for=6.6.6.6, =x"], "10.0.0.2"),
            ("10.0.0.2", &[b"\"for=1.2.3.4\""], "10.0.0.2"),
        ];
        for (peer, values, expected) in table {
            let got = config.resolve(ip(peer), &headers("forwarded", values));
            assert_eq!(got, ip(expected), "peer {peer}, Forwarded {values:?}");
        }
    }
}
