//! A sharded, bounded in-memory map from [`RateKey`] to one `u64` of
//! limiter state, and the one decision loop that the GCRA limiter and the
//! quota share: each brings its [`Rule`].
//!
//! See [`StoreConfig`] for the bound and the eviction rule.

mod table;

use std::fmt;
use std::mem::size_of;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockWriteGuard};

use super::gcra::Decision;
use super::key::RateKey;
use table::{Entry, KeyHasher, Table, stored};

/// Sizing for a limiter's in-memory store.
///
/// # Bounded memory
///
/// The store holds at most [`StoreConfig::max_keys`] keys, split evenly over
/// its shards. An entry is 24 bytes (a 16-byte key and 8 bytes of state) in
/// an open-addressing table kept at most 7/8 full and grown by doubling:
/// 27–55 bytes per key depending on where the count falls between two table
/// sizes. Measured at the cap (test
/// `memory_per_key_stays_under_80_bytes_at_the_cap`): 45 bytes per key at
/// 1 000 keys, 33 at 100 000, 52 at 1 000 000.
///
/// When a new key arrives at a full shard, the shard first forgets *stale*
/// keys (a GCRA key whose TAT has passed, a quota key from an earlier window:
/// state that changes no decision). If that frees less than a sixteenth of
/// the shard, it then evicts the entries with the **least** state (lowest
/// TAT, lowest usage) until a sixteenth is free.
///
/// Why evict rather than refuse new keys: refusing (failing closed) would let
/// anyone with enough addresses (an IPv6 /48 holds 65 536 /64s) lock every
/// new client out. Evicting the least-used entries gives back the least
/// budget possible: a flood of fresh keys, each holding one request's worth
/// of state, evicts its own kind first, and a key that has spent its budget
/// (a brute-force attempt) is evicted only once every other entry in its
/// shard holds even more state. Forcing that costs the attacker more requests
/// than the budget regained, in a shard it cannot choose (shards are picked
/// by a hash keyed with a per-store random seed). Freeing a sixteenth at once keeps the
/// eviction scan amortised to O(1) per new key under a flood.
///
/// ```
/// use guard_core::rate::StoreConfig;
///
/// let config = StoreConfig::new().max_keys(1_000_000)?.shards(64)?;
/// assert_eq!(config.key_limit(), 1_000_000);
/// # Ok::<(), guard_core::rate::StoreConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    max_keys: usize,
    shards: usize,
}

impl StoreConfig {
    /// Keys held when not configured: ~3–6 MB per limiter at the cap.
    pub const DEFAULT_MAX_KEYS: usize = 100_000;
    /// Shards when not configured.
    pub const DEFAULT_SHARDS: usize = 64;
    /// The most shards accepted.
    pub const MAX_SHARDS: usize = 1024;

    /// [`Self::DEFAULT_MAX_KEYS`] keys over [`Self::DEFAULT_SHARDS`] shards.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_keys: Self::DEFAULT_MAX_KEYS,
            shards: Self::DEFAULT_SHARDS,
        }
    }

    /// The most keys the store holds at once. When `max_keys` is smaller
    /// than the shard count, the store uses fewer shards so the cap holds.
    ///
    /// # Errors
    ///
    /// [`StoreConfigError::ZeroKeys`] for 0.
    pub const fn max_keys(self, max_keys: usize) -> Result<Self, StoreConfigError> {
        if max_keys == 0 {
            return Err(StoreConfigError::ZeroKeys);
        }
        Ok(Self { max_keys, ..self })
    }

    /// How many independently locked parts the store is split into: more
    /// shards, less lock contention and shorter eviction scans.
    ///
    /// # Errors
    ///
    /// [`StoreConfigError::Shards`] unless a power of two in `1..=1024`.
    pub const fn shards(self, shards: usize) -> Result<Self, StoreConfigError> {
        if !shards.is_power_of_two() || shards > Self::MAX_SHARDS {
            return Err(StoreConfigError::Shards(shards));
        }
        Ok(Self { shards, ..self })
    }

    /// The configured key cap.
    #[must_use]
    pub const fn key_limit(&self) -> usize {
        self.max_keys
    }

    /// The configured shard count.
    #[must_use]
    pub const fn shard_count(&self) -> usize {
        self.shards
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// A [`StoreConfig`] setting out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreConfigError {
    /// `max_keys(0)`.
    #[error("a rate-limit store needs room for at least one key")]
    ZeroKeys,
    /// A shard count that is not a power of two in `1..=1024`.
    #[error("{0} shards: the shard count must be a power of two from 1 to 1024")]
    Shards(usize),
}

/// A limiter's rule over one `u64` of state per key: GCRA's TAT, or a
/// quota's window and count. The store runs every rule the same way.
// `pub` in a private module: a supertrait of the public `LimitRule` that
// no one outside can name, which seals it.
pub trait Rule: fmt::Debug + Send + Sync {
    /// Decides a request at `now_ns` for a key whose state is `state`
    /// (`None` for a key not held). Returns the decision and, when allowed,
    /// the state to store; a refusal changes nothing.
    fn decide(&self, state: Option<u64>, now_ns: u64) -> (Decision, Option<u64>);

    /// Whether `state` decides exactly like no entry at `now_ns`, so the key
    /// can be forgotten without changing any decision.
    fn is_stale(&self, state: u64, now_ns: u64) -> bool;

    /// How much budget the key has spent: under memory pressure the lowest
    /// rank is evicted first.
    fn rank(&self, state: u64) -> u64;

    /// The answer when the store cannot be reached (unreachable: shard
    /// indices are always in range). A refusal, never an allowance.
    fn refusal(&self, now_ns: u64) -> Decision;
}

/// One shard: a table of entries and the most it may hold.
#[derive(Debug)]
pub(crate) struct Shard {
    table: Table,
    capacity: usize,
}

impl Shard {
    fn new(capacity: usize) -> Self {
        Self {
            table: Table::default(),
            capacity,
        }
    }

    fn find(&self, hash: u64, key: &RateKey) -> Option<&AtomicU64> {
        self.table.find(hash, key).map(|entry| &entry.state)
    }

    fn find_mut(&mut self, hash: u64, key: &RateKey) -> Option<&mut u64> {
        self.table.find_mut(hash, key)
    }

    /// Stores a new key, making room first if the shard is full (see
    /// [`StoreConfig`]). The caller has checked that `key` is absent.
    fn insert_new(
        &mut self,
        hasher: &KeyHasher,
        hash: u64,
        key: RateKey,
        state: u64,
        rule: &(impl Rule + ?Sized),
        now_ns: u64,
    ) {
        if self.table.len >= self.capacity {
            self.make_room(hasher, rule, now_ns);
        }
        self.table.insert_new(hasher, hash, key, stored(state));
    }

    fn remove(&mut self, hasher: &KeyHasher, hash: u64, key: &RateKey) {
        self.table.remove(hasher, hash, key);
    }

    /// Frees at least a sixteenth of the shard (at least one entry): the
    /// stale entries, then the lowest ranks. One pass to rank, one rebuild.
    fn make_room(&mut self, hasher: &KeyHasher, rule: &(impl Rule + ?Sized), now_ns: u64) {
        let target = (self.capacity / 16).max(1);
        let mut ranks: Vec<u64> = self
            .table
            .occupied()
            .map(|entry| *entry.state.get_mut())
            .filter(|&state| !rule.is_stale(state, now_ns))
            .map(|state| rule.rank(state))
            .collect();
        let free = self.capacity.saturating_sub(ranks.len());
        if free >= target {
            self.table
                .retain(hasher, |state| !rule.is_stale(state, now_ns));
            return;
        }
        let evict = target - free;
        if evict >= ranks.len() {
            self.table.retain(hasher, |_| false);
            return;
        }
        // The `evict`-th smallest rank is the threshold: drop every entry
        // below it and as many at it as are still needed.
        let (below, threshold, _) = ranks.select_nth_unstable(evict - 1);
        let threshold = *threshold;
        let strictly_below = below.iter().filter(|&&r| r < threshold).count();
        let mut at_threshold = evict - strictly_below;
        self.table.retain(hasher, |state| {
            if rule.is_stale(state, now_ns) {
                return false;
            }
            let r = rule.rank(state);
            if r < threshold {
                false
            } else if r == threshold && at_threshold > 0 {
                at_threshold -= 1;
                false
            } else {
                true
            }
        });
    }

    /// Drops stale entries; returns how many.
    fn sweep(&mut self, hasher: &KeyHasher, rule: &(impl Rule + ?Sized), now_ns: u64) -> usize {
        let before = self.table.len;
        // Nothing to rebuild when nothing is stale: the common case of a
        // sweep over busy keys, and of `make_room` under a flood.
        if self
            .table
            .occupied()
            .any(|entry| rule.is_stale(*entry.state.get_mut(), now_ns))
        {
            self.table
                .retain(hasher, |state| !rule.is_stale(state, now_ns));
        }
        before - self.table.len
    }

    fn len(&self) -> usize {
        self.table.len
    }

    /// Bytes the shard's table occupies: its slots, 24 bytes each.
    fn table_bytes(&self) -> usize {
        self.table.slots.len().saturating_mul(size_of::<Entry>())
    }
}

/// A shard on a cache line pair of its own, so that threads deciding in
/// neighbouring shards do not contend for one line (the size `crossbeam`'s
/// `CachePadded` uses on x86-64, where the prefetcher pulls lines in pairs).
#[derive(Debug)]
#[repr(align(128))]
struct Padded(RwLock<Shard>);

/// The write lock on one shard, for [`check_all`](super::check_all).
pub(crate) type ShardGuard<'a> = RwLockWriteGuard<'a, Shard>;

/// How to take back what [`Store::apply`] spent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Undo {
    /// Nothing was spent (a refusal).
    Nothing,
    /// The key held this state before.
    Restore(u64),
    /// The key was new.
    Remove,
}

/// Where a key lives: its hash and its shard.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    hash: u64,
    shard: usize,
}

impl Slot {
    pub(crate) fn shard(self) -> usize {
        self.shard
    }
}

/// The sharded store. It holds no rule: each call brings the limiter's, so
/// one store type serves every [`Rule`].
///
/// A decision on a held key takes its shard's *shared* lock and updates the
/// state with a compare-and-swap, so decisions on any keys run in parallel;
/// the exclusive lock is taken only to insert a key (and evict to make room),
/// to sweep, and by `check_all`, which needs its keys still for a moment.
#[derive(Debug)]
pub(crate) struct Store {
    shards: Box<[Padded]>,
    hasher: KeyHasher,
    /// `64 - log2(shards)`: the shard is the hash's top bits.
    shard_shift: u32,
    max_keys: usize,
}

impl Store {
    pub(crate) fn new(config: StoreConfig) -> Self {
        // Fewer shards than requested when max_keys is small, so that
        // shards × per-shard capacity never exceeds max_keys.
        let mut shards = config.shards.max(1);
        while shards > config.max_keys && shards > 1 {
            shards /= 2;
        }
        let per_shard = (config.max_keys / shards).max(1);
        Self {
            shards: (0..shards)
                .map(|_| Padded(RwLock::new(Shard::new(per_shard))))
                .collect(),
            hasher: KeyHasher::new(),
            // 64 for one shard: `checked_shr` then gives index 0.
            shard_shift: 64 - shards.trailing_zeros(),
            max_keys: per_shard * shards,
        }
    }

    /// The key's hash and shard.
    pub(crate) fn slot(&self, key: &RateKey) -> Slot {
        let hash = self.hasher.hash(key);
        // The top bits, as the slot in the shard's table uses the low ones.
        // The mask keeps the index in range whatever the shift.
        let top = hash.checked_shr(self.shard_shift).unwrap_or(0);
        let shard = (top as usize) & (self.shards.len() - 1);
        Slot { hash, shard }
    }

    /// Decides a request for `key` at `now_ns` by `rule` and, when allowed,
    /// spends.
    pub(crate) fn check<R: Rule + ?Sized>(&self, rule: &R, key: RateKey, now_ns: u64) -> Decision {
        let slot = self.slot(&key);
        let Some(Padded(lock)) = self.shards.get(slot.shard) else {
            return rule.refusal(now_ns);
        };
        {
            let shard = lock.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(state) = shard.find(slot.hash, &key) {
                return spend_shared(rule, state, now_ns);
            }
        }
        // A new key. What a key with no state is refused spends nothing and
        // needs no entry; otherwise insert under the exclusive lock.
        let (decision, state) = match rule.decide(None, now_ns) {
            (decision, Some(state)) => (decision, state),
            (decision, None) => return decision,
        };
        let mut shard = lock.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have inserted the key between the two locks.
        if let Some(held) = shard.find_mut(slot.hash, &key) {
            return spend_exclusive(rule, held, now_ns).0;
        }
        shard.insert_new(&self.hasher, slot.hash, key, state, rule, now_ns);
        decision
    }

    /// What [`Self::check`] would decide, spending nothing.
    pub(crate) fn peek<R: Rule + ?Sized>(&self, rule: &R, key: RateKey, now_ns: u64) -> Decision {
        let slot = self.slot(&key);
        let Some(Padded(lock)) = self.shards.get(slot.shard) else {
            return rule.refusal(now_ns);
        };
        let state = lock
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .find(slot.hash, &key)
            .map(|state| state.load(Ordering::Relaxed));
        rule.decide(state, now_ns).0
    }

    /// Locks shard `index` exclusively. A poisoned lock is taken anyway: no
    /// code that runs under it can panic half-way through a change.
    pub(crate) fn lock(&self, index: usize) -> Option<ShardGuard<'_>> {
        self.shards
            .get(index)
            .map(|Padded(lock)| lock.write().unwrap_or_else(PoisonError::into_inner))
    }

    /// Under the shard's exclusive lock: decides for `key` and spends when
    /// allowed, returning how to undo it.
    pub(crate) fn apply(
        &self,
        shard: &mut Shard,
        rule: &dyn Rule,
        key: RateKey,
        slot: Slot,
        now_ns: u64,
    ) -> (Decision, Undo) {
        if let Some(state) = shard.find_mut(slot.hash, &key) {
            return spend_exclusive(rule, state, now_ns);
        }
        match rule.decide(None, now_ns) {
            (decision, Some(state)) => {
                shard.insert_new(&self.hasher, slot.hash, key, state, rule, now_ns);
                (decision, Undo::Remove)
            }
            (decision, None) => (decision, Undo::Nothing),
        }
    }

    /// Under the shard's exclusive lock: takes back what [`Self::apply`]
    /// spent. A key evicted since (by a later insert into the same shard)
    /// stays evicted.
    pub(crate) fn undo(&self, shard: &mut Shard, key: RateKey, slot: Slot, undo: Undo) {
        match undo {
            Undo::Nothing => {}
            Undo::Restore(old) => {
                if let Some(state) = shard.find_mut(slot.hash, &key) {
                    *state = old;
                }
            }
            Undo::Remove => shard.remove(&self.hasher, slot.hash, &key),
        }
    }

    /// An identity for ordering locks across stores.
    pub(crate) fn address(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    /// Drops stale entries from every shard, one shard locked at a time.
    pub(crate) fn sweep<R: Rule + ?Sized>(&self, rule: &R, now_ns: u64) -> usize {
        (0..self.shards.len())
            .filter_map(|index| self.lock(index))
            .map(|mut shard| shard.sweep(&self.hasher, rule, now_ns))
            .sum()
    }

    /// Sums `f` over the shards, each under its shared lock.
    fn sum(&self, f: impl Fn(&Shard) -> usize) -> usize {
        self.shards
            .iter()
            .map(|Padded(lock)| f(&lock.read().unwrap_or_else(PoisonError::into_inner)))
            .sum()
    }

    pub(crate) fn len(&self) -> usize {
        self.sum(Shard::len)
    }

    /// The cap actually enforced: `max_keys` rounded down to a multiple of
    /// the shard count.
    pub(crate) fn max_keys(&self) -> usize {
        self.max_keys
    }

    pub(crate) fn table_bytes(&self) -> usize {
        self.sum(Shard::table_bytes)
    }
}

/// Decides on a held key under the shard's shared lock: a compare-and-swap
/// loop, so concurrent decisions on one key each see the other's spending
/// and the budget is never overspent. Each retry means another decision
/// succeeded, so the loop always progresses.
///
/// `Relaxed` suffices: the state is one self-contained word (the budget
/// arithmetic needs only the atomicity of the read-modify-write), and the
/// table's structure is ordered by the lock.
fn spend_shared<R: Rule + ?Sized>(rule: &R, state: &AtomicU64, now_ns: u64) -> Decision {
    let mut current = state.load(Ordering::Relaxed);
    loop {
        let (decision, next) = rule.decide(Some(current), now_ns);
        let Some(next) = next else {
            return decision;
        };
        let next = stored(next);
        match state.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return decision,
            Err(actual) => current = actual,
        }
    }
}

/// Decides on a held key under the shard's exclusive lock.
fn spend_exclusive<R: Rule + ?Sized>(rule: &R, state: &mut u64, now_ns: u64) -> (Decision, Undo) {
    let old = *state;
    match rule.decide(Some(old), now_ns) {
        (decision, Some(next)) => {
            *state = stored(next);
            (decision, Undo::Restore(old))
        }
        (decision, None) => (decision, Undo::Nothing),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;
    use std::time::Duration;

    use super::*;

    /// A TAT-like rule for driving the store by hand: state `v` is stale at
    /// `now >= v` and ranks as `v`; a decision adds 1 up to `limit`.
    #[derive(Debug)]
    struct Counter {
        limit: u64,
    }

    impl Rule for Counter {
        fn decide(&self, state: Option<u64>, _now_ns: u64) -> (Decision, Option<u64>) {
            let used = state.unwrap_or(0);
            if used < self.limit {
                let remaining = u32::try_from(self.limit - used - 1).unwrap();
                let allowed = Decision::Allowed {
                    remaining,
                    reset_after: Duration::ZERO,
                };
                (allowed, Some(used + 1))
            } else {
                let denied = Decision::Denied {
                    retry_after: Duration::from_secs(1),
                };
                (denied, None)
            }
        }

        fn is_stale(&self, state: u64, now_ns: u64) -> bool {
            state <= now_ns
        }

        fn rank(&self, state: u64) -> u64 {
            state
        }

        fn refusal(&self, _now_ns: u64) -> Decision {
            Decision::Denied {
                retry_after: Duration::from_secs(1),
            }
        }
    }

    const RULE: Counter = Counter { limit: u64::MAX };

    pub(super) fn key(n: u64) -> RateKey {
        let mut bytes = [0_u8; 16];
        bytes[8..].copy_from_slice(&n.to_be_bytes());
        RateKey::from_bytes(bytes)
    }

    /// Sets key `n` to `value` at `now`, inserting (and evicting) as a
    /// decision would.
    pub(super) fn insert(store: &Store, n: u64, value: u64, now: u64) {
        let slot = store.slot(&key(n));
        let mut shard = store.lock(slot.shard()).unwrap();
        match shard.find_mut(slot.hash, &key(n)) {
            Some(state) => *state = stored(value),
            None => shard.insert_new(&store.hasher, slot.hash, key(n), value, &RULE, now),
        }
    }

    pub(super) fn get(store: &Store, n: u64) -> Option<u64> {
        let slot = store.slot(&key(n));
        let mut shard = store.lock(slot.shard()).unwrap();
        shard.find_mut(slot.hash, &key(n)).copied()
    }

    #[test]
    fn config_refuses_zero_keys_and_bad_shard_counts() {
        assert_eq!(
            StoreConfig::new().max_keys(0),
            Err(StoreConfigError::ZeroKeys)
        );
        for shards in [0, 3, 48, 2048] {
            assert_eq!(
                StoreConfig::new().shards(shards),
                Err(StoreConfigError::Shards(shards))
            );
        }
        for shards in [1, 2, 64, 1024] {
            assert_eq!(
                StoreConfig::new().shards(shards).unwrap().shard_count(),
                shards
            );
        }
    }

    #[test]
    fn cap_holds_when_ten_times_more_keys_arrive_than_fit() {
        let config = StoreConfig::new()
            .max_keys(1_000)
            .unwrap()
            .shards(16)
            .unwrap();
        let store = Store::new(config);
        for n in 0..10_000 {
            // Every entry is live (TAT in the future): only the rank rule can make room.
            insert(&store, n, 1_000_000 + n, 0);
            assert!(store.len() <= 1_000, "after {n} keys: {}", store.len());
        }
        assert!(
            store.len() > 900,
            "eviction frees a sixteenth, not everything"
        );
    }

    #[test]
    fn a_full_shard_evicts_the_least_state_first() {
        let config = StoreConfig::new().max_keys(16).unwrap().shards(1).unwrap();
        let store = Store::new(config);
        // One heavy key (a spent budget) and fifteen light ones.
        insert(&store, 0, 1_000_000, 0);
        for n in 1..16 {
            insert(&store, n, 10 + n, 0);
        }
        // A flood of new light keys never pushes the heavy key out.
        for n in 100..1_000 {
            insert(&store, n, 10, 0);
        }
        assert_eq!(get(&store, 0), Some(1_000_000));
        assert!(store.len() <= 16);
    }

    #[test]
    fn a_full_shard_drops_stale_keys_before_live_ones() {
        let config = StoreConfig::new().max_keys(4).unwrap().shards(1).unwrap();
        let store = Store::new(config);
        insert(&store, 0, 5, 0); // stale at now = 100
        insert(&store, 1, 500, 0);
        insert(&store, 2, 6, 0); // stale at now = 100
        insert(&store, 3, 400, 0);
        insert(&store, 4, 300, 100);
        let kept: Vec<u64> = (0..5).filter(|&n| get(&store, n).is_some()).collect();
        assert_eq!(kept, [1, 3, 4]);
    }

    #[test]
    fn sweep_drops_stale_keys_and_len_follows() {
        let store = Store::new(StoreConfig::new());
        for n in 0..1_000 {
            insert(&store, n, n, 0);
        }
        assert_eq!(store.len(), 1_000);
        assert_eq!(store.sweep(&RULE, 499), 500);
        assert_eq!(store.len(), 500);
    }

    #[test]
    fn small_caps_shrink_the_shard_count_so_the_cap_holds() {
        let store = Store::new(StoreConfig::new().max_keys(5).unwrap());
        assert_eq!(store.max_keys(), 4);
        for n in 0..100 {
            insert(&store, n, u64::MAX, 0);
        }
        assert!(store.len() <= 4);
    }

    #[test]
    fn shard_selection_spreads_sequential_keys() {
        let store = Store::new(StoreConfig::new());
        let mut counts = [0_usize; 64];
        for n in 0..64_000 {
            counts[store.slot(&key(n << 16)).shard()] += 1;
        }
        assert!(
            counts.iter().all(|&c| (500..1_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn two_threads_on_one_key_never_overspend() {
        for _ in 0..20 {
            let store = Arc::new(Store::new(StoreConfig::new()));
            let rule = Counter { limit: 10_000 };
            let _ = store.check(&rule, key(7), 0);
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let store = Arc::clone(&store);
                    thread::spawn(move || {
                        let rule = Counter { limit: 10_000 };
                        (0..8_000)
                            .filter(|_| store.check(&rule, key(7), 0).is_allowed())
                            .count()
                    })
                })
                .collect();
            let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
            // One spent before the threads started.
            assert_eq!(allowed, 9_999);
            assert_eq!(get(&store, 7), Some(10_000));
        }
    }

    #[test]
    fn racing_first_requests_for_a_new_key_insert_it_once() {
        for round in 0..200 {
            let store = Arc::new(Store::new(StoreConfig::new()));
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let store = Arc::clone(&store);
                    thread::spawn(move || {
                        let rule = Counter { limit: 3 };
                        (0..2)
                            .filter(|_| store.check(&rule, key(round), 0).is_allowed())
                            .count()
                    })
                })
                .collect();
            let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
            assert_eq!(allowed, 3, "round {round}");
            assert_eq!(store.len(), 1);
        }
    }
}
