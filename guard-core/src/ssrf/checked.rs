//! A URL that passed a [`UrlPolicy`](super::UrlPolicy), with what a client
//! needs to fetch it safely.

use std::fmt;
use std::net::IpAddr;

use url::Url;

/// The host of a [`CheckedUrl`], normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CheckedHost {
    /// A DNS name: IDNA-encoded, lowercase, without a trailing dot. It must be
    /// resolved, and every address it resolves to checked with
    /// [`UrlPolicy::check_resolved`](super::UrlPolicy::check_resolved) before
    /// connecting. Resolve it as an absolute name (with a trailing `.`) so
    /// resolver search domains cannot turn it into an internal name.
    Domain(String),
    /// An IP literal, decoded from whatever spelling the input used
    /// (`0x7f.1`, `2130706433`), and already checked.
    Addr(IpAddr),
}

impl fmt::Display for CheckedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Domain(name) => f.write_str(name),
            Self::Addr(IpAddr::V4(v4)) => write!(f, "{v4}"),
            Self::Addr(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
        }
    }
}

/// A URL a [`UrlPolicy`](super::UrlPolicy) allowed: scheme, credentials,
/// port and host name are vetted, and an IP-literal host is vetted too.
///
/// A domain host is not yet safe to connect to: the client resolves it
/// itself, passes every address to
/// [`UrlPolicy::check_resolved`](super::UrlPolicy::check_resolved), and then
/// connects only to the addresses that returns (no second lookup, which DNS
/// rebinding would exploit). Each redirect hop goes through
/// [`UrlPolicy::check_redirect`](super::UrlPolicy::check_redirect).
///
/// Fetch [`CheckedUrl::url`], never the string the user sent: the URL parser
/// normalises it (backslashes, tabs, numeric IPv4 forms), and the checked form
/// is the one that was vetted. `Debug` shows only scheme, host and port, since
/// paths and queries often carry secrets.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CheckedUrl {
    pub(crate) url: Url,
    pub(crate) host: CheckedHost,
    pub(crate) port: u16,
}

impl CheckedUrl {
    /// The parsed, normalised URL to fetch.
    #[must_use]
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The normalised URL as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The parsed URL, by value.
    #[must_use]
    pub fn into_url(self) -> Url {
        self.url
    }

    /// The normalised host.
    #[must_use]
    pub fn host(&self) -> &CheckedHost {
        &self.host
    }

    /// The DNS name to resolve, if the host is not an IP literal.
    #[must_use]
    pub fn domain(&self) -> Option<&str> {
        match &self.host {
            CheckedHost::Domain(name) => Some(name),
            CheckedHost::Addr(_) => None,
        }
    }

    /// The literal address, if the host is one (already vetted).
    #[must_use]
    pub fn addr(&self) -> Option<IpAddr> {
        match self.host {
            CheckedHost::Addr(ip) => Some(ip),
            CheckedHost::Domain(_) => None,
        }
    }

    /// The effective port: explicit, or the scheme's default.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the host must be resolved (and the addresses checked) before
    /// connecting.
    #[must_use]
    pub fn needs_resolution(&self) -> bool {
        matches!(self.host, CheckedHost::Domain(_))
    }
}

impl fmt::Debug for CheckedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedUrl")
            .field("scheme", &self.url.scheme())
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for CheckedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for CheckedUrl {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}
