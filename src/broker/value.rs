//! AMQP values as the engine sees them: short strings, field tables and arrays.
//!
//! These are values, not bytes: `amqp::codec` encodes and decodes them. The field
//! types follow RabbitMQ's table (which differs from the 0-9-1 spec for `s`, a
//! signed 16-bit integer there, and drops `L`/`U`); the codec holds the letters.

use std::fmt;
use std::rc::Rc;

/// A string of at most 255 bytes, the AMQP `shortstr`. Cheap to clone: names,
/// routing keys and consumer tags are shared between queues, deliveries and events.
#[derive(Clone, Eq, PartialOrd, Ord)]
pub struct ShortStr(Rc<str>);

impl std::hash::Hash for ShortStr {
    /// As `str` hashes, so maps keyed by `ShortStr` are looked up by `&str`.
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h);
    }
}

impl PartialEq for ShortStr {
    /// Clones share their text: comparing a consumer tag or queue name with
    /// a clone of itself (every ack does) needs no look at the bytes.
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

/// A string was longer than the 255 bytes a `shortstr` can hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLong(pub usize);

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "short string of {} bytes exceeds 255", self.0)
    }
}

impl std::error::Error for TooLong {}

impl ShortStr {
    pub const MAX_LEN: usize = 255;

    pub fn new(s: &str) -> Result<Self, TooLong> {
        if s.len() > Self::MAX_LEN {
            return Err(TooLong(s.len()));
        }
        Ok(ShortStr(Rc::from(s)))
    }

    /// Builds a short string from text the engine itself composes (names it
    /// generates, reason words), cutting at a character boundary if too long.
    pub fn truncated(s: &str) -> Self {
        let mut end = s.len().min(Self::MAX_LEN);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        ShortStr(Rc::from(&s[..end]))
    }

    /// The empty string, shared: making one does not allocate.
    pub fn empty() -> Self {
        thread_local! {
            static EMPTY: ShortStr = ShortStr(Rc::from(""));
        }
        EMPTY.with(ShortStr::clone)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl Default for ShortStr {
    fn default() -> Self {
        ShortStr::empty()
    }
}

impl TryFrom<&str> for ShortStr {
    type Error = TooLong;
    fn try_from(s: &str) -> Result<Self, TooLong> {
        ShortStr::new(s)
    }
}

impl TryFrom<String> for ShortStr {
    type Error = TooLong;
    fn try_from(s: String) -> Result<Self, TooLong> {
        ShortStr::new(&s)
    }
}

impl std::ops::Deref for ShortStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ShortStr {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ShortStr {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ShortStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ShortStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for ShortStr {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for ShortStr {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

/// One value in a field table or array, with RabbitMQ's set of types.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// `t`
    Bool(bool),
    /// `b`
    I8(i8),
    /// `B`
    U8(u8),
    /// `s` (RabbitMQ: signed 16-bit, not a short string)
    I16(i16),
    /// `u`
    U16(u16),
    /// `I`
    I32(i32),
    /// `i`
    U32(u32),
    /// `l`
    I64(i64),
    /// `f`
    F32(f32),
    /// `d`
    F64(f64),
    /// `D`: `value / 10^scale`
    Decimal { scale: u8, value: u32 },
    /// `S`: a long string; bytes, usually UTF-8 text
    LongStr(Vec<u8>),
    /// `A`
    Array(Vec<FieldValue>),
    /// `T`: seconds since the epoch
    Timestamp(u64),
    /// `F`
    Table(FieldTable),
    /// `V`
    Void,
    /// `x`
    Bytes(Vec<u8>),
}

impl FieldValue {
    pub fn str(s: &str) -> Self {
        FieldValue::LongStr(s.as_bytes().to_vec())
    }

    /// The text of a long string, when it is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::LongStr(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// Any integer type as i64 (RabbitMQ accepts every integer type for numeric
    /// queue arguments such as `x-max-length`).
    pub fn as_i64(&self) -> Option<i64> {
        Some(match *self {
            FieldValue::I8(v) => v as i64,
            FieldValue::U8(v) => v as i64,
            FieldValue::I16(v) => v as i64,
            FieldValue::U16(v) => v as i64,
            FieldValue::I32(v) => v as i64,
            FieldValue::U32(v) => v as i64,
            FieldValue::I64(v) => v,
            FieldValue::Timestamp(v) => i64::try_from(v).ok()?,
            _ => return None,
        })
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            FieldValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_table(&self) -> Option<&FieldTable> {
        match self {
            FieldValue::Table(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[FieldValue]> {
        match self {
            FieldValue::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// An AMQP field table: an ordered list of named values. Order is kept so that
/// decode followed by encode gives back the same bytes; tables are small, so
/// lookups scan.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldTable(pub Vec<(ShortStr, FieldValue)>);

impl FieldTable {
    pub fn new() -> Self {
        FieldTable(Vec::new())
    }

    pub fn get(&self, key: &str) -> Option<&FieldValue> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    /// Sets `key`, replacing an existing entry in place or appending.
    pub fn insert(&mut self, key: ShortStr, value: FieldValue) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<FieldValue> {
        let at = self.0.iter().position(|(k, _)| k.as_str() == key)?;
        Some(self.0.remove(at).1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ShortStr, &FieldValue)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Builder-style insert for literals in engine code and tests. Keys longer
    /// than 255 bytes are cut, so only use it with known-short keys.
    pub fn with(mut self, key: &str, value: FieldValue) -> Self {
        self.insert(ShortStr::truncated(key), value);
        self
    }
}

impl FromIterator<(ShortStr, FieldValue)> for FieldTable {
    fn from_iter<I: IntoIterator<Item = (ShortStr, FieldValue)>>(iter: I) -> Self {
        let mut t = FieldTable::new();
        for (k, v) in iter {
            t.insert(k, v);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn short_str_refuses_more_than_255_bytes() {
        assert!(ShortStr::new(&"a".repeat(255)).is_ok());
        assert_eq!(ShortStr::new(&"a".repeat(256)), Err(TooLong(256)));
    }

    #[test]
    fn truncated_cuts_at_a_char_boundary() {
        let s = "é".repeat(200); // 400 bytes
        let t = ShortStr::truncated(&s);
        assert!(t.len() <= 255);
        assert_eq!(t.len() % 2, 0);
    }

    #[test]
    fn table_insert_replaces_in_place_and_keeps_order() {
        let mut t = FieldTable::new()
            .with("a", FieldValue::I32(1))
            .with("b", FieldValue::I32(2));
        t.insert(ShortStr::new("a").unwrap(), FieldValue::I32(3));
        let keys: Vec<&str> = t.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(t.get("a"), Some(&FieldValue::I32(3)));
        assert_eq!(t.remove("a"), Some(FieldValue::I32(3)));
        assert!(!t.contains_key("a"));
    }

    #[test]
    fn numeric_arguments_accept_every_integer_type() {
        assert_eq!(FieldValue::U8(7).as_i64(), Some(7));
        assert_eq!(FieldValue::I16(-2).as_i64(), Some(-2));
        assert_eq!(FieldValue::U32(9).as_i64(), Some(9));
        assert_eq!(FieldValue::str("x").as_i64(), None);
    }
}
