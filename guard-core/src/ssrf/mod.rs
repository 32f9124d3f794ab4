//! Outbound fetch guard (SSRF): which user-supplied URLs a service may fetch.
//!
//! A handler that fetches a URL it was given (a webhook, a link preview, an
//! import) can be pointed at the cloud metadata service, the admin port on
//! localhost, or a database on the private network. This module decides, with
//! no network access, whether a URL may be fetched; an HTTP client built on it
//! does the rest.
//!
//! The safe fetch goes:
//!
//! 1. [`UrlPolicy::check_url`] (or [`SafeUrl`] in the request body, so a bad
//!    URL is a 400 at the boundary): parse by the WHATWG rules browsers use,
//!    refuse bad schemes, credentials, ports, refused names, and any literal
//!    address that is not globally reachable ([`AddressClass`]).
//! 2. The client resolves a [`CheckedUrl::domain`] itself and passes **every**
//!    address to [`UrlPolicy::check_resolved`]; one refused address refuses
//!    the URL.
//! 3. The client connects only to the vetted addresses it got back, never
//!    resolving again (a second lookup is what DNS rebinding exploits).
//! 4. Each redirect hop goes through [`UrlPolicy::check_redirect`] and then
//!    steps 2-3 again.
//!
//! ```
//! use guard_core::ssrf::{UrlPolicy, UrlRefusal};
//!
//! let policy = UrlPolicy::new();
//! for url in [
//!     "https://169.254.169.254/latest/meta-data/",
//!     "https://2130706433/",                 // 127.0.0.1, decimal
//!     "https://[::ffff:10.0.0.1]/",          // IPv4-mapped private
//!     "https://metadata.google.internal/",
//!     "https://good.example@127.0.0.1/",     // userinfo
//!     "file:///etc/passwd",
//! ] {
//!     assert!(policy.check_url(url).is_err(), "{url}");
//! }
//! let checked = policy.check_url("https://api.example.com/v1/hook")?;
//! assert_eq!(checked.domain(), Some("api.example.com"));
//! assert_eq!(checked.port(), 443);
//! # Ok::<(), UrlRefusal>(())
//! ```
//!
//! Every [`UrlRefusal`] is the caller's fault: map it to 400 with the code
//! `url_not_allowed`. A host name that does not resolve (or not in time)
//! must get that same answer, byte for byte, as one that resolves to a
//! refused address in step 2: otherwise the difference tells the caller
//! which names exist in the internal DNS. A failure to connect to or read
//! from vetted addresses is the upstream's (502) and never a `UrlRefusal`.

mod addr;
mod checked;
mod host;
mod policy;
mod refusal;
mod safe_url;

pub use addr::{AddressClass, classify, is_global};
pub use checked::{CheckedHost, CheckedUrl};
pub use policy::{DEFAULT_MAX_URL_LEN, UrlPolicy};
pub use refusal::{UrlPolicyError, UrlRefusal};
pub use safe_url::SafeUrl;
