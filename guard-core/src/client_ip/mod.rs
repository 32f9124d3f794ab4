//! The client's IP address, as far as it can be trusted.
//!
//! By default the client is the socket peer, and headers are ignored: any
//! client can send `X-Forwarded-For: 1.2.3.4`. Behind a reverse proxy or a
//! load balancer the peer is the proxy, so [`ClientIpConfig`] lists the
//! proxies to trust (by CIDR) and the header they write. A header is read
//! only when the peer is one of them, and then from the right, the end the
//! proxies append to:
//!
//! ```text
//! X-Forwarded-For: 6.6.6.6, 198.51.100.7, 10.0.0.3      (peer 10.0.0.2)
//!                  ^forged  ^client       ^trusted hop   ^trusted peer
//! ```
//!
//! Each trusted hop is skipped; the first address that is not a trusted
//! proxy is the client. Whatever the client wrote to the left of that is
//! never read, so the left-most value (the one a naive reader takes) cannot
//! be forged into the result.
//!
//! ```
//! use std::net::IpAddr;
//! use http::HeaderMap;
//! use guard_core::client_ip::ClientIpConfig;
//!
//! let config = ClientIpConfig::new()
//!     .trust_proxy("10.0.0.0/8")?
//!     .from_x_forwarded_for();
//! let mut headers = HeaderMap::new();
//! headers.insert("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.3".parse()?);
//!
//! // From the trusted load balancer: the walk stops at the first untrusted hop.
//! let ip = |s: &str| s.parse::<IpAddr>().unwrap();
//! assert_eq!(config.resolve(ip("10.0.0.2"), &headers), ip("198.51.100.7"));
//! // Straight from the internet: the header is ignored.
//! assert_eq!(config.resolve(ip("203.0.113.9"), &headers), ip("203.0.113.9"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Which proxies can be trusted
//!
//! Every host in a trusted network can choose the client address the
//! service sees, so [`ClientIpConfig::trust_proxy`] takes private address
//! space only (loopback, RFC 1918, CGNAT, link-local, IPv6 ULA), where the
//! proxies of one's own network live. A CDN's published public ranges take
//! the explicit [`ClientIpConfig::trust_public_proxy`], and no network
//! broader than a /8 (IPv4) or a /24 (IPv6) is accepted by either: a few
//! of those (`0.0.0.0/1` and `128.0.0.0/1`) add up to the whole internet.
//! A refusal is a [`ClientIpConfigError`] from the call itself, so a bad
//! proxy list stops the service at start.
//!
//! ```
//! use guard_core::client_ip::ClientIpConfig;
//!
//! assert!(ClientIpConfig::new().trust_proxy("0.0.0.0/1").is_err());
//! assert!(ClientIpConfig::new().trust_proxy("173.245.48.0/20").is_err());
//! assert!(ClientIpConfig::new().trust_public_proxy("173.245.48.0/20").is_ok());
//! assert!(ClientIpConfig::new().trust_public_proxy("0.0.0.0/1").is_err());
//! ```

mod forwarded;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::header::{FORWARDED, HeaderMap, HeaderName};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::rate::RateKey;
use forwarded::{parse_forwarded, parse_node};

/// `X-Forwarded-For`, which `http` has no constant for (it is not standard).
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Where the client address comes from when the peer is a trusted proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientIpSource {
    /// The socket peer; headers are ignored. The default.
    Peer,
    /// The `for=` parameters of `Forwarded` (RFC 7239), right to left.
    Forwarded,
    /// `X-Forwarded-For`, right to left.
    XForwardedFor,
    /// A single-address header set by the platform's edge, such as
    /// `CF-Connecting-IP`, `Fly-Client-IP` or `X-Real-IP`. Read only from a
    /// trusted peer, and only when it occurs once with one address.
    Header(HeaderName),
}

/// The prefix length IPv6 clients are keyed by for rate limiting.
///
/// One subscriber usually holds a whole /64 (often a /56 or /48) and can
/// rotate through its addresses at will, so keying by the full address
/// would let one client escape any per-IP limit. The default is /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6KeyPrefix(u8);

impl Ipv6KeyPrefix {
    /// /64, one customer LAN.
    pub const DEFAULT: Self = Self(64);
    /// /128, each address separately.
    pub const FULL: Self = Self(128);

    /// A prefix of `bits`.
    ///
    /// # Errors
    ///
    /// [`ClientIpConfigError::Ipv6Prefix`] unless `bits` is in `1..=128`: a
    /// /0 would put every IPv6 client in one bucket.
    pub const fn new(bits: u8) -> Result<Self, ClientIpConfigError> {
        if bits == 0 || bits > 128 {
            return Err(ClientIpConfigError::Ipv6Prefix(bits));
        }
        Ok(Self(bits))
    }

    /// The prefix length in bits.
    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }
}

impl Default for Ipv6KeyPrefix {
    fn default() -> Self {
        Self::DEFAULT
    }
}

// A rate-limit key is the rate module's; re-exported where it was.
pub use crate::rate::rate_key_for_ip;

/// A [`ClientIpConfig`] setting that cannot be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientIpConfigError {
    /// The trusted proxy is neither an address nor a CIDR.
    #[error("`{0}` is not an IP address or CIDR (e.g. `10.0.0.0/8`, `2001:db8::/32`)")]
    InvalidCidr(String),
    /// A /0 network: every client would be a trusted proxy and choose its
    /// own address.
    #[error("trusting `{0}` trusts every address, so any client could choose its own IP")]
    TrustsEveryone(IpNet),
    /// A network broader than [`MAX_TRUSTED_V4_BREADTH`] or
    /// [`MAX_TRUSTED_V6_BREADTH`] bits (outside private space), refused
    /// even by [`ClientIpConfig::trust_public_proxy`]: no proxy fleet is
    /// that large, and a few such networks (`0.0.0.0/1` + `128.0.0.0/1`)
    /// add up to everyone.
    #[error(
        "trusting `{0}` trusts too many addresses: a proxy network is at most a /8 (IPv4) \
         or /24 (IPv6), even with `trust_public_proxy`"
    )]
    TooBroad(IpNet),
    /// A network that is not entirely private address space, passed to
    /// [`ClientIpConfig::trust_proxy`]: anyone with an address in it could
    /// choose its own IP.
    #[error(
        "`{0}` is not private address space (loopback, RFC 1918, CGNAT, link-local, ULA): \
         anyone there could choose its own IP; for a CDN's published ranges use \
         `trust_public_proxy`"
    )]
    NotPrivate(IpNet),
    /// The platform header name is not a valid header name.
    #[error("`{0}` is not a valid header name")]
    InvalidHeaderName(String),
    /// A list header named as a single-address platform header.
    #[error("`{0}` is a list header; use `from_forwarded()` or `from_x_forwarded_for()`")]
    ListHeader(HeaderName),
    /// An IPv6 key prefix outside `1..=128`.
    #[error("IPv6 key prefix /{0}: expected 1 to 128 bits (usually 64)")]
    Ipv6Prefix(u8),
}

/// How to find the client's address: which proxies to believe and what
/// they write.
///
/// With no trusted proxy the result is always the socket peer, whatever the
/// source. A trusted proxy that does not set the header yields the proxy's
/// own address (every client behind it shares a rate-limit key), never a
/// guess. See the module docs for the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIpConfig {
    trusted: Vec<IpNet>,
    source: ClientIpSource,
    v6_prefix: Ipv6KeyPrefix,
}

impl Default for ClientIpConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientIpConfig {
    /// The socket peer, no trusted proxies, IPv6 keyed by /64.
    #[must_use]
    pub fn new() -> Self {
        Self {
            trusted: Vec::new(),
            source: ClientIpSource::Peer,
            v6_prefix: Ipv6KeyPrefix::DEFAULT,
        }
    }

    /// Trusts the proxies in `cidr` (`"10.0.0.0/8"`, `"fd00::/8"`, or a
    /// single address) inside private address space: loopback, RFC 1918,
    /// CGNAT (`100.64.0.0/10`), link-local, IPv6 ULA (`fc00::/7`) and
    /// link-local. IPv4-mapped IPv6 networks are stored as IPv4.
    ///
    /// Public networks, documentation ranges (`192.0.2.0/24`,
    /// `2001:db8::/32`: no real proxy has them, so one in a proxy list is a
    /// copy from the docs) and everything else are refused: a CDN's
    /// published ranges go through [`trust_public_proxy`](Self::trust_public_proxy).
    ///
    /// # Errors
    ///
    /// [`ClientIpConfigError::InvalidCidr`] for anything else than an
    /// address or CIDR, [`ClientIpConfigError::TrustsEveryone`] for a /0,
    /// [`ClientIpConfigError::TooBroad`] for a network broader than the
    /// breadth limits, [`ClientIpConfigError::NotPrivate`] for a network
    /// that is not entirely private.
    pub fn trust_proxy(self, cidr: &str) -> Result<Self, ClientIpConfigError> {
        let net = parse_net(cidr)?;
        self.trust_proxy_net(net)
    }

    /// Trusts the proxies in `net`, inside private address space; see
    /// [`trust_proxy`](Self::trust_proxy).
    ///
    /// # Errors
    ///
    /// As [`trust_proxy`](Self::trust_proxy), but for the parse error.
    pub fn trust_proxy_net(self, net: impl Into<IpNet>) -> Result<Self, ClientIpConfigError> {
        let net = checked_breadth(net.into())?;
        if !is_private(net) {
            return Err(ClientIpConfigError::NotPrivate(net));
        }
        Ok(self.push_trusted(net))
    }

    /// Trusts the proxies in `cidr` even though it is public address space:
    /// for a CDN or a cloud load balancer that publishes the ranges it
    /// connects from (Cloudflare's `173.245.48.0/20`, for instance).
    ///
    /// # Security
    ///
    /// Every host in `cidr` may then choose the client address the service
    /// sees, so the per-IP limits of anyone behind it are only as good as
    /// that network's own honesty. Use exactly the ranges the provider
    /// publishes, keep them up to date, and make sure the provider
    /// overwrites the header rather than appending to a client's copy.
    /// A shared CDN's ranges also carry other customers' traffic: pair
    /// them with a way to know the traffic is yours (an origin secret, an
    /// authenticated origin pull). Networks broader than /8 (IPv4) or /24
    /// (IPv6) are refused even here.
    ///
    /// # Errors
    ///
    /// [`ClientIpConfigError::InvalidCidr`],
    /// [`ClientIpConfigError::TrustsEveryone`] for a /0, or
    /// [`ClientIpConfigError::TooBroad`].
    pub fn trust_public_proxy(self, cidr: &str) -> Result<Self, ClientIpConfigError> {
        let net = parse_net(cidr)?;
        self.trust_public_proxy_net(net)
    }

    /// Trusts the proxies in `net`, public or not; see
    /// [`trust_public_proxy`](Self::trust_public_proxy).
    ///
    /// # Errors
    ///
    /// As [`trust_public_proxy`](Self::trust_public_proxy), but for the
    /// parse error.
    pub fn trust_public_proxy_net(
        self,
        net: impl Into<IpNet>,
    ) -> Result<Self, ClientIpConfigError> {
        let net = checked_breadth(net.into())?;
        Ok(self.push_trusted(net))
    }

    fn push_trusted(mut self, net: IpNet) -> Self {
        if !self.trusted.contains(&net) {
            self.trusted.push(net);
        }
        self
    }

    /// Reads the client from the peer only (the default).
    #[must_use]
    pub fn from_peer(self) -> Self {
        self.source(ClientIpSource::Peer)
    }

    /// Reads `Forwarded` (RFC 7239) from trusted proxies.
    #[must_use]
    pub fn from_forwarded(self) -> Self {
        self.source(ClientIpSource::Forwarded)
    }

    /// Reads `X-Forwarded-For` from trusted proxies.
    #[must_use]
    pub fn from_x_forwarded_for(self) -> Self {
        self.source(ClientIpSource::XForwardedFor)
    }

    /// Reads a single-address header set by the platform's edge
    /// (`"CF-Connecting-IP"`, `"Fly-Client-IP"`, `"X-Real-IP"`) from trusted
    /// proxies. Name it only if the edge always overwrites it.
    ///
    /// # Errors
    ///
    /// [`ClientIpConfigError::InvalidHeaderName`], or
    /// [`ClientIpConfigError::ListHeader`] for `Forwarded` and
    /// `X-Forwarded-For`, which have their own sources.
    pub fn from_header(self, name: &str) -> Result<Self, ClientIpConfigError> {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| ClientIpConfigError::InvalidHeaderName(name.to_owned()))?;
        if name == FORWARDED || name == X_FORWARDED_FOR {
            return Err(ClientIpConfigError::ListHeader(name));
        }
        Ok(self.source(ClientIpSource::Header(name)))
    }

    /// Sets the source.
    #[must_use]
    pub fn source(mut self, source: ClientIpSource) -> Self {
        self.source = source;
        self
    }

    /// Keys IPv6 clients by their first `bits` bits (default 64).
    ///
    /// # Errors
    ///
    /// [`ClientIpConfigError::Ipv6Prefix`] unless `bits` is in `1..=128`.
    pub fn ipv6_key_prefix(mut self, bits: u8) -> Result<Self, ClientIpConfigError> {
        self.v6_prefix = Ipv6KeyPrefix::new(bits)?;
        Ok(self)
    }

    /// The trusted proxy networks.
    #[must_use]
    pub fn trusted_proxies(&self) -> &[IpNet] {
        &self.trusted
    }

    /// The configured source.
    #[must_use]
    pub fn client_source(&self) -> &ClientIpSource {
        &self.source
    }

    /// The IPv6 key prefix.
    #[must_use]
    pub fn v6_prefix(&self) -> Ipv6KeyPrefix {
        self.v6_prefix
    }

    /// Whether `ip` is a trusted proxy (IPv4-mapped IPv6 matched as IPv4).
    #[must_use]
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The rate-limit key for `ip` under this configuration's IPv6 prefix.
    #[must_use]
    pub fn rate_key(&self, ip: IpAddr) -> RateKey {
        rate_key_for_ip(ip, self.v6_prefix)
    }

    /// The client address for a request from socket peer `peer`.
    ///
    /// - Peer not trusted (or source [`ClientIpSource::Peer`]): the peer.
    /// - Otherwise the header is walked right to left over all its
    ///   occurrences in order, skipping trusted hops: the first untrusted
    ///   address is the client; if every hop is trusted, the left-most.
    /// - A hop that is not an address (malformed, `unknown`, an obfuscated
    ///   `_name`, non-ASCII bytes) ends the walk at the last trusted address
    ///   seen, the peer if none: what lies beyond it cannot be vouched for,
    ///   and the proxy's own address is never attacker-chosen.
    ///
    /// IPv4-mapped IPv6 results are returned as IPv4. Never fails and never
    /// panics, whatever the headers hold.
    #[must_use]
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return peer;
        }
        match &self.source {
            ClientIpSource::Peer => peer,
            ClientIpSource::XForwardedFor => self.walk_x_forwarded_for(peer, headers),
            ClientIpSource::Forwarded => self.walk_forwarded(peer, headers),
            ClientIpSource::Header(name) => single_address(headers, name).unwrap_or(peer),
        }
    }

    fn walk_x_forwarded_for(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut walk = Walk::new(self, peer);
        for value in headers.get_all(X_FORWARDED_FOR).iter().rev() {
            let Ok(text) = value.to_str() else {
                return walk.stop();
            };
            for entry in text.rsplit(',') {
                if let Some(client) = walk.visit(parse_node(entry.trim_matches(is_ows))) {
                    return client;
                }
            }
        }
        walk.stop()
    }

    fn walk_forwarded(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut walk = Walk::new(self, peer);
        let mut elements = Vec::new();
        for value in headers.get_all(FORWARDED).iter().rev() {
            elements.clear();
            if parse_forwarded(value, &mut elements).is_none() {
                return walk.stop();
            }
            for hop in elements.iter().rev() {
                if let Some(client) = walk.visit(*hop) {
                    return client;
                }
            }
        }
        walk.stop()
    }
}

/// The right-to-left walk over hops.
struct Walk<'a> {
    config: &'a ClientIpConfig,
    last_trusted: IpAddr,
}

impl<'a> Walk<'a> {
    fn new(config: &'a ClientIpConfig, peer: IpAddr) -> Self {
        Self {
            config,
            last_trusted: peer,
        }
    }

    /// Visits the next hop leftwards; `Some` ends the walk with the client.
    fn visit(&mut self, hop: Option<IpAddr>) -> Option<IpAddr> {
        let Some(ip) = hop else {
            return Some(self.last_trusted);
        };
        let ip = ip.to_canonical();
        if !self.config.is_trusted(ip) {
            return Some(ip);
        }
        self.last_trusted = ip;
        None
    }

    /// The end of the header (every hop trusted: the left-most) or an
    /// unreadable value (the last trusted address).
    fn stop(self) -> IpAddr {
        self.last_trusted
    }
}

/// The broadest IPv4 network [`ClientIpConfig::trust_public_proxy`]
/// accepts (a /8, the largest single allocation there is).
pub const MAX_TRUSTED_V4_BREADTH: u8 = 8;

/// The broadest IPv6 network [`ClientIpConfig::trust_public_proxy`]
/// accepts: a /24, wider than the largest CDN block (Cloudflare's
/// `2a06:98c0::/29`, CloudFront's `2600:9000::/28`) and 2^21 times
/// narrower than the global unicast space.
pub const MAX_TRUSTED_V6_BREADTH: u8 = 24;

/// Address space no host on the public internet can connect from:
/// loopback, RFC 1918, CGNAT (RFC 6598), IPv4 and IPv6 link-local, IPv6
/// unique local (RFC 4193).
const PRIVATE_V4: [(Ipv4Addr, u8); 6] = [
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
];
const PRIVATE_V6: [(Ipv6Addr, u8); 3] = [
    (Ipv6Addr::LOCALHOST, 128),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
];

/// An address or a CIDR, trimmed.
fn parse_net(cidr: &str) -> Result<IpNet, ClientIpConfigError> {
    let cidr = cidr.trim();
    match cidr.parse::<IpNet>() {
        Ok(net) => Ok(net),
        Err(_) => cidr
            .parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|_| ClientIpConfigError::InvalidCidr(cidr.to_owned())),
    }
}

/// `net` normalised, unless it is /0 or broader than the breadth limits
/// while not private (`fc00::/7` is private and broader than a /24).
fn checked_breadth(net: IpNet) -> Result<IpNet, ClientIpConfigError> {
    let net = canonical_net(net.trunc());
    if net.prefix_len() == 0 {
        return Err(ClientIpConfigError::TrustsEveryone(net));
    }
    let max = match net {
        IpNet::V4(_) => MAX_TRUSTED_V4_BREADTH,
        IpNet::V6(_) => MAX_TRUSTED_V6_BREADTH,
    };
    if net.prefix_len() < max && !is_private(net) {
        return Err(ClientIpConfigError::TooBroad(net));
    }
    Ok(net)
}

/// Whether every address of `net` is private address space.
fn is_private(net: IpNet) -> bool {
    match net {
        IpNet::V4(net) => PRIVATE_V4.iter().any(|&(addr, len)| {
            Ipv4Net::new(addr, len).is_ok_and(|private| private.contains(&net))
        }),
        IpNet::V6(net) => PRIVATE_V6.iter().any(|&(addr, len)| {
            Ipv6Net::new(addr, len).is_ok_and(|private| private.contains(&net))
        }),
    }
}

/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) as the IPv4 network
/// it covers, so it matches the canonical (IPv4) form of mapped peers.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && let Ok(v4) = Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(v4);
    }
    net
}

/// Optional whitespace, as HTTP lists allow around commas.
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// A single-address header: exactly one occurrence holding one node.
fn single_address(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        // Two copies: one may be the client's. Believe neither.
        return None;
    }
    let text = value.to_str().ok()?.trim_matches(is_ows);
    parse_node(text).map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    pub(super) fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    pub(super) fn headers(name: &str, values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        for value in values {
            map.append(name.clone(), HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    pub(super) fn behind_proxies() -> ClientIpConfig {
        // A documentation range is not private: only the opt-in takes it.
        ClientIpConfig::new()
            .trust_proxy("10.0.0.0/8")
            .unwrap()
            .trust_public_proxy("2001:db8:ffff::/48")
            .unwrap()
    }

    #[test]
    fn x_forwarded_for_matrix() {
        let config = behind_proxies().from_x_forwarded_for();
        // (peer, header values, expected client)
        let table: &[(&str, &[&[u8]], &str)] = &[
            // Untrusted peer with a forged header: the header is ignored.
            ("203.0.113.9", &[b"1.1.1.1"], "203.0.113.9"),
            ("203.0.113.9", &[b"10.0.0.1"], "203.0.113.9"),
            // Trusted peer, no header: the peer.
            ("10.0.0.2", &[], "10.0.0.2"),
            // One hop.
            ("10.0.0.2", &[b"198.51.100.7"], "198.51.100.7"),
            // Several hops, with a forged prefix that is never reached.
            (
                "10.0.0.2",
                &[b"6.6.6.6, 198.51.100.7, 10.0.0.3"],
                "198.51.100.7",
            ),
            (
                "10.0.0.2",
                &[b"6.6.6.6,198.51.100.7,10.0.0.3,10.9.9.9"],
                "198.51.100.7",
            ),
            // Several occurrences are one list, in order.
            (
                "10.0.0.2",
                &[b"6.6.6.6, 198.51.100.7", b"10.0.0.3"],
                "198.51.100.7",
            ),
            (
                "10.0.0.2",
                &[b"198.51.100.7", b"10.0.0.3, 10.0.0.4"],
                "198.51.100.7",
            ),
            // Every hop trusted: the left-most.
            ("10.0.0.2", &[b"10.0.0.5, 10.0.0.4, 10.0.0.3"], "10.0.0.5"),
            // Ports, IPv6, brackets.
            ("10.0.0.2", &[b"198.51.100.7:5678"], "198.51.100.7"),
            ("10.0.0.2", &[b"2001:db8::1"], "2001:db8::1"),
            ("10.0.0.2", &[b"[2001:db8::1]:443, 10.0.0.3"], "2001:db8::1"),
            (
                "10.0.0.2",
                &[b"2001:db8::1, 2001:db8:ffff::1"],
                "2001:db8::1",
            ),
            // IPv4-mapped hops are IPv4, and trusted as such.
            ("10.0.0.2", &[b"::ffff:198.51.100.7"], "198.51.100.7"),
            (
                "10.0.0.2",
                &[b"198.51.100.7, ::ffff:10.0.0.3"],
                "198.51.100.7",
            ),
            // Malformed entries stop the walk at the last trusted address.
            ("10.0.0.2", &[b"6.6.6.6, garbage"], "10.0.0.2"),
            ("10.0.0.2", &[b"6.6.6.6, garbage, 10.0.0.3"], "10.0.0.3"),
            ("10.0.0.2", &[b"6.6.6.6, , 10.0.0.3"], "10.0.0.3"),
            ("10.0.0.2", &[b"6.6.6.6,unknown"], "10.0.0.2"),
            ("10.0.0.2", &[b"6.6.6.6, 1.2.3.4:99999"], "10.0.0.2"),
            ("10.0.0.2", &[b"6.6.6.6, 1.2.3.4:"], "10.0.0.2"),
            ("10.0.0.2", &[b"6.6.6.6, fe80::1%eth0"], "10.0.0.2"),
            ("10.0.0.2", &[b"6.6.6.6, [2001:db8::1"], "10.0.0.2"),
            ("10.0.0.2", &[b"6.6.6.6, 1.2.3.4.5"], "10.0.0.2"),
            ("10.0.0.2", &[b""], "10.0.0.2"),
            (
                "10.0.0.2",
                &[b"6.6.6.6", b"\xff\xfe", b"10.0.0.3"],
                "10.0.0.3",
            ),
        ];
        for (peer, values, expected) in table {
            let got = config.resolve(ip(peer), &headers("x-forwarded-for", values));
            assert_eq!(got, ip(expected), "peer {peer}, XFF {values:?}");
        }
    }

    #[test]
    fn ipv4_mapped_peer_matches_an_ipv4_trusted_range() {
        let config = behind_proxies().from_x_forwarded_for();
        let map = headers("x-forwarded-for", &[b"198.51.100.7"]);
        assert_eq!(
            config.resolve(ip("::ffff:10.0.0.1"), &map),
            ip("198.51.100.7")
        );
        // And an untrusted mapped peer comes back as plain IPv4.
        assert_eq!(
            config.resolve(ip("::ffff:203.0.113.1"), &map),
            ip("203.0.113.1")
        );
        // A trusted range written in mapped form matches plain IPv4 peers.
        let mapped = ClientIpConfig::new()
            .trust_proxy("::ffff:10.0.0.0/104")
            .unwrap()
            .from_x_forwarded_for();
        assert_eq!(
            mapped.trusted_proxies(),
            ["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
        assert_eq!(mapped.resolve(ip("10.1.2.3"), &map), ip("198.51.100.7"));
    }

    #[test]
    fn ipv6_trusted_proxy_walks_too() {
        let config = behind_proxies().from_x_forwarded_for();
        let map = headers("x-forwarded-for", &[b"2001:db8:1::5, 2001:db8:ffff::2"]);
        assert_eq!(
            config.resolve(ip("2001:db8:ffff::1"), &map),
            ip("2001:db8:1::5")
        );
        assert_eq!(
            config.resolve(ip("2001:db8:1::1"), &map),
            ip("2001:db8:1::1")
        );
    }

    #[test]
    fn platform_header_only_from_a_trusted_peer_and_only_once() {
        let config = behind_proxies().from_header("CF-Connecting-IP").unwrap();
        let table: &[(&str, &[&[u8]], &str)] = &[
            ("10.0.0.2", &[b"198.51.100.7"], "198.51.100.7"),
            ("10.0.0.2", &[b" 2001:db8::7 "], "2001:db8::7"),
            ("10.0.0.2", &[b"::ffff:198.51.100.7"], "198.51.100.7"),
            ("203.0.113.9", &[b"198.51.100.7"], "203.0.113.9"),
            ("10.0.0.2", &[], "10.0.0.2"),
            ("10.0.0.2", &[b"198.51.100.7", b"6.6.6.6"], "10.0.0.2"),
            ("10.0.0.2", &[b"6.6.6.6, 198.51.100.7"], "10.0.0.2"),
            ("10.0.0.2", &[b"nonsense"], "10.0.0.2"),
        ];
        for (peer, values, expected) in table {
            let got = config.resolve(ip(peer), &headers("cf-connecting-ip", values));
            assert_eq!(got, ip(expected), "peer {peer}, header {values:?}");
        }
        // Other headers are not read by this configuration.
        let xff = headers("x-forwarded-for", &[b"198.51.100.7"]);
        assert_eq!(config.resolve(ip("10.0.0.2"), &xff), ip("10.0.0.2"));
    }

    #[test]
    fn default_config_ignores_every_header() {
        let config = ClientIpConfig::new();
        let mut map = headers("x-forwarded-for", &[b"1.1.1.1"]);
        map.insert("forwarded", HeaderValue::from_static("for=1.1.1.1"));
        map.insert("x-real-ip", HeaderValue::from_static("1.1.1.1"));
        assert_eq!(config.resolve(ip("203.0.113.9"), &map), ip("203.0.113.9"));
        // Trusting a proxy without naming a source still reads the peer.
        let trusted_only = behind_proxies();
        assert_eq!(trusted_only.resolve(ip("10.0.0.2"), &map), ip("10.0.0.2"));
    }

    #[test]
    fn configuration_refuses_what_cannot_be_right() {
        let refused = [
            ClientIpConfig::new()
                .trust_proxy("10.0.0.0/33")
                .unwrap_err(),
            ClientIpConfig::new()
                .trust_proxy("proxy.internal")
                .unwrap_err(),
            ClientIpConfig::new().trust_proxy("0.0.0.0/0").unwrap_err(),
            ClientIpConfig::new().trust_proxy("::/0").unwrap_err(),
            ClientIpConfig::new().from_header("bad header").unwrap_err(),
            ClientIpConfig::new()
                .from_header("X-Forwarded-For")
                .unwrap_err(),
            ClientIpConfig::new().from_header("forwarded").unwrap_err(),
            ClientIpConfig::new().ipv6_key_prefix(0).unwrap_err(),
            ClientIpConfig::new().ipv6_key_prefix(129).unwrap_err(),
        ];
        let messages: Vec<String> = refused.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "`10.0.0.0/33` is not an IP address or CIDR (e.g. `10.0.0.0/8`, `2001:db8::/32`)",
                "`proxy.internal` is not an IP address or CIDR (e.g. `10.0.0.0/8`, `2001:db8::/32`)",
                "trusting `0.0.0.0/0` trusts every address, so any client could choose its own IP",
                "trusting `::/0` trusts every address, so any client could choose its own IP",
                "`bad header` is not a valid header name",
                "`x-forwarded-for` is a list header; use `from_forwarded()` or `from_x_forwarded_for()`",
                "`forwarded` is a list header; use `from_forwarded()` or `from_x_forwarded_for()`",
                "IPv6 key prefix /0: expected 1 to 128 bits (usually 64)",
                "IPv6 key prefix /129: expected 1 to 128 bits (usually 64)",
            ]
        );
    }

    #[test]
    fn trusted_networks_are_normalised_and_single_addresses_accepted() {
        let config = ClientIpConfig::new()
            .trust_proxy("10.1.2.3/8")
            .unwrap()
            .trust_proxy("10.0.0.0/8")
            .unwrap()
            .trust_proxy(" 192.168.0.1 ")
            .unwrap();
        assert_eq!(
            config.trusted_proxies(),
            [
                "10.0.0.0/8".parse::<IpNet>().unwrap(),
                "192.168.0.1/32".parse().unwrap()
            ]
        );
        assert!(config.is_trusted(ip("192.168.0.1")));
        assert!(!config.is_trusted(ip("192.168.0.2")));
    }

    #[test]
    fn rate_keys_group_ipv6_by_prefix_and_ipv4_mapped_as_ipv4() {
        let key =
            |text: &str, bits: u8| rate_key_for_ip(ip(text), Ipv6KeyPrefix::new(bits).unwrap());
        let table = [
            (
                "2001:db8:1:2::1",
                "2001:db8:1:2:ffff:ffff:ffff:ffff",
                64,
                true,
            ),
            ("2001:db8:1:2::1", "2001:db8:1:3::1", 64, false),
            ("2001:db8:1:2::1", "2001:db8:1:3::1", 48, true),
            ("2001:db8:1:2::1", "2001:db8:1:2::2", 128, false),
            ("2001:db8::1", "2001:db9::1", 1, true),
            ("::ffff:192.0.2.1", "192.0.2.1", 64, true),
            ("::ffff:192.0.2.1", "192.0.2.1", 1, true),
            ("192.0.2.1", "192.0.2.2", 1, false),
        ];
        for (a, b, bits, same) in table {
            assert_eq!(key(a, bits) == key(b, bits), same, "{a} vs {b} at /{bits}");
        }
        let config = ClientIpConfig::new().ipv6_key_prefix(48).unwrap();
        assert_eq!(
            config.rate_key(ip("2001:db8:1:ffff::1")),
            key("2001:db8:1::", 128)
        );
        assert_eq!(
            key("2001:db8:1:2::1", 64).to_bytes(),
            ip_bytes("2001:db8:1:2::")
        );
    }

    #[test]
    fn trust_proxy_refuses_broad_and_public_networks_naming_them_and_the_opt_in() {
        let too_broad = |net: &str| {
            format!(
                "trusting `{net}` trusts too many addresses: a proxy network is at most a /8 \
                 (IPv4) or /24 (IPv6), even with `trust_public_proxy`"
            )
        };
        let not_private = |net: &str| {
            format!(
                "`{net}` is not private address space (loopback, RFC 1918, CGNAT, link-local, \
                 ULA): anyone there could choose its own IP; for a CDN's published ranges use \
                 `trust_public_proxy`"
            )
        };
        let table = [
            ("0.0.0.0/1", too_broad("0.0.0.0/1")),
            ("128.0.0.0/1", too_broad("128.0.0.0/1")),
            ("::/1", too_broad("::/1")),
            ("2000::/3", too_broad("2000::/3")),
            ("8.0.0.0/7", too_broad("8.0.0.0/7")),
            // Host bits are dropped before the checks.
            ("10.1.2.3/7", too_broad("10.0.0.0/7")),
            ("::ffff:0.0.0.0/97", too_broad("0.0.0.0/1")),
            ("8.0.0.0/8", not_private("8.0.0.0/8")),
            ("173.245.48.0/20", not_private("173.245.48.0/20")),
            ("1.1.1.1", not_private("1.1.1.1/32")),
            ("2606:4700::/32", not_private("2606:4700::/32")),
            // Straddling a private range is not inside it.
            ("10.0.0.0/7", too_broad("10.0.0.0/7")),
            ("172.16.0.0/11", not_private("172.0.0.0/11")),
            ("100.64.0.0/9", not_private("100.0.0.0/9")),
            ("fc00::/6", too_broad("fc00::/6")),
            ("fe00::/9", too_broad("fe00::/9")),
            // Documentation, "this network", unspecified, NAT64, 6to4:
            // nothing a private proxy has.
            ("192.0.2.0/24", not_private("192.0.2.0/24")),
            ("198.51.100.7", not_private("198.51.100.7/32")),
            ("2001:db8::/32", not_private("2001:db8::/32")),
            ("0.0.0.0/8", not_private("0.0.0.0/8")),
            ("::/128", not_private("::/128")),
            ("64:ff9b::/96", not_private("64:ff9b::/96")),
            ("2002::/16", too_broad("2002::/16")),
            ("2002:c000:0200::/40", not_private("2002:c000:200::/40")),
        ];
        for (cidr, message) in table {
            let err = ClientIpConfig::new().trust_proxy(cidr).unwrap_err();
            assert_eq!(err.to_string(), message, "{cidr}");
        }
    }

    #[test]
    fn trust_proxy_accepts_private_networks() {
        let accepted = [
            "10.0.0.0/8",
            "10.9.0.0/16",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "169.254.0.0/16",
            "127.0.0.1/32",
            "127.0.0.0/8",
            "::ffff:192.168.1.0/120",
            "fd00::/8",
            "fc00::/7",
            "fd12:3456:789a::/48",
            "fe80::/10",
            "::1",
        ];
        for cidr in accepted {
            let config = ClientIpConfig::new().trust_proxy(cidr);
            assert!(config.is_ok(), "{cidr}: {config:?}");
        }
    }

    #[test]
    fn trust_public_proxy_takes_a_cdn_range_but_never_a_huge_one() {
        let config = ClientIpConfig::new()
            .trust_public_proxy("173.245.48.0/20")
            .unwrap()
            .trust_public_proxy("2a06:98c0::/29")
            .unwrap()
            .trust_public_proxy("10.0.0.0/8")
            .unwrap()
            .trust_public_proxy("8.0.0.0/8")
            .unwrap()
            .trust_public_proxy("2600::/24")
            .unwrap()
            .from_header("CF-Connecting-IP")
            .unwrap();
        assert!(config.is_trusted(ip("173.245.48.1")));
        assert!(config.is_trusted(ip("2a06:98c7::1")));
        assert!(!config.is_trusted(ip("173.245.64.1")));
        let mut map = HeaderMap::new();
        map.insert("cf-connecting-ip", HeaderValue::from_static("198.51.100.7"));
        assert_eq!(config.resolve(ip("173.245.48.9"), &map), ip("198.51.100.7"));

        for cidr in ["0.0.0.0/1", "128.0.0.0/1", "0.0.0.0/7", "::/1", "2600::/23"] {
            let err = ClientIpConfig::new().trust_public_proxy(cidr).unwrap_err();
            assert_eq!(
                err,
                ClientIpConfigError::TooBroad(cidr.parse().unwrap()),
                "{cidr}"
            );
        }
        for cidr in ["0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96"] {
            let err = ClientIpConfig::new().trust_public_proxy(cidr).unwrap_err();
            assert!(
                matches!(err, ClientIpConfigError::TrustsEveryone(_)),
                "{cidr}: {err}"
            );
        }
    }

    #[test]
    fn two_halves_that_add_up_to_everyone_are_refused_one_by_one() {
        // The breadth limit is per network, so no set of accepted networks
        // adds up to the whole space without each being refused: the
        // `0.0.0.0/1` + `128.0.0.0/1` pair fails at its first half, with
        // either method, and the config it would extend is unchanged.
        let base = ClientIpConfig::new().trust_proxy("10.0.0.0/8").unwrap();
        for trust in [
            ClientIpConfig::trust_proxy as fn(ClientIpConfig, &str) -> _,
            ClientIpConfig::trust_public_proxy,
        ] {
            let halves = trust(base.clone(), "0.0.0.0/1").and_then(|c| trust(c, "128.0.0.0/1"));
            assert_eq!(
                halves.unwrap_err(),
                ClientIpConfigError::TooBroad("0.0.0.0/1".parse().unwrap())
            );
            let halves = trust(base.clone(), "::/1").and_then(|c| trust(c, "8000::/1"));
            assert!(matches!(halves, Err(ClientIpConfigError::TooBroad(_))));
        }
        // The widest union of accepted IPv4 networks is one /8 per call:
        // every address would need 256 deliberate opt-ins.
        assert_eq!(base.trusted_proxies().len(), 1);
    }

    #[test]
    fn spoofed_x_forwarded_for_from_an_untrusted_peer_is_ignored() {
        // What an attacker sends when the operator tried to trust the
        // internet's two halves: the configuration never exists, and the
        // one that does (the private proxy) ignores the forged header.
        assert!(
            ClientIpConfig::new()
                .trust_proxy("0.0.0.0/1")
                .and_then(|c| c.trust_proxy("128.0.0.0/1"))
                .is_err()
        );
        let config = ClientIpConfig::new()
            .trust_proxy("10.0.0.0/8")
            .unwrap()
            .from_x_forwarded_for();
        let forged = headers("x-forwarded-for", &[b"10.0.0.7, 192.168.1.1"]);
        for attacker in ["8.8.8.8", "203.0.113.66", "2606:4700::6"] {
            assert_eq!(config.resolve(ip(attacker), &forged), ip(attacker));
        }
    }

    fn ip_bytes(text: &str) -> [u8; 16] {
        text.parse::<Ipv6Addr>().unwrap().octets()
    }

    #[test]
    fn hostile_headers_never_panic() {
        let config = behind_proxies().from_forwarded();
        let xff = behind_proxies().from_x_forwarded_for();
        let inputs: &[&[u8]] = &[
            b"",
            b",",
            b";",
            b"=",
            b"\"",
            b"for=\"",
            b"for=\"\\",
            b"for=\\",
            b"for=[",
            b"for=]",
            b"for=\"[\"",
            b"for=\"[]:\"",
            b"for=\"[::1]:\"",
            b"for=\"[::1]x\"",
            b"[",
            b"]:",
            b"[::1]:",
            b"::::",
            b"1.2.3.4:5:6",
            b"for=1.2.3.4;;;",
            b",,,,",
            b"\t",
            b"for =1.2.3.4",
        ];
        for input in inputs {
            let _ = config.resolve(ip("10.0.0.2"), &headers("forwarded", &[input]));
            let _ = xff.resolve(ip("10.0.0.2"), &headers("x-forwarded-for", &[input]));
        }
    }
}
