//! The in-process backend: guard-core's bounded GCRA and quota stores.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{BackendError, Decide, Policy, PolicyLimit, PolicySet, RateBackend};
use crate::Principal;
use crate::rate::clock::duration_to_ns;
use crate::rate::{
    Clock, Limit, QuotaLimiter, RateKey, RateLimiter, StoreConfig, SystemClock, Verdict, check_all,
};

/// Limiter state in this process: the default backend.
///
/// Each policy of each route gets its own bounded store (at most
/// [`StoreConfig::key_limit`] keys, least-used evicted first when full; see
/// [`StoreConfig`]), and keys whose budget is whole again are swept at most
/// every [`MemoryBackend::sweep_every`] (30 s by default), by the first
/// decision after the interval: no background task, nothing to shut down.
///
/// Limits hold per process: behind a load balancer with N instances a
/// client gets up to N times the budget. Use
/// `RedisBackend` there.
#[derive(Clone)]
pub struct MemoryBackend {
    clock: Arc<dyn Clock>,
    store: StoreConfig,
    sweep_every_ns: u64,
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("clock", &self.clock)
            .field("store", &self.store)
            .field("sweep_every_ns", &self.sweep_every_ns)
            .finish()
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBackend {
    /// The default sweep interval.
    pub const DEFAULT_SWEEP_EVERY: Duration = Duration::from_secs(30);

    /// The system clock, the default [`StoreConfig`], a sweep every 30 s.
    #[must_use]
    pub fn new() -> Self {
        Self {
            clock: Arc::new(SystemClock::new()),
            store: StoreConfig::new(),
            sweep_every_ns: duration_to_ns(Self::DEFAULT_SWEEP_EVERY),
        }
    }

    /// Reads time from `clock` (a [`FakeClock`](crate::rate::FakeClock)
    /// in tests).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sizes every policy's store.
    #[must_use]
    pub fn store_config(mut self, config: StoreConfig) -> Self {
        self.store = config;
        self
    }

    /// How often stale keys are dropped; `Duration::ZERO` sweeps on every
    /// decision (tests only: a sweep walks the whole store).
    #[must_use]
    pub fn sweep_every(mut self, interval: Duration) -> Self {
        self.sweep_every_ns = duration_to_ns(interval);
        self
    }
}

impl RateBackend for MemoryBackend {
    fn policy_set(&self, _scope: &str, policies: Vec<Policy>) -> Arc<dyn PolicySet> {
        let limiters = policies
            .iter()
            .map(|policy| match policy.limit() {
                PolicyLimit::Rate(spec) => {
                    MemLimiter::Rate(RateLimiter::with_config(spec, self.store))
                }
                PolicyLimit::Quota(spec) => {
                    MemLimiter::Quota(QuotaLimiter::with_config(spec, self.store))
                }
            })
            .collect();
        let now = self.clock.now_ns();
        Arc::new(MemorySet {
            policies,
            limiters,
            clock: self.clock.clone(),
            sweep_every_ns: self.sweep_every_ns,
            next_sweep_ns: AtomicU64::new(now.saturating_add(self.sweep_every_ns)),
        })
    }

    fn identifier_key(&self, namespace: &str, identifier: &str) -> RateKey {
        RateKey::for_identifier(namespace, identifier)
    }

    fn account_key(&self, principal: &Principal) -> RateKey {
        // `RateKey::for_identifier(ACCOUNT_NAMESPACE, id)`, as
        // `identifier_key` gives it, but kept with the principal.
        principal.account_key()
    }

    fn describe(&self) -> String {
        format!("memory (max {} keys per policy)", self.store.key_limit())
    }
}

#[derive(Debug)]
enum MemLimiter {
    Rate(RateLimiter),
    Quota(QuotaLimiter),
}

impl MemLimiter {
    fn as_limit(&self) -> Limit<'_> {
        match self {
            Self::Rate(limiter) => Limit::Rate(limiter),
            Self::Quota(limiter) => Limit::Quota(limiter),
        }
    }

    fn sweep(&self, now_ns: u64) -> usize {
        match self {
            Self::Rate(limiter) => limiter.sweep(now_ns),
            Self::Quota(limiter) => limiter.sweep(now_ns),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Rate(limiter) => limiter.len(),
            Self::Quota(limiter) => limiter.len(),
        }
    }
}

/// The policies of one route or layer, in memory.
struct MemorySet {
    policies: Vec<Policy>,
    limiters: Vec<MemLimiter>,
    clock: Arc<dyn Clock>,
    sweep_every_ns: u64,
    next_sweep_ns: AtomicU64,
}

impl fmt::Debug for MemorySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySet")
            .field("policies", &self.policies)
            .field(
                "keys",
                &self
                    .limiters
                    .iter()
                    .map(MemLimiter::len)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Up to this many policies are decided without allocating.
const INLINE: usize = 4;

impl MemorySet {
    fn now(&self) -> u64 {
        let now = self.clock.now_ns();
        self.maybe_sweep(now);
        now
    }

    /// Sweeps when the interval has passed; the compare-exchange makes one
    /// caller do it while the others go on deciding.
    fn maybe_sweep(&self, now: u64) {
        let due = self.next_sweep_ns.load(Ordering::Relaxed);
        if now < due {
            return;
        }
        let next = now.saturating_add(self.sweep_every_ns);
        if self
            .next_sweep_ns
            .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            let dropped: usize = self.limiters.iter().map(|l| l.sweep(now)).sum();
            tracing::trace!(dropped, "rate-limit sweep");
        }
    }

    fn decide(&self, keys: &[Option<RateKey>], commit: bool) -> Decide {
        if keys.len() != self.limiters.len() {
            return Decide::ready(Err(BackendError::new(format_args!(
                "{} keys given for {} policies",
                keys.len(),
                self.limiters.len()
            ))));
        }
        let now = self.now();
        if !commit {
            let decisions =
                self.limiters
                    .iter()
                    .zip(keys)
                    .enumerate()
                    .filter_map(|(index, (limiter, key))| {
                        let key = (*key)?;
                        let decision = match limiter {
                            MemLimiter::Rate(l) => l.peek(key, now),
                            MemLimiter::Quota(l) => l.peek(key, now),
                        };
                        Some((index, decision))
                    });
            return Decide::ready(Ok(Verdict::combine(decisions)));
        }
        let Some(first) = self.limiters.first() else {
            return Decide::ready(Ok(Verdict::combine([])));
        };
        if self.limiters.len() > INLINE {
            let mut checks = Vec::with_capacity(self.limiters.len());
            let mut index = Vec::with_capacity(self.limiters.len());
            for (i, (limiter, key)) in self.limiters.iter().zip(keys).enumerate() {
                if let Some(key) = key {
                    checks.push((limiter.as_limit(), *key));
                    index.push(i);
                }
            }
            let verdict = check_all(&checks, now);
            return Decide::ready(Ok(remap(verdict, &index)));
        }
        // Fill unused slots with the first limiter; only `..n` is passed on.
        let filler = (first.as_limit(), RateKey::from_bytes([0; 16]));
        let mut checks = [filler; INLINE];
        let mut index = [0_usize; INLINE];
        let mut n = 0;
        for (i, (limiter, key)) in self.limiters.iter().zip(keys).enumerate() {
            if let (Some(key), Some(slot), Some(at)) = (key, checks.get_mut(n), index.get_mut(n)) {
                *slot = (limiter.as_limit(), *key);
                *at = i;
                n += 1;
            }
        }
        let verdict = check_all(checks.get(..n).unwrap_or_default(), now);
        Decide::ready(Ok(remap(verdict, index.get(..n).unwrap_or_default())))
    }
}

/// Maps a verdict's binding from the compacted slice back to the policy index.
fn remap(mut verdict: Verdict, index: &[usize]) -> Verdict {
    verdict.binding = verdict.binding.and_then(|b| index.get(b).copied());
    verdict
}

impl PolicySet for MemorySet {
    fn policies(&self) -> &[Policy] {
        &self.policies
    }

    fn check(&self, keys: &[Option<RateKey>]) -> Decide {
        self.decide(keys, true)
    }

    fn peek(&self, keys: &[Option<RateKey>]) -> Decide {
        self.decide(keys, false)
    }

    fn decides_at_once(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::rate::{Decision, FakeClock, QuotaSpec, RateSpec};

    use super::*;

    fn ready(decide: Decide) -> Verdict {
        decide.into_ready().ok().unwrap().unwrap()
    }

    fn set(clock: &FakeClock, policies: Vec<Policy>) -> Arc<dyn PolicySet> {
        MemoryBackend::new()
            .clock(clock.clone())
            .policy_set("test", policies)
    }

    fn rate(name: &'static str, spec: &str) -> Policy {
        Policy::rate(name, RateSpec::parse(spec).unwrap()).unwrap()
    }

    #[test]
    fn a_refusal_by_one_policy_spends_nothing_in_the_others() {
        let clock = FakeClock::new(0);
        let set = set(&clock, vec![rate("ip", "1/min"), rate("account", "10/min")]);
        let ip = RateKey::from_bytes([1; 16]);
        let account = RateKey::from_bytes([2; 16]);
        assert!(
            ready(set.check(&[Some(ip), Some(account)]))
                .decision
                .is_allowed()
        );
        let refused = ready(set.check(&[Some(ip), Some(account)]));
        assert_eq!(refused.binding, Some(0));
        let left = ready(set.peek(&[None, Some(account)]));
        assert_eq!(left.binding, Some(1));
        assert!(matches!(
            left.decision,
            Decision::Allowed { remaining: 8, .. }
        ));
    }

    #[test]
    fn absent_keys_skip_their_policy_and_binding_names_the_policy_index() {
        let clock = FakeClock::new(0);
        let set = set(
            &clock,
            vec![
                rate("ip", "100/min"),
                rate("account", "100/min"),
                rate("identifier", "1/min"),
                Policy::quota("quota", QuotaSpec::parse("5/day").unwrap()).unwrap(),
                rate("extra", "100/min"),
            ],
        );
        let key = RateKey::from_bytes([3; 16]);
        let verdict = ready(set.check(&[Some(key), None, Some(key), None, None]));
        assert_eq!(verdict.binding, Some(2));
        let verdict = ready(set.check(&[Some(key), None, Some(key), None, None]));
        assert_eq!(verdict.binding, Some(2));
        assert!(!verdict.decision.is_allowed());
        // A mismatched key count is an error, not a guess.
        assert!(set.check(&[Some(key)]).into_ready().ok().unwrap().is_err());
    }

    #[test]
    fn stale_keys_are_swept_on_schedule_and_memory_follows_active_keys() {
        let clock = FakeClock::new(0);
        let backend = MemoryBackend::new()
            .clock(clock.clone())
            .sweep_every(Duration::from_secs(30));
        let set = backend.policy_set("test", vec![rate("ip", "10/s")]);
        for n in 0..10_000_u32 {
            let mut bytes = [0; 16];
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            let _ = ready(set.check(&[Some(RateKey::from_bytes(bytes))]));
        }
        let held = |set: &Arc<dyn PolicySet>| format!("{set:?}");
        assert!(held(&set).contains("keys: [10000]"), "{}", held(&set));
        // Budgets are whole after a second, but nothing is swept before the interval.
        clock.advance(Duration::from_secs(29));
        let _ = ready(set.check(&[Some(RateKey::from_bytes([9; 16]))]));
        assert!(held(&set).contains("keys: [10001]"), "{}", held(&set));
        clock.advance(Duration::from_secs(1));
        let _ = ready(set.check(&[Some(RateKey::from_bytes([9; 16]))]));
        assert!(held(&set).contains("keys: [1]"), "{}", held(&set));
    }
}
