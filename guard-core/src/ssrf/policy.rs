//! [`UrlPolicy`]: which URLs an outbound fetch may reach.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::LazyLock;

use ipnet::IpNet;
use url::{Host, Url};

use super::addr::{classify, embedded_ipv4};
use super::host::{DEFAULT_DENIED_HOSTS, HostPattern, normalize_domain};
use super::{CheckedHost, CheckedUrl, UrlPolicyError, UrlRefusal};

/// The default maximum URL length, in bytes: what common webhook providers
/// accept, and far beyond any legitimate callback URL.
pub const DEFAULT_MAX_URL_LEN: usize = 2048;

/// Addresses refused by default although they are globally routable.
const DEFAULT_DENIED_ADDRS: &[IpNet] = &[
    // Azure's WireServer / platform DNS virtual IP, reachable from every VM.
    // Const-evaluated: an invalid prefix would fail the build, not a request.
    IpNet::new_assert(IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)), 32),
];

static DEFAULT_POLICY: LazyLock<UrlPolicy> = LazyLock::new(UrlPolicy::new);

/// The policy [`SafeUrl`](super::SafeUrl) checks against.
pub(crate) fn default_policy() -> &'static UrlPolicy {
    &DEFAULT_POLICY
}

/// Which URLs an outbound fetch (webhook, link preview, import) may reach.
///
/// By default it allows `https` URLs on ports 443 and 80 to any host that is
/// not refused, and refuses (each a [`UrlRefusal`], a 400 `url_not_allowed`):
///
/// - any other scheme (`http` only after [`allow_http`](Self::allow_http));
/// - URLs with credentials (`https://good.com@127.0.0.1/`);
/// - any address that is not globally reachable, however it is spelled
///   (`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`, `[64:ff9b::a9fe:a9fe]`):
///   see [`AddressClass`](super::AddressClass) for every range;
/// - cloud metadata names (`metadata.google.internal`, `instance-data`, …),
///   `localhost` and `*.localhost`, the special-use suffixes `.internal`,
///   `.local`, `.home.arpa`, `.svc`, and any single-label name (`intranet`,
///   `metadata`), which resolver search domains make internal;
/// - Azure's `168.63.129.16`, which is routable but platform-internal.
///
/// The URL is parsed by the WHATWG rules browsers use, so every numeric,
/// percent-encoded, IDNA or backslashed spelling is normalised before the
/// decision. Refusals (denials) always win over allowances; the default
/// denials cannot be removed.
///
/// ```
/// use guard_core::ssrf::{UrlPolicy, UrlRefusal, AddressClass};
///
/// let policy = UrlPolicy::new();
/// assert_eq!(
///     policy.check_url("https://0xa9fea9fe/latest/meta-data/").unwrap_err(),
///     UrlRefusal::Address { class: AddressClass::LinkLocal },
/// );
/// let checked = policy.check_url("https://hooks.example.com/T000/B000")?;
/// assert!(checked.needs_resolution());
/// // The client resolves `hooks.example.com` itself, then vets every address
/// // and connects only to what comes back.
/// let vetted = policy.check_resolved(&checked, &["93.184.215.14".parse()?])?;
/// assert_eq!(vetted, ["93.184.215.14:443".parse()?]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct UrlPolicy {
    allow_http: bool,
    /// Sorted, deduplicated, never empty, never 0.
    ports: Vec<u16>,
    /// Empty means any host that is not denied.
    allowed_hosts: Vec<HostPattern>,
    denied_hosts: Vec<HostPattern>,
    allowed_addrs: Vec<IpNet>,
    denied_addrs: Vec<IpNet>,
    max_url_len: usize,
}

impl Default for UrlPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl UrlPolicy {
    /// The default policy: `https` only, ports 443 and 80, any host that is
    /// not refused, URLs up to [`DEFAULT_MAX_URL_LEN`] bytes.
    pub fn new() -> Self {
        Self {
            allow_http: false,
            ports: vec![80, 443],
            allowed_hosts: Vec::new(),
            denied_hosts: DEFAULT_DENIED_HOSTS
                .iter()
                .filter_map(|pattern| HostPattern::parse(pattern).ok())
                .collect(),
            allowed_addrs: Vec::new(),
            denied_addrs: DEFAULT_DENIED_ADDRS.to_vec(),
            max_url_len: DEFAULT_MAX_URL_LEN,
        }
    }

    /// Also allows plain `http` URLs. Their responses can be read or altered
    /// by anyone on the path, so allow them only where that does not matter.
    pub fn allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Replaces the allowed ports (default 443 and 80).
    ///
    /// # Errors
    /// [`UrlPolicyError::NoPorts`] for an empty list,
    /// [`UrlPolicyError::ZeroPort`] if it holds 0.
    pub fn ports(mut self, ports: impl IntoIterator<Item = u16>) -> Result<Self, UrlPolicyError> {
        let mut ports: Vec<u16> = ports.into_iter().collect();
        if ports.contains(&0) {
            return Err(UrlPolicyError::ZeroPort);
        }
        if ports.is_empty() {
            return Err(UrlPolicyError::NoPorts);
        }
        ports.sort_unstable();
        ports.dedup();
        self.ports = ports;
        Ok(self)
    }

    /// Allows one more port.
    ///
    /// # Errors
    /// [`UrlPolicyError::ZeroPort`] for 0.
    pub fn allow_port(mut self, port: u16) -> Result<Self, UrlPolicyError> {
        if port == 0 {
            return Err(UrlPolicyError::ZeroPort);
        }
        if let Err(at) = self.ports.binary_search(&port) {
            self.ports.insert(at, port);
        }
        Ok(self)
    }

    /// Adds a host to the allowlist; once it has an entry, only listed hosts
    /// are allowed. `api.example.com` allows exactly that name;
    /// `.example.com` (or `*.example.com`) allows any subdomain of it but not
    /// `example.com` itself, `evil-example.com` or `example.com.evil.com`; an
    /// IP address allows that literal. Listed hosts still pass every denial
    /// and address check.
    ///
    /// # Errors
    /// [`UrlPolicyError::InvalidHostPattern`] for anything else.
    pub fn allow_host(mut self, pattern: impl AsRef<str>) -> Result<Self, UrlPolicyError> {
        self.allowed_hosts
            .push(HostPattern::parse(pattern.as_ref())?);
        Ok(self)
    }

    /// Refuses a host by name, in the same pattern forms as
    /// [`allow_host`](Self::allow_host), on top of the default denials.
    ///
    /// # Errors
    /// [`UrlPolicyError::InvalidHostPattern`] for an invalid pattern.
    pub fn deny_host(mut self, pattern: impl AsRef<str>) -> Result<Self, UrlPolicyError> {
        self.denied_hosts
            .push(HostPattern::parse(pattern.as_ref())?);
        Ok(self)
    }

    /// Allows addresses in `net` even though they are not globally reachable.
    ///
    /// This is the escape for tests (a server on `127.0.0.1`) and for
    /// deliberately internal targets; allow the narrowest network that works.
    /// Host-name denials (`localhost`) and address denials still apply.
    pub fn allow_addresses(mut self, net: impl Into<IpNet>) -> Self {
        self.allowed_addrs.push(net.into());
        self
    }

    /// Refuses addresses in `net` even though they are globally reachable,
    /// including when spelled as IPv4-mapped, NAT64 or 6to4 IPv6.
    pub fn deny_addresses(mut self, net: impl Into<IpNet>) -> Self {
        self.denied_addrs.push(net.into());
        self
    }

    /// Sets the maximum URL length in bytes (default [`DEFAULT_MAX_URL_LEN`]).
    ///
    /// # Errors
    /// [`UrlPolicyError::ZeroMaxLength`] for 0.
    pub fn max_url_len(mut self, max: usize) -> Result<Self, UrlPolicyError> {
        if max == 0 {
            return Err(UrlPolicyError::ZeroMaxLength);
        }
        self.max_url_len = max;
        Ok(self)
    }

    /// Parses and checks a user-supplied URL without any DNS lookup.
    ///
    /// An IP-literal host is decided here; a domain host comes back with
    /// [`CheckedUrl::needs_resolution`] set, to be finished by
    /// [`check_resolved`](Self::check_resolved).
    ///
    /// # Errors
    /// The [`UrlRefusal`] naming the first rule the URL breaks.
    pub fn check_url(&self, input: &str) -> Result<CheckedUrl, UrlRefusal> {
        if input.len() > self.max_url_len {
            return Err(UrlRefusal::TooLong);
        }
        self.check_parsed(Url::parse(input).map_err(UrlRefusal::Malformed)?)
    }

    /// Checks an already parsed URL, e.g. the one a redirect policy is handed.
    ///
    /// # Errors
    /// As [`check_url`](Self::check_url).
    pub fn check(&self, url: &Url) -> Result<CheckedUrl, UrlRefusal> {
        self.check_parsed(url.clone())
    }

    /// Checks a redirect hop: resolves `location` (a `Location` header value)
    /// against the URL that answered with it and checks the result like any
    /// user-supplied URL. The client calls it for every hop.
    ///
    /// # Errors
    /// As [`check_url`](Self::check_url).
    pub fn check_redirect(
        &self,
        from: &CheckedUrl,
        location: &str,
    ) -> Result<CheckedUrl, UrlRefusal> {
        if location.len() > self.max_url_len {
            return Err(UrlRefusal::TooLong);
        }
        self.check_parsed(from.url.join(location).map_err(UrlRefusal::Malformed)?)
    }

    /// Vets the addresses the client resolved `url`'s host to, and returns
    /// the socket addresses it may connect to: all of them, or none.
    ///
    /// Refuses if **any** address is refused (a name that resolves to both a
    /// public and an internal address is an attack, not a fallback), or if
    /// there is none. `url` is checked again against this policy first, so a
    /// [`CheckedUrl`] vetted by a looser policy (e.g. a
    /// [`SafeUrl`](super::SafeUrl)) cannot slip past a stricter one.
    ///
    /// # Errors
    /// The [`UrlRefusal`] for the URL or the first refused address.
    pub fn check_resolved(
        &self,
        url: &CheckedUrl,
        addrs: &[IpAddr],
    ) -> Result<Vec<SocketAddr>, UrlRefusal> {
        self.vet(&url.url, &url.host, url.port)?;
        if addrs.is_empty() {
            return Err(UrlRefusal::NoAddresses);
        }
        addrs.iter().try_for_each(|ip| self.check_addr(*ip))?;
        Ok(addrs
            .iter()
            .map(|ip| SocketAddr::new(*ip, url.port))
            .collect())
    }

    /// Checks one address: denied networks first, then allowed networks, then
    /// the special-purpose registries.
    ///
    /// # Errors
    /// [`UrlRefusal::DeniedAddress`] or [`UrlRefusal::Address`].
    pub fn check_addr(&self, ip: IpAddr) -> Result<(), UrlRefusal> {
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let denied =
            |net: &IpNet| net.contains(&ip) || embedded.is_some_and(|v4| net.contains(&v4));
        if self.denied_addrs.iter().any(denied) {
            return Err(UrlRefusal::DeniedAddress);
        }
        // Only the mapped form is the same host; NAT64 and 6to4 go through a
        // translator or relay, which an allowance for a test origin never meant.
        let canonical = ip.to_canonical();
        if self
            .allowed_addrs
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
        {
            return Ok(());
        }
        match classify(ip) {
            class if class.is_global() => Ok(()),
            class => Err(UrlRefusal::Address { class }),
        }
    }

    fn check_parsed(&self, url: Url) -> Result<CheckedUrl, UrlRefusal> {
        // Percent-encoding can make the serialisation longer than the input.
        if url.as_str().len() > self.max_url_len {
            return Err(UrlRefusal::TooLong);
        }
        // First, so that a foreign scheme's odd host is reported as the
        // scheme it is.
        if let Some(refusal) = self.scheme_refusal(&url) {
            return Err(refusal);
        }
        let host = match url.host() {
            Some(Host::Domain(domain)) => CheckedHost::Domain(
                normalize_domain(domain)
                    .ok_or(UrlRefusal::MalformedHost)?
                    .to_owned(),
            ),
            Some(Host::Ipv4(v4)) => CheckedHost::Addr(v4.into()),
            Some(Host::Ipv6(v6)) => CheckedHost::Addr(v6.into()),
            // `http` and `https` URLs always have a host (the parser refuses
            // an empty one); kept as a refusal rather than a panic.
            None => return Err(UrlRefusal::MalformedHost),
        };
        // Likewise they always have a default port; 0 is never allowed.
        let port = url.port_or_known_default().unwrap_or(0);
        self.vet(&url, &host, port)?;
        Ok(CheckedUrl { url, host, port })
    }

    fn scheme_refusal(&self, url: &Url) -> Option<UrlRefusal> {
        match url.scheme() {
            "https" => None,
            "http" if self.allow_http => None,
            _ => Some(UrlRefusal::Scheme),
        }
    }

    /// Every rule that needs no DNS, in order of how fundamental it is.
    fn vet(&self, url: &Url, host: &CheckedHost, port: u16) -> Result<(), UrlRefusal> {
        if let Some(refusal) = self.scheme_refusal(url) {
            return Err(refusal);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefusal::Userinfo);
        }
        if self.ports.binary_search(&port).is_err() {
            return Err(UrlRefusal::Port { port });
        }
        let single_label = matches!(host, CheckedHost::Domain(name) if !name.contains('.'));
        if single_label
            || self
                .denied_hosts
                .iter()
                .any(|pattern| pattern.matches(host))
        {
            return Err(UrlRefusal::DeniedHost);
        }
        if !self.allowed_hosts.is_empty()
            && !self
                .allowed_hosts
                .iter()
                .any(|pattern| pattern.matches(host))
        {
            return Err(UrlRefusal::NotAllowlisted);
        }
        match host {
            CheckedHost::Addr(ip) => self.check_addr(*ip),
            CheckedHost::Domain(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use url::ParseError as P;

    use super::*;
    use crate::ssrf::AddressClass as C;
    use crate::ssrf::UrlRefusal as R;

    fn addr(class: C) -> R {
        R::Address { class }
    }

    fn bad(error: P) -> R {
        R::Malformed(error)
    }

    /// Every URL here must be refused by the default policy, for the stated
    /// reason (so a refusal for an accidental reason cannot pass).
    fn refused_by_default() -> Vec<(String, R)> {
        let table: &[(&str, R)] = &[
            // Schemes.
            ("file:///etc/passwd", R::Scheme),
            ("file://localhost/etc/passwd", R::Scheme),
            ("gopher://127.0.0.1:70/_GET", R::Scheme),
            ("ftp://example.com/", R::Scheme),
            ("sftp://example.com/", R::Scheme),
            ("data:text/plain,hi", R::Scheme),
            ("javascript:alert(1)", R::Scheme),
            ("http://example.com/", R::Scheme),
            ("HTTP://example.com/", R::Scheme),
            ("ws://example.com/", R::Scheme),
            ("wss://example.com/", R::Scheme),
            ("dict://127.0.0.1:11211/stat", R::Scheme),
            ("ldap://example.com/", R::Scheme),
            ("jar:https://example.com!/", R::Scheme),
            ("netdoc:///etc/passwd", R::Scheme),
            // Not an absolute URL, or not one a browser would accept.
            ("", bad(P::RelativeUrlWithoutBase)),
            ("example.com", bad(P::RelativeUrlWithoutBase)),
            ("//example.com/", bad(P::RelativeUrlWithoutBase)),
            ("https://", bad(P::EmptyHost)),
            ("https://[fe80::1%25eth0]/", bad(P::InvalidIpv6Address)),
            ("https://[::1%251]/", bad(P::InvalidIpv6Address)),
            ("https://256.0.0.1/", bad(P::InvalidIpv4Address)),
            ("https://1.2.3.4.5/", bad(P::InvalidIpv4Address)),
            ("https://0x100000000/", bad(P::InvalidIpv4Address)),
            ("https://good.com%40127.0.0.1/", bad(P::IdnaError)),
            ("https://exa mple.com/", bad(P::IdnaError)),
            ("https://example.com:99999/", bad(P::InvalidPort)),
            // Credentials, which also hide the real host from a human reader.
            ("https://good.com@127.0.0.1/", R::Userinfo),
            ("https://good.com@8.8.8.8/", R::Userinfo),
            ("https://user:pass@example.com/", R::Userinfo),
            ("https://:pass@example.com/", R::Userinfo),
            ("https://user@example.com/", R::Userinfo),
            ("https://example.com:443@127.0.0.1/", R::Userinfo),
            ("https://example.com%2f@8.8.8.8/", R::Userinfo),
            // Loopback in every spelling the WHATWG parser normalises.
            ("https://127.0.0.1/", addr(C::Loopback)),
            ("https://2130706433/", addr(C::Loopback)),
            ("https://0x7f000001/", addr(C::Loopback)),
            ("https://0X7F000001/", addr(C::Loopback)),
            ("https://017700000001/", addr(C::Loopback)),
            ("https://127.1/", addr(C::Loopback)),
            ("https://127.0.1/", addr(C::Loopback)),
            ("https://0x7f.1/", addr(C::Loopback)),
            ("https://0177.0.0.1/", addr(C::Loopback)),
            ("https://127.0.0.1./", addr(C::Loopback)),
            ("https://%31%32%37.0.0.1/", addr(C::Loopback)),
            ("https://１２７.０.０.１/", addr(C::Loopback)),
            ("https://127。0。0。1/", addr(C::Loopback)),
            ("https://127.0.0.1:443/", addr(C::Loopback)),
            ("https:\\\\127.0.0.1\\", addr(C::Loopback)),
            ("https://127.0.0.1\\@example.com/", addr(C::Loopback)),
            ("https://127.0.0.1#@example.com/", addr(C::Loopback)),
            ("https://127.0.0.1?@example.com/", addr(C::Loopback)),
            ("https://12\t7.0.0.1/", addr(C::Loopback)),
            ("  https://127.0.0.1/  ", addr(C::Loopback)),
            ("https://[::1]/", addr(C::Loopback)),
            ("https://[0:0:0:0:0:0:0:1]/", addr(C::Loopback)),
            ("https://[::ffff:127.0.0.1]/", addr(C::Loopback)),
            ("https://[::ffff:7f00:1]/", addr(C::Loopback)),
            ("https://[64:ff9b::7f00:1]/", addr(C::Loopback)),
            ("https://[2002:7f00:1::1]/", addr(C::Loopback)),
            ("https://0/", addr(C::Unspecified)),
            ("https://0.0.0.0/", addr(C::Unspecified)),
            ("https://0x0/", addr(C::Unspecified)),
            ("https://[::]/", addr(C::Unspecified)),
            // Every other IPv4 special-purpose range.
            ("https://0.1.2.3/", addr(C::ThisNetwork)),
            ("https://10.0.0.1/", addr(C::Private)),
            ("https://167772161/", addr(C::Private)),
            ("https://172.16.0.1/", addr(C::Private)),
            ("https://172.31.255.255/", addr(C::Private)),
            ("https://192.168.1.1/", addr(C::Private)),
            ("https://0xc0a80101/", addr(C::Private)),
            ("https://100.64.0.1/", addr(C::Shared)),
            ("https://100.127.255.255/", addr(C::Shared)),
            ("https://169.254.169.254/", addr(C::LinkLocal)),
            (
                "https://169.254.169.254/latest/meta-data/iam/",
                addr(C::LinkLocal),
            ),
            ("https://2852039166/", addr(C::LinkLocal)),
            ("https://0xa9fea9fe/", addr(C::LinkLocal)),
            ("https://0251.0376.0251.0376/", addr(C::LinkLocal)),
            ("https://169.254.43518/", addr(C::LinkLocal)),
            ("https://192.0.0.1/", addr(C::IetfProtocol)),
            ("https://192.0.0.192/", addr(C::IetfProtocol)),
            ("https://192.0.2.1/", addr(C::Documentation)),
            ("https://198.51.100.1/", addr(C::Documentation)),
            ("https://203.0.113.1/", addr(C::Documentation)),
            ("https://198.18.0.1/", addr(C::Benchmarking)),
            ("https://198.19.255.255/", addr(C::Benchmarking)),
            ("https://192.88.99.1/", addr(C::Relay6to4)),
            ("https://224.0.0.1/", addr(C::Multicast)),
            ("https://239.255.255.250/", addr(C::Multicast)),
            ("https://240.0.0.1/", addr(C::Reserved)),
            ("https://255.255.255.255/", addr(C::Broadcast)),
            ("https://4294967295/", addr(C::Broadcast)),
            // Every IPv6 special-purpose range, and IPv4 hidden inside IPv6.
            ("https://[::ffff:10.0.0.1]/", addr(C::Private)),
            ("https://[::ffff:169.254.169.254]/", addr(C::LinkLocal)),
            ("https://[64:ff9b::a9fe:a9fe]/", addr(C::LinkLocal)),
            ("https://[64:ff9b::192.168.0.1]/", addr(C::Private)),
            ("https://[2002:a9fe:a9fe::1]/", addr(C::LinkLocal)),
            ("https://[2002:0a00:0001::]/", addr(C::Private)),
            ("https://[::127.0.0.1]/", addr(C::Ipv4Compatible)),
            ("https://[::ffff:0:7f00:1]/", addr(C::Ipv4Translated)),
            ("https://[64:ff9b:1::1]/", addr(C::LocalNat64)),
            ("https://[100::1]/", addr(C::Discard)),
            ("https://[2001::1]/", addr(C::Teredo)),
            (
                "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
                addr(C::Teredo),
            ),
            ("https://[2001:1::1]/", addr(C::IetfProtocol)),
            ("https://[2001:db8::1]/", addr(C::Documentation)),
            ("https://[3fff::1]/", addr(C::Documentation)),
            ("https://[5f00::1]/", addr(C::Srv6)),
            ("https://[fc00::1]/", addr(C::UniqueLocal)),
            ("https://[fd12:3456::1]/", addr(C::UniqueLocal)),
            ("https://[fe80::1]/", addr(C::LinkLocal)),
            ("https://[fec0::1]/", addr(C::SiteLocal)),
            ("https://[ff02::1]/", addr(C::Multicast)),
            ("https://[4000::1]/", addr(C::Reserved)),
            // Ports.
            ("https://example.com:22/", R::Port { port: 22 }),
            ("https://example.com:6379/", R::Port { port: 6379 }),
            ("https://example.com:8443/", R::Port { port: 8443 }),
            ("https://8.8.8.8:8080/", R::Port { port: 8080 }),
            ("https://example.com:0/", R::Port { port: 0 }),
            // Names: metadata services, the local host, special-use suffixes.
            ("https://localhost/", R::DeniedHost),
            ("https://LOCALHOST/", R::DeniedHost),
            ("https://localhost./", R::DeniedHost),
            ("https://foo.localhost/", R::DeniedHost),
            ("https://a.b.localhost./", R::DeniedHost),
            ("https://localhost.localdomain/", R::DeniedHost),
            ("https://%6c%6fcalhost/", R::DeniedHost),
            ("https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", R::DeniedHost),
            (
                "https://metadata.google.internal/computeMetadata/v1/",
                R::DeniedHost,
            ),
            ("https://metadata.google.internal./", R::DeniedHost),
            ("https://METADATA.Google.Internal/", R::DeniedHost),
            ("https://metadata/", R::DeniedHost),
            ("https://metadata./", R::DeniedHost),
            ("https://metadata.goog/", R::DeniedHost),
            ("https://instance-data/", R::DeniedHost),
            ("https://instance-data.ec2.internal/", R::DeniedHost),
            ("https://metadata.tencentyun.com/", R::DeniedHost),
            ("https://metadata.platformequinix.com/", R::DeniedHost),
            ("https://kubernetes.default.svc/", R::DeniedHost),
            ("https://kubernetes.default/", R::DeniedHost),
            ("https://db.prod.internal/", R::DeniedHost),
            ("https://printer.local/", R::DeniedHost),
            ("https://router.home.arpa/", R::DeniedHost),
            ("https://intranet/", R::DeniedHost),
            ("https:///intranet", R::DeniedHost),
            ("https://100.100.100.200/", R::DeniedHost),
            ("https://[fd00:ec2::254]/", R::DeniedHost),
            // Names DNS cannot carry.
            ("https://example..com/", R::MalformedHost),
            ("https://example.com../", R::MalformedHost),
            // Routable but platform-internal, in any spelling.
            ("https://168.63.129.16/", R::DeniedAddress),
            ("https://[::ffff:168.63.129.16]/", R::DeniedAddress),
            ("https://[64:ff9b::a83f:8110]/", R::DeniedAddress),
            ("https://[2002:a83f:8110::]/", R::DeniedAddress),
        ];
        let mut table: Vec<(String, R)> = table
            .iter()
            .map(|(u, r)| ((*u).to_owned(), r.clone()))
            .collect();
        let long_label = "a".repeat(64);
        table.push((format!("https://{long_label}.com/"), R::MalformedHost));
        table.push((
            format!("https://example.com/{}", "a".repeat(DEFAULT_MAX_URL_LEN)),
            R::TooLong,
        ));
        table
    }

    #[test]
    fn refuses_every_dangerous_form_without_dns() {
        let policy = UrlPolicy::new();
        let table = refused_by_default();
        assert!(table.len() >= 60, "{}", table.len());
        // Every mismatch at once: one bad row should not hide the next.
        let wrong: Vec<String> = table
            .into_iter()
            .filter_map(|(url, want)| {
                let got = policy.check_url(&url).map(|c| c.to_string());
                (got != Err(want.clone())).then(|| format!("{url:?}: got {got:?}, want {want:?}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn allows_public_literals_and_hostnames() {
        // (input, normalised URL, host as displayed, port, needs resolution)
        #[rustfmt::skip]
        let table: &[(&str, &str, &str, u16, bool)] = &[
            ("https://8.8.8.8/", "https://8.8.8.8/", "8.8.8.8", 443, false),
            ("https://1.1.1.1/dns-query", "https://1.1.1.1/dns-query", "1.1.1.1", 443, false),
            ("https://134744072/", "https://8.8.8.8/", "8.8.8.8", 443, false),
            ("https://0x08080808/", "https://8.8.8.8/", "8.8.8.8", 443, false),
            ("https://9.9.9.9:80/", "https://9.9.9.9:80/", "9.9.9.9", 80, false),
            ("https://[2606:4700:4700::1111]/", "https://[2606:4700:4700::1111]/", "[2606:4700:4700::1111]", 443, false),
            ("https://[2001:4860:4860::8888]:443/", "https://[2001:4860:4860::8888]/", "[2001:4860:4860::8888]", 443, false),
            ("https://[::ffff:8.8.8.8]/", "https://[::ffff:808:808]/", "[::ffff:8.8.8.8]", 443, false),
            ("https://[64:ff9b::808:808]/", "https://[64:ff9b::808:808]/", "[64:ff9b::808:808]", 443, false),
            ("https://[2002:808:808::1]/", "https://[2002:808:808::1]/", "[2002:808:808::1]", 443, false),
            ("https://100.63.255.255/", "https://100.63.255.255/", "100.63.255.255", 443, false),
            ("https://172.32.0.1/", "https://172.32.0.1/", "172.32.0.1", 443, false),
            ("https://169.253.255.255/", "https://169.253.255.255/", "169.253.255.255", 443, false),
            ("https://198.20.0.1/", "https://198.20.0.1/", "198.20.0.1", 443, false),
            ("https://223.255.255.255/", "https://223.255.255.255/", "223.255.255.255", 443, false),
            ("https://example.com/", "https://example.com/", "example.com", 443, true),
            ("https://example.com:443/", "https://example.com/", "example.com", 443, true),
            ("https://example.com:80/", "https://example.com:80/", "example.com", 80, true),
            ("https://EXAMPLE.com/p?q=1#f", "https://example.com/p?q=1#f", "example.com", 443, true),
            ("https://example.com./", "https://example.com./", "example.com", 443, true),
            ("https://example.com\\path", "https://example.com/path", "example.com", 443, true),
            ("https://@example.com/", "https://example.com/", "example.com", 443, true),
            ("https://sub.example.co.uk/x", "https://sub.example.co.uk/x", "sub.example.co.uk", 443, true),
            ("https://bücher.example/", "https://xn--bcher-kva.example/", "xn--bcher-kva.example", 443, true),
            ("https://localhost.example.com/", "https://localhost.example.com/", "localhost.example.com", 443, true),
            ("https://metadata.example.com/", "https://metadata.example.com/", "metadata.example.com", 443, true),
            ("https://internal.example.com/", "https://internal.example.com/", "internal.example.com", 443, true),
        ];
        let policy = UrlPolicy::new();
        for &(input, url, host, port, resolve) in table {
            let checked = policy
                .check_url(input)
                .unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(checked.as_str(), url, "{input}");
            assert_eq!(checked.host().to_string(), host, "{input}");
            assert_eq!(checked.port(), port, "{input}");
            assert_eq!(checked.needs_resolution(), resolve, "{input}");
            assert_eq!(checked.domain().is_some(), resolve, "{input}");
            assert_eq!(checked.addr().is_some(), !resolve, "{input}");
        }
    }

    #[test]
    fn refuses_a_name_if_any_resolved_address_is_refused() {
        let policy = UrlPolicy::new();
        let checked = policy.check_url("https://rebind.example.com/").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let cases: &[(&[&str], Result<(), R>)] = &[
            (&["93.184.215.14"], Ok(())),
            (
                &["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
                Ok(()),
            ),
            (&["127.0.0.1"], Err(addr(C::Loopback))),
            (&["93.184.215.14", "127.0.0.1"], Err(addr(C::Loopback))),
            (&["93.184.215.14", "::1"], Err(addr(C::Loopback))),
            (
                &["169.254.169.254", "93.184.215.14"],
                Err(addr(C::LinkLocal)),
            ),
            (&["93.184.215.14", "::ffff:10.0.0.1"], Err(addr(C::Private))),
            (&["fd00:ec2::254"], Err(addr(C::UniqueLocal))),
            (&["168.63.129.16"], Err(R::DeniedAddress)),
            (&[], Err(R::NoAddresses)),
        ];
        for (addrs, want) in cases {
            let addrs: Vec<IpAddr> = addrs.iter().map(|a| ip(a)).collect();
            let got = policy.check_resolved(&checked, &addrs);
            match want {
                Ok(()) => {
                    let want: Vec<SocketAddr> =
                        addrs.iter().map(|a| SocketAddr::new(*a, 443)).collect();
                    assert_eq!(got, Ok(want), "{addrs:?}");
                }
                Err(refusal) => assert_eq!(got, Err(refusal.clone()), "{addrs:?}"),
            }
        }
    }

    #[test]
    fn check_resolved_revets_the_url_against_its_own_policy() {
        let loose = UrlPolicy::new().allow_http();
        let strict = UrlPolicy::new().allow_host("api.example.com").unwrap();
        let public = ["93.184.215.14".parse().unwrap()];
        let other = loose.check_url("https://other.example.com/").unwrap();
        assert_eq!(
            strict.check_resolved(&other, &public),
            Err(R::NotAllowlisted)
        );
        let plain = loose.check_url("http://api.example.com/").unwrap();
        assert_eq!(strict.check_resolved(&plain, &public), Err(R::Scheme));
        let good = loose.check_url("https://api.example.com/").unwrap();
        assert!(strict.check_resolved(&good, &public).is_ok());
    }

    #[test]
    fn allowlist_matches_on_label_boundaries_and_ignores_trailing_dots() {
        let policy = UrlPolicy::new()
            .allow_host(".example.com")
            .unwrap()
            .allow_host("API.partner.org.")
            .unwrap()
            .allow_host("8.8.8.8")
            .unwrap();
        for url in [
            "https://a.example.com/",
            "https://a.b.example.com/",
            "https://a.example.com./",
            "https://A.EXAMPLE.COM/",
            "https://api.partner.org/",
            "https://api.partner.org./",
            "https://8.8.8.8/",
            "https://134744072/",
        ] {
            assert!(policy.check_url(url).is_ok(), "{url}");
        }
        for url in [
            "https://example.com/",
            "https://evil-example.com/",
            "https://aexample.com/",
            "https://example.com.evil.com/",
            "https://a.example.com.evil.com/",
            "https://partner.org/",
            "https://x.api.partner.org/",
            "https://api.partner.org.evil.com/",
            "https://8.8.4.4/",
            "https://[2001:4860:4860::8888]/",
        ] {
            assert_eq!(
                policy.check_url(url).map(|c| c.to_string()),
                Err(R::NotAllowlisted),
                "{url}"
            );
        }
    }

    #[test]
    fn denials_win_over_the_allowlist() {
        let policy = UrlPolicy::new()
            .allow_host(".internal")
            .unwrap()
            .allow_host("10.0.0.1")
            .unwrap()
            .allow_host("blocked.example.com")
            .unwrap()
            .deny_host("Blocked.Example.com.")
            .unwrap();
        assert_eq!(
            policy
                .check_url("https://metadata.google.internal/")
                .map(|_| ()),
            Err(R::DeniedHost)
        );
        assert_eq!(
            policy
                .check_url("https://blocked.example.com./")
                .map(|_| ()),
            Err(R::DeniedHost)
        );
        assert_eq!(
            policy.check_url("https://10.0.0.1/").map(|_| ()),
            Err(addr(C::Private))
        );
    }

    #[test]
    fn deny_host_refuses_names_and_subdomains() {
        let policy = UrlPolicy::new()
            .deny_host("*.corp.example")
            .unwrap()
            .deny_host("evil.com")
            .unwrap();
        for url in [
            "https://a.corp.example/",
            "https://a.corp.example./",
            "https://evil.com./",
        ] {
            assert_eq!(
                policy.check_url(url).map(|_| ()),
                Err(R::DeniedHost),
                "{url}"
            );
        }
        for url in [
            "https://corp.example/",
            "https://not-evil.com/",
            "https://evil.com.example/",
        ] {
            assert!(policy.check_url(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn test_escape_allows_exactly_one_loopback_origin() {
        let policy = UrlPolicy::new()
            .allow_http()
            .allow_port(8080)
            .unwrap()
            .allow_addresses("127.0.0.1/32".parse::<IpNet>().unwrap());
        for url in [
            "http://127.0.0.1:8080/",
            "http://127.1:8080/",
            "http://[::ffff:127.0.0.1]:8080/",
        ] {
            assert!(policy.check_url(url).is_ok(), "{url}");
        }
        let cases = [
            ("http://127.0.0.2:8080/", addr(C::Loopback)),
            ("http://[::1]:8080/", addr(C::Loopback)),
            ("http://[64:ff9b::7f00:1]:8080/", addr(C::Loopback)),
            ("http://localhost:8080/", R::DeniedHost),
            ("http://127.0.0.1:8081/", R::Port { port: 8081 }),
            ("http://10.0.0.1:8080/", addr(C::Private)),
        ];
        for (url, want) in cases {
            assert_eq!(policy.check_url(url).map(|_| ()), Err(want), "{url}");
        }
        let name = policy
            .check_url("http://service.test.example:8080/")
            .unwrap();
        let loopback = ["127.0.0.1".parse().unwrap()];
        assert_eq!(
            policy.check_resolved(&name, &loopback),
            Ok(vec!["127.0.0.1:8080".parse().unwrap()])
        );
    }

    #[test]
    fn address_denials_win_over_address_allowances() {
        let policy = UrlPolicy::new()
            .allow_addresses("168.63.0.0/16".parse::<IpNet>().unwrap())
            .deny_addresses("8.8.8.0/24".parse::<IpNet>().unwrap());
        assert_eq!(
            policy.check_url("https://168.63.129.16/").map(|_| ()),
            Err(R::DeniedAddress)
        );
        assert!(policy.check_url("https://168.63.1.1/").is_ok());
        for ip in [
            "8.8.8.8",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            assert_eq!(
                policy.check_addr(ip.parse().unwrap()),
                Err(R::DeniedAddress),
                "{ip}"
            );
        }
        assert!(policy.check_addr("8.8.4.4".parse().unwrap()).is_ok());
    }

    #[test]
    fn rechecks_every_redirect_hop() {
        let policy = UrlPolicy::new();
        let from = policy.check_url("https://example.com/a/b").unwrap();
        let allowed = [
            ("/c", "https://example.com/c"),
            ("c", "https://example.com/a/c"),
            ("https://other.example.org/x", "https://other.example.org/x"),
            ("//cdn.example.net/y", "https://cdn.example.net/y"),
        ];
        for (location, want) in allowed {
            assert_eq!(
                policy
                    .check_redirect(&from, location)
                    .map(|c| c.to_string()),
                Ok(want.to_owned()),
                "{location}"
            );
        }
        let refused = [
            ("https://127.0.0.1/", addr(C::Loopback)),
            ("//169.254.169.254/latest/meta-data/", addr(C::LinkLocal)),
            ("\\\\2130706433\\x", addr(C::Loopback)),
            ("http://example.com/", R::Scheme),
            ("file:///etc/passwd", R::Scheme),
            ("https://user@example.com/", R::Userinfo),
            ("https://example.com:22/", R::Port { port: 22 }),
            ("https://metadata.google.internal/", R::DeniedHost),
            ("https://[fe80::1%25en0]/", bad(P::InvalidIpv6Address)),
        ];
        for (location, want) in refused {
            assert_eq!(
                policy.check_redirect(&from, location).map(|_| ()),
                Err(want),
                "{location}"
            );
        }
        let long = format!("/{}", "a".repeat(DEFAULT_MAX_URL_LEN));
        assert_eq!(
            policy.check_redirect(&from, &long).map(|_| ()),
            Err(R::TooLong)
        );
    }

    #[test]
    fn checks_an_already_parsed_url() {
        let policy = UrlPolicy::new();
        let url = Url::parse("https://0x7f.1/").unwrap();
        assert_eq!(policy.check(&url).map(|_| ()), Err(addr(C::Loopback)));
        let url = Url::parse("https://example.com/").unwrap();
        assert_eq!(policy.check(&url).map(CheckedUrl::into_url), Ok(url));
    }

    #[test]
    fn http_and_ports_are_opt_in() {
        let default = UrlPolicy::new();
        assert_eq!(
            default.check_url("http://example.com/").map(|_| ()),
            Err(R::Scheme)
        );

        let http = UrlPolicy::new().allow_http();
        assert_eq!(
            http.check_url("http://example.com/").map(|c| c.port()),
            Ok(80)
        );
        assert_eq!(
            http.check_url("http://127.0.0.1/").map(|_| ()),
            Err(addr(C::Loopback))
        );
        assert_eq!(
            http.check_url("ftp://example.com/").map(|_| ()),
            Err(R::Scheme)
        );

        let custom = UrlPolicy::new().ports([8443, 8443]).unwrap();
        assert_eq!(
            custom.check_url("https://example.com/").map(|_| ()),
            Err(R::Port { port: 443 })
        );
        assert_eq!(
            custom
                .check_url("https://example.com:8443/")
                .map(|c| c.port()),
            Ok(8443)
        );
    }

    #[test]
    fn max_url_len_counts_bytes() {
        let policy = UrlPolicy::new().max_url_len(24).unwrap();
        assert!(policy.check_url("https://example.com/abcd").is_ok());
        assert_eq!(
            policy.check_url("https://example.com/abcde").map(|_| ()),
            Err(R::TooLong)
        );
        // Percent-encoding makes the normalised URL longer than the input.
        assert_eq!(
            policy.check_url("https://example.com/é").map(|_| ()),
            Err(R::TooLong)
        );
    }

    #[test]
    fn rejects_settings_that_cannot_work() {
        assert_eq!(
            UrlPolicy::new().allow_port(0).map(|_| ()),
            Err(UrlPolicyError::ZeroPort)
        );
        assert_eq!(
            UrlPolicy::new().ports([]).map(|_| ()),
            Err(UrlPolicyError::NoPorts)
        );
        assert_eq!(
            UrlPolicy::new().ports([443, 0]).map(|_| ()),
            Err(UrlPolicyError::ZeroPort)
        );
        assert_eq!(
            UrlPolicy::new().max_url_len(0).map(|_| ()),
            Err(UrlPolicyError::ZeroMaxLength)
        );
        assert_eq!(
            UrlPolicy::new().allow_host("*.*.example.com").map(|_| ()),
            Err(UrlPolicyError::InvalidHostPattern("*.*.example.com".into()))
        );
        assert_eq!(
            UrlPolicy::new().deny_host("").map(|_| ()),
            Err(UrlPolicyError::InvalidHostPattern(String::new()))
        );
    }

    #[test]
    fn refusal_messages_name_the_rule_not_the_url() {
        let policy = UrlPolicy::new();
        for (url, _) in refused_by_default() {
            let message = policy.check_url(&url).map(|_| ()).unwrap_err().to_string();
            assert!(message.starts_with("url "), "{message}");
            let host = Url::parse(url.trim())
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned));
            if let Some(host) = host {
                assert!(!message.contains(&host), "{url}: {message}");
            }
        }
    }
}
