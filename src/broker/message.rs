//! A published message: where it was published, its basic properties and body.
//!
//! Messages are immutable once published and shared (see [`Message`]) by every
//! queue they are routed to; what differs per queue (position, delivery count,
//! expiry) lives in the queue's entry. Dead-lettering makes a new message.

use super::block::Block;
use super::value::{FieldTable, ShortStr};
use crate::short_bytes::put_bytes;
use std::ops::Deref;
use std::rc::Rc;

/// The 14 properties of the `basic` content class, in wire order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Properties {
    pub content_type: Option<ShortStr>,
    pub content_encoding: Option<ShortStr>,
    pub headers: Option<FieldTable>,
    pub delivery_mode: Option<u8>,
    pub priority: Option<u8>,
    pub correlation_id: Option<ShortStr>,
    pub reply_to: Option<ShortStr>,
    pub expiration: Option<ShortStr>,
    pub message_id: Option<ShortStr>,
    pub timestamp: Option<u64>,
    pub kind: Option<ShortStr>,
    pub user_id: Option<ShortStr>,
    pub app_id: Option<ShortStr>,
    pub cluster_id: Option<ShortStr>,
}

impl Properties {
    pub fn is_empty(&self) -> bool {
        // Field by field: comparing with a built default costs a construction
        // and a drop on every publish.
        self.content_type.is_none()
            && self.content_encoding.is_none()
            && self.headers.is_none()
            && self.delivery_mode.is_none()
            && self.priority.is_none()
            && self.correlation_id.is_none()
            && self.reply_to.is_none()
            && self.expiration.is_none()
            && self.message_id.is_none()
            && self.timestamp.is_none()
            && self.kind.is_none()
            && self.user_id.is_none()
            && self.app_id.is_none()
            && self.cluster_id.is_none()
    }

    /// `delivery-mode = 2`.
    pub fn persistent(&self) -> bool {
        self.delivery_mode == Some(2)
    }

    pub fn header(&self, key: &str) -> Option<&super::value::FieldValue> {
        self.headers.as_ref()?.get(key)
    }
}

/// The properties of a message that has none (the common case under load):
/// messages without properties carry a null pointer, not 200 bytes, and
/// read their properties here (a constant, so no thread-local look-up).
const EMPTY: &Properties = &Properties {
    content_type: None,
    content_encoding: None,
    headers: None,
    delivery_mode: None,
    priority: None,
    correlation_id: None,
    reply_to: None,
    expiration: None,
    message_id: None,
    timestamp: None,
    kind: None,
    user_id: None,
    app_id: None,
    cluster_id: None,
};

/// Properties stored out of line and only when there are any; shared, so that
/// copying a message does not copy them.
#[derive(Clone, Default, PartialEq)]
pub struct Props(Option<Rc<Properties>>);

impl Props {
    pub fn new(p: Properties) -> Self {
        if p.is_empty() {
            Props(None)
        } else {
            Props(Some(Rc::new(p)))
        }
    }

    /// No properties block: what a publish without properties carries. One
    /// test answers for every property (expiration, reply-to, headers,
    /// delivery mode) that the publish path would otherwise read in turn.
    #[inline]
    pub fn is_unset(&self) -> bool {
        self.0.is_none()
    }

    /// One block shared by both, neither a copy of the other.
    pub fn same_block(&self, other: &Props) -> bool {
        matches!((&self.0, &other.0), (Some(a), Some(b)) if Rc::ptr_eq(a, b))
    }

    /// Mutable access, allocating the out-of-line block if needed.
    pub fn make_mut(&mut self) -> &mut Properties {
        Rc::make_mut(self.0.get_or_insert_with(Rc::default))
    }

    pub fn into_inner(self) -> Properties {
        self.0
            .map(|p| Rc::try_unwrap(p).unwrap_or_else(|p| (*p).clone()))
            .unwrap_or_default()
    }
}

impl Deref for Props {
    type Target = Properties;
    fn deref(&self) -> &Properties {
        match &self.0 {
            Some(p) => p,
            None => EMPTY,
        }
    }
}

impl std::fmt::Debug for Props {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl From<Properties> for Props {
    fn from(p: Properties) -> Self {
        Props::new(p)
    }
}

/// A published message: a cheap handle (a clone is a reference count) to one
/// block `[exchange length][exchange][routing key length][routing key][body]`,
/// plus its properties, which most messages under load do not have.
///
/// The block is the message's only allocation: a queue entry points at it and
/// every queue the message was routed to shares it; a paged queue can keep the
/// same bytes in its store. Exchange and routing key are stored in the block,
/// not as separately counted strings, so a publish makes one allocation.
#[derive(Clone, PartialEq)]
pub struct Message {
    block: Block,
    pub properties: Props,
}

impl Message {
    pub fn new(
        exchange: ShortStr,
        routing_key: ShortStr,
        properties: Properties,
        body: impl AsRef<[u8]>,
    ) -> Self {
        Message::from_parts(
            &exchange,
            &routing_key,
            Props::new(properties),
            body.as_ref(),
        )
    }

    /// Builds the block from its parts; names are `ShortStr`s, so each length
    /// fits in its byte.
    #[inline]
    pub fn from_parts(
        exchange: &ShortStr,
        routing_key: &ShortStr,
        properties: Props,
        body: &[u8],
    ) -> Self {
        let (x, k) = (exchange.as_bytes(), routing_key.as_bytes());
        let len_byte = |s: &[u8]| u8::try_from(s.len()).unwrap_or(u8::MAX);
        let block = Block::from_parts(&[&[len_byte(x)], x, &[len_byte(k)], k, body]);
        Message { block, properties }
    }

    /// The same message with other properties, sharing the block.
    pub fn with_properties(&self, properties: Props) -> Self {
        Message {
            block: self.block.clone(),
            properties,
        }
    }

    /// Offset and length of the routing key in the block.
    fn key_at(&self) -> (usize, usize) {
        let x = usize::from(self.block.first().copied().unwrap_or(0));
        let k = usize::from(self.block.get(1 + x).copied().unwrap_or(0));
        (2 + x, k)
    }

    fn text(&self, at: usize, len: usize) -> &str {
        let bytes = self.block.get(at..at + len).unwrap_or_default();
        // SAFETY: both names are UTF-8, checked when the block was made
        // (`from_parts` copies `ShortStr`s whole, `from_block` checks), and
        // `at..at + len` is one of them whole or, out of range, empty. Not
        // checking again saves the routing of every message a UTF-8 check.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The exchange it was published to (empty for the default exchange).
    pub fn exchange(&self) -> &str {
        let x = usize::from(self.block.first().copied().unwrap_or(0));
        self.text(1, x)
    }

    /// Published to the default exchange (read without decoding text).
    pub fn to_default_exchange(&self) -> bool {
        self.block.first().copied().unwrap_or(0) == 0
    }

    #[inline]
    pub fn routing_key(&self) -> &str {
        let (at, len) = self.key_at();
        self.text(at, len)
    }

    /// The routing key's bytes, for comparisons that need no text.
    pub fn routing_key_bytes(&self) -> &[u8] {
        let (at, len) = self.key_at();
        self.block.get(at..at + len).unwrap_or_default()
    }

    /// The exchange and the routing key as the block holds them, each after
    /// its length byte: two messages' are equal exactly when both names are.
    pub fn address_bytes(&self) -> &[u8] {
        let (at, len) = self.key_at();
        self.block.get(..at + len).unwrap_or_default()
    }

    pub fn body(&self) -> &[u8] {
        let (at, len) = self.key_at();
        self.block.get(at + len..).unwrap_or_default()
    }

    /// The block itself (`[exchange length][exchange][routing key length]
    /// [routing key][body]`), as a page stores it.
    pub fn block(&self) -> &[u8] {
        &self.block
    }

    /// A message from a block written by [`block`](Self::block); None if
    /// the lengths in it do not fit or a name is not UTF-8 (a damaged page).
    pub fn from_block(block: &[u8], properties: Props) -> Option<Self> {
        let x = usize::from(*block.first()?);
        let k = usize::from(*block.get(1 + x)?);
        let names_ok = |at: usize, len: usize| {
            block
                .get(at..at + len)
                .is_some_and(|n| std::str::from_utf8(n).is_ok())
        };
        (names_ok(1, x) && names_ok(2 + x, k)).then(|| Message {
            block: Block::from_parts(&[block]),
            properties,
        })
    }

    /// A message from a block assembled in a [`BlockBuf`], whose names were
    /// `&str`s when it was begun, and `rest`, the end of the body: copied
    /// without checking the names again. None if it was not begun (or a
    /// name did not fit its length byte).
    pub fn from_block_buf(buf: &BlockBuf, rest: &[u8], properties: Props) -> Option<Self> {
        (buf.names_len > 0).then(|| Message {
            block: Block::from_parts(&[&buf.bytes, rest]),
            properties,
        })
    }

    /// Identity of the block, shared by every copy of this message: the
    /// image writes a message once however many queues hold it.
    pub fn block_ptr(&self) -> *const u8 {
        self.block.as_ptr()
    }

    #[inline]
    pub fn persistent(&self) -> bool {
        !self.properties.is_unset() && self.properties.persistent()
    }

    /// Size counted against `x-max-length-bytes` (the body, as RabbitMQ does).
    pub fn body_size(&self) -> usize {
        self.body().len()
    }
}

/// A message's block as it is assembled from the wire: the exchange and
/// routing key, each after its length byte, then the body so far. It is
/// begun only from `&str` names, so [`Message::from_block_buf`] need not
/// check them as UTF-8 again, as [`Message::from_block`] does bytes.
#[derive(Clone, Debug, Default)]
pub struct BlockBuf {
    bytes: Vec<u8>,
    /// Where the body starts; 0 while not begun.
    names_len: usize,
}

impl BlockBuf {
    /// Starts the block with the names, keeping the buffer's capacity. A
    /// name over 255 bytes (not a short string) leaves it not begun.
    pub fn begin(&mut self, exchange: &str, routing_key: &str) {
        self.clear();
        let (x, k) = (exchange.as_bytes(), routing_key.as_bytes());
        let (Ok(xl), Ok(kl)) = (u8::try_from(x.len()), u8::try_from(k.len())) else {
            return;
        };
        self.bytes.push(xl);
        put_bytes(&mut self.bytes, x);
        self.bytes.push(kl);
        put_bytes(&mut self.bytes, k);
        self.names_len = self.bytes.len();
    }

    /// Empty and not begun; the capacity stays.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.names_len = 0;
    }

    /// Exchange and routing key (empty if not begun).
    pub fn names(&self) -> (&str, &str) {
        let text = |at: usize| {
            let len = usize::from(self.bytes.get(at).copied().unwrap_or(0));
            let bytes = self.bytes.get(at + 1..at + 1 + len).unwrap_or_default();
            (std::str::from_utf8(bytes).unwrap_or_default(), at + 1 + len)
        };
        if self.names_len == 0 {
            return ("", "");
        }
        let (exchange, next) = text(0);
        (exchange, text(next).0)
    }

    /// The body bytes so far.
    pub fn body(&self) -> &[u8] {
        self.bytes.get(self.names_len..).unwrap_or_default()
    }

    /// Appends body bytes.
    pub fn extend_body(&mut self, body: &[u8]) {
        put_bytes(&mut self.bytes, body);
    }

    /// Reserves room for `additional` more body bytes.
    pub fn reserve_body(&mut self, additional: usize) {
        self.bytes.reserve(additional);
    }

    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("exchange", &self.exchange())
            .field("routing_key", &self.routing_key())
            .field("properties", &self.properties)
            .field("body", &self.body())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn empty_properties_are_not_allocated() {
        let p = Props::new(Properties::default());
        assert!(p.0.is_none());
        assert_eq!(p.delivery_mode, None);
        let p = Props::new(Properties {
            delivery_mode: Some(2),
            ..Default::default()
        });
        assert!(p.persistent());
    }

    #[test]
    fn the_block_holds_names_and_body() {
        let s = |t: &str| ShortStr::new(t).unwrap();
        let m = Message::new(s("x"), s("a.b"), Properties::default(), b"hello");
        assert_eq!(
            (m.exchange(), m.routing_key(), m.body()),
            ("x", "a.b", &b"hello"[..])
        );
        let m = Message::new(s(""), s(""), Properties::default(), b"");
        assert_eq!(
            (m.exchange(), m.routing_key(), m.body()),
            ("", "", &b""[..])
        );
        let long = "k".repeat(255);
        let m = Message::new(s(&long), s(&long), Properties::default(), [0u8; 3]);
        assert_eq!(
            (m.exchange(), m.routing_key(), m.body()),
            (&*long, &*long, &[0u8; 3][..])
        );
    }

    #[test]
    fn a_block_with_names_that_are_not_utf8_is_refused() {
        let ok = Message::new(
            ShortStr::new("x").unwrap(),
            ShortStr::new("k").unwrap(),
            Properties::default(),
            b"body",
        );
        let back = Message::from_block(ok.block(), Props::default()).unwrap();
        assert_eq!(
            (back.exchange(), back.routing_key(), back.body()),
            ("x", "k", &b"body"[..])
        );
        assert!(Message::from_block(b"\x01\xff\x00body", Props::default()).is_none());
        assert!(Message::from_block(b"\x00\x01\xc3body", Props::default()).is_none());
        // Lengths beyond the block.
        assert!(Message::from_block(b"\x00\x09k", Props::default()).is_none());
    }

    #[test]
    fn a_block_buf_makes_the_message_from_block_would() {
        let mut buf = BlockBuf::default();
        assert!(Message::from_block_buf(&buf, b"", Props::default()).is_none());
        buf.begin("x\u{e9}", "k");
        buf.reserve_body(4);
        buf.extend_body(b"bo");
        buf.extend_body(b"d");
        assert_eq!(buf.names(), ("x\u{e9}", "k"));
        assert_eq!(buf.body(), b"bod");
        // The last frame's bytes join the block's in the message.
        let m = Message::from_block_buf(&buf, b"y", Props::default()).unwrap();
        let want = Message::from_block(m.block(), Props::default()).unwrap();
        assert_eq!(m, want);
        assert_eq!(
            (m.exchange(), m.routing_key(), m.body()),
            ("x\u{e9}", "k", &b"body"[..])
        );
        // A body in one frame: the block holds the names alone.
        buf.begin("x", "k");
        let m = Message::from_block_buf(&buf, b"whole", Props::default()).unwrap();
        assert_eq!(
            (m.exchange(), m.routing_key(), m.body()),
            ("x", "k", &b"whole"[..])
        );
        // A name that is not a short string would put the routing key out
        // of place: the buffer is left not begun, and makes no message.
        buf.begin(&"x".repeat(256), "k");
        buf.extend_body(b"body");
        assert!(Message::from_block_buf(&buf, b"", Props::default()).is_none());
        buf.begin("x", &"k".repeat(256));
        assert!(Message::from_block_buf(&buf, b"body", Props::default()).is_none());
        assert_eq!(buf.names(), ("", ""));
    }

    #[test]
    fn other_properties_share_the_block() {
        let m = Message::new(
            ShortStr::empty(),
            ShortStr::empty(),
            Properties::default(),
            b"b",
        );
        let n = m.with_properties(Props::new(Properties {
            priority: Some(1),
            ..Default::default()
        }));
        assert_eq!(m.block_ptr(), n.block_ptr());
        assert_eq!(n.properties.priority, Some(1));
    }
}
