//! [`Origin`]: a web origin parsed from configuration or from a request's
//! `Origin` header, compared parsed, never as text.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use http::HeaderValue;
use url::Url;

use super::CorsConfigError;

/// Characters that never appear in an origin but do in patterns people write
/// for one (`https://*.example.com`, `^https://(a|b)\.example\.com$`).
/// Brackets are patterns too, except around an IPv6 host.
const PATTERN_CHARS: &[char] = &['*', '(', ')', '{', '}', '|', '^', '$', '\\', '+'];

/// Longest `Origin` header parsed: a 253-byte host, a scheme and a port fit.
const MAX_ORIGIN_LEN: usize = 300;

/// A web origin, parsed: scheme (`http` or `https`), lowercase ASCII host,
/// and port with the scheme's default filled in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub(super) https: bool,
    host: String,
    port: u16,
}

impl Origin {
    /// `"https"` or `"http"`.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// The host: a lowercase domain in ASCII (`xn--` form for
    /// internationalised names), an IPv4 address, or a bracketed IPv6 one.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, the scheme's default (443, 80) when the origin names none.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the host is loopback: `localhost`, `*.localhost`,
    /// `127.0.0.0/8` or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        let host = self.host.as_str();
        host == "localhost"
            || host.ends_with(".localhost")
            || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
            || host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse::<Ipv6Addr>().ok())
                .is_some_and(|ip| ip.is_loopback())
    }

    fn default_port(&self) -> u16 {
        if self.https { 443 } else { 80 }
    }

    fn from_url(url: &Url) -> Option<Self> {
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        Some(Self {
            https,
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }

    /// Parses a configured origin, refusing everything that is not exactly
    /// `scheme://host[:port]` (one trailing `/` tolerated).
    pub(crate) fn from_config(origin: &str) -> Result<Self, CorsConfigError> {
        let invalid = |reason: &str| CorsConfigError::InvalidOrigin {
            origin: origin.to_owned(),
            reason: reason.to_owned(),
        };
        if origin == "*" {
            return Err(CorsConfigError::WildcardOrigin);
        }
        if origin.trim().eq_ignore_ascii_case("null") {
            return Err(CorsConfigError::NullOrigin);
        }
        // The URL parser silently drops tabs and line breaks inside a URL;
        // an origin with any is a mistake, not something to normalise.
        if origin.is_empty() || origin.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "it is empty or contains whitespace or control characters",
            ));
        }
        let after_scheme = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        let ipv6_host = after_scheme.starts_with('[');
        if origin.contains(PATTERN_CHARS)
            || after_scheme.starts_with('.')
            || (origin.contains(['[', ']']) && !ipv6_host)
        {
            return Err(CorsConfigError::PatternOrigin {
                origin: origin.to_owned(),
            });
        }
        if !origin.contains("://") {
            return Err(invalid("it has no scheme"));
        }
        let url = Url::parse(origin).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(CorsConfigError::UnsupportedScheme {
                origin: origin.to_owned(),
                scheme: url.scheme().to_owned(),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CorsConfigError::OriginHasUserinfo {
                origin: origin.to_owned(),
            });
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(CorsConfigError::OriginHasPath {
                origin: origin.to_owned(),
            });
        }
        let parsed = Self::from_url(&url).ok_or_else(|| invalid("it has no host"))?;
        if !parsed.https && !parsed.is_loopback() {
            return Err(CorsConfigError::InsecureOrigin {
                origin: origin.to_owned(),
            });
        }
        Ok(parsed)
    }

    /// Parses a request's `Origin` header; `None` for anything that is not a
    /// serialized http(s) origin, `null` included.
    pub(crate) fn from_request(value: &HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        // Visible ASCII only: browsers send IDN hosts in `xn--` form, and the
        // URL parser would drop a tab where a browser never puts one. A
        // backslash is a `/` to the URL parser, and it decodes `%2e` in a
        // host, which no browser sends.
        if bytes.len() > MAX_ORIGIN_LEN
            || !bytes
                .iter()
                .all(|&b| b.is_ascii_graphic() && b != b'\\' && b != b'%')
        {
            return None;
        }
        let text = std::str::from_utf8(bytes).ok()?;
        let (scheme, rest) = text.split_once("://")?;
        if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http"))
            || rest.contains(['/', '?', '#', '@'])
        {
            return None;
        }
        let url = Url::parse(text).ok()?;
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return None;
        }
        Self::from_url(&url)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme(), self.host)?;
        if self.port != self.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cors::CorsPolicy;

    type Check = fn(&CorsConfigError) -> bool;

    fn origin_error(origin: &str) -> CorsConfigError {
        CorsPolicy::builder().allow_origin(origin).unwrap_err()
    }

    #[test]
    fn refuses_dangerous_origins() {
        let table: [(&str, Check); 27] = [
            ("*", |e| matches!(e, CorsConfigError::WildcardOrigin)),
            ("null", |e| matches!(e, CorsConfigError::NullOrigin)),
            ("NULL", |e| matches!(e, CorsConfigError::NullOrigin)),
            ("https://*.example.com", |e| {
                matches!(e, CorsConfigError::PatternOrigin { .. })
            }),
            ("*.example.com", |e| {
                matches!(e, CorsConfigError::PatternOrigin { .. })
            }),
            ("https://.example.com", |e| {
                matches!(e, CorsConfigError::PatternOrigin { .. })
            }),
            (".example.com", |e| {
                matches!(e, CorsConfigError::PatternOrigin { .. })
            }),
            (r"https://app\.example\.com", |e| {
                matches!(e, CorsConfigError::PatternOrigin { .. })
            }),
            ("^https://example.com$", |e| {
                matches!(e, CorsConfigError::PatternOrigin { .. })
            }),
            ("https://(app|admin).example.com", |e| {
                matches!(e, CorsConfigError::PatternOrigin { .. })
            }),
            ("https://app.example.com/path", |e| {
                matches!(e, CorsConfigError::OriginHasPath { .. })
            }),
            ("https://app.example.com/?", |e| {
                matches!(e, CorsConfigError::OriginHasPath { .. })
            }),
            ("https://app.example.com#x", |e| {
                matches!(e, CorsConfigError::OriginHasPath { .. })
            }),
            ("https://user:pw@app.example.com", |e| {
                matches!(e, CorsConfigError::OriginHasUserinfo { .. })
            }),
            ("https://user@app.example.com", |e| {
                matches!(e, CorsConfigError::OriginHasUserinfo { .. })
            }),
            ("ftp://example.com", |e| {
                matches!(e, CorsConfigError::UnsupportedScheme { .. })
            }),
            ("file:///etc/passwd", |e| {
                matches!(e, CorsConfigError::UnsupportedScheme { .. })
            }),
            ("chrome-extension://abcdef", |e| {
                matches!(e, CorsConfigError::UnsupportedScheme { .. })
            }),
            ("wss://example.com", |e| {
                matches!(e, CorsConfigError::UnsupportedScheme { .. })
            }),
            ("http://example.com", |e| {
                matches!(e, CorsConfigError::InsecureOrigin { .. })
            }),
            ("http://10.0.0.5:8080", |e| {
                matches!(e, CorsConfigError::InsecureOrigin { .. })
            }),
            ("example.com", |e| {
                matches!(e, CorsConfigError::InvalidOrigin { .. })
            }),
            ("", |e| matches!(e, CorsConfigError::InvalidOrigin { .. })),
            ("https://", |e| {
                matches!(e, CorsConfigError::InvalidOrigin { .. })
            }),
            (" https://example.com", |e| {
                matches!(e, CorsConfigError::InvalidOrigin { .. })
            }),
            ("https://exa\tmple.com", |e| {
                matches!(e, CorsConfigError::InvalidOrigin { .. })
            }),
            ("https://exa mple.com", |e| {
                matches!(e, CorsConfigError::InvalidOrigin { .. })
            }),
        ];
        for (origin, is_expected) in table {
            let err = origin_error(origin);
            assert!(is_expected(&err), "{origin:?} gave {err:?}");
        }
    }

    #[test]
    fn every_refusal_names_a_fix() {
        let messages = [
            origin_error("*").to_string(),
            origin_error("null").to_string(),
            origin_error("https://*.example.com").to_string(),
            CorsConfigError::CredentialsWithAnyOrigin.to_string(),
        ];
        let hints = [
            "allow_any_origin_without_credentials",
            "exact origins",
            "list each one",
            "allow_origin",
        ];
        for (message, hint) in messages.iter().zip(hints) {
            assert!(message.contains(hint), "{message:?} lacks {hint:?}");
        }
    }

    #[test]
    fn matches_exact_parsed_origins_only() {
        let policy = CorsPolicy::builder()
            .allow_origin("https://example.com")
            .unwrap()
            .allow_credentials(true)
            .build()
            .unwrap();
        let table = [
            ("https://example.com", true),
            ("https://EXAMPLE.com", true),
            ("https://APP.example.com", false),
            ("HTTPS://example.com", true),
            ("https://example.com:443", true),
            ("https://example.com.evil.com", false),
            ("https://evil-example.com", false),
            ("https://evilexample.com", false),
            ("https://sub.example.com", false),
            ("https://example.co", false),
            ("https://example.com.", false),
            ("null", false),
            ("http://example.com", false),
            ("https://example.com:8443", false),
            ("https://example.com/", false),
            ("https://example.com/path", false),
            ("https://example.com@evil.com", false),
            ("https://evil.com#@example.com", false),
            ("https://evil.com\\@example.com", false),
            ("https://example.com\t", false),
            ("https://exa\tmple.com", false),
            ("https://example%2ecom", false),
            ("example.com", false),
            ("//example.com", false),
            ("", false),
            ("*", false),
        ];
        for (origin, expected) in table {
            let value = HeaderValue::from_str(origin).unwrap();
            assert_eq!(policy.allows_origin(&value), expected, "{origin:?}");
        }
    }

    #[test]
    fn normalises_configured_origins() {
        let table = [
            ("https://APP.example.com", "https://app.example.com"),
            ("https://app.example.com/", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            (
                "https://app.example.com:8443",
                "https://app.example.com:8443",
            ),
            ("https://bücher.example", "https://xn--bcher-kva.example"),
            ("https://[2001:db8::1]", "https://[2001:db8::1]"),
        ];
        for (configured, request) in table {
            let policy = CorsPolicy::builder()
                .allow_origin(configured)
                .unwrap()
                .build()
                .unwrap();
            assert!(
                policy.allows_origin(&HeaderValue::from_str(request).unwrap()),
                "{configured} should admit {request}"
            );
            assert_eq!(
                policy.origins().first().map(ToString::to_string).as_deref(),
                Some(request)
            );
        }
    }

    #[test]
    fn idn_hosts_match_only_in_ascii_form() {
        let policy = CorsPolicy::builder()
            .allow_origin("https://bücher.example")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            policy.origins().first().map(Origin::host),
            Some("xn--bcher-kva.example")
        );
        let raw_unicode = HeaderValue::from_bytes("https://bücher.example".as_bytes()).unwrap();
        assert!(!policy.allows_origin(&raw_unicode));
        assert!(!policy.allows_origin(&HeaderValue::from_static("https://bucher.example")));
    }

    #[test]
    fn never_panics_on_hostile_origin_headers() {
        let long = format!("https://{}.com", "a".repeat(10_000));
        let policy = CorsPolicy::builder()
            .allow_origin("https://a.com")
            .unwrap()
            .build()
            .unwrap();
        let mut inputs: Vec<Vec<u8>> = vec![
            long.into_bytes(),
            b"https://".to_vec(),
            b"https://:443".to_vec(),
        ];
        inputs.extend(
            (0_u8..=255).map(|b| vec![b'h', b't', b't', b'p', b's', b':', b'/', b'/', b, b'a']),
        );
        for bytes in inputs {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                assert!(!policy.allows_origin(&value), "{bytes:?}");
            }
        }
    }
}
