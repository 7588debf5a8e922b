//! The `Logplex-Frame-Id`s of recent batches, to drop a batch Logplex sent again.

use std::collections::HashSet;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// The last `capacity` `Logplex-Frame-Id`s seen, oldest forgotten first.
///
/// Logplex retries a batch it got no 2xx for with the same frame id; a retry of a batch already
/// counted must not be counted twice. Retries come within seconds, so the last 1,024 ids (the
/// [`Default`]) cover a busy drain's retries many times over.
///
/// Ids are kept as 64-bit hashes, so memory is `capacity` times a few words whatever the ids'
/// length (they are 32 hex digits from Logplex, but the header is the sender's to choose). Two ids
/// sharing a hash would drop one batch wrongly: with 1,024 ids that is about one chance in 10^16.
///
/// ```
/// use autoscaled_router_logs::SeenFrames;
/// let mut seen = SeenFrames::default();
/// assert!(seen.insert("09e4b7b7e1c0c2a1f4f4d1d0c0b0a090"), "first time: count it");
/// assert!(!seen.insert("09e4b7b7e1c0c2a1f4f4d1d0c0b0a090"), "a retry: drop it");
/// ```
#[derive(Debug, Clone)]
pub struct SeenFrames {
    /// Hashes in insertion order, a ring: `order[next]` is the oldest once full.
    order: Vec<u64>,
    next: usize,
    capacity: usize,
    set: HashSet<u64>,
}

impl SeenFrames {
    /// Remembers up to `capacity` ids (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            order: Vec::with_capacity(capacity),
            next: 0,
            capacity,
            set: HashSet::with_capacity(capacity),
        }
    }

    /// Records `frame_id` and says whether it is new: `true` for a batch to count, `false` for one
    /// seen among the last `capacity` ids (a retry, to answer 2xx and drop).
    pub fn insert(&mut self, frame_id: &str) -> bool {
        // Fixed keys: the same id must hash the same on every call, and an attacker who can choose
        // ids already holds the drain URL and could post any figures anyway.
        let mut hasher = DefaultHasher::new();
        frame_id.hash(&mut hasher);
        let hash = hasher.finish();
        if !self.set.insert(hash) {
            return false;
        }
        if self.order.len() < self.capacity {
            self.order.push(hash);
        } else {
            let oldest = std::mem::replace(&mut self.order[self.next], hash);
            self.set.remove(&oldest);
            self.next = (self.next + 1) % self.capacity;
        }
        true
    }

    /// How many ids are remembered (at most the capacity).
    #[must_use]
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether no id has been seen yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

impl Default for SeenFrames {
    /// The last 1,024 ids.
    fn default() -> Self {
        Self::new(1024)
    }
}
