//! The only way the client turns a host name into addresses: resolve once,
//! vet every address, hand reqwest only what was vetted.
//!
//! reqwest calls the resolver for every host name it connects to (the first
//! URL and every redirect hop) and connects to exactly the addresses it
//! returns. Vetting here, on the very answer the connection uses, leaves no
//! second lookup between check and connect for DNS rebinding to exploit. IP
//! literals never reach a resolver (hyper parses them itself), which is why
//! the client checks every URL, and the redirect policy every hop, first.
//!
//! Every failure here is one [`HostFailure`]: a name that resolves to an
//! internal address, to nothing, or not at all (or not in time) must get one
//! public answer, or the client becomes an oracle for the internal DNS.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::ssrf::{UrlPolicy, UrlRefusal};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::error::HostFailure;

/// What a custom lookup returns.
pub(crate) type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// A custom lookup: host name in, addresses out (any port is ignored).
pub(crate) type LookupFn = Arc<dyn Fn(String) -> LookupFuture + Send + Sync>;

/// reqwest's resolver for a [`SafeClient`](super::SafeClient).
#[derive(Clone)]
pub(crate) struct VettedResolver {
    policy: Arc<UrlPolicy>,
    lookup: Option<LookupFn>,
    /// A lookup still running after this long is a failed lookup.
    timeout: Duration,
}

impl VettedResolver {
    /// Resolves with `lookup`, or with the system resolver when `None`,
    /// giving each lookup at most `timeout`.
    pub(crate) fn new(policy: Arc<UrlPolicy>, lookup: Option<LookupFn>, timeout: Duration) -> Self {
        Self {
            policy,
            lookup,
            timeout,
        }
    }

    /// Resolves `host` and returns the vetted addresses, with port 0 (reqwest
    /// puts the URL's port in).
    ///
    /// A lookup that fails or outlives the timeout is
    /// [`HostFailure::Unresolved`]; no address or a refused one is
    /// [`HostFailure::Refused`]. Bounding the lookup here keeps a name whose
    /// lookup hangs from ending as the fetch's overall timeout, a 502 that
    /// would tell it apart from a name that does not exist.
    pub(crate) async fn vetted(&self, host: String) -> Result<Vec<SocketAddr>, HostFailure> {
        let lookup = async {
            match &self.lookup {
                Some(lookup) => lookup(host).await,
                None => system_lookup(&host).await,
            }
        };
        let ips = match tokio::time::timeout(self.timeout, lookup).await {
            Ok(Ok(ips)) => ips,
            Ok(Err(error)) => return Err(HostFailure::Unresolved(Box::new(error))),
            Err(_) => {
                let timed_out = io::Error::new(io::ErrorKind::TimedOut, "lookup timed out");
                return Err(HostFailure::Unresolved(Box::new(timed_out)));
            }
        };
        vet(&self.policy, ips).map_err(HostFailure::Refused)
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
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Resolve for VettedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Boxed as itself (not as a `Box<HostFailure>`), so the client
            // finds it again in reqwest's cause chain.
            let addrs = resolver.vetted(host).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

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

    use crate::ssrf::AddressClass;

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

    const LONG: Duration = Duration::from_secs(30);

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
            LONG,
        );
        let error = resolver.vetted("rebind.example".into()).await.unwrap_err();
        assert_eq!(
            error.refusal(),
            Some(&UrlRefusal::Address {
                class: AddressClass::Private
            })
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn lookup_failures_are_host_failures_too() {
        let resolver = VettedResolver::new(
            Arc::new(UrlPolicy::new()),
            Some(Arc::new(|_host| {
                Box::pin(async { Err(io::Error::new(io::ErrorKind::NotFound, "nxdomain")) })
            })),
            LONG,
        );
        let error = resolver.vetted("missing.example".into()).await.unwrap_err();
        assert!(error.refusal().is_none());
        let HostFailure::Unresolved(cause) = &error else {
            panic!("{error:?}");
        };
        assert!(cause.downcast_ref::<io::Error>().is_some());
    }

    #[tokio::test]
    async fn a_lookup_that_hangs_is_a_failed_lookup_after_the_timeout() {
        let resolver = VettedResolver::new(
            Arc::new(UrlPolicy::new()),
            Some(Arc::new(|_host| {
                Box::pin(async {
                    tokio::time::sleep(Duration::from_secs(3_600)).await;
                    Ok(vec![IpAddr::from([93, 184, 215, 14])])
                })
            })),
            Duration::from_millis(50),
        );
        let started = std::time::Instant::now();
        let error = resolver.vetted("slow.example".into()).await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(50) && elapsed < Duration::from_secs(2),
            "{elapsed:?}"
        );
        let HostFailure::Unresolved(cause) = &error else {
            panic!("{error:?}");
        };
        let cause = cause.downcast_ref::<io::Error>().unwrap();
        assert_eq!(cause.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn the_failure_reaches_reqwest_boxed_as_itself() {
        let resolver = VettedResolver::new(
            Arc::new(UrlPolicy::new()),
            Some(fixed(&["127.0.0.1"], Arc::new(AtomicUsize::new(0)))),
            LONG,
        );
        let name: Name = "internal.example".parse().unwrap();
        let Err(error) = resolver.resolve(name).await else {
            panic!("resolved");
        };
        assert!(matches!(
            error.downcast_ref::<HostFailure>(),
            Some(HostFailure::Refused(UrlRefusal::Address {
                class: AddressClass::Loopback
            }))
        ));
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
