//! The engine's lifecycle events, as data: every step of a message from
//! publish to its end, and of consumers, channels and connections. Recorded
//! only when enabled, so they cost nothing on the hot path otherwise.

use super::dead_letter::DeadLetterReason;
use super::ids::{ChannelRef, ConnId, MsgId};
use super::value::ShortStr;

/// To JS as `{ at, type, ...fields }` (`src/wasm/events.rs`).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub at_ms: u64,
    pub kind: EventKind,
}

/// Why a message left a queue without being acked or dead-lettered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// `x-max-length`/`-bytes` with `drop-head` and no dead-letter exchange.
    MaxLen,
    /// Expired with no dead-letter exchange.
    Expired,
    /// Rejected without requeue and no dead-letter exchange.
    Rejected,
    /// Past `x-delivery-limit` with no dead-letter exchange.
    DeliveryLimit,
    /// Delivered with automatic acknowledgment and then lost with its consumer.
    Purged,
    QueueDeleted,
    /// A duplicate under `x-message-deduplication`.
    Duplicate,
    /// Dead-lettering would have formed a cycle, or the DLX does not exist.
    DeadLetterFailed,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    Published {
        msg: MsgId,
        channel: Option<ChannelRef>,
        exchange: ShortStr,
        routing_key: ShortStr,
        size: usize,
        persistent: bool,
        confirm_seq: Option<u64>,
    },
    /// The queues a publish reached (empty: unroutable).
    Routed {
        msg: MsgId,
        queues: Vec<ShortStr>,
    },
    Returned {
        msg: MsgId,
    },
    /// A queue refused the message (`reject-publish` overflow).
    Refused {
        msg: MsgId,
        queue: ShortStr,
    },
    Enqueued {
        msg: MsgId,
        queue: ShortStr,
    },
    Delivered {
        msg: MsgId,
        queue: ShortStr,
        to: ChannelRef,
        consumer_tag: Option<ShortStr>,
        delivery_tag: u64,
        redelivered: bool,
        delivery_count: u32,
        auto_ack: bool,
    },
    Acked {
        msg: MsgId,
        queue: ShortStr,
    },
    Nacked {
        msg: MsgId,
        queue: ShortStr,
        requeue: bool,
    },
    Rejected {
        msg: MsgId,
        queue: ShortStr,
        requeue: bool,
    },
    Requeued {
        msg: MsgId,
        queue: ShortStr,
        delay_ms: u64,
    },
    DeadLettered {
        msg: MsgId,
        queue: ShortStr,
        reason: DeadLetterReason,
        exchange: ShortStr,
    },
    Expired {
        msg: MsgId,
        queue: ShortStr,
    },
    Dropped {
        msg: MsgId,
        queue: ShortStr,
        reason: DropReason,
    },
    /// `count` messages in pages dropped unread (a purge or a deleted
    /// queue): their ids are in the pages, which are not read to drop them.
    PagedDropped {
        queue: ShortStr,
        count: u64,
        reason: DropReason,
    },
    Confirmed {
        to: ChannelRef,
        seq: u64,
        ack: bool,
    },
    ConsumerAdded {
        queue: ShortStr,
        to: ChannelRef,
        consumer_tag: ShortStr,
    },
    ConsumerRemoved {
        queue: ShortStr,
        to: ChannelRef,
        consumer_tag: ShortStr,
    },
    QueueCreated {
        queue: ShortStr,
    },
    QueueDeleted {
        queue: ShortStr,
    },
    ChannelOpened {
        channel: ChannelRef,
    },
    ChannelClosed {
        channel: ChannelRef,
    },
    ConnectionOpened {
        conn: ConnId,
    },
    ConnectionClosed {
        conn: ConnId,
    },
}
