//! Fixed-size limiter keys.

use std::fmt;
use std::hash::{BuildHasher, DefaultHasher, Hash, Hasher, RandomState};
use std::net::IpAddr;
use std::sync::OnceLock;

use crate::client_ip::Ipv6KeyPrefix;

/// The first byte of every identifier key. IP keys are IPv6 addresses (IPv4
/// as `::ffff:a.b.c.d`), and `ff00::/8` is multicast, which is never the
/// source of a connection, so identifier keys and IP keys do not overlap.
const IDENTIFIER_TAG: u8 = 0xff;

/// What a limiter counts against: 16 bytes, whatever it stands for.
///
/// A fixed size keeps a store entry at 24 bytes and means a client cannot
/// grow memory by sending long identifiers. Build one with
/// [`rate_key_for_ip`] (IPv6 masked to its /64 by default, IPv4-mapped IPv6
/// keyed as IPv4; [`Self::ipv6_network`] for the enclosing /48) or
/// [`Self::for_identifier`] (an account
/// id, a login email: hashed with a per-process random key, so the raw value
/// is not kept and nobody outside the process can aim two identifiers at one
/// key).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RateKey([u8; 16]);

impl RateKey {
    /// A key from raw bytes, for callers with their own fixed-size identity.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The key's bytes.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// A key for `identifier` within `namespace` (`"account"`, `"login"`):
    /// the same pair always yields the same key in this process; different
    /// namespaces never share one.
    ///
    /// The identifier is taken byte for byte. Where the authenticator
    /// compares identifiers loosely (e-mail case, surrounding spaces), use
    /// [`Self::for_identifier_folded`], or `Alice@example.com` and
    /// `alice@example.com` get separate budgets against one account.
    ///
    /// Keys differ between processes, so a store shared by several processes
    /// (Redis) must derive its keys from a shared secret instead.
    #[must_use]
    pub fn for_identifier(namespace: &str, identifier: &str) -> Self {
        Self::hashed(namespace, |hasher| identifier.hash(hasher))
    }

    /// Like [`Self::for_identifier`] on [`Self::fold_identifier`]`(identifier)`:
    /// one budget per login however the client spells it.
    #[must_use]
    pub fn for_identifier_folded(namespace: &str, identifier: &str) -> Self {
        Self::for_identifier(namespace, &Self::fold_identifier(identifier))
    }

    /// The one normalisation of identifiers (login e-mails) for limits:
    /// surrounding whitespace trimmed, then [`str::to_lowercase`].
    ///
    /// `str::to_lowercase` and not `char::to_lowercase` per character: they
    /// differ (a word-final `Σ` becomes `ς`, not `σ`), so an app that looks
    /// the identifier up after folding it another way could count one
    /// account under two budgets. Apps take the folded value from the limit
    /// (`IdentifierLimit::check` in guard-axum) instead of folding again.
    #[must_use]
    pub fn fold_identifier(identifier: &str) -> String {
        identifier.trim().to_lowercase()
    }

    /// The key of the IPv6 network of `bits` that holds the network an IP
    /// key stands for (a /64 key to its /48), or `None` for an IPv4 key
    /// (`::ffff:a.b.c.d`) and for an identifier key, which have no such
    /// network. `bits` above 128 is taken as 128.
    ///
    /// ```
    /// use guard_core::client_ip::Ipv6KeyPrefix;
    /// use guard_core::rate::rate_key_for_ip;
    ///
    /// let key = |s: &str| rate_key_for_ip(s.parse().unwrap(), Ipv6KeyPrefix::DEFAULT);
    /// let a = key("2001:db8:1:2::1").ipv6_network(48);
    /// assert_eq!(a, key("2001:db8:1:ff00::1").ipv6_network(48)); // same /48
    /// assert_ne!(a, key("2001:db8:2:2::1").ipv6_network(48));
    /// assert_eq!(key("192.0.2.1").ipv6_network(48), None);
    /// ```
    #[must_use]
    pub fn ipv6_network(self, bits: u8) -> Option<Self> {
        // An IPv4 client is stored as `::ffff:a.b.c.d`: tested on the bytes
        // (two compares) rather than through `Ipv6Addr`, as every request
        // of a route with a per-IP limit asks.
        let ipv4_mapped = self.0[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
        if self.0[0] == IDENTIFIER_TAG || ipv4_mapped {
            return None;
        }
        let addr = std::net::Ipv6Addr::from(self.0);
        let mask = u128::MAX
            .checked_shl(128 - u32::from(bits.min(128)))
            .unwrap_or(0);
        Some(Self((addr.to_bits() & mask).to_be_bytes()))
    }

    fn hashed(namespace: &str, write_identifier: impl Fn(&mut DefaultHasher)) -> Self {
        static SEED: OnceLock<RandomState> = OnceLock::new();
        let seed = SEED.get_or_init(RandomState::new);
        // Two 64-bit outputs of one keyed PRF (SipHash) on the same message
        // under distinct final lane bytes make 128 bits, counter-mode style.
        // The message is hashed once and its state cloned for each lane
        // (`str`'s `Hash` ends each string with 0xff, which UTF-8 never
        // holds, so namespace, identifier and lane cannot run together).
        let mut message = seed.build_hasher();
        namespace.hash(&mut message);
        write_identifier(&mut message);
        let mut halves = [0_u64; 2];
        for (lane, half) in (0_u8..).zip(halves.iter_mut()) {
            let mut hasher = message.clone();
            hasher.write_u8(lane);
            *half = hasher.finish();
        }
        let [high, low] = halves;
        let mut bytes = [0_u8; 16];
        let (first, second) = bytes.split_at_mut(8);
        first.copy_from_slice(&high.to_be_bytes());
        second.copy_from_slice(&low.to_be_bytes());
        bytes[0] = IDENTIFIER_TAG;
        Self(bytes)
    }
}

/// The rate-limit key for a client address: IPv4 (and IPv4-mapped IPv6,
/// `::ffff:a.b.c.d`) by the whole address, IPv6 by its first `v6_prefix` bits.
///
/// ```
/// use std::net::IpAddr;
/// use guard_core::client_ip::Ipv6KeyPrefix;
/// use guard_core::rate::rate_key_for_ip;
///
/// let key = |s: &str| rate_key_for_ip(s.parse::<IpAddr>().unwrap(), Ipv6KeyPrefix::DEFAULT);
/// assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9")); // same /64
/// assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
/// assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
/// ```
#[must_use]
pub fn rate_key_for_ip(ip: IpAddr, v6_prefix: Ipv6KeyPrefix) -> RateKey {
    match ip.to_canonical() {
        IpAddr::V4(v4) => RateKey::from_bytes(v4.to_ipv6_mapped().octets()),
        IpAddr::V6(v6) => {
            let bits = u32::from(v6_prefix.bits());
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            RateKey::from_bytes((v6.to_bits() & mask).to_be_bytes())
        }
    }
}

impl Hash for RateKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // One write of the whole key; the derived impl would also hash the
        // array's length.
        state.write_u128(u128::from_ne_bytes(self.0));
    }
}

impl fmt::Debug for RateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RateKey(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_keys_are_stable_within_the_process_and_separated_by_namespace() {
        let a = RateKey::for_identifier("login", "alice@example.com");
        assert_eq!(a, RateKey::for_identifier("login", "alice@example.com"));
        assert_ne!(a, RateKey::for_identifier("account", "alice@example.com"));
        assert_ne!(a, RateKey::for_identifier("login", "bob@example.com"));
        // The namespace/identifier boundary is unambiguous.
        assert_ne!(
            RateKey::for_identifier("ab", "c"),
            RateKey::for_identifier("a", "bc")
        );
    }

    #[test]
    fn identifier_keys_live_outside_the_address_space() {
        for id in [
            "",
            "1",
            "alice",
            "a much longer identifier than sixteen bytes",
        ] {
            assert_eq!(
                RateKey::for_identifier("ns", id).to_bytes()[0],
                IDENTIFIER_TAG
            );
        }
    }

    #[test]
    fn folded_identifiers_share_a_budget_across_spellings() {
        let canonical = RateKey::for_identifier_folded("login", "alice@example.com");
        for spelling in [
            "Alice@Example.COM",
            "  alice@example.com\t",
            "ALICE@EXAMPLE.COM",
        ] {
            assert_eq!(
                RateKey::for_identifier_folded("login", spelling),
                canonical,
                "{spelling:?}"
            );
        }
        assert_ne!(
            RateKey::for_identifier_folded("login", "alice@example.co"),
            canonical
        );
    }

    #[test]
    fn folding_is_str_lowercase_so_a_final_sigma_folds_as_the_app_folds_it() {
        // `char::to_lowercase` would give "οδοσ@x".
        assert_eq!(RateKey::fold_identifier(" ΟΔΟΣ@x "), "οδος@x");
        assert_eq!(
            RateKey::for_identifier_folded("login", "ΟΔΟΣ@x"),
            RateKey::for_identifier("login", "οδος@x")
        );
    }

    #[test]
    fn ipv6_networks_group_ip_keys_and_skip_ipv4_and_identifiers() {
        use crate::client_ip::Ipv6KeyPrefix;
        let key = |s: &str| rate_key_for_ip(s.parse().unwrap(), Ipv6KeyPrefix::DEFAULT);
        let net = |s: &str| key(s).ipv6_network(48);
        assert_eq!(net("2001:db8:1:2::1"), net("2001:db8:1:ffff::9"));
        assert_ne!(net("2001:db8:1:2::1"), net("2001:db8:2:2::1"));
        assert_eq!(
            net("2001:db8:1:2::1").map(RateKey::to_bytes),
            Some(
                "2001:db8:1::"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets()
            )
        );
        assert_eq!(net("192.0.2.1"), None);
        assert_eq!(net("::ffff:192.0.2.1"), None);
        assert_eq!(
            RateKey::for_identifier("ns", "alice").ipv6_network(48),
            None
        );
        assert_eq!(
            key("2001:db8::1").ipv6_network(200),
            Some(key("2001:db8::1"))
        );
    }

    #[test]
    fn debug_prints_hex() {
        let key = RateKey::from_bytes([0xab; 16]);
        assert_eq!(format!("{key:?}"), format!("RateKey({})", "ab".repeat(16)));
    }
}
