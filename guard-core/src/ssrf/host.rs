//! Host names as the policy compares them, and the patterns it compares them to.

use std::net::IpAddr;

use url::Host;

use super::{CheckedHost, UrlPolicyError};

/// The longest DNS name in presentation form, without the trailing dot.
const MAX_NAME_LEN: usize = 253;
/// The longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// Names refused by default, whatever they resolve to: cloud instance-metadata
/// services and names that by definition reach the local host or network.
/// A leading dot means "any subdomain of".
pub(crate) const DEFAULT_DENIED_HOSTS: &[&str] = &[
    // RFC 6761: always the local host, and resolvers may answer it without DNS.
    "localhost",
    ".localhost",
    "localhost.localdomain",
    // Google Cloud.
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    // AWS EC2 (IMDS answers at 169.254.169.254 and fd00:ec2::254 too).
    "instance-data",
    "instance-data.ec2.internal",
    // Alibaba Cloud and Tencent Cloud.
    "100.100.100.200",
    "metadata.tencentyun.com",
    // Equinix Metal (formerly Packet): a public address that answers with the
    // calling machine's own metadata and user data.
    "metadata.platformequinix.com",
    "metadata.packet.net",
    // Kubernetes API server from inside a pod.
    "kubernetes.default",
    "kubernetes.default.svc",
    // ICANN's private-use TLD (2024), where GCP and AWS put internal names.
    ".internal",
    // mDNS (RFC 6762), the home network (RFC 8375), and in-cluster DNS.
    ".local",
    ".home.arpa",
    ".svc",
    // AWS IMDS over IPv6; also unique-local, stated here so it is refused by
    // name even when the address checks are relaxed for a test.
    "fd00:ec2::254",
];

/// A domain as the policy compares it: the URL parser has already applied
/// IDNA and lowercased it; this drops one trailing dot (`example.com.` is the
/// same name as `example.com`) and refuses names DNS cannot carry.
pub(crate) fn normalize_domain(domain: &str) -> Option<&str> {
    let name = domain.strip_suffix('.').unwrap_or(domain);
    let labels_ok = name
        .split('.')
        .all(|label| !label.is_empty() && label.len() <= MAX_LABEL_LEN);
    (!name.is_empty() && name.len() <= MAX_NAME_LEN && labels_ok).then_some(name)
}

/// One entry of a host allowlist or denylist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    /// Exactly this domain.
    Exact(String),
    /// Any subdomain of the domain; stored with its leading dot so that a
    /// plain `ends_with` only matches on a label boundary.
    Suffix(String),
    /// Exactly this IP address literal.
    Addr(IpAddr),
}

impl HostPattern {
    /// Parses `example.com`, `.example.com`, `*.example.com`, `127.0.0.1`,
    /// `::1` or `[::1]`, normalised with the same WHATWG host parser as URLs so
    /// that `EXAMPLE.com.` and IDNA forms compare equal to what a URL yields.
    pub(crate) fn parse(pattern: &str) -> Result<Self, UrlPolicyError> {
        let invalid = || UrlPolicyError::InvalidHostPattern(pattern.to_owned());
        let (suffix, rest) = match pattern
            .strip_prefix("*.")
            .or_else(|| pattern.strip_prefix('.'))
        {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if rest.is_empty() || rest.contains('*') {
            return Err(invalid());
        }
        let host = if rest.contains(':') && !rest.starts_with('[') {
            Host::parse(&format!("[{rest}]"))
        } else {
            Host::parse(rest)
        };
        match (host.map_err(|_| invalid())?, suffix) {
            (Host::Domain(domain), _) => {
                let name = normalize_domain(&domain).ok_or_else(invalid)?;
                Ok(if suffix {
                    Self::Suffix(format!(".{name}"))
                } else {
                    Self::Exact(name.to_owned())
                })
            }
            (Host::Ipv4(v4), false) => Ok(Self::Addr(v4.into())),
            (Host::Ipv6(v6), false) => Ok(Self::Addr(v6.into())),
            (_, true) => Err(invalid()),
        }
    }

    /// Whether `host` (already normalised) matches this pattern.
    pub(crate) fn matches(&self, host: &CheckedHost) -> bool {
        match (self, host) {
            (Self::Exact(name), CheckedHost::Domain(domain)) => name == domain,
            (Self::Suffix(suffix), CheckedHost::Domain(domain)) => {
                domain.ends_with(suffix.as_str())
            }
            (Self::Addr(addr), CheckedHost::Addr(ip)) => addr.to_canonical() == ip.to_canonical(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(name: &str) -> CheckedHost {
        CheckedHost::Domain(name.to_owned())
    }

    #[test]
    fn defaults_all_parse() {
        for pattern in DEFAULT_DENIED_HOSTS {
            assert!(HostPattern::parse(pattern).is_ok(), "{pattern}");
        }
    }

    #[test]
    fn normalises_patterns_like_urls() {
        let cases = [
            ("example.com", HostPattern::Exact("example.com".into())),
            ("EXAMPLE.com.", HostPattern::Exact("example.com".into())),
            (
                "bücher.example",
                HostPattern::Exact("xn--bcher-kva.example".into()),
            ),
            (".example.com", HostPattern::Suffix(".example.com".into())),
            ("*.Example.COM", HostPattern::Suffix(".example.com".into())),
            ("127.0.0.1", HostPattern::Addr("127.0.0.1".parse().unwrap())),
            ("0x7f.1", HostPattern::Addr("127.0.0.1".parse().unwrap())),
            ("::1", HostPattern::Addr("::1".parse().unwrap())),
            (
                "[fd00:ec2::254]",
                HostPattern::Addr("fd00:ec2::254".parse().unwrap()),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(HostPattern::parse(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn rejects_patterns_that_are_not_hosts() {
        for input in [
            "",
            ".",
            "*",
            "*.",
            "..example.com",
            "a..b",
            "example.com..",
            "*.*.example.com",
            "ex*ample.com",
            "exa mple.com",
            "example.com/path",
            "user@example.com",
            ".127.0.0.1",
            "*.[::1]",
            "[::1",
            "1.2.3.4.5",
            "256.0.0.1",
        ] {
            assert_eq!(
                HostPattern::parse(input),
                Err(UrlPolicyError::InvalidHostPattern(input.to_owned())),
                "{input}"
            );
        }
    }

    #[test]
    fn suffix_matches_only_on_a_label_boundary() {
        let pattern = HostPattern::parse(".example.com").unwrap();
        for host in ["a.example.com", "a.b.example.com"] {
            assert!(pattern.matches(&domain(host)), "{host}");
        }
        for host in [
            "example.com",
            "evil-example.com",
            "aexample.com",
            "example.com.evil.com",
        ] {
            assert!(!pattern.matches(&domain(host)), "{host}");
        }
    }

    #[test]
    fn address_pattern_matches_the_mapped_form_too() {
        let pattern = HostPattern::parse("127.0.0.1").unwrap();
        assert!(pattern.matches(&CheckedHost::Addr("::ffff:127.0.0.1".parse().unwrap())));
        assert!(!pattern.matches(&CheckedHost::Addr("127.0.0.2".parse().unwrap())));
        assert!(!pattern.matches(&domain("127.0.0.1")));
    }

    #[test]
    fn normalize_domain_refuses_names_dns_cannot_carry() {
        assert_eq!(normalize_domain("example.com."), Some("example.com"));
        assert!(normalize_domain(&format!("{}.com", "a".repeat(63))).is_some());
        for bad in [
            "",
            ".",
            "example.com..",
            "a..b",
            ".a",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}.com", "a.".repeat(126)),
        ] {
            assert_eq!(normalize_domain(bad), None, "{bad}");
        }
    }
}
