//! The only way the client turns a host name into addresses: resolve once,
//! vet every address, hand reqwest only what was vetted.
//!
//! reqwest calls the resolver for every host name it connects to (the first
//! URL and every redirect hop) and connects to exactly the addresses it
//! returns. Vetting here, on the very answer the connection uses, leaves no
//! second lookup between check and connect for DNS rebinding to exploit. IP
//! literals never reach a resolver (hyper parses them itself), which is why
//! the client checks every URL, and the redirect policy every hop, first.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use guard_core::ssrf::{UrlPolicy, UrlRefusal};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// What a custom lookup returns.
pub(crate) type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// A custom lookup: host name in, addresses out (any port is ignored).
pub(crate) type LookupFn = Arc<dyn Fn(String) -> LookupFuture + Send + Sync>;

/// reqwest's resolver for a [`SafeClient`](super::SafeClient).
#[derive(Clone)]
pub(crate) struct VettedResolver {
    policy: Arc<UrlPolicy>,
    lookup: Option<LookupFn>,
}

impl VettedResolver {
    /// Resolves with `lookup`, or with the system resolver when `None`.
    pub(crate) fn new(policy: Arc<UrlPolicy>, lookup: Option<LookupFn>) -> Self {
        Self { policy, lookup }
    }

    /// Resolves `host` and returns the vetted addresses, with port 0 (reqwest
    /// puts the URL's port in).
    pub(crate) async fn vetted(&self, host: String) -> Result<Vec<SocketAddr>, BoxedResolveError> {
        let ips = match &self.lookup {
            Some(lookup) => lookup(host).await?,
            None => system_lookup(&host).await?,
        };
        Ok(vet(&self.policy, ips)?)
    }
}

impl fmt::Debug for VettedResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VettedResolver")
            .field(
                "lookup",
                &if self.lookup.is_some() {
                    "custom"
                } else {
                    "system"
                },
            )
            .finish_non_exhaustive()
    }
}

impl Resolve for VettedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolver.vetted(host).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The error a resolver hands back to reqwest: a [`UrlRefusal`] stays a
/// `UrlRefusal` inside the box, so the client can find it again.
pub(crate) type BoxedResolveError = Box<dyn std::error::Error + Send + Sync>;

/// The rule of [`UrlPolicy::check_resolved`]: no address, or any refused
/// address, refuses the host whole (a name that answers both a public and an
/// internal address is an attack, not a fallback).
///
/// The name itself was vetted with its URL before reqwest was handed the URL
/// (the first URL by the client, each hop by the redirect policy), so only
/// the addresses are checked here.
fn vet(policy: &UrlPolicy, mut ips: Vec<IpAddr>) -> Result<Vec<SocketAddr>, UrlRefusal> {
    if ips.is_empty() {
        return Err(UrlRefusal::NoAddresses);
    }
    ips.iter().try_for_each(|ip| policy.check_addr(*ip))?;
    // getaddrinfo answers once per socket type; one attempt per address is enough.
    let mut seen = Vec::with_capacity(ips.len());
    ips.retain(|ip| {
        let new = !seen.contains(ip);
        seen.push(*ip);
        new
    });
    Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect())
}

/// Looks `host` up as an absolute name (trailing dot), so the resolver's
/// search domains cannot turn `api.example` into `api.example.corp.internal`.
async fn system_lookup(host: &str) -> io::Result<Vec<IpAddr>> {
    let name = absolute(host);
    let addrs = tokio::net::lookup_host((name.as_ref(), 0)).await?;
    Ok(addrs.map(|addr| addr.ip()).collect())
}

fn absolute(host: &str) -> Cow<'_, str> {
    if host.ends_with('.') {
        Cow::Borrowed(host)
    } else {
        Cow::Owned(format!("{host}."))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use guard_core::ssrf::AddressClass;

    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    fn fixed(answer: &'static [&'static str], calls: Arc<AtomicUsize>) -> LookupFn {
        Arc::new(move |_host| {
            calls.fetch_add(1, Ordering::SeqCst);
            let answer = ips(answer);
            Box::pin(async move { Ok(answer) })
        })
    }

    fn refusal(error: &BoxedResolveError) -> Option<&UrlRefusal> {
        error.downcast_ref::<UrlRefusal>()
    }

    #[test]
    fn vets_every_address_and_refuses_the_host_whole() {
        let policy = UrlPolicy::new();
        let loopback = Err(UrlRefusal::Address {
            class: AddressClass::Loopback,
        });
        type Case = (
            &'static [&'static str],
            Result<Vec<&'static str>, UrlRefusal>,
        );
        let cases: &[Case] = &[
            (&["93.184.215.14"], Ok(vec!["93.184.215.14:0"])),
            (
                &["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
                Ok(vec![
                    "93.184.215.14:0",
                    "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:0",
                ]),
            ),
            (&["8.8.8.8", "8.8.8.8"], Ok(vec!["8.8.8.8:0"])),
            (&["127.0.0.1"], loopback.clone()),
            (&["8.8.8.8", "127.0.0.1"], loopback.clone()),
            (&["::ffff:127.0.0.1", "8.8.8.8"], loopback),
            (
                &["169.254.169.254"],
                Err(UrlRefusal::Address {
                    class: AddressClass::LinkLocal,
                }),
            ),
            (&["168.63.129.16"], Err(UrlRefusal::DeniedAddress)),
            (&[], Err(UrlRefusal::NoAddresses)),
        ];
        for (answer, want) in cases {
            let want: Result<Vec<SocketAddr>, UrlRefusal> = want
                .clone()
                .map(|addrs| addrs.iter().map(|a| a.parse().unwrap()).collect());
            assert_eq!(vet(&policy, ips(answer)), want, "{answer:?}");
        }
    }

    #[test]
    fn allowed_addresses_pass_only_when_the_policy_allows_them() {
        let policy = UrlPolicy::new().allow_addresses(IpAddr::from([127, 0, 0, 1]));
        assert_eq!(
            vet(&policy, ips(&["127.0.0.1"])),
            Ok(vec!["127.0.0.1:0".parse().unwrap()])
        );
        assert_eq!(
            vet(&policy, ips(&["127.0.0.1", "127.0.0.2"])),
            Err(UrlRefusal::Address {
                class: AddressClass::Loopback
            })
        );
    }

    #[tokio::test]
    async fn a_custom_lookup_is_called_once_and_its_answer_vetted() {
        let calls = Arc::new(AtomicUsize::new(0));
        let resolver = VettedResolver::new(
            Arc::new(UrlPolicy::new()),
            Some(fixed(&["1.1.1.1", "10.0.0.1"], Arc::clone(&calls))),
        );
        let error = resolver.vetted("rebind.example".into()).await.unwrap_err();
        assert_eq!(
            refusal(&error),
            Some(&UrlRefusal::Address {
                class: AddressClass::Private
            })
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn lookup_failures_are_not_refusals() {
        let resolver = VettedResolver::new(
            Arc::new(UrlPolicy::new()),
            Some(Arc::new(|_host| {
                Box::pin(async { Err(io::Error::new(io::ErrorKind::NotFound, "nxdomain")) })
            })),
        );
        let error = resolver.vetted("missing.example".into()).await.unwrap_err();
        assert!(refusal(&error).is_none());
        assert!(error.downcast_ref::<io::Error>().is_some());
    }

    #[test]
    fn system_lookups_use_the_absolute_name() {
        for (host, want) in [
            ("api.example.com", "api.example.com."),
            ("api.example.com.", "api.example.com."),
            ("xn--bcher-kva.example", "xn--bcher-kva.example."),
        ] {
            assert_eq!(absolute(host), want, "{host}");
        }
    }
}
