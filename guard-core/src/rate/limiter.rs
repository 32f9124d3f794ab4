//! The in-memory limiter, generic over its rule ([`RateLimiter`],
//! [`QuotaLimiter`]), and [`check_all`], which spends on several limiters
//! only when every one of them allows.

use std::fmt;
use std::time::Duration;

use super::RateSpec;
use super::gcra::{Decision, Gcra};
use super::key::RateKey;
use super::quota::QuotaLimiter;
use super::store::{Rule, ShardGuard, Slot, Store, StoreConfig, Undo};

/// A keyed limiter in memory, with bounded memory, generic over its rule:
/// [`RateLimiter`] (GCRA) and [`QuotaLimiter`] (fixed windows) are this
/// type, so both share one store and one set of methods.
///
/// Memory is capped at [`StoreConfig::key_limit`] keys; see [`StoreConfig`]
/// for how keys are evicted and why that cannot cheaply reset a victim's
/// budget. Decisions on keys already held run in parallel, even on one key:
/// each updates the key's one word of state with a compare-and-swap, so
/// concurrent requests never spend more than the budget.
#[derive(Debug)]
pub struct Limiter<R: LimitRule> {
    spec: R::Spec,
    rule: R,
    store: Store,
}

/// The rule a [`Limiter`] applies to each key: [`Gcra`] for a rate,
/// [`FixedWindow`](super::FixedWindow) for a quota. Sealed: implemented by
/// those two only.
pub trait LimitRule: Rule + Copy + 'static {
    /// What the rule is built from: a [`RateSpec`] or a
    /// [`QuotaSpec`](super::QuotaSpec).
    type Spec: Copy + fmt::Debug + Send + Sync;

    /// The rule enforcing `spec`.
    fn from_spec(spec: Self::Spec) -> Self;
}

impl LimitRule for Gcra {
    type Spec = RateSpec;

    fn from_spec(spec: RateSpec) -> Self {
        Self::new(spec)
    }
}

/// A keyed rate limiter (GCRA) in memory, with bounded memory.
///
/// Each key (a client IP, an account, a login identifier) gets `count`
/// requests per unit with bursts up to `burst`; a request over the limit is a
/// [`Decision::Denied`] with the wait until it would conform, which the face
/// answers with 429 and `Retry-After`. Memory is capped at
/// [`StoreConfig::key_limit`] keys; see [`StoreConfig`] for how keys
/// are evicted and why that cannot cheaply reset a victim's budget.
///
/// Decisions on keys already held run in parallel, even on one key: each
/// updates the key's one word of state with a compare-and-swap, so
/// concurrent requests never spend more than the budget.
///
/// ```
/// use std::time::Duration;
/// use guard_core::rate::{Clock, Decision, FakeClock, RateKey, RateLimiter, RateSpec};
///
/// let limiter = RateLimiter::new(RateSpec::parse("10/min")?);
/// let clock = FakeClock::new(0);
/// let key = RateKey::for_identifier("login", "alice@example.com");
/// for _ in 0..10 {
///     assert!(limiter.check(key, clock.now_ns()).is_allowed());
/// }
/// assert_eq!(
///     limiter.check(key, clock.now_ns()),
///     Decision::Denied { retry_after: Duration::from_secs(6) },
/// );
/// clock.advance(Duration::from_secs(6));
/// assert!(limiter.check(key, clock.now_ns()).is_allowed());
/// # Ok::<(), guard_core::rate::RateSpecError>(())
/// ```
pub type RateLimiter = Limiter<Gcra>;

impl<R: LimitRule> Limiter<R> {
    /// A limiter with the default [`StoreConfig`].
    #[must_use]
    pub fn new(spec: R::Spec) -> Self {
        Self::with_config(spec, StoreConfig::new())
    }

    /// A limiter with its own store sizing.
    #[must_use]
    pub fn with_config(spec: R::Spec, config: StoreConfig) -> Self {
        Self {
            spec,
            rule: R::from_spec(spec),
            store: Store::new(config),
        }
    }

    /// The rate or quota enforced.
    #[must_use]
    pub fn spec(&self) -> R::Spec {
        self.spec
    }

    /// Decides a request for `key` at `now_ns` and, when allowed, spends one
    /// unit of its budget. A refusal spends nothing. To combine several
    /// limiters without spending on a refusal, use [`check_all`].
    #[must_use]
    pub fn check(&self, key: RateKey, now_ns: u64) -> Decision {
        self.store.check(&self.rule, key, now_ns)
    }

    /// What [`Self::check`] would decide, spending nothing.
    #[must_use]
    pub fn peek(&self, key: RateKey, now_ns: u64) -> Decision {
        self.store.peek(&self.rule, key, now_ns)
    }

    /// Drops every key whose state decides like no state at `now_ns` (a
    /// rate's budget whole again, a quota's window ended); returns how many.
    /// Decisions do not change. Run it on a schedule (every few seconds to
    /// minutes, or once per quota period) so memory follows the active keys
    /// rather than the cap.
    pub fn sweep(&self, now_ns: u64) -> usize {
        self.store.sweep(&self.rule, now_ns)
    }

    /// Keys currently held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether no key is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys held at once: the configured cap, rounded down to a
    /// multiple of the shard count.
    #[must_use]
    pub fn max_keys(&self) -> usize {
        self.store.max_keys()
    }

    /// An estimate of the bytes the key tables occupy now (from the tables'
    /// capacities; excludes the fixed per-shard overhead). For benchmarks
    /// and capacity planning.
    #[must_use]
    pub fn memory_estimate(&self) -> usize {
        self.store.table_bytes()
    }

    /// The store and rule: all [`check_all`] needs of either kind.
    fn parts(&self) -> (&Store, &dyn Rule) {
        (&self.store, &self.rule)
    }
}

/// One limiter taking part in [`check_all`].
#[derive(Debug, Clone, Copy)]
pub enum Limit<'a> {
    /// A rate limit.
    Rate(&'a RateLimiter),
    /// A usage ceiling.
    Quota(&'a QuotaLimiter),
}

impl<'a> Limit<'a> {
    /// The limiter's store and rule: all `check_all` needs of either kind.
    fn parts(self) -> (&'a Store, &'a dyn Rule) {
        match self {
            Self::Rate(limiter) => limiter.parts(),
            Self::Quota(limiter) => limiter.parts(),
        }
    }

    fn check(self, key: RateKey, now_ns: u64) -> Decision {
        match self {
            Self::Rate(limiter) => limiter.check(key, now_ns),
            Self::Quota(limiter) => limiter.check(key, now_ns),
        }
    }
}

impl<'a> From<&'a RateLimiter> for Limit<'a> {
    fn from(limiter: &'a RateLimiter) -> Self {
        Self::Rate(limiter)
    }
}

impl<'a> From<&'a QuotaLimiter> for Limit<'a> {
    fn from(limiter: &'a QuotaLimiter) -> Self {
        Self::Quota(limiter)
    }
}

/// The combined verdict of [`check_all`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Allowed with the smallest `remaining` of all limiters, or denied with
    /// the longest `retry_after` of those that refused.
    pub decision: Decision,
    /// The index (in the slice given to [`check_all`]) of the limiter that
    /// decided: the one denying longest, or the one with the least left.
    /// `None` for an empty slice. The face names its policy in the
    /// `RateLimit` headers.
    pub binding: Option<usize>,
}

impl Verdict {
    /// Combines per-limiter decisions, each with its index, by the rule of
    /// [`check_all`]: denied with the longest wait if any refused, else
    /// allowed with the least remaining; ties go to the lowest index, in
    /// whatever order the decisions come. Nothing at all is allowed with no
    /// binding limiter. For backends that decide each limiter elsewhere
    /// (Redis) and must answer as the in-memory limiters do.
    #[must_use]
    pub fn combine(decisions: impl IntoIterator<Item = (usize, Decision)>) -> Self {
        let mut denied: Option<(Duration, usize)> = None;
        let mut allowed: Option<(u32, Duration, usize)> = None;
        for (index, decision) in decisions {
            match decision {
                Decision::Denied { retry_after }
                    if denied.is_none_or(|(longest, first)| {
                        retry_after > longest || (retry_after == longest && index < first)
                    }) =>
                {
                    denied = Some((retry_after, index));
                }
                Decision::Allowed {
                    remaining,
                    reset_after,
                } if allowed.is_none_or(|(least, _, first)| {
                    remaining < least || (remaining == least && index < first)
                }) =>
                {
                    allowed = Some((remaining, reset_after, index));
                }
                _ => {}
            }
        }
        match (denied, allowed) {
            (Some((retry_after, index)), _) => Self {
                decision: Decision::Denied { retry_after },
                binding: Some(index),
            },
            (None, Some((remaining, reset_after, index))) => Self {
                decision: Decision::Allowed {
                    remaining,
                    reset_after,
                },
                binding: Some(index),
            },
            (None, None) => Self {
                decision: Decision::Allowed {
                    remaining: u32::MAX,
                    reset_after: Duration::ZERO,
                },
                binding: None,
            },
        }
    }
}

/// Decides a request against several limiters at once and spends on all of
/// them only if all allow: a refusal by the per-IP limit does not spend the
/// per-account budget or the quota, and vice versa.
///
/// Atomic: the shards of every key involved are locked exclusively together,
/// in one global order (by store address, then shard), so no other decision
/// on those keys interleaves and two concurrent `check_all`s cannot
/// deadlock; a single [`RateLimiter::check`] holds one (shared) lock only.
/// Under those locks each limiter decides and spends in turn, and if any
/// refuses, every spending is undone before the locks are released, so
/// nobody ever observes it. The same limiter and key may appear twice; the
/// second sees the first's spending.
///
/// ```
/// use guard_core::rate::{check_all, Decision, Limit, RateKey, RateLimiter, RateSpec};
///
/// let per_ip = RateLimiter::new(RateSpec::parse("1/min")?);
/// let per_account = RateLimiter::new(RateSpec::parse("100/min")?);
/// let ip = RateKey::from_bytes([1; 16]);
/// let account = RateKey::for_identifier("account", "42");
/// let checks = [(Limit::from(&per_ip), ip), (Limit::from(&per_account), account)];
///
/// assert!(check_all(&checks, 0).decision.is_allowed());
/// let refused = check_all(&checks, 0);
/// assert!(!refused.decision.is_allowed());
/// assert_eq!(refused.binding, Some(0)); // the per-IP limit refused...
/// assert!(matches!(
///     per_account.peek(account, 0),
///     Decision::Allowed { remaining: 98, .. } // ...and the account paid for the first request only
/// ));
/// # Ok::<(), guard_core::rate::RateSpecError>(())
/// ```
#[must_use]
pub fn check_all(checks: &[(Limit<'_>, RateKey)], now_ns: u64) -> Verdict {
    // One limiter: nothing to coordinate.
    if let [(limit, key)] = *checks {
        return Verdict {
            decision: limit.check(key, now_ns),
            binding: Some(0),
        };
    }
    // Up to four limiters (per IP, per account, per identifier, quota) need
    // no allocation.
    match checks.len() {
        0 => decide_all(&mut [], now_ns),
        2 => decide_all(&mut inline_slots::<2>(checks), now_ns),
        3 => decide_all(&mut inline_slots::<3>(checks), now_ns),
        4 => decide_all(&mut inline_slots::<4>(checks), now_ns),
        _ => {
            let mut slots: Vec<Check<'_>> = checks
                .iter()
                .enumerate()
                .map(|(index, &(limit, key))| Check::new(index, limit, key))
                .collect();
            decide_all(&mut slots, now_ns)
        }
    }
}

/// The entries for exactly `N` checks; the caller has matched `checks.len() == N`.
fn inline_slots<'a, const N: usize>(checks: &[(Limit<'a>, RateKey)]) -> [Check<'a>; N] {
    std::array::from_fn(|index| {
        let (limit, key) = checks[index];
        Check::new(index, limit, key)
    })
}

fn decide_all(checks: &mut [Check<'_>], now_ns: u64) -> Verdict {
    // Stable: repeated (limiter, key) pairs keep their order, so deciding in
    // sorted order equals deciding in the caller's order.
    checks.sort_by_key(Check::lock_id);

    // Lock each distinct shard once, in order; the first check on a shard
    // holds its guard and later ones point at it.
    let mut owner = 0;
    for i in 0..checks.len() {
        let (earlier, rest) = checks.split_at_mut(i);
        let Some(check) = rest.first_mut() else { break };
        if earlier
            .last()
            .is_none_or(|prev| prev.lock_id() != check.lock_id())
        {
            let Some(guard) = check.store.lock(check.slot.shard()) else {
                return refuse_unlockable();
            };
            check.guard = Some(guard);
            owner = i;
        }
        check.owner = owner;
    }

    // Decide and spend each in turn (a repeated pair sees the earlier
    // spending), remembering how to undo it. One table lookup per limiter,
    // as for a single `check`.
    for i in 0..checks.len() {
        let Some(&Check {
            store,
            rule,
            key,
            slot,
            owner,
            ..
        }) = checks.get(i)
        else {
            break;
        };
        let (decision, undo) = match checks.get_mut(owner).and_then(|o| o.guard.as_mut()) {
            Some(guard) => store.apply(guard, rule, key, slot, now_ns),
            // Unreachable (the owner always holds the guard); refuse, and
            // let the undo below take back what earlier checks spent.
            None => (unlockable_refusal(), Undo::Nothing),
        };
        if let Some(check) = checks.get_mut(i) {
            check.decision = Some(decision);
            check.undo = undo;
        }
    }

    let verdict = combine(checks);
    if !verdict.decision.is_allowed() {
        // Undo newest first, so a repeated pair ends at its original value.
        // Every lock is still held: no other decision saw the spending.
        for i in (0..checks.len()).rev() {
            let Some(&Check {
                store,
                key,
                slot,
                owner,
                undo,
                ..
            }) = checks.get(i)
            else {
                continue;
            };
            if let Some(guard) = checks.get_mut(owner).and_then(|o| o.guard.as_mut()) {
                store.undo(guard, key, slot, undo);
            }
        }
    }
    verdict
}

/// The verdict from each check's decision; ties go to the caller's first.
fn combine(checks: &[Check<'_>]) -> Verdict {
    Verdict::combine(
        checks
            .iter()
            .filter_map(|check| check.decision.map(|decision| (check.index, decision))),
    )
}

/// Unreachable (shard indices are always in range); refuses if it ever were.
fn refuse_unlockable() -> Verdict {
    Verdict {
        decision: unlockable_refusal(),
        binding: None,
    }
}

fn unlockable_refusal() -> Decision {
    Decision::Denied {
        retry_after: Duration::from_secs(1),
    }
}

/// One entry of a `check_all` call.
#[derive(Debug)]
struct Check<'a> {
    index: usize,
    store: &'a Store,
    rule: &'a dyn Rule,
    key: RateKey,
    slot: Slot,
    /// The exclusive lock on this check's shard, held by the first check on it.
    guard: Option<ShardGuard<'a>>,
    /// The index (in sorted order) of the check holding this shard's lock.
    owner: usize,
    decision: Option<Decision>,
    undo: Undo,
}

impl<'a> Check<'a> {
    fn new(index: usize, limit: Limit<'a>, key: RateKey) -> Self {
        let (store, rule) = limit.parts();
        Self {
            index,
            store,
            rule,
            key,
            slot: store.slot(&key),
            guard: None,
            owner: 0,
            decision: None,
            undo: Undo::Nothing,
        }
    }

    /// (store address, shard index): the global lock order.
    fn lock_id(&self) -> (usize, usize) {
        (self.store.address(), self.slot.shard())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;

    #[test]
    fn combine_prefers_the_longest_refusal_then_the_least_remaining() {
        let allowed = |remaining| Decision::Allowed {
            remaining,
            reset_after: Duration::from_secs(1),
        };
        let denied = |secs| Decision::Denied {
            retry_after: Duration::from_secs(secs),
        };
        type Case<'a> = (&'a [(usize, Decision)], Option<usize>, bool);
        let table: &[Case<'_>] = &[
            (
                &[(0, allowed(5)), (1, allowed(2)), (2, allowed(2))],
                Some(1),
                true,
            ),
            (
                &[(0, allowed(5)), (1, denied(3)), (2, denied(9))],
                Some(2),
                false,
            ),
            (&[(0, denied(9)), (1, denied(9))], Some(0), false),
            // Ties go to the lowest index whatever the order they come in.
            (
                &[(2, denied(9)), (1, denied(9)), (0, allowed(1))],
                Some(1),
                false,
            ),
            (&[(3, allowed(2)), (1, allowed(2))], Some(1), true),
            (&[], None, true),
        ];
        for (decisions, binding, allowed) in table {
            let verdict = Verdict::combine(decisions.iter().copied());
            assert_eq!(verdict.binding, *binding, "{decisions:?}");
            assert_eq!(verdict.decision.is_allowed(), *allowed, "{decisions:?}");
        }
    }
    use crate::rate::clock::{Clock, FakeClock};
    use crate::rate::spec::QuotaSpec;

    const SEC: u64 = 1_000_000_000;

    fn limiter(spec: &str) -> RateLimiter {
        RateLimiter::new(RateSpec::parse(spec).unwrap())
    }

    fn ip(n: u8) -> RateKey {
        RateKey::from_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, n])
    }

    fn remaining(decision: Decision) -> u32 {
        match decision {
            Decision::Allowed { remaining, .. } => remaining,
            Decision::Denied { .. } => panic!("denied: {decision:?}"),
        }
    }

    #[test]
    fn burst_then_refill_with_a_fake_clock() {
        let limiter = limiter("10/min");
        let clock = FakeClock::new(1_700_000_000 * SEC);
        let key = ip(1);
        for expected in (0..10).rev() {
            assert_eq!(remaining(limiter.check(key, clock.now_ns())), expected);
        }
        assert_eq!(
            limiter.check(key, clock.now_ns()),
            Decision::Denied {
                retry_after: Duration::from_secs(6)
            }
        );
        clock.advance(Duration::from_secs(5));
        assert_eq!(
            limiter.check(key, clock.now_ns()).retry_after(),
            Some(Duration::from_secs(1))
        );
        clock.advance(Duration::from_secs(1));
        assert!(limiter.check(key, clock.now_ns()).is_allowed());
        assert!(!limiter.check(key, clock.now_ns()).is_allowed());
        // A full minute of quiet gives the whole burst back.
        clock.advance(Duration::from_secs(60));
        assert_eq!(remaining(limiter.check(key, clock.now_ns())), 9);
    }

    #[test]
    fn keys_are_independent() {
        let limiter = limiter("2/min");
        for _ in 0..2 {
            assert!(limiter.check(ip(1), 0).is_allowed());
        }
        assert!(!limiter.check(ip(1), 0).is_allowed());
        assert_eq!(remaining(limiter.check(ip(2), 0)), 1);
        assert_eq!(remaining(limiter.check(ip(3), 0)), 1);
    }

    #[test]
    fn peek_spends_nothing() {
        let limiter = limiter("1/min");
        for _ in 0..3 {
            assert!(limiter.peek(ip(1), 0).is_allowed());
        }
        assert!(limiter.check(ip(1), 0).is_allowed());
        assert!(!limiter.peek(ip(1), 0).is_allowed());
        assert!(limiter.is_empty() || limiter.len() == 1);
    }

    #[test]
    fn check_all_spends_nowhere_when_any_limiter_refuses() {
        let per_ip = limiter("2/min");
        let per_account = limiter("5/min");
        let quota = QuotaLimiter::new(QuotaSpec::parse("100/day").unwrap());
        let account = RateKey::for_identifier("account", "42");
        let checks = |ip_key| {
            [
                (Limit::from(&per_ip), ip_key),
                (Limit::from(&per_account), account),
                (Limit::from(&quota), account),
            ]
        };
        assert!(check_all(&checks(ip(1)), 0).decision.is_allowed());
        assert!(check_all(&checks(ip(1)), 0).decision.is_allowed());
        // The per-IP limit is spent: three refusals in a row...
        for _ in 0..3 {
            let verdict = check_all(&checks(ip(1)), 0);
            assert_eq!(verdict.binding, Some(0));
            assert_eq!(
                verdict.decision.retry_after(),
                Some(Duration::from_secs(30))
            );
        }
        // ...cost the account and the quota nothing (a peek reports what
        // would remain after one more request: 5 - 2 - 1 and 100 - 2 - 1).
        assert_eq!(remaining(per_account.peek(account, 0)), 2);
        assert_eq!(remaining(quota.peek(account, 0)), 97);

        // And an account refusal does not spend a fresh IP's budget.
        for n in 2..=4 {
            assert!(check_all(&checks(ip(n)), 0).decision.is_allowed());
        }
        let verdict = check_all(&checks(ip(5)), 0);
        assert_eq!(verdict.binding, Some(1));
        assert_eq!(remaining(per_ip.peek(ip(5), 0)), 1);
        assert_eq!(remaining(quota.peek(account, 0)), 94);
    }

    #[test]
    fn check_all_reports_the_tightest_allowance_and_the_longest_wait() {
        let loose = limiter("100/min");
        let tight = limiter("3/min");
        let key = ip(9);
        let checks = [(Limit::from(&loose), key), (Limit::from(&tight), key)];
        let verdict = check_all(&checks, 0);
        assert_eq!(verdict.binding, Some(1));
        assert_eq!(remaining(verdict.decision), 2);

        let slow = limiter("1/h");
        let fast = limiter("1/s");
        let checks = [(Limit::from(&fast), key), (Limit::from(&slow), key)];
        let _ = check_all(&checks, 0);
        let verdict = check_all(&checks, 0);
        assert_eq!(verdict.binding, Some(1));
        assert_eq!(
            verdict.decision.retry_after(),
            Some(Duration::from_secs(3_600))
        );

        assert_eq!(check_all(&[], 0).binding, None);
    }

    #[test]
    fn check_all_beyond_four_limiters_still_spends_nowhere_on_refusal() {
        let open: Vec<RateLimiter> = (0..5).map(|_| limiter("10/min")).collect();
        let closed = limiter("1/min");
        let key = ip(1);
        let _ = closed.check(key, 0);
        let mut checks: Vec<(Limit<'_>, RateKey)> =
            open.iter().map(|l| (Limit::from(l), key)).collect();
        checks.push((Limit::from(&closed), key));
        let verdict = check_all(&checks, 0);
        assert_eq!(verdict.binding, Some(5));
        assert!(
            open.iter().all(RateLimiter::is_empty),
            "new keys were removed again"
        );
        checks.pop();
        assert_eq!(remaining(check_all(&checks, 0).decision), 9);
        assert!(open.iter().all(|l| l.len() == 1));
    }

    #[test]
    fn check_all_counts_a_repeated_pair_twice() {
        let limiter = limiter("3/min");
        let key = ip(1);
        let twice = [(Limit::from(&limiter), key), (Limit::from(&limiter), key)];
        let verdict = check_all(&twice, 0);
        assert_eq!(remaining(verdict.decision), 1);
        assert_eq!(remaining(limiter.peek(key, 0)), 0);
        // One unit left, two asked: refused, nothing spent.
        assert!(!check_all(&twice, 0).decision.is_allowed());
        assert!(limiter.check(key, 0).is_allowed());
    }

    #[test]
    fn sweep_makes_len_drop_once_budgets_are_whole() {
        let limiter = limiter("10/min");
        for n in 0..200 {
            let _ = limiter.check(ip(n), 0);
        }
        let _ = limiter.check(ip(0), 0);
        assert_eq!(limiter.len(), 200);
        assert_eq!(limiter.sweep(5 * SEC), 0);
        // One request costs six seconds; ip(0) spent two.
        assert_eq!(limiter.sweep(6 * SEC), 199);
        assert_eq!(limiter.len(), 1);
        assert_eq!(limiter.sweep(12 * SEC), 1);
        assert!(limiter.is_empty());
    }

    #[test]
    fn memory_stays_under_the_cap_when_ten_times_more_keys_arrive() {
        let config = StoreConfig::new().max_keys(10_000).unwrap();
        let limiter = RateLimiter::with_config(RateSpec::parse("10/min").unwrap(), config);
        for n in 0_u32..100_000 {
            let mut bytes = [0_u8; 16];
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            let _ = limiter.check(RateKey::from_bytes(bytes), u64::from(n));
        }
        assert!(limiter.len() <= 10_000);
        assert!(limiter.len() >= 9_000);
    }

    #[test]
    fn an_exhausted_key_survives_a_flood_of_new_keys() {
        let config = StoreConfig::new().max_keys(64).unwrap().shards(1).unwrap();
        let limiter = RateLimiter::with_config(RateSpec::parse("5/min").unwrap(), config);
        let attacker = ip(0);
        while limiter.check(attacker, 0).is_allowed() {}
        for n in 0_u32..10_000 {
            let mut bytes = [0xaa_u8; 16];
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            let _ = limiter.check(RateKey::from_bytes(bytes), 0);
        }
        assert!(!limiter.check(attacker, 0).is_allowed());
    }

    #[test]
    fn concurrent_check_all_spends_exactly_the_budget() {
        let a = Arc::new(limiter("1000/min"));
        let b = Arc::new(limiter("1000/min"));
        let key = ip(1);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (a, b) = (Arc::clone(&a), Arc::clone(&b));
                thread::spawn(move || {
                    let mut allowed = 0;
                    for _ in 0..500 {
                        // Alternate the order so lock ordering is exercised.
                        let checks = if t % 2 == 0 {
                            [(Limit::from(&*a), key), (Limit::from(&*b), key)]
                        } else {
                            [(Limit::from(&*b), key), (Limit::from(&*a), key)]
                        };
                        allowed += usize::from(check_all(&checks, 0).decision.is_allowed());
                    }
                    allowed
                })
            })
            .collect();
        let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(allowed, 1000);
        assert!(!a.peek(key, 0).is_allowed());
        assert!(!b.peek(key, 0).is_allowed());
    }

    #[test]
    fn a_refused_check_all_is_never_seen_by_a_concurrent_reader() {
        // `open` has one request left; `shut` refuses. Every `check_all`
        // spends on `open` and undoes it, under the locks: a concurrent
        // peek must never see the budget gone.
        let open = Arc::new(limiter("1/min"));
        let shut = Arc::new(limiter("1/min"));
        let key = ip(1);
        let _ = shut.check(key, 0);
        let writer = {
            let (open, shut) = (Arc::clone(&open), Arc::clone(&shut));
            thread::spawn(move || {
                let checks = [(Limit::from(&*open), key), (Limit::from(&*shut), key)];
                (0..20_000).all(|_| !check_all(&checks, 0).decision.is_allowed())
            })
        };
        let reader = {
            let open = Arc::clone(&open);
            thread::spawn(move || (0..20_000).all(|_| open.peek(key, 0).is_allowed()))
        };
        assert!(writer.join().unwrap(), "check_all allowed");
        assert!(reader.join().unwrap(), "a reader saw an undone spending");
        assert!(open.is_empty());
    }

    #[test]
    fn check_all_and_single_checks_share_one_budget_under_contention() {
        let a = Arc::new(limiter("1000/min"));
        let b = Arc::new(limiter("1000000/min"));
        let key = ip(1);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (a, b) = (Arc::clone(&a), Arc::clone(&b));
                thread::spawn(move || {
                    let mut together = 0;
                    let mut alone = 0;
                    for _ in 0..600 {
                        if t % 2 == 0 {
                            let checks = [(Limit::from(&*a), key), (Limit::from(&*b), key)];
                            together += usize::from(check_all(&checks, 0).decision.is_allowed());
                        } else {
                            alone += usize::from(a.check(key, 0).is_allowed());
                        }
                    }
                    (together, alone)
                })
            })
            .collect();
        let (together, alone) = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .fold((0, 0), |(x, y), (t, a)| (x + t, y + a));
        assert_eq!(together + alone, 1000);
        // `b` was spent exactly by the check_alls that were allowed.
        assert_eq!(remaining(b.peek(key, 0)) as usize, 1_000_000 - together - 1);
    }

    #[test]
    fn two_threads_on_one_key_never_overspend() {
        let limiter = Arc::new(limiter("5000/min"));
        let key = ip(1);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                thread::spawn(move || {
                    (0..4_000)
                        .filter(|_| limiter.check(key, 0).is_allowed())
                        .count()
                })
            })
            .collect();
        let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(allowed, 5000);
        assert_eq!(
            limiter.peek(key, 0).retry_after(),
            Some(Duration::from_millis(12))
        );
    }
}
