//! Why a URL was refused, and why a policy could not be built.

use super::AddressClass;

/// A URL the [`UrlPolicy`](super::UrlPolicy) refuses.
///
/// Every variant is the caller's fault and maps to **400** with the public
/// code `url_not_allowed`. Failing to connect to vetted addresses is the
/// upstream's failure (a 502), never this type.
///
/// A host name that fails *after* the URL check (no address, a refused
/// address, or no answer at all from the resolver) must get one public
/// answer whatever the cause, the same as these refusals: telling "resolves
/// to 10.0.0.5" apart from "does not exist" turns the fetcher into an oracle
/// for the internal DNS. The client keeps the reason for its log only.
///
/// `Display` names the rule, never the URL: a user-supplied URL may carry
/// tokens (webhook secrets, signed queries) that must not reach the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlRefusal {
    /// The input is longer than the policy's maximum.
    #[error("url is too long")]
    TooLong,
    /// Not an absolute URL by the WHATWG URL standard (this includes bad IPv4
    /// numbers, IPv6 zone ids and forbidden host characters).
    #[error("url is malformed")]
    Malformed(#[source] url::ParseError),
    /// A scheme other than `https` (or `http` when the policy allows it).
    #[error("url scheme is not allowed")]
    Scheme,
    /// The URL carries a user name or password (`https://good.com@127.0.0.1/`).
    #[error("url must not carry credentials")]
    Userinfo,
    /// The port (explicit or the scheme's default) is not an allowed one.
    #[error("url port {port} is not allowed")]
    Port {
        /// The effective port.
        port: u16,
    },
    /// The host is missing, empty, or not a valid DNS name (empty label,
    /// label over 63 or name over 253 octets).
    #[error("url host is malformed")]
    MalformedHost,
    /// The host is refused by name: cloud metadata, `localhost`, special-use
    /// suffixes, a single-label name, or a configured denial.
    #[error("url host is not allowed")]
    DeniedHost,
    /// The policy has a host allowlist and the host is not on it.
    #[error("url host is not on the allowlist")]
    NotAllowlisted,
    /// The address (literal, or one the host resolved to) is not globally
    /// reachable.
    #[error("url address is not allowed ({class})")]
    Address {
        /// Which special-purpose range the address is in.
        class: AddressClass,
    },
    /// The address is refused by a configured denial (e.g. Azure's
    /// `168.63.129.16`).
    #[error("url address is not allowed (denied)")]
    DeniedAddress,
    /// The host resolved to no address at all, so nothing could be vetted.
    #[error("url host resolved to no address")]
    NoAddresses,
}

/// A [`UrlPolicy`](super::UrlPolicy) setting that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlPolicyError {
    /// A host pattern that is neither a domain, `.suffix` / `*.suffix` of a
    /// domain, nor an IP address.
    #[error(
        "invalid host pattern `{0}`: expected `example.com`, `.example.com`, `*.example.com` or an IP address"
    )]
    InvalidHostPattern(String),
    /// Port 0 cannot be connected to.
    #[error("port 0 cannot be allowed")]
    ZeroPort,
    /// The port list would allow nothing.
    #[error("at least one port must be allowed")]
    NoPorts,
    /// A maximum URL length of 0 would refuse every URL.
    #[error("the maximum url length must be at least 1")]
    ZeroMaxLength,
}
