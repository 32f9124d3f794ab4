//! Address classification against the IANA IPv4 and IPv6 special-purpose
//! address registries.
//!
//! `std`'s `Ipv4Addr::is_global` / `Ipv6Addr::is_global` are unstable (the
//! `ip` feature), and several of the range tests they use (`is_shared`,
//! `is_benchmarking`, `is_reserved`) are unstable too, so the ranges they do
//! not cover are written out here by hand. The stable `std` tests are used
//! where they exist and mean exactly the registry range.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is, or is not, a place an outbound fetch may connect to.
///
/// Every class except [`AddressClass::Global`] is refused by
/// [`UrlPolicy`](super::UrlPolicy). For IPv6 forms that carry an IPv4
/// address the kernel or a translator will actually reach (IPv4-mapped,
/// NAT64 `64:ff9b::/96`, 6to4 `2002::/16`), the class is the class of the
/// embedded IPv4 address, so `::ffff:127.0.0.1` is [`AddressClass::Loopback`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressClass {
    /// Globally reachable unicast: the only class a fetch may reach.
    Global,
    /// `0.0.0.0` and `::`: connecting to them reaches the local host.
    Unspecified,
    /// `0.0.0.0/8` other than `0.0.0.0`: "this network" (RFC 791).
    ThisNetwork,
    /// `127.0.0.0/8` and `::1`.
    Loopback,
    /// `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16` (RFC 1918).
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT (RFC 6598); holds Alibaba Cloud's
    /// metadata address `100.100.100.200`.
    Shared,
    /// `169.254.0.0/16` (cloud metadata at `169.254.169.254`) and `fe80::/10`.
    LinkLocal,
    /// `192.0.0.0/24` and `2001::/23` other than Teredo: IETF protocol
    /// assignments (DS-Lite, NAT64 discovery, Oracle Cloud's metadata at
    /// `192.0.0.192`, PCP and TURN anycast).
    IetfProtocol,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`,
    /// `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15` (RFC 2544).
    Benchmarking,
    /// `192.88.99.0/24`, the deprecated 6to4 relay anycast (RFC 7526).
    Relay6to4,
    /// `224.0.0.0/4` and `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `240.0.0.0/4` and IPv6 space outside `2000::/3` that IANA keeps
    /// "Reserved by IETF".
    Reserved,
    /// `::/96` other than `::` and `::1`: deprecated IPv4-compatible IPv6.
    Ipv4Compatible,
    /// `::ffff:0:0:0/96`: IPv4-translated (SIIT, RFC 2765).
    Ipv4Translated,
    /// `64:ff9b:1::/48`: local-use NAT64 (RFC 8215).
    LocalNat64,
    /// `100::/64` discard-only and `100:0:0:1::/64` dummy prefix.
    Discard,
    /// `2001::/32` Teredo tunnelling.
    Teredo,
    /// `fc00::/7` unique local (AWS metadata at `fd00:ec2::254`).
    UniqueLocal,
    /// `fec0::/10`, deprecated site-local.
    SiteLocal,
    /// `5f00::/16`, SRv6 segment identifiers.
    Srv6,
}

impl AddressClass {
    /// Whether an outbound fetch may connect to an address of this class.
    #[must_use]
    pub fn is_global(self) -> bool {
        self == Self::Global
    }

    /// A short lowercase name for logs, e.g. `"link-local"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::Unspecified => "unspecified",
            Self::ThisNetwork => "this-network",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::Shared => "shared",
            Self::LinkLocal => "link-local",
            Self::IetfProtocol => "ietf-protocol",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Relay6to4 => "6to4-relay",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved",
            Self::Ipv4Compatible => "ipv4-compatible",
            Self::Ipv4Translated => "ipv4-translated",
            Self::LocalNat64 => "local-nat64",
            Self::Discard => "discard",
            Self::Teredo => "teredo",
            Self::UniqueLocal => "unique-local",
            Self::SiteLocal => "site-local",
            Self::Srv6 => "srv6",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies `ip` against the IANA special-purpose registries.
#[must_use]
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Whether an outbound fetch may connect to `ip`: `true` only for globally
/// reachable unicast addresses (see [`AddressClass`] for every refused range).
#[must_use]
pub fn is_global(ip: IpAddr) -> bool {
    classify(ip).is_global()
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if a == 0 {
        AddressClass::ThisNetwork
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_private() {
        AddressClass::Private
    } else if a == 100 && (b & 0xc0) == 64 {
        // `Ipv4Addr::is_shared` is unstable.
        AddressClass::Shared
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if a == 192 && b == 0 && c == 0 {
        // The whole /24, including 192.0.0.9 and .10 that IANA marks global:
        // anycast service addresses are never a legitimate fetch target.
        AddressClass::IetfProtocol
    } else if ip.is_documentation() {
        AddressClass::Documentation
    } else if a == 198 && (b & 0xfe) == 18 {
        // `Ipv4Addr::is_benchmarking` is unstable.
        AddressClass::Benchmarking
    } else if a == 192 && b == 88 && c == 99 {
        AddressClass::Relay6to4
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else if ip.is_broadcast() {
        AddressClass::Broadcast
    } else if a >= 240 {
        // `Ipv4Addr::is_reserved` is unstable.
        AddressClass::Reserved
    } else {
        AddressClass::Global
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if ip.is_unspecified() {
        return AddressClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    // Forms whose traffic reaches the embedded IPv4 address are as good or as
    // bad as that address (std's unstable `is_global` refuses them all).
    if let Some(v4) = embedded_ipv4(ip) {
        return classify_v4(v4);
    }
    match ip.segments() {
        [0, 0, 0, 0, 0, 0, _, _] => AddressClass::Ipv4Compatible,
        [0, 0, 0, 0, 0xffff, 0, _, _] => AddressClass::Ipv4Translated,
        // The embedded address's position in a local-use NAT64 prefix depends
        // on the operator's prefix length (RFC 6052), so it cannot be decided.
        [0x64, 0xff9b, 1, ..] => AddressClass::LocalNat64,
        [0x100, 0, 0, 0 | 1, ..] => AddressClass::Discard,
        // Teredo is refused whole, whatever its embedded server and (XORed)
        // client IPv4 are: traffic goes through a relay the server does not
        // choose, the protocol is obsolete for servers, and std's unstable
        // `is_global` refuses it too.
        [0x2001, 0, ..] => AddressClass::Teredo,
        // The whole /23 including the few sub-blocks IANA marks global
        // (AMT, AS112, ORCHIDv2): none is a legitimate fetch target.
        [0x2001, b, ..] if b < 0x200 => AddressClass::IetfProtocol,
        [0x2001, 0xdb8, ..] => AddressClass::Documentation,
        [0x3fff, b, ..] if b < 0x1000 => AddressClass::Documentation,
        [0x5f00, ..] => AddressClass::Srv6,
        _ if ip.is_unique_local() => AddressClass::UniqueLocal,
        _ if ip.is_unicast_link_local() => AddressClass::LinkLocal,
        [s, ..] if s & 0xffc0 == 0xfec0 => AddressClass::SiteLocal,
        _ if ip.is_multicast() => AddressClass::Multicast,
        // IANA has allocated only 2000::/3 for global unicast; everything else
        // not matched above is "Reserved by IETF" and must not be reachable.
        [s, ..] if s & 0xe000 != 0x2000 => AddressClass::Reserved,
        _ => AddressClass::Global,
    }
}

/// The IPv4 address that traffic to `ip` actually reaches, for the IPv6 forms
/// that embed one at a fixed position: IPv4-mapped `::ffff:0:0/96`, NAT64
/// well-known prefix `64:ff9b::/96` and 6to4 `2002::/16`.
pub(crate) fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    match ip.segments() {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

fn v4(hi: u16, lo: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressClass as C;

    fn check(table: &[(&str, AddressClass)]) {
        for (ip, want) in table {
            let addr: IpAddr = ip.parse().unwrap();
            assert_eq!(classify(addr), *want, "{ip}");
            assert_eq!(is_global(addr), *want == C::Global, "{ip}");
        }
    }

    #[test]
    fn classifies_every_ipv4_special_range_and_its_edges() {
        check(&[
            ("0.0.0.0", C::Unspecified),
            ("0.1.2.3", C::ThisNetwork),
            ("0.255.255.255", C::ThisNetwork),
            ("1.0.0.0", C::Global),
            ("9.255.255.255", C::Global),
            ("10.0.0.0", C::Private),
            ("10.255.255.255", C::Private),
            ("11.0.0.0", C::Global),
            ("100.63.255.255", C::Global),
            ("100.64.0.0", C::Shared),
            ("100.100.100.200", C::Shared),
            ("100.127.255.255", C::Shared),
            ("100.128.0.0", C::Global),
            ("126.255.255.255", C::Global),
            ("127.0.0.1", C::Loopback),
            ("127.255.255.255", C::Loopback),
            ("128.0.0.0", C::Global),
            ("169.253.255.255", C::Global),
            ("169.254.0.0", C::LinkLocal),
            ("169.254.169.254", C::LinkLocal),
            ("169.255.0.0", C::Global),
            ("172.15.255.255", C::Global),
            ("172.16.0.0", C::Private),
            ("172.31.255.255", C::Private),
            ("172.32.0.0", C::Global),
            ("192.0.0.0", C::IetfProtocol),
            ("192.0.0.9", C::IetfProtocol),
            ("192.0.0.192", C::IetfProtocol),
            ("192.0.1.0", C::Global),
            ("192.0.2.1", C::Documentation),
            ("192.88.98.255", C::Global),
            ("192.88.99.1", C::Relay6to4),
            ("192.88.100.0", C::Global),
            ("192.167.255.255", C::Global),
            ("192.168.0.0", C::Private),
            ("192.168.255.255", C::Private),
            ("192.169.0.0", C::Global),
            ("198.17.255.255", C::Global),
            ("198.18.0.0", C::Benchmarking),
            ("198.19.255.255", C::Benchmarking),
            ("198.20.0.0", C::Global),
            ("198.51.100.7", C::Documentation),
            ("203.0.113.7", C::Documentation),
            ("223.255.255.255", C::Global),
            ("224.0.0.1", C::Multicast),
            ("239.255.255.250", C::Multicast),
            ("240.0.0.1", C::Reserved),
            ("255.255.255.254", C::Reserved),
            ("255.255.255.255", C::Broadcast),
            ("8.8.8.8", C::Global),
            ("1.1.1.1", C::Global),
        ]);
    }

    #[test]
    fn classifies_every_ipv6_special_range_and_its_edges() {
        check(&[
            ("::", C::Unspecified),
            ("::1", C::Loopback),
            ("::2", C::Ipv4Compatible),
            ("::127.0.0.1", C::Ipv4Compatible),
            ("::8.8.8.8", C::Ipv4Compatible),
            ("::ffff:0:7f00:1", C::Ipv4Translated),
            ("64:ff9b:1::1", C::LocalNat64),
            ("64:ff9b:1:ffff::1", C::LocalNat64),
            ("100::1", C::Discard),
            ("100:0:0:1::1", C::Discard),
            ("100:0:0:2::1", C::Reserved),
            ("2001::1", C::Teredo),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", C::Teredo),
            ("2001:1::1", C::IetfProtocol),
            ("2001:3::1", C::IetfProtocol),
            ("2001:1ff:ffff::1", C::IetfProtocol),
            ("2001:200::1", C::Global),
            ("2001:db8::1", C::Documentation),
            ("2001:db9::1", C::Global),
            ("2001:4860:4860::8888", C::Global),
            ("2606:4700:4700::1111", C::Global),
            ("3ffe:ffff::1", C::Global),
            ("3fff::1", C::Documentation),
            ("3fff:fff::1", C::Documentation),
            ("3fff:1000::1", C::Global),
            ("4000::1", C::Reserved),
            ("5f00::1", C::Srv6),
            ("1::1", C::Reserved),
            ("fbff::1", C::Reserved),
            ("fc00::1", C::UniqueLocal),
            ("fd00:ec2::254", C::UniqueLocal),
            ("fe80::1", C::LinkLocal),
            ("febf::1", C::LinkLocal),
            ("fec0::1", C::SiteLocal),
            ("feff::1", C::SiteLocal),
            ("ff02::1", C::Multicast),
            ("ff0e::1", C::Multicast),
        ]);
    }

    #[test]
    fn decides_embedding_ipv6_forms_by_their_ipv4_address() {
        check(&[
            ("::ffff:127.0.0.1", C::Loopback),
            ("::ffff:7f00:1", C::Loopback),
            ("::ffff:169.254.169.254", C::LinkLocal),
            ("::ffff:10.0.0.1", C::Private),
            ("::ffff:0.0.0.0", C::Unspecified),
            ("::ffff:8.8.8.8", C::Global),
            ("64:ff9b::7f00:1", C::Loopback),
            ("64:ff9b::a9fe:a9fe", C::LinkLocal),
            ("64:ff9b::192.168.0.1", C::Private),
            ("64:ff9b::808:808", C::Global),
            ("2002:7f00:1::1", C::Loopback),
            ("2002:a9fe:a9fe::", C::LinkLocal),
            ("2002:c058:6301::1", C::Relay6to4),
            ("2002:808:808::1", C::Global),
        ]);
    }

    #[test]
    fn finds_the_embedded_ipv4_only_at_fixed_positions() {
        let cases: &[(&str, Option<&str>)] = &[
            ("::ffff:1.2.3.4", Some("1.2.3.4")),
            ("64:ff9b::1.2.3.4", Some("1.2.3.4")),
            ("2002:102:304::", Some("1.2.3.4")),
            ("64:ff9b:1::1.2.3.4", None),
            ("::1.2.3.4", None),
            ("2001:db8::1.2.3.4", None),
        ];
        for (ip, want) in cases {
            let got = embedded_ipv4(ip.parse().unwrap());
            assert_eq!(got, want.map(|w| w.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn names_classes_for_logs() {
        assert_eq!(C::LinkLocal.to_string(), "link-local");
        assert!(C::Global.is_global());
        assert!(!C::Teredo.is_global());
    }
}
