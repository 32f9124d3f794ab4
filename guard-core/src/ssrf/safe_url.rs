//! [`SafeUrl`]: a URL field that refuses itself at the request boundary.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use url::Url;

use super::policy::default_policy;
use super::{CheckedUrl, UrlRefusal};

/// A URL that passed the default [`UrlPolicy`](super::UrlPolicy): `https`,
/// port 443 or 80, no credentials, no refused host name, and no literal
/// address that is not globally reachable.
///
/// Use it as a field of a request body so a bad URL is a 400 before the
/// handler runs: deserializing refuses anything the policy refuses, with a
/// generic message that never echoes the URL.
///
/// ```
/// use guard_core::ssrf::SafeUrl;
///
/// #[derive(serde::Deserialize)]
/// struct CreateWebhook {
///     url: SafeUrl,
/// }
///
/// let ok: CreateWebhook = serde_json::from_str(r#"{"url":"https://hooks.example.com/x"}"#)?;
/// assert_eq!(ok.url.as_str(), "https://hooks.example.com/x");
/// assert!(serde_json::from_str::<CreateWebhook>(r#"{"url":"https://169.254.169.254/"}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// A `SafeUrl` is not yet safe to connect to: its host has not been
/// resolved. The fetching client checks it again with its own policy
/// ([`UrlPolicy::check`](super::UrlPolicy::check), then
/// [`check_resolved`](super::UrlPolicy::check_resolved) on every address).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SafeUrl(CheckedUrl);

impl SafeUrl {
    /// Parses and checks `input` against the default policy.
    ///
    /// # Errors
    /// The [`UrlRefusal`] naming the rule the URL breaks.
    pub fn parse(input: &str) -> Result<Self, UrlRefusal> {
        default_policy().check_url(input).map(Self)
    }

    /// The normalised URL as a string (not necessarily the input's spelling).
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    #[must_use]
    pub fn url(&self) -> &Url {
        self.0.url()
    }

    /// The checked URL, with its host and port.
    #[must_use]
    pub fn checked(&self) -> &CheckedUrl {
        &self.0
    }

    /// The checked URL, by value.
    #[must_use]
    pub fn into_checked(self) -> CheckedUrl {
        self.0
    }
}

impl FromStr for SafeUrl {
    type Err = UrlRefusal;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl TryFrom<&str> for SafeUrl {
    type Error = UrlRefusal;

    fn try_from(input: &str) -> Result<Self, Self::Error> {
        Self::parse(input)
    }
}

impl AsRef<str> for SafeUrl {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<SafeUrl> for CheckedUrl {
    fn from(safe: SafeUrl) -> Self {
        safe.0
    }
}

impl fmt::Display for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Scheme, host and port only: paths and queries often carry secrets.
impl fmt::Debug for SafeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SafeUrl").field(&self.0).finish()
    }
}

impl Serialize for SafeUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SafeUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SafeUrlVisitor;

        impl Visitor<'_> for SafeUrlVisitor {
            type Value = SafeUrl;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an https URL")
            }

            fn visit_str<E: de::Error>(self, input: &str) -> Result<SafeUrl, E> {
                SafeUrl::parse(input).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(SafeUrlVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssrf::AddressClass;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        url: SafeUrl,
    }

    fn body(url: &str) -> Result<Body, serde_json::Error> {
        serde_json::from_str(&serde_json::json!({ "url": url }).to_string())
    }

    #[test]
    fn deserializes_allowed_urls_normalised() {
        for (input, want) in [
            ("https://example.com/hook", "https://example.com/hook"),
            ("https://EXAMPLE.com:443/a", "https://example.com/a"),
            ("https://8.8.8.8/", "https://8.8.8.8/"),
            ("https://134744072/", "https://8.8.8.8/"),
            (
                "https://[2606:4700:4700::1111]/",
                "https://[2606:4700:4700::1111]/",
            ),
        ] {
            assert_eq!(body(input).unwrap().url.as_str(), want, "{input}");
        }
    }

    #[test]
    fn refuses_to_deserialize_what_the_default_policy_refuses() {
        for (input, message) in [
            (
                "https://127.0.0.1/",
                "url address is not allowed (loopback)",
            ),
            (
                "https://0x7f000001/",
                "url address is not allowed (loopback)",
            ),
            (
                "https://169.254.169.254/",
                "url address is not allowed (link-local)",
            ),
            ("http://example.com/", "url scheme is not allowed"),
            ("file:///etc/passwd", "url scheme is not allowed"),
            (
                "https://good.com@127.0.0.1/",
                "url must not carry credentials",
            ),
            (
                "https://metadata.google.internal/",
                "url host is not allowed",
            ),
            ("https://localhost/", "url host is not allowed"),
            ("https://example.com:22/", "url port 22 is not allowed"),
            ("not a url", "url is malformed"),
        ] {
            let err = body(input).unwrap_err().to_string();
            assert!(err.starts_with(message), "{input}: {err}");
            assert!(!err.contains(input), "{input}: error echoes the url: {err}");
        }
    }

    #[test]
    fn refuses_non_string_json() {
        for json in [
            r#"{"url":42}"#,
            r#"{"url":null}"#,
            r#"{"url":["https://example.com/"]}"#,
        ] {
            assert!(serde_json::from_str::<Body>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn parses_and_round_trips_through_serde() {
        let url: SafeUrl = "https://example.com/a?b=c".parse().unwrap();
        let json = serde_json::to_string(&url).unwrap();
        assert_eq!(json, r#""https://example.com/a?b=c""#);
        assert_eq!(serde_json::from_str::<SafeUrl>(&json).unwrap(), url);
        assert_eq!(url.to_string(), "https://example.com/a?b=c");
        assert_eq!(url.url().host_str(), Some("example.com"));
        assert!(url.checked().needs_resolution());
        assert_eq!(
            SafeUrl::try_from("https://[::1]/"),
            Err(UrlRefusal::Address {
                class: AddressClass::Loopback
            })
        );
    }

    #[test]
    fn debug_hides_path_and_query() {
        let url =
            SafeUrl::parse("https://hooks.example.com/services/T0/B0/SECRET?token=SECRET").unwrap();
        let debug = format!("{url:?}");
        assert!(debug.contains("hooks.example.com"), "{debug}");
        assert!(!debug.contains("SECRET"), "{debug}");
    }
}
