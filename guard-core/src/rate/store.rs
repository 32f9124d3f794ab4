//! A sharded, bounded in-memory map from [`RateKey`] to a limiter's per-key
//! state, shared by the GCRA limiter and the quota.
//!
//! See [`StoreConfig`] for the bound and the eviction rule.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::mem::size_of;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::key::RateKey;

/// Sizing for a limiter's in-memory store.
///
/// # Bounded memory
///
/// The store holds at most [`StoreConfig::max_keys`] keys, split evenly over
/// its shards. An entry is 24 bytes (a 16-byte key and 8 bytes of state) in
/// a `std` `HashMap`, which keeps its table at most 7/8 full and grows it by
/// doubling: 29–57 bytes per key depending on where the count falls between
/// two table sizes. Measured at the cap (test `memory_per_key_stays_under_80_bytes_at_the_cap`):
/// 46 bytes per key at 1 000 keys, 34 at 100 000, 54 at 1 000 000.
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
/// by a per-store random hash). Freeing a sixteenth at once keeps the
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

/// One shard: a plain map and the most keys it may hold.
#[derive(Debug)]
pub(crate) struct Shard<V> {
    map: HashMap<RateKey, V>,
    capacity: usize,
}

impl<V: Copy> Shard<V> {
    fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            capacity,
        }
    }

    pub(crate) fn get(&self, key: &RateKey) -> Option<V> {
        self.map.get(key).copied()
    }

    pub(crate) fn get_mut(&mut self, key: &RateKey) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    pub(crate) fn remove(&mut self, key: &RateKey) {
        self.map.remove(key);
    }

    /// Stores `value` under `key`, making room first if the key is new and
    /// the shard is full (see the module docs).
    pub(crate) fn insert(
        &mut self,
        key: RateKey,
        value: V,
        is_stale: impl Fn(&V) -> bool,
        rank: impl Fn(&V) -> u64,
    ) {
        if let Some(slot) = self.map.get_mut(&key) {
            *slot = value;
            return;
        }
        if self.map.len() >= self.capacity {
            self.make_room(is_stale, rank);
        }
        self.map.insert(key, value);
    }

    /// Frees at least a sixteenth of the shard (at least one entry).
    fn make_room(&mut self, is_stale: impl Fn(&V) -> bool, rank: impl Fn(&V) -> u64) {
        let target = (self.capacity / 16).max(1);
        self.map.retain(|_, value| !is_stale(value));
        let free = self.capacity.saturating_sub(self.map.len());
        if free >= target {
            return;
        }
        let evict = target - free;
        if evict >= self.map.len() {
            self.map.clear();
            return;
        }
        // The `evict`-th smallest rank is the threshold: drop every entry
        // below it and as many at it as are still needed.
        let mut ranks: Vec<u64> = self.map.values().map(&rank).collect();
        let (below, threshold, _) = ranks.select_nth_unstable(evict - 1);
        let threshold = *threshold;
        let strictly_below = below.iter().filter(|&&r| r < threshold).count();
        let mut at_threshold = evict - strictly_below;
        self.map.retain(|_, value| {
            let r = rank(value);
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
    pub(crate) fn sweep(&mut self, is_stale: impl Fn(&V) -> bool) -> usize {
        let before = self.map.len();
        self.map.retain(|_, value| !is_stale(value));
        before - self.map.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes the shard's table occupies: buckets × (entry + 1 control byte).
    /// `std` keeps a table of `2^k` buckets at most 7/8 full.
    fn table_bytes(&self) -> usize {
        let capacity = self.map.capacity();
        if capacity == 0 {
            return 0;
        }
        let buckets = if capacity < 8 {
            capacity + 1
        } else {
            (capacity / 7).saturating_mul(8)
        }
        .next_power_of_two();
        buckets.saturating_mul(size_of::<(RateKey, V)>() + 1)
    }
}

/// The sharded store.
#[derive(Debug)]
pub(crate) struct Store<V> {
    shards: Box<[Mutex<Shard<V>>]>,
    /// Keys for shard selection, random per store, independent of the maps'
    /// own hash keys (so a shard's keys do not cluster in its table).
    seeds: [u64; 2],
    max_keys: usize,
}

impl<V: Copy> Store<V> {
    pub(crate) fn new(config: StoreConfig) -> Self {
        // Fewer shards than requested when max_keys is small, so that
        // shards × per-shard capacity never exceeds max_keys.
        let mut shards = config.shards.max(1);
        while shards > config.max_keys && shards > 1 {
            shards /= 2;
        }
        let per_shard = (config.max_keys / shards).max(1);
        let random = RandomState::new();
        Self {
            shards: (0..shards)
                .map(|_| Mutex::new(Shard::new(per_shard)))
                .collect(),
            seeds: [random.hash_one(0_u8) | 1, random.hash_one(1_u8)],
            max_keys: per_shard * shards,
        }
    }

    /// The shard a key lives in. A keyed multiply-fold: cheap, and without
    /// the seeds nobody can aim many keys at one shard.
    pub(crate) fn shard_index(&self, key: &RateKey) -> usize {
        let value = u128::from_le_bytes(key.to_bytes());
        // Truncating casts split the value into halves, on purpose.
        let (low, high) = (value as u64, (value >> 64) as u64);
        let product = u128::from(low ^ self.seeds[0]) * u128::from(high ^ self.seeds[1]);
        let folded = (product as u64) ^ ((product >> 64) as u64);
        // Use the top bits; the modulo only guards the (impossible) case of
        // a shard count that is not a power of two.
        let index = (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize;
        index % self.shards.len()
    }

    /// An identity for ordering locks across stores.
    pub(crate) fn address(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    /// Locks shard `index`. A poisoned lock is taken anyway: the state is a
    /// plain map that no panic can leave half-written.
    pub(crate) fn lock(&self, index: usize) -> Option<MutexGuard<'_, Shard<V>>> {
        self.shards
            .get(index)
            .map(|shard| shard.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn lock_key(&self, key: &RateKey) -> Option<MutexGuard<'_, Shard<V>>> {
        self.lock(self.shard_index(key))
    }

    /// Drops stale entries from every shard, one shard locked at a time.
    pub(crate) fn sweep(&self, is_stale: impl Fn(&V) -> bool) -> usize {
        (0..self.shards.len())
            .filter_map(|index| self.lock(index))
            .map(|mut shard| shard.sweep(&is_stale))
            .sum()
    }

    pub(crate) fn len(&self) -> usize {
        (0..self.shards.len())
            .filter_map(|index| self.lock(index))
            .map(|shard| shard.len())
            .sum()
    }

    /// The cap actually enforced: `max_keys` rounded down to a multiple of
    /// the shard count.
    pub(crate) fn max_keys(&self) -> usize {
        self.max_keys
    }

    pub(crate) fn table_bytes(&self) -> usize {
        (0..self.shards.len())
            .filter_map(|index| self.lock(index))
            .map(|shard| shard.table_bytes())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> RateKey {
        let mut bytes = [0_u8; 16];
        bytes[8..].copy_from_slice(&n.to_be_bytes());
        RateKey::from_bytes(bytes)
    }

    fn insert(store: &Store<u64>, n: u64, value: u64, now: u64) {
        let mut shard = store.lock_key(&key(n)).unwrap();
        shard.insert(key(n), value, |&v| v <= now, |&v| v);
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
        let store = Store::<u64>::new(config);
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
        let store = Store::<u64>::new(config);
        // One heavy key (a spent budget) and fifteen light ones.
        insert(&store, 0, 1_000_000, 0);
        for n in 1..16 {
            insert(&store, n, 10 + n, 0);
        }
        // A flood of new light keys never pushes the heavy key out.
        for n in 100..1_000 {
            insert(&store, n, 10, 0);
        }
        let shard = store.lock(0).unwrap();
        assert_eq!(shard.get(&key(0)), Some(1_000_000));
        assert!(shard.len() <= 16);
    }

    #[test]
    fn a_full_shard_drops_stale_keys_before_live_ones() {
        let config = StoreConfig::new().max_keys(4).unwrap().shards(1).unwrap();
        let store = Store::<u64>::new(config);
        insert(&store, 0, 5, 0); // stale at now = 100
        insert(&store, 1, 500, 0);
        insert(&store, 2, 6, 0); // stale at now = 100
        insert(&store, 3, 400, 0);
        insert(&store, 4, 300, 100);
        let shard = store.lock(0).unwrap();
        let kept: Vec<u64> = (0..5).filter(|&n| shard.get(&key(n)).is_some()).collect();
        assert_eq!(kept, [1, 3, 4]);
    }

    #[test]
    fn sweep_drops_stale_keys_and_len_follows() {
        let store = Store::<u64>::new(StoreConfig::new());
        for n in 0..1_000 {
            insert(&store, n, n, 0);
        }
        assert_eq!(store.len(), 1_000);
        assert_eq!(store.sweep(|&v| v <= 499), 500);
        assert_eq!(store.len(), 500);
    }

    #[test]
    fn small_caps_shrink_the_shard_count_so_the_cap_holds() {
        let store = Store::<u64>::new(StoreConfig::new().max_keys(5).unwrap());
        assert_eq!(store.max_keys(), 4);
        for n in 0..100 {
            insert(&store, n, u64::MAX, 0);
        }
        assert!(store.len() <= 4);
    }

    #[test]
    fn shard_selection_spreads_sequential_keys() {
        let store = Store::<u64>::new(StoreConfig::new());
        let mut counts = [0_usize; 64];
        for n in 0..64_000 {
            counts[store.shard_index(&key(n << 16))] += 1;
        }
        assert!(
            counts.iter().all(|&c| (500..1_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn memory_per_key_stays_under_80_bytes_at_the_cap() {
        assert_eq!(size_of::<(RateKey, u64)>(), 24);
        for max_keys in [1_000, 100_000, 1_000_000] {
            let config = StoreConfig::new().max_keys(max_keys).unwrap();
            let store = Store::<u64>::new(config);
            for n in 0..max_keys as u64 {
                insert(&store, n, u64::MAX, 0);
            }
            let per_key = store.table_bytes() as f64 / store.len() as f64;
            eprintln!("{max_keys} keys: {per_key:.1} bytes per key");
            assert!(per_key <= 80.0, "{max_keys} keys: {per_key} bytes per key");
        }
    }
}
