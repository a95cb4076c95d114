//! Message deduplication, LavinMQ's addition (same argument names):
//! a queue or exchange declared with `x-message-deduplication = true` drops a
//! message whose deduplication key it has seen recently.
//!
//! - The key is the value of the header named by `x-deduplication-header`;
//!   without that argument, the header `x-deduplication-header` itself as in
//!   LavinMQ, and failing that the `message-id` property (LavinMQ has no such
//!   fallback; publishers that set message ids get deduplication without
//!   extra headers, and only on queues that asked for it). A message without
//!   a key is never a duplicate.
//! - `x-cache-size` bounds the number of remembered keys (LavinMQ's default
//!   is 128); when full, the oldest remembered key is forgotten.
//! - `x-cache-ttl` (ms) makes keys expire; absent, they stay until evicted.
//!   A message's own `x-cache-ttl` header overrides it for that key. LavinMQ
//!   reads that header only as a 32-bit signed integer; any non-negative
//!   integer width is accepted here.
//! - A size of 0 remembers nothing (LavinMQ does not guard that case); the
//!   declaring code may prefer to refuse it.
//!
//! The cache is deterministic (time is `now_ms`, hashing is the engine's
//! seedless FxHasher) and O(1) amortized per message: a hash map of live keys
//! plus an insertion-order queue whose stale slots (keys that expired and
//! came back) carry an older generation number and are skipped or compacted
//! away.

use super::fxhash::FxHashMap;
use super::message::Message;
use super::value::FieldValue;
use std::collections::VecDeque;
use std::rc::Rc;

/// The header read when `x-deduplication-header` is not given.
pub const DEFAULT_HEADER: &str = "x-deduplication-header";
/// The per-message header that overrides the cache's TTL for that key.
pub const TTL_HEADER: &str = "x-cache-ttl";

type Key = Rc<[u8]>;

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// When the key stops counting as seen; `None`: never by time.
    expires_at: Option<u64>,
    /// Which entry of `order` belongs to this slot.
    generation: u64,
}

/// Recently seen deduplication keys.
#[derive(Clone, Debug)]
pub struct DedupCache {
    capacity: usize,
    ttl_ms: Option<u64>,
    slots: FxHashMap<Key, Slot>,
    order: VecDeque<(Key, u64)>,
    next_generation: u64,
}

impl DedupCache {
    /// LavinMQ's `x-cache-size` when the argument is absent.
    pub const DEFAULT_SIZE: usize = 128;

    /// A cache of at most `size` keys, each remembered for `ttl_ms` (or until
    /// evicted, when `None`).
    pub fn new(size: usize, ttl_ms: Option<u64>) -> DedupCache {
        DedupCache {
            capacity: size,
            ttl_ms,
            slots: FxHashMap::default(),
            order: VecDeque::new(),
            next_generation: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn ttl_ms(&self) -> Option<u64> {
        self.ttl_ms
    }

    /// Keys held, counting expired ones not yet cleared out (as LavinMQ's
    /// size does).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The live keys, oldest first, with the moment each stops counting:
    /// what a broker image keeps of the cache.
    pub(crate) fn live_keys(&self) -> impl Iterator<Item = (&[u8], Option<u64>)> {
        self.order.iter().filter_map(|(key, generation)| {
            let slot = self
                .slots
                .get(key)
                .filter(|s| s.generation == *generation)?;
            Some((&key[..], slot.expires_at))
        })
    }

    /// A cache holding `keys` (oldest first), as a broker image restores it.
    /// Generations start again from 0: only their equality matters.
    pub(crate) fn restore(
        capacity: usize,
        ttl_ms: Option<u64>,
        keys: Vec<(Vec<u8>, Option<u64>)>,
    ) -> DedupCache {
        let mut cache = DedupCache::new(capacity, ttl_ms);
        for (key, expires_at) in keys {
            let key: Key = Rc::from(key);
            let generation = cache.next_generation;
            cache.next_generation += 1;
            cache.slots.insert(
                key.clone(),
                Slot {
                    expires_at,
                    generation,
                },
            );
            cache.order.push_back((key, generation));
        }
        cache
    }

    /// True when `key` was seen and has not expired at `now_ms`; otherwise
    /// remembers it (with the cache's TTL) and returns false.
    #[cfg(test)]
    pub fn is_duplicate(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.is_duplicate_with_ttl(key, self.ttl_ms, now_ms)
    }

    /// As [`is_duplicate`](Self::is_duplicate), remembering a new key for
    /// `ttl_ms` instead of the cache's TTL.
    pub fn is_duplicate_with_ttl(&mut self, key: &[u8], ttl_ms: Option<u64>, now_ms: u64) -> bool {
        if let Some(slot) = self.slots.get(key) {
            if !expired(slot, now_ms) {
                return true;
            }
            // Its entry in `order` goes stale; the key is remembered anew below.
            self.slots.remove(key);
        }
        self.remember(key, ttl_ms, now_ms);
        false
    }

    /// Checks a whole message: its key from `header` (the queue's
    /// `x-deduplication-header`, `None` for the default) and its own
    /// `x-cache-ttl`, if any. A message without a key is never a duplicate.
    pub fn is_duplicate_message(
        &mut self,
        msg: &Message,
        header: Option<&str>,
        now_ms: u64,
    ) -> bool {
        let Some(key) = dedup_key(msg, header) else {
            return false;
        };
        let ttl = dedup_ttl(msg).or(self.ttl_ms);
        self.is_duplicate_with_ttl(&key, ttl, now_ms)
    }

    /// Forgets a message's key: a publish that was refused (a full queue with
    /// `reject-publish`) was not accepted, so its retry must not count as a
    /// duplicate and be dropped after an ack.
    pub fn forget_message(&mut self, msg: &Message, header: Option<&str>) {
        if let Some(key) = dedup_key(msg, header) {
            // Its entry in `order` goes stale and is skipped.
            self.slots.remove(&key[..]);
        }
    }

    fn remember(&mut self, key: &[u8], ttl_ms: Option<u64>, now_ms: u64) {
        if self.capacity == 0 {
            return;
        }
        self.drop_expired_front(now_ms);
        while self.slots.len() >= self.capacity {
            if !self.evict_oldest() {
                break;
            }
        }
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1);
        let key: Key = Rc::from(key);
        self.slots.insert(
            key.clone(),
            Slot {
                expires_at: ttl_ms.map(|ttl| now_ms.saturating_add(ttl)),
                generation,
            },
        );
        self.order.push_back((key, generation));
        self.compact_if_sparse();
    }

    /// Forgets the oldest live key. False when there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((key, generation)) = self.order.pop_front() {
            if self.is_live(&key, generation) {
                self.slots.remove(&key);
                return true;
            }
        }
        false
    }

    /// Clears stale and expired entries from the old end, so that with one
    /// TTL for all keys memory follows the live set even if nothing is ever
    /// looked up again. Unobservable: expired keys are not duplicates.
    fn drop_expired_front(&mut self, now_ms: u64) {
        while let Some((key, generation)) = self.order.front() {
            match self.slots.get(key) {
                Some(slot) if slot.generation == *generation => {
                    if !expired(slot, now_ms) {
                        return;
                    }
                    let key = key.clone();
                    self.slots.remove(&key);
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Keeps `order` within a constant factor of the live keys when keys
    /// expire and return without anything being evicted.
    fn compact_if_sparse(&mut self) {
        if self.order.len() > 2 * self.slots.len() + 32 {
            let slots = &self.slots;
            self.order.retain(|(key, generation)| {
                slots.get(key).is_some_and(|s| s.generation == *generation)
            });
        }
    }

    fn is_live(&self, key: &[u8], generation: u64) -> bool {
        self.slots
            .get(key)
            .is_some_and(|s| s.generation == generation)
    }
}

fn expired(slot: &Slot, now_ms: u64) -> bool {
    slot.expires_at.is_some_and(|at| now_ms >= at)
}

/// The deduplication key of `msg`: the value of header `header` (default
/// `x-deduplication-header`), encoded so that values of different kinds never
/// collide (`"1"` is not `1`). Integers of any width are the same key. A
/// missing or void header gives no key.
///
/// Without a header configured, LavinMQ's `x-deduplication-header` message
/// header is used when present, and otherwise the `message-id` property, so
/// that publishers which already set message ids are deduplicated as is.
pub fn dedup_key(msg: &Message, header: Option<&str>) -> Option<Vec<u8>> {
    let value = match header {
        Some(h) => msg.properties.header(h)?,
        None => match msg.properties.header(DEFAULT_HEADER) {
            Some(v) => v,
            None => {
                let id = msg.properties.message_id.as_ref()?;
                let mut out = Vec::new();
                encode(&mut out, &FieldValue::str(id));
                return Some(out);
            }
        },
    };
    if matches!(value, FieldValue::Void) {
        return None;
    }
    let mut out = Vec::new();
    encode(&mut out, value);
    Some(out)
}

/// The message's own `x-cache-ttl` header in milliseconds, when it is a
/// non-negative integer.
pub fn dedup_ttl(msg: &Message) -> Option<u64> {
    use FieldValue::*;
    let ttl = match *msg.properties.header(TTL_HEADER)? {
        I8(n) => i64::from(n),
        U8(n) => i64::from(n),
        I16(n) => i64::from(n),
        U16(n) => i64::from(n),
        I32(n) => i64::from(n),
        U32(n) => i64::from(n),
        I64(n) => n,
        _ => return None,
    };
    u64::try_from(ttl).ok()
}

/// A self-delimiting, injective encoding of a field value (tag, then fixed
/// width or length-prefixed payload).
fn encode(out: &mut Vec<u8>, v: &FieldValue) {
    use FieldValue::*;
    // Most values are a tag and 8 big-endian bytes (a number, or a length
    // before the bytes): one append for both keeps this cold code small.
    let (tag, word, tail): (u8, u64, &[u8]) = match v {
        Bool(b) => return out.extend_from_slice(&[b't', u8::from(*b)]),
        I8(n) => (b'l', i64::from(*n) as u64, &[]),
        U8(n) => (b'l', u64::from(*n), &[]),
        I16(n) => (b'l', i64::from(*n) as u64, &[]),
        U16(n) => (b'l', u64::from(*n), &[]),
        I32(n) => (b'l', i64::from(*n) as u64, &[]),
        U32(n) => (b'l', u64::from(*n), &[]),
        I64(n) => (b'l', *n as u64, &[]),
        F32(f) => (b'd', f64::from(*f).to_bits(), &[]),
        F64(f) => (b'd', f.to_bits(), &[]),
        Decimal { scale, value } => {
            let v = value.to_be_bytes();
            return out.extend_from_slice(&[b'D', *scale, v[0], v[1], v[2], v[3]]);
        }
        LongStr(b) => (b'S', b.len() as u64, b),
        Bytes(b) => (b'x', b.len() as u64, b),
        Timestamp(t) => (b'T', *t, &[]),
        Void => return out.push(b'V'),
        Array(items) => {
            head(out, b'A', items.len() as u64);
            for item in items {
                encode(out, item);
            }
            return;
        }
        Table(t) => {
            head(out, b'F', t.len() as u64);
            for (k, item) in t.iter() {
                let k = k.as_bytes();
                head(out, b'k', k.len() as u64);
                out.extend_from_slice(k);
                encode(out, item);
            }
            return;
        }
    };
    head(out, tag, word);
    out.extend_from_slice(tail);
}

fn head(out: &mut Vec<u8>, tag: u8, word: u64) {
    let w = word.to_be_bytes();
    out.extend_from_slice(&[tag, w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::broker::message::Properties;
    use crate::broker::value::{FieldTable, ShortStr};

    fn msg_with_id_only(id: &str) -> Message {
        Message::new(
            ShortStr::empty(),
            ShortStr::new("q").unwrap(),
            Properties {
                message_id: Some(ShortStr::new(id).unwrap()),
                ..Default::default()
            },
            &b""[..],
        )
    }

    fn msg_without_id() -> Message {
        Message::new(
            ShortStr::empty(),
            ShortStr::new("q").unwrap(),
            Properties::default(),
            &b""[..],
        )
    }

    /// A key's bytes are kept in broker images: their layout must not move.
    #[test]
    fn key_bytes_keep_their_layout() {
        use FieldValue::*;
        let items = vec![
            I8(-1),
            U16(258),
            Bool(true),
            Decimal {
                scale: 2,
                value: 258,
            },
            FieldValue::str("hi"),
            Void,
            F32(1.5),
            Timestamp(7),
        ];
        let mut got = Vec::new();
        encode(&mut got, &Table(FieldTable::new().with("a", Array(items))));
        let word = |tag: u8, w: u64| [&[tag][..], &w.to_be_bytes()].concat();
        let want = [
            word(b'F', 1),
            word(b'k', 1),
            b"a".to_vec(),
            word(b'A', 8),
            word(b'l', u64::MAX),
            word(b'l', 258),
            vec![b't', 1, b'D', 2, 0, 0, 1, 2],
            word(b'S', 2),
            b"hi".to_vec(),
            vec![b'V'],
            word(b'd', 1.5f64.to_bits()),
            word(b'T', 7),
        ]
        .concat();
        assert_eq!(got, want);
    }

    fn msg(headers: FieldTable) -> Message {
        Message::new(
            ShortStr::empty(),
            ShortStr::new("q").unwrap(),
            Properties {
                headers: Some(headers),
                message_id: Some(ShortStr::new("id-1").unwrap()),
                ..Default::default()
            },
            &b""[..],
        )
    }

    #[test]
    fn second_sighting_is_a_duplicate() {
        let mut c = DedupCache::new(10, None);
        assert!(!c.is_duplicate(b"a", 0));
        assert!(c.is_duplicate(b"a", 1));
        assert!(c.is_duplicate(b"a", u64::MAX));
        assert!(!c.is_duplicate(b"b", 2));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn keys_expire_after_the_ttl() {
        let mut c = DedupCache::new(10, Some(1_000));
        assert!(!c.is_duplicate(b"a", 5_000));
        assert!(c.is_duplicate(b"a", 5_999));
        assert!(!c.is_duplicate(b"a", 6_000));
        // Remembered again from 6_000.
        assert!(c.is_duplicate(b"a", 6_999));
        assert!(!c.is_duplicate(b"a", 7_000));
    }

    #[test]
    fn a_duplicate_does_not_extend_its_key_ttl() {
        let mut c = DedupCache::new(10, Some(100));
        assert!(!c.is_duplicate(b"a", 0));
        assert!(c.is_duplicate(b"a", 90));
        assert!(!c.is_duplicate(b"a", 100));
    }

    #[test]
    fn full_cache_forgets_the_oldest_key() {
        let mut c = DedupCache::new(2, None);
        assert!(!c.is_duplicate(b"a", 0));
        assert!(!c.is_duplicate(b"b", 0));
        assert!(c.is_duplicate(b"a", 0)); // a hit does not refresh its age
        assert!(!c.is_duplicate(b"c", 0)); // evicts a
        assert_eq!(c.len(), 2);
        assert!(!c.is_duplicate(b"a", 0)); // evicts b
        assert!(c.is_duplicate(b"c", 0));
        assert!(!c.is_duplicate(b"b", 0));
    }

    #[test]
    fn a_key_that_expired_and_returned_is_evicted_by_its_new_age() {
        let mut c = DedupCache::new(2, Some(10));
        assert!(!c.is_duplicate(b"a", 0));
        assert!(!c.is_duplicate_with_ttl(b"b", None, 5));
        assert!(!c.is_duplicate(b"a", 10)); // expired, remembered anew (after b)
        assert!(!c.is_duplicate(b"c", 12)); // evicts b, the oldest live key
        assert!(!c.is_duplicate_with_ttl(b"b", None, 13));
        assert!(c.is_duplicate(b"c", 14));
    }

    #[test]
    fn size_zero_remembers_nothing() {
        let mut c = DedupCache::new(0, None);
        assert!(!c.is_duplicate(b"a", 0));
        assert!(!c.is_duplicate(b"a", 0));
        assert!(c.is_empty());
    }

    #[test]
    fn memory_follows_live_keys_under_churn() {
        let mut c = DedupCache::new(1_000_000, Some(10));
        for i in 0..10_000u64 {
            assert!(!c.is_duplicate(&(i % 7).to_be_bytes(), i * 10));
        }
        assert!(c.len() <= 7);
        assert!(c.order.len() <= 2 * c.slots.len() + 33);
        let mut c = DedupCache::new(4, Some(10));
        // Per-key TTLs out of order: expired keys behind a live one stay
        // until reached, but `order` stays bounded.
        for i in 0..10_000u64 {
            let ttl = if i % 2 == 0 { Some(1_000_000) } else { Some(1) };
            c.is_duplicate_with_ttl(&(i % 3).to_be_bytes(), ttl, i);
        }
        assert!(c.len() <= 4);
        assert!(c.order.len() <= 2 * c.slots.len() + 33);
    }

    #[test]
    fn time_going_backwards_does_not_panic() {
        let mut c = DedupCache::new(3, Some(u64::MAX));
        assert!(!c.is_duplicate(b"a", u64::MAX));
        assert!(c.is_duplicate(b"a", 0));
        // A TTL of 0 expires at once: never a duplicate.
        assert!(!c.is_duplicate_with_ttl(b"b", Some(0), 5));
        assert!(!c.is_duplicate_with_ttl(b"b", Some(0), 5));
        // Before its expiry (time went back), a key still counts as seen.
        assert!(c.is_duplicate(b"b", 1));
    }

    #[test]
    fn key_comes_from_the_named_header_or_default_header_or_message_id() {
        let m = msg(FieldTable::new().with(DEFAULT_HEADER, FieldValue::str("k1")));
        assert!(dedup_key(&m, None).is_some());
        assert_eq!(dedup_key(&m, Some("order-id")), None);
        let m = msg(FieldTable::new().with("order-id", FieldValue::str("k1")));
        assert!(dedup_key(&m, Some("order-id")).is_some());
        // Without the default header, the message-id property is the key.
        assert_eq!(
            dedup_key(&m, None),
            dedup_key(&msg_with_id_only("id-1"), None)
        );
        assert_ne!(
            dedup_key(&msg_with_id_only("id-2"), None),
            dedup_key(&msg_with_id_only("id-1"), None)
        );
        let m = msg(FieldTable::new().with(DEFAULT_HEADER, FieldValue::Void));
        assert_eq!(dedup_key(&m, None), None);
    }

    #[test]
    fn keys_of_different_kinds_do_not_collide() {
        let key = |v: FieldValue| {
            dedup_key(&msg(FieldTable::new().with(DEFAULT_HEADER, v)), None).unwrap()
        };
        assert_ne!(key(FieldValue::str("1")), key(FieldValue::I32(1)));
        assert_ne!(
            key(FieldValue::str("ab")),
            key(FieldValue::Bytes(b"ab".to_vec()))
        );
        assert_eq!(key(FieldValue::I32(1)), key(FieldValue::I64(1)));
        assert_ne!(
            key(FieldValue::Array(vec![
                FieldValue::str("a"),
                FieldValue::str("b")
            ])),
            key(FieldValue::Array(vec![FieldValue::str("ab")]))
        );
        assert_eq!(key(FieldValue::str("x")), key(FieldValue::str("x")));
    }

    #[test]
    fn message_ttl_header_overrides_the_cache_ttl() {
        let mut c = DedupCache::new(10, Some(1_000));
        let short = msg(FieldTable::new()
            .with(DEFAULT_HEADER, FieldValue::str("k"))
            .with(TTL_HEADER, FieldValue::I32(10)));
        assert!(!c.is_duplicate_message(&short, None, 0));
        assert!(c.is_duplicate_message(&short, None, 9));
        assert!(!c.is_duplicate_message(&short, None, 10));

        let plain = msg(FieldTable::new().with(DEFAULT_HEADER, FieldValue::str("p")));
        assert!(!c.is_duplicate_message(&plain, None, 0));
        assert!(c.is_duplicate_message(&plain, None, 999));
        assert!(!c.is_duplicate_message(&plain, None, 1_000));

        let keyless = msg_without_id();
        assert!(!c.is_duplicate_message(&keyless, None, 0));
        assert!(!c.is_duplicate_message(&keyless, None, 0));
    }

    #[test]
    fn ttl_header_must_be_a_non_negative_integer() {
        let with = |v: FieldValue| dedup_ttl(&msg(FieldTable::new().with(TTL_HEADER, v)));
        assert_eq!(with(FieldValue::I32(500)), Some(500));
        assert_eq!(with(FieldValue::I64(7)), Some(7));
        assert_eq!(with(FieldValue::U8(3)), Some(3));
        assert_eq!(with(FieldValue::I32(-1)), None);
        assert_eq!(with(FieldValue::str("500")), None);
        assert_eq!(with(FieldValue::Timestamp(500)), None);
    }
}
