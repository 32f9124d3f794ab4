//! The open-addressing table behind each shard of the store: the entries,
//! the keyed hash that places them, and probing, insertion and removal.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::rate::key::RateKey;

/// One slot: a key and its state, 24 bytes. The state is atomic so that a
/// decision on a held key needs only the shard's shared lock; a state of 0
/// marks an empty slot (see [`stored`]).
#[derive(Debug)]
pub(super) struct Entry {
    key: RateKey,
    pub(super) state: AtomicU64,
}

impl Entry {
    const EMPTY: u64 = 0;

    fn empty() -> Self {
        Self {
            key: RateKey::from_bytes([0; 16]),
            state: AtomicU64::new(Self::EMPTY),
        }
    }

    fn is_empty(&self) -> bool {
        self.state.load(Ordering::Relaxed) == Self::EMPTY
    }
}

/// The state to store for a rule's `next`: never [`Entry::EMPTY`]. Neither
/// rule ever stores 0 (a TAT is at least one interval, a quota count at
/// least 1); were one to, 1 decides the same at any time after the epoch.
pub(super) fn stored(next: u64) -> u64 {
    next.max(1)
}

/// A keyed hash of a [`RateKey`], one per store, computed once per decision:
/// its top bits pick the shard and its low bits the slot in the shard's
/// table.
///
/// Two folded multiplies under a random 256-bit seed (the construction of
/// `foldhash` and of `ahash` without AES, the hashes `hashbrown` defaults
/// to). Keys are attacker-chosen, so the hash must be keyed: without the
/// seed nobody can aim keys at one shard or one probe sequence. It is not a
/// PRF like SipHash, but nothing here ever reveals a hash value, and it
/// costs a handful of instructions instead of ~100.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyHasher {
    seeds: [u64; 4],
}

impl KeyHasher {
    pub(super) fn new() -> Self {
        // `RandomState::new` draws fresh SipHash keys per store (from OS
        // randomness, once per thread, then stepped), so every store gets
        // independent seeds.
        let random = RandomState::new();
        Self {
            seeds: [0_u8, 1, 2, 3].map(|lane| random.hash_one(lane)),
        }
    }

    pub(super) fn hash(&self, key: &RateKey) -> u64 {
        let value = u128::from_le_bytes(key.to_bytes());
        // Truncating casts split the value into halves, on purpose.
        let (low, high) = (value as u64, (value >> 64) as u64);
        let [s0, s1, s2, s3] = self.seeds;
        // The second multiply spreads every input bit over all output bits.
        folded_multiply(folded_multiply(low ^ s0, high ^ s1) ^ s2, s3 | 1)
    }
}

/// The 128-bit product of `a` and `b`, its halves xor-ed together.
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// An open-addressing table with linear probing: slots hold the entries
/// themselves, so finding a key touches one spot of memory (usually one
/// cache line), where a table with separate control bytes touches two. At a
/// million keys, where every lookup misses the cache, that is most of the
/// cost of a decision.
///
/// At most 7/8 full, like `hashbrown`'s tables: a held key is found within
/// about five slots (two cache lines) on average at the fullest, and the
/// keyed hash leaves an attacker no way to build longer runs. Removal shifts
/// the rest of the run back (no tombstones), so runs never grow with churn.
#[derive(Debug, Default)]
pub(super) struct Table {
    /// A power of two in length, or empty.
    pub(super) slots: Box<[Entry]>,
    pub(super) len: usize,
}

impl Table {
    fn with_slots(slots: usize) -> Self {
        Self {
            slots: (0..slots).map(|_| Entry::empty()).collect(),
            len: 0,
        }
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The slot holding `key`, if any. Bounded by the table's length; it
    /// always ends sooner, at an empty slot.
    fn position(&self, hash: u64, key: &RateKey) -> Option<usize> {
        let mask = self.mask();
        // Truncation is intended: the mask keeps the low bits.
        let mut index = hash as usize & mask;
        for _ in 0..self.slots.len() {
            let entry = self.slots.get(index)?;
            if entry.is_empty() {
                return None;
            }
            if entry.key == *key {
                return Some(index);
            }
            index = (index + 1) & mask;
        }
        None
    }

    pub(super) fn find(&self, hash: u64, key: &RateKey) -> Option<&Entry> {
        self.position(hash, key)
            .and_then(|index| self.slots.get(index))
    }

    pub(super) fn find_mut(&mut self, hash: u64, key: &RateKey) -> Option<&mut u64> {
        let index = self.position(hash, key)?;
        self.slots.get_mut(index).map(|entry| entry.state.get_mut())
    }

    /// Stores a key known to be absent, growing the table first if needed.
    pub(super) fn insert_new(&mut self, hasher: &KeyHasher, hash: u64, key: RateKey, state: u64) {
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            let slots = (self.slots.len() * 2).max(8);
            self.rebuild(hasher, slots, |_| true);
        }
        self.place(hash, key, state);
    }

    /// Writes an entry into the first empty slot of its run. The table has
    /// room (at most 7/8 full).
    fn place(&mut self, hash: u64, key: RateKey, state: u64) {
        let mask = self.mask();
        let mut index = hash as usize & mask;
        for _ in 0..self.slots.len() {
            let Some(entry) = self.slots.get_mut(index) else {
                return;
            };
            if entry.is_empty() {
                *entry = Entry {
                    key,
                    state: AtomicU64::new(state),
                };
                self.len += 1;
                return;
            }
            index = (index + 1) & mask;
        }
    }

    pub(super) fn remove(&mut self, hasher: &KeyHasher, hash: u64, key: &RateKey) {
        let Some(mut hole) = self.position(hash, key) else {
            return;
        };
        // Backward shift: walk the rest of the run and move back every entry
        // that may sit in the hole (its home slot is not between the hole
        // and where it sits), so every key stays reachable from its home.
        let mask = self.mask();
        let mut next = (hole + 1) & mask;
        for _ in 0..self.slots.len() {
            let Some(entry) = self.slots.get(next) else {
                break;
            };
            if entry.is_empty() {
                break;
            }
            let home = hasher.hash(&entry.key) as usize & mask;
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(hole) & mask {
                self.slots.swap(hole, next);
                hole = next;
            }
            next = (next + 1) & mask;
        }
        if let Some(entry) = self.slots.get_mut(hole) {
            *entry = Entry::empty();
        }
        self.len -= 1;
    }

    pub(super) fn occupied(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.slots.iter_mut().filter(|entry| !entry.is_empty())
    }

    /// Keeps the entries `keep` accepts, in a table of `slots` slots.
    fn rebuild(&mut self, hasher: &KeyHasher, slots: usize, mut keep: impl FnMut(u64) -> bool) {
        let old = std::mem::replace(self, Self::with_slots(slots));
        for entry in old.slots.into_iter() {
            let state = entry.state.into_inner();
            if state != Entry::EMPTY && keep(state) {
                self.place(hasher.hash(&entry.key), entry.key, state);
            }
        }
    }

    /// Keeps the entries `keep` accepts; the table keeps its size.
    pub(super) fn retain(&mut self, hasher: &KeyHasher, keep: impl FnMut(u64) -> bool) {
        self.rebuild(hasher, self.slots.len(), keep);
    }
}

#[cfg(test)]
mod tests {
    use super::Entry;
    use crate::rate::store::tests::{get, insert, key};
    use crate::rate::store::{Store, StoreConfig, Undo};

    #[test]
    fn the_hash_is_seeded_per_store() {
        let (a, b) = (
            Store::new(StoreConfig::new()),
            Store::new(StoreConfig::new()),
        );
        let same = (0..64)
            .filter(|&n| a.slot(&key(n)).hash == b.slot(&key(n)).hash)
            .count();
        assert_eq!(same, 0);
    }

    #[test]
    fn keys_in_one_shard_still_spread_over_its_slots() {
        // The shard comes from the hash's top bits and the slot from its low
        // bits: every slot of a shard's table gets keys.
        let store = Store::new(StoreConfig::new());
        let mut seen = [false; 256];
        for n in 0..200_000 {
            let slot = store.slot(&key(n));
            if slot.shard() == 0 {
                seen[(slot.hash & 255) as usize] = true;
            }
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn removal_keeps_every_other_key_reachable() {
        // One shard of 2 000 keys: long probe runs. Remove every third key
        // and check that the rest are all still found, and the removed not.
        let config = StoreConfig::new()
            .max_keys(4_000)
            .unwrap()
            .shards(1)
            .unwrap();
        let store = Store::new(config);
        for n in 0..2_000 {
            insert(&store, n, 1_000 + n, 0);
        }
        for n in (0..2_000).step_by(3) {
            let slot = store.slot(&key(n));
            store.undo(&mut store.lock(0).unwrap(), key(n), slot, Undo::Remove);
        }
        for n in 0..2_000 {
            let expected = (n % 3 != 0).then_some(1_000 + n);
            assert_eq!(get(&store, n), expected, "key {n}");
        }
        assert_eq!(store.len(), 2_000 - 667);
    }

    #[test]
    fn a_zero_state_is_stored_as_one_so_the_slot_stays_taken() {
        let store = Store::new(StoreConfig::new());
        insert(&store, 1, 0, 0);
        assert_eq!(get(&store, 1), Some(1));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn memory_per_key_stays_under_80_bytes_at_the_cap() {
        assert_eq!(size_of::<Entry>(), 24);
        for max_keys in [1_000, 100_000, 1_000_000] {
            let config = StoreConfig::new().max_keys(max_keys).unwrap();
            let store = Store::new(config);
            for n in 0..max_keys as u64 {
                insert(&store, n, u64::MAX, 0);
            }
            let per_key = store.table_bytes() as f64 / store.len() as f64;
            eprintln!("{max_keys} keys: {per_key:.1} bytes per key");
            assert!(per_key <= 80.0, "{max_keys} keys: {per_key} bytes per key");
        }
    }
}
